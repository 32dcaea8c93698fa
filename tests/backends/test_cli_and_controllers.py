"""The backend CLI end to end, its one-line errors, and the seed's Phase 12 controllers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import anyio
import pytest

from ipfs_kit_py.config import Settings
from ipfs_kit_py.kit import Kit
from tests.conftest import assert_one_line_error, free_port


def s3_flags(server, bucket: str, secret: str | None = None) -> list[str]:
    return ["--type", "s3", "--bucket", bucket, "--endpoint-url", server.endpoint, "--credentials", "inline",
            "--access-key-id", server.key_id, "--secret-access-key", secret or server.secret, "--timeout", "5"]


def test_backend_commands_end_to_end(cli, home, tmp_path, s3_server, kubo_node):
    bucket = s3_server.bucket()
    added = cli("backend", "add", "s3", *s3_flags(s3_server, bucket), "--replicate", "--replicas", "3", "--json")
    assert added.code == 0, added.stderr
    assert added.json()["test"]["healthy"] and added.json()["config"]["backends"]["s3"]["secret_access_key"] == "***"
    added = cli("backend", "add", "kubo", "--template", "kubo_local", "--api-url", kubo_node.api_url,
                "--replicas", "3")
    assert added.code == 0, added.stderr
    assert "added backend kubo (tested: healthy" in added.out

    listed = cli("backend", "list", "--json").json()
    assert [(b["name"], b["type"], b["replication_target"]) for b in listed] == [
        ("kubo", "kubo", True), ("s3", "s3", True)]
    assert s3_server.secret not in cli("backend", "list").out

    data = tmp_path / "report.bin"
    data.write_bytes(os.urandom(400_000))
    result = cli("add", str(data), "--json").json()
    assert result["replication"] == {result["cid"]: {"s3": "pinned", "kubo": "pinned"}}
    status = cli("backend", "status", result["cid"], "--json").json()
    assert status["summary"] == {"queued": 0, "pinning": 0, "pinned": 2, "failed": 0}
    synced = cli("backend", "sync", "--json")
    assert synced.code == 0 and synced.json()["attempted"] == 0
    assert cli("backend", "test", "s3").out.startswith("s3: healthy")

    removed = cli("backend", "rm", "kubo")
    assert removed.code == 0 and "removed backend kubo" in removed.out
    assert [b["name"] for b in cli("backend", "list", "--json").json()] == ["s3"]
    assert Settings.load(home, env=False).replication["targets"] == ["s3"]
    assert cli("backend", "status", "--backend", "kubo").code != 0  # no such backend any more


def test_backend_errors_are_one_line_and_actionable(cli, home, s3_auth_server):
    server = s3_auth_server
    bucket = server.bucket()
    config = home / "config.json"

    # A failing test writes nothing.
    refused = cli("backend", "add", "s3", *s3_flags(server, bucket, secret="wrong-secret"))
    assert_one_line_error(refused, "rejected the credentials", "check the access key")
    assert not config.exists() or "backends" not in json.loads(config.read_text())

    cases = {
        "badkey": (s3_flags(server, bucket, secret="wrong-secret"), ("rejected the credentials",)),
        "nobucket": (s3_flags(server, "no-such-bucket"),
                     ("bucket 'no-such-bucket' does not exist", "create it or fix bucket")),
        "s3down": (["--type", "s3", "--bucket", bucket, "--endpoint-url", f"http://127.0.0.1:{free_port()}",
                    "--credentials", "inline", "--access-key-id", "k", "--secret-access-key", "s"],
                   ("cannot reach the S3 endpoint", "check endpoint_url")),
        "kubodown": (["--type", "kubo", "--api-url", f"http://127.0.0.1:{free_port()}"],
                     ("cannot reach the kubo RPC API", "is the daemon running")),
    }
    for name, (flags, fragments) in cases.items():
        assert cli("backend", "add", name, *flags, "--no-test").code == 0
        assert_one_line_error(cli("backend", "test", name), *fragments)
    assert cli("backend", "test", "nobucket", "--json").code == 1

    assert_one_line_error(cli("backend", "test", "nope"), "no backend named 'nope'")
    assert_one_line_error(cli("backend", "add", "x", "--type", "kubo", "--api-url", "ftp://host"), "api_url")
    assert_one_line_error(cli("backend", "add", "Bad Name", "--type", "local"), "name")
    assert_one_line_error(cli("backend", "add", "x", "--type", "s3", "--bucket", "UPPER"), "bucket")
    assert_one_line_error(cli("backend", "status", "not-a-cid"), "not-a-cid")
    assert cli("backend", "sync", "--wait", "-1").code == 2


SNIPPET = """
import anyio
from ipfs_kit_py.mcp.controllers.storage.s3_controller_anyio import S3ControllerAnyio
controller = S3ControllerAnyio()

