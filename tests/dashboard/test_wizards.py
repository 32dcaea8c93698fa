"""Wizards: fields and validation, navigation, templates, run modes and apply (Settings + audit)."""

from __future__ import annotations

import json
import stat

import pytest

from ipfs_kit_py.config import Settings
from ipfs_kit_py.config_wizards import StepInvalid, WizardManager
from ipfs_kit_py.errors import InvalidInput, NotFound, PermissionDenied


@pytest.fixture
def manager(kit):
    return WizardManager(kit)


def test_list_wizards_and_step_counts(manager):
    listed = {w["wizard_id"]: w for w in manager.list_wizards()}
    assert {k: v["steps"] for k, v in listed.items()} == {
        "backend_setup": 5, "vfs_configuration": 4, "monitoring_setup": 3}
    assert {"local_default", "s3_production", "kubo_local", "s3_minio_dev"} <= set(listed["backend_setup"]["templates"])
    with pytest.raises(NotFound, match="no wizard 'x'"):
        manager.create_wizard("x")


def test_typed_fields_parse_and_reject(manager):
    wizard = manager.create_wizard("backend_setup")
    fields = wizard.fields
    assert fields["timeout_seconds"].parse("12.5") == 12.5
    assert fields["max_retries"].parse("4") == 4
    assert fields["replicate"].parse("yes") is True and fields["replicate"].parse("off") is False
    for name, raw, message in [
        ("max_retries", "2.5", "whole number"), ("max_retries", "11", "at most 10"),
        ("timeout_seconds", "0", "at least 1"), ("type", "ftp", "one of local, kubo, s3"),
        ("api_url", "localhost:5001", "http:// or https://"), ("replicate", "perhaps", "yes or no"),
        ("name", "Bad Name", "lowercase"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            fields[name].parse(raw)


def test_step_validation_navigation_and_back(manager):
    wizard = manager.create_wizard("backend_setup")
    assert wizard.current_step.name == "backend"
    with pytest.raises(InvalidInput, match="already at the first step"):
        wizard.back()
    assert wizard.next({"name": "store", "type": "s3"}).name == "connection"
    # bucket is required for s3 and not shown for local
    with pytest.raises(StepInvalid) as info:
        wizard.next({})
    assert info.value.errors == {"bucket": "is required"}
    assert wizard.current_step.name == "connection"  # stays put
    with pytest.raises(StepInvalid, match="bucket: must be 3-63"):
        wizard.next({"bucket": "No_Such"})
    assert wizard.next({"bucket": "my-bucket"}).name == "credentials"
    assert wizard.back().name == "connection"
    assert wizard.answers["bucket"] == "my-bucket"  # answers survive going back
    wizard.next()
    with pytest.raises(StepInvalid) as info:
        wizard.next({"credential_source": "inline"})
    assert set(info.value.errors) == {"access_key_id", "secret_access_key"}
    wizard.next({"access_key_id": "AKIA1", "secret_access_key": "s3cr3t"})
    assert wizard.next({"timeout_seconds": "5"}).name == "review"
    assert wizard.next() is None
    assert wizard.validate_step(1, {"region": "Not A Region"}) == {"region": "a region name such as us-east-1"}


def test_show_if_hides_fields_of_other_backend_types(manager):
    wizard = manager.create_wizard("backend_setup")
    values = wizard.values()
    assert values["type"] == "local" and "bucket" not in values and "api_url" not in values
    wizard.set_answers({"type": "kubo"})
    assert wizard.values()["api_url"] == "http://127.0.0.1:5001"
    with pytest.raises(InvalidInput, match="no field"):
        wizard.set_answers({"colour": "blue"})


def test_templates_load_validate_and_reject_unknown(manager, tmp_path):
    for name in ("local_default", "s3_production", "kubo_local", "s3_minio_dev"):
        wizard = manager.create_wizard("backend_setup")
        wizard.load_template(name)
        assert wizard.values()["name"]  # every library template validates
    wizard = manager.create_wizard("backend_setup")
    wizard.load_template("s3_minio_dev")
    summary = wizard.summary()
    assert summary["backends"]["minio"]["endpoint_url"] == "http://127.0.0.1:9000"
    assert summary["replication"] == {"replicas": 2, "targets": ["minio"]}
    with pytest.raises(NotFound, match="templates: kubo_local, local_default, s3_minio_dev, s3_production"):
        wizard.load_template("nope")
    answers = tmp_path / "mine.yaml"
    answers.write_text("name: cold\ntype: s3\nbucket: cold-store\n")
    wizard = manager.create_wizard("backend_setup")
    wizard.load_template(str(answers))
    assert wizard.values()["bucket"] == "cold-store"


def test_run_non_interactive_uses_defaults_and_applies(kit, manager):
    result = manager.create_wizard("backend_setup").run()  # no TTY under pytest
    assert result["applied"] is True and result["template"] is None
    settings = Settings.load(kit.settings.home)
    assert settings.backends == {"local": {"type": "local", "timeout_seconds": 30.0, "max_retries": 3}}
    event = kit.audit.get_event(result["event_id"])
    assert (event.action, event.event_type, event.status) == ("config.change", "config", "success")
    assert event.resource == str(kit.settings.config_path)
    assert event.details["changes"] == result["changes"]


def test_run_with_required_field_missing_is_a_clear_error(manager):
    wizard = manager.create_wizard("backend_setup")
    with pytest.raises(InvalidInput, match=r"step 'connection' \(Connection\): bucket: is required"):
        wizard.run({"type": "s3"})


def test_apply_merges_backends_and_replication_and_never_logs_secrets(kit, manager):
    manager.create_wizard("backend_setup").run({"name": "kubo", "type": "kubo", "replicate": True, "replicas": 2})
    result = manager.create_wizard("backend_setup").run({
        "name": "vault", "type": "s3", "bucket": "vault-bucket", "credential_source": "inline",
        "access_key_id": "AKIAEXAMPLE", "secret_access_key": "TOPSECRET-value", "replicate": True, "replicas": 3})
    settings = Settings.load(kit.settings.home)
    assert set(settings.backends) == {"kubo", "vault"}
    assert settings.backends["vault"]["secret_access_key"] == "TOPSECRET-value"  # the store needs it
    assert settings.replication == {"replicas": 3, "targets": ["kubo", "vault"]}
    assert stat.S_IMODE(settings.config_path.stat().st_mode) == 0o600
    assert "TOPSECRET" not in json.dumps(result)
    assert result["config"]["backends"]["vault"]["secret_access_key"] == "***"
    changes = {c["path"]: c for c in result["changes"]}
    assert changes["backends.vault"]["new"]["secret_access_key"] == "***"
    # nothing in the whole audit log carries the secret
    for event in kit.audit.query_events(limit=None):
        assert "TOPSECRET" not in json.dumps(event.to_dict())


def test_apply_false_writes_nothing(kit, manager):
    result = manager.create_wizard("monitoring_setup").run({"apply": False})
    assert result["applied"] is False and result["event_id"] is None
    assert not kit.settings.config_path.exists()


def test_vfs_wizard_applies_settings_and_creates_directories(kit, manager):
    wizard = manager.create_wizard("vfs_configuration")
    wizard.load_template("vfs_cidv1_media")
    result = wizard.run({"block_cache_policy": "lru", "block_cache_blocks": "64"})
    settings = Settings.load(kit.settings.home)
    assert settings.vfs["cid_version"] == 1 and settings.vfs["raw_leaves"] is True
    assert (settings.block_cache_blocks, settings.block_cache_policy) == (64, "lru")
    assert {e["name"] for e in kit.files_ls("/")} == {"media", "archive"}
    children = kit.audit.query_events(parent_id=result["event_id"], limit=None)
    assert {e.action for e in children} == {"files.mkdir"}
    with pytest.raises(StepInvalid, match="chunker"):
        manager.create_wizard("vfs_configuration").run({"chunker": "rabin"})
    with pytest.raises(StepInvalid, match="absolute"):
        manager.create_wizard("vfs_configuration").run({"directories": "relative/dir"})


def test_monitoring_wizard_thresholds_feed_settings(kit, manager):
    manager.create_wizard("monitoring_setup").run({"latency_p95_ms": "250", "error_rate_percent": 2})
    monitoring = Settings.load(kit.settings.home).monitoring
    assert monitoring["latency_p95_ms"] == 250.0 and monitoring["error_rate_percent"] == 2.0
    with pytest.raises(StepInvalid, match="at most 100"):
        manager.create_wizard("monitoring_setup").run({"cpu_percent": 120})


def test_only_admins_apply(kit):
    writer = kit.as_principal("wendy", "writer")
    with pytest.raises(PermissionDenied, match="config.change needs the admin role"):
        WizardManager(writer).create_wizard("monitoring_setup").run()
    denied = kit.audit.query_events(action="config.change", status="denied", limit=1)
    assert denied and denied[0].user_id == "wendy"
    assert not kit.settings.config_path.exists()


def test_interactive_run_with_back_navigation(kit, manager):
    """Drive the terminal prompts: go back once, fix an invalid answer, hide the secret."""
    script = iter([
        "cold", "s3",                      # step 1
        ":back",                           # step 2: back to step 1
        "cold", "s3",                      # step 1 again
        "Bad Bucket!", "us-east-1", "", "ipfs/",  # step 2: invalid bucket → asked again
        "cold-bucket", "us-east-1", "", "ipfs/",
        "inline", "AKIA", "hunter2",       # step 3
        "10", "2", "no",                   # step 4
        "yes",                             # review
    ])
    prompts = []

    def prompt(text, default=None, hide_input=False, show_default=True):
        prompts.append((text.strip(), hide_input, default))
        return next(script)

    wizard = manager.create_wizard("backend_setup")
    result = wizard.run(interactive=True, prompt=prompt)
    assert result["applied"] and Settings.load(kit.settings.home).backends["cold"]["bucket"] == "cold-bucket"
    secret_prompts = [p for p in prompts if p[1]]
    assert [p[0] for p in secret_prompts] == ["Secret access key"] and secret_prompts[0][2] == ""
    assert sum(1 for p in prompts if p[0] == "S3 bucket") == 3  # :back, invalid, valid