async def main():
    health = await controller.health()
    put = await controller.put(b"phase 12")
    block = await controller.get(put["cid"])
    print({"healthy": health["healthy"], "status": put["status"], "has": await controller.has(put["cid"]),
           "listed": put["cid"] in await controller.list(), "block": len(block)})
    await controller.aclose()

anyio.run(main, backend=BACKEND)
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_seed_phase12_snippet_runs_as_written(home, s3_server, backend):
    conf = s3_server.conf(s3_server.bucket())
    Settings.load(home, env=False).with_changes(backends={"archive": conf}).save()
    code = SNIPPET.replace("BACKEND", repr(backend))
    out = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code],
                         env={**os.environ, "IPFS_KIT_HOME": str(home)}, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{'healthy': True, 'status': 'pinned', 'has': True, 'listed': True, 'block': 16}"


def test_the_old_sync_controller_still_works_and_warns(home, s3_server, monkeypatch):
    conf = s3_server.conf(s3_server.bucket())
    Settings.load(home, env=False).with_changes(backends={"archive": conf}).save()
    monkeypatch.setenv("IPFS_KIT_HOME", str(home))
    from ipfs_kit_py.mcp.controllers.storage.s3_controller import S3Controller

    with pytest.warns(DeprecationWarning, match=r"S3ControllerAnyio \(anyio"):
        controller = S3Controller()
    assert controller.health()["healthy"] is True
    put = controller.put(b"old style")
    assert put["status"] == "pinned" and controller.has(put["cid"]) is True
    controller.close()


def test_controllers_refuse_a_backend_of_another_kind_and_explain_a_missing_one(home, kubo_node):
    from ipfs_kit_py.errors import InvalidInput, NotFound
    from ipfs_kit_py.mcp.controllers.storage.kubo_controller_anyio import KuboControllerAnyio
    from ipfs_kit_py.mcp.controllers.storage.s3_controller_anyio import S3ControllerAnyio

    Settings.load(home, env=False).with_changes(
        backends={"node": {"type": "kubo", "api_url": kubo_node.api_url}}).save()
    with Kit(home) as kit:
        async def main():
            with pytest.raises(NotFound, match="no s3 backend is configured"):
                await S3ControllerAnyio(kit=kit).health()
            with pytest.raises(InvalidInput, match="'node' is a kubo backend, not s3"):
                await S3ControllerAnyio("node", kit=kit).health()
            info = await KuboControllerAnyio(kit=kit).health()
            assert info["version"] == "0.22.0" and info["peer_id"].startswith(("Qm", "12D3"))

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            anyio.run(main)


def test_replication_policy_command(cli, home, tmp_path):
    assert cli("backend", "add", "nas", "--type", "local", "--path", str(tmp_path / "nas")).code == 0
    shown = cli("backend", "policy", "--json").json()
    assert shown["replicas"] == 1 and shown["targets"] == [] and shown["circuit_threshold"] == 5
    changed = cli("backend", "policy", "--targets", "nas", "--replicas", "2", "--read-order", "nas",
                  "--circuit-cooldown", "5", "--json").json()
    assert changed["targets"] == ["nas"] and changed["replicas"] == 2 and changed["circuit_cooldown_seconds"] == 5
    assert Settings.load(home, env=False).replication["read_order"] == ["nas"]
    added = cli("add", "-", "--json", input=b"policy applies\n").json()
    assert added["replication"] == {added["cid"]: {"nas": "pinned"}}
    assert_one_line_error(cli("backend", "policy", "--targets", "nas,ghost"), "no backend named ghost")
    assert cli("backend", "policy", "--replicas", "0").code == 2


def test_cli_replicate_says_why_a_copy_failed(cli, home):
    from tests.conftest import assert_one_line_error, free_port

    cid = cli("add", "-q", "-", input=b"no route\n").out.strip()
    port = free_port()
    assert cli("backend", "add", "gone", "--type", "kubo", "--api-url", f"http://127.0.0.1:{port}",
               "--no-test").code == 0
    r = cli("backend", "replicate", cid, "--to", "gone")
    assert r.code == 1 and "gone: failed" in r.out
    assert_one_line_error(r, "not copied to gone:", "cannot reach")


def test_a_web_server_that_is_not_kubo_is_named_as_such(cli, home, s3_server):
    # moto answers kubo's RPC paths with an HTML error page.
    r = cli("backend", "add", "notkubo", "--type", "kubo", "--api-url", s3_server.endpoint)
    assert r.code != 0 and "<" not in r.stderr
    assert "not a kubo RPC API answer" in r.stderr or "no /api/v0" in r.stderr, r.stderr
