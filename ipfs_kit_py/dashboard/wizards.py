"""Configuration wizards: backend setup (5 steps), VFS (4) and monitoring (3).

A wizard is a list of steps with typed fields. It is driven three ways, all
ending in the same validation and the same apply:

- interactively in a terminal (``run()`` when stdin and stdout are a TTY):
  one prompt per field with its default; ``:back`` returns to the previous step;
- non-interactively from answers and/or a template (``run(answers=...)``, the
  CLI's ``--answers FILE``/``--template``, the web form posting its answers);
- step by step (``next(values)``/``back()``), which is what the web pages do.

``run()`` with no answers and no terminal uses the defaults (or the loaded
template's values); if a required field has no default it raises a one-line
``InvalidInput`` naming the step and field. The last step of every wizard is a
review step whose ``apply`` field (default yes) writes the validated config
into ``Settings`` (``config.json``, atomically) and records one ``config.change``
audit event with a redacted diff: secrets are never echoed or logged.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from .wizard_fields import REDACTED, Field, Step, StepInvalid

WIZARD_IDS = ("backend_setup", "vfs_configuration", "monitoring_setup")
_SECRET_KEY = re.compile(r"secret|password|token|private|credential(?!_source)", re.I)

REVIEW_STEP = Step(
    "review", "Review and apply",
    "Check the summary; apply writes it to config.json and records a config.change audit event.",
    (Field("apply", "Apply this configuration now", "bool", default=True),),
)


def _template_library() -> dict[str, dict[str, dict[str, Any]]]:
    text = resources.files(__package__).joinpath("wizard_templates.json").read_text(encoding="utf-8")
    return json.loads(text)


class Wizard:
    """Base: steps, answers, navigation, validation, run and apply."""

    wizard_id = ""
    title = ""
    description = ""

    def __init__(self, manager: WizardManager | None = None):
        self.manager = manager
        self.steps: list[Step] = self.build_steps()
        # Start from what is configured now, so a field left unanswered keeps
        # its current value instead of going back to the wizard's default.
        kit = manager.kit if manager is not None else None
        self.answers: dict[str, Any] = self.current_answers(kit.settings) if kit is not None else {}
        self.template: str | None = None
        self.position = 0
        self.result: dict[str, Any] | None = None

    # ---- definition (subclasses) ------------------------------------------
    def build_steps(self) -> list[Step]:
        raise NotImplementedError

    def build_config(self, values: dict[str, Any]) -> dict[str, Any]:
        """The Settings fields this wizard writes, from validated values."""
        raise NotImplementedError

    def current_answers(self, settings) -> dict[str, Any]:
        """The answers that reproduce the current configuration (the inverse of build_config)."""
        return {}

    def merge_config(self, settings, config: dict[str, Any]) -> dict[str, Any]:
        """Changes for ``settings.with_changes``; default: replace the sections."""
        return config

    def after_apply(self, kit, values: dict[str, Any]) -> None:
        """Side effects of applying beyond config.json (none by default)."""

    # ---- answers and templates ---------------------------------------------
    @property
    def fields(self) -> dict[str, Field]:
        return {f.name: f for step in self.steps for f in step.fields}

    def templates(self) -> dict[str, dict[str, Any]]:
        return _template_library().get(self.wizard_id, {})

    def load_template(self, name: str) -> dict[str, Any]:
        """Load a library template by name, or a JSON/YAML answers file by path."""
        library = self.templates()
        if name in library:
            answers = dict(library[name]["answers"])
        elif Path(name).suffix in (".json", ".yaml", ".yml") and Path(name).is_file():
            answers = _read_answers_file(Path(name))
        else:
            known = ", ".join(sorted(library)) or "none"
            raise NotFound(f"no template {name!r} for {self.wizard_id}; templates: {known} (or a .json/.yaml file)")
        self.set_answers(answers)
        self.template = name
        return answers

    def set_answers(self, answers: dict[str, Any]) -> None:
        if not isinstance(answers, dict):
            raise InvalidInput("wizard answers must be an object of field: value")
        unknown = sorted(set(answers) - set(self.fields))
        if unknown:
            raise InvalidInput(f"{self.wizard_id} has no field(s) {', '.join(unknown)}; fields: {', '.join(self.fields)}")
        self.answers.update(answers)

    # ---- navigation ----------------------------------------------------------
    @property
    def current_step(self) -> Step:
        return self.steps[self.position]

    @property
    def is_last_step(self) -> bool:
        return self.position == len(self.steps) - 1

    def validate_step(self, index: int | None = None, answers: dict[str, Any] | None = None) -> dict[str, str]:
        """Errors of one step ({field: message}; empty when valid)."""
        step = self.steps[self.position if index is None else self._index(index)]
        _, errors = step.validate({**self.answers, **(answers or {})})
        return errors

    def next(self, values: dict[str, Any] | None = None) -> Step | None:
        """Record ``values`` for the current step, validate it and move on.

        Returns the new current step, or None after the last one. Raises
        ``StepInvalid`` (an InvalidInput) and stays put when the step is invalid.
        """
        if values:
            self.set_answers(values)
        step = self.current_step
        parsed, errors = step.validate(self.answers)
        if errors:
            raise StepInvalid(step, errors)
        self.answers.update(parsed)
        if self.is_last_step:
            return None
        self.position += 1
        return self.current_step

    def back(self) -> Step:
        """Go to the previous step (answers are kept)."""
        if self.position == 0:
            raise InvalidInput("already at the first step")
        self.position -= 1
        return self.current_step

    def _index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.steps):
            raise InvalidInput(f"step must be 0..{len(self.steps) - 1}, not {index!r}")
        return index

    def values(self) -> dict[str, Any]:
        """All steps validated; their parsed values. Raises StepInvalid at the first bad step."""
        merged: dict[str, Any] = {}
        for step in self.steps:
            parsed, errors = step.validate({**self.answers, **merged})
            if errors:
                raise StepInvalid(step, errors)
            merged.update(parsed)
        return merged

    # ---- summaries ---------------------------------------------------------------
    def summary(self, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """The config this wizard would write, secrets redacted."""
        return redact(self.build_config(self.values() if values is None else values))

    def to_dict(self) -> dict[str, Any]:
        return {
            "wizard_id": self.wizard_id,
            "title": self.title,
            "description": self.description,
            "steps": [s.to_dict() for s in self.steps],
            "templates": {name: t.get("description", "") for name, t in self.templates().items()},
        }

    # ---- run and apply ---------------------------------------------------------
    def run(self, answers: dict[str, Any] | None = None, *, interactive: bool | None = None,
            apply: bool | None = None, prompt: Callable[..., Any] | None = None) -> dict[str, Any]:
        """Collect and validate every step, then apply (unless ``apply`` is false).

        ``interactive`` defaults to "stdin and stdout are a terminal and no
        answers were given". Returns ``{"wizard_id", "template", "applied",
        "config" (redacted), "changes" (redacted diff), "event_id"}``.
        """
        if answers:
            self.set_answers(answers)
        if apply is not None:
            self.answers["apply"] = apply
        if interactive is None:
            interactive = answers is None and sys.stdin.isatty() and sys.stdout.isatty()
        if interactive:
            self._run_interactive(prompt)
        values = self.values()
        if values.get("apply"):
            self.result = self.apply(values=values)
        else:
            self.result = {"wizard_id": self.wizard_id, "template": self.template, "applied": False,
                           "config": self.summary(values), "changes": [], "event_id": None}
        return self.result

    def apply(self, kit=None, values: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the validated config to Settings and audit it as ``config.change``."""
        values = self.values() if values is None else values
        config = self.build_config(values)
        own_kit = None
        if kit is None:
            kit = self.manager.kit if self.manager is not None and self.manager.kit is not None else None
        if kit is None:
            from ..kit import Kit

            kit = own_kit = Kit(interface="python")
        try:
            return self._apply(kit, config, values)
        finally:
            if own_kit is not None:
                own_kit.close()

    def _apply(self, kit, config: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        done = kit.change_config(lambda before: self.merge_config(before, config),
                                 then=lambda: self.after_apply(kit, values),
                                 wizard=self.wizard_id, template=self.template)
        return {"wizard_id": self.wizard_id, "template": self.template, "applied": True,
                "config": redact(config), **done}

    def _run_interactive(self, prompt: Callable[..., Any] | None) -> None:
        import click

        ask = prompt or click.prompt
        echo = click.echo
        echo(f"{self.title}: {self.description}  (type :back to return to the previous step)")
        self.position = 0
        while True:
            step = self.current_step
            echo(f"\nStep {self.position + 1}/{len(self.steps)}: {step.title}\n  {step.description}")
            if step.name == "review":
                for section, value in self.summary(self._values_before_review()).items():
                    echo(f"  {section}: {json.dumps(value, sort_keys=True)}")
            went_back = False
            for f in step.fields:
                if not f.visible(self.answers):
                    continue
                current = self.answers.get(f.name, f.default)
                raw = ask(f"  {f.label}" + (f" [{'/'.join(f.choices)}]" if f.choices else ""),
                          default="" if f.secret or current is None else f.display(current),
                          hide_input=f.secret, show_default=not f.secret)
                if isinstance(raw, str) and raw.strip() == ":back":
                    went_back = True
                    break
                if f.secret and raw == "" and current is not None:
                    continue  # keep the secret already given
                self.answers[f.name] = raw  # parsed and checked by next() below
            if went_back:
                if self.position > 0:
                    self.back()
                continue
            try:
                if self.next() is None:
                    return
            except StepInvalid as exc:
                echo(f"  Error: {exc}")

    def _values_before_review(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for step in self.steps[:-1]:
            parsed, _ = step.validate({**self.answers, **merged})
            merged.update(parsed)
        return merged


# ---- the three wizards ----------------------------------------------------------

_NAME = r"[a-z][a-z0-9_-]{0,31}"
_BUCKET = re.compile(r"(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")


class BackendSetupWizard(Wizard):
    wizard_id = "backend_setup"
    title = "Backend setup"
    description = "Add a storage backend (local blockstore, kubo node or S3 bucket) and its replication."

    def build_steps(self) -> list[Step]:
        s3, kubo, local = {"type": ("s3",)}, {"type": ("kubo",)}, {"type": ("local",)}
        return [
            Step("backend", "Backend", "Name the backend and choose its kind.", (
                Field("name", "Backend name", default="local", pattern=_NAME,
                      help="lowercase letters, digits, - and _, starting with a letter"),
                Field("type", "Backend type", "choice", default="local", choices=("local", "kubo", "s3")),
            )),
            Step("connection", "Connection", "Where the backend lives.", (
                Field("path", "Blockstore directory (empty: the home's blocks/)", "path", required=False, show_if=local),
                Field("api_url", "kubo RPC API URL", "url", default="http://127.0.0.1:5001", show_if=kubo),
                Field("bucket", "S3 bucket", show_if=s3),
                Field("region", "S3 region", default="us-east-1", show_if=s3, pattern=r"[a-z0-9-]{2,32}",
                      help="a region name such as us-east-1"),
                Field("endpoint_url", "S3 endpoint URL (empty: AWS)", "url", required=False, show_if=s3),
                Field("prefix", "Key prefix", default="ipfs/", required=False, show_if=s3),
            ), check=_check_connection),
            Step("credentials", "Credentials", "How to authenticate (secrets are stored only in config.json, mode 0600).", (
                Field("credential_source", "S3 credentials from", "choice", default="environment",
                      choices=("environment", "profile", "inline"), show_if=s3,
                      help="environment: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS default chain"),
                Field("profile", "AWS profile name", show_if={"type": ("s3",), "credential_source": ("profile",)}),
                Field("access_key_id", "Access key id", show_if={"type": ("s3",), "credential_source": ("inline",)}),
                Field("secret_access_key", "Secret access key", "secret",
                      show_if={"type": ("s3",), "credential_source": ("inline",)}),
                Field("api_token", "kubo API bearer token (empty: none)", "secret", required=False, show_if=kubo),
            )),
            Step("options", "Options", "Timeouts, retries and replication.", (
                Field("timeout_seconds", "Request timeout (seconds)", "float", default=30.0, min=1, max=600),
                Field("max_retries", "Retries on failure", "int", default=3, min=0, max=10),
                Field("replicate", "Replicate pinned content to this backend", "bool", default=False),
                Field("replicas", "Copies to keep, the local one included", "int", default=2, min=1, max=10,
                      show_if={"replicate": (True,)}),
            ), check=_check_replicas),
            REVIEW_STEP,
        ]

    def build_config(self, values: dict[str, Any]) -> dict[str, Any]:
        kind = values["type"]
        keys = {
            "local": ("path",),
            "kubo": ("api_url", "api_token"),
            "s3": ("bucket", "region", "endpoint_url", "prefix", "credential_source", "profile",
                   "access_key_id", "secret_access_key"),
        }[kind]
        backend = {"type": kind, **{k: values[k] for k in keys if values.get(k) not in (None, "")}}
        backend["timeout_seconds"] = values["timeout_seconds"]
        backend["max_retries"] = values["max_retries"]
        config: dict[str, Any] = {"backends": {values["name"]: backend}}
        if values.get("replicate"):
            config["replication"] = {"replicas": values["replicas"], "targets": [values["name"]]}
        return config

    def current_answers(self, settings) -> dict[str, Any]:
        # One backend is added per run; only the shared replica count carries over.
        replicas = int(settings.replication.get("replicas", 1))
        return {"replicas": replicas} if replicas >= 2 else {}

    def merge_config(self, settings, config: dict[str, Any]) -> dict[str, Any]:
        [(name, new)] = config["backends"].items()
        old = settings.backends.get(name)
        # Same name, other place: the copies recorded for it are not where it now points.
        self._moved = old is not None and any(old.get(k) != new.get(k) for k in _LOCATION_KEYS)
        changes: dict[str, Any] = {"backends": {**settings.backends, **config["backends"]}}
        if "replication" in config:
            old = dict(settings.replication)
            targets = list(dict.fromkeys([*old.get("targets", []), *config["replication"]["targets"]]))
            # Every target asked for a copy: keep enough replicas (the local copy + one per target).
            replicas = max(config["replication"]["replicas"], len(targets) + 1)
            changes["replication"] = {**old, "replicas": replicas, "targets": targets}
        return changes

    def after_apply(self, kit, values: dict[str, Any]) -> None:
        if self._moved:
            kit.backends.state.forget_backend(values["name"])


_LOCATION_KEYS = ("type", "path", "api_url", "bucket", "endpoint_url", "region", "prefix")


def _check_replicas(values: dict[str, Any]) -> dict[str, str]:
    if not values.get("replicate"):
        return {}
    if values.get("replicas", 2) < 2:
        return {"replicas": "counts the local copy too: 2 or more keeps a copy on this backend"}
    if values.get("type") == "local" and not values.get("path"):
        return {"replicate": "a local backend without a path is the home's own blockstore, so a copy there "
                             "is no replica: give it a path on another disk"}
    return {}


def _check_connection(values: dict[str, Any]) -> dict[str, str]:
    path = values.get("path")
    if values.get("type") == "local" and path and not Path(path).expanduser().is_absolute():
        # Relative to whichever directory the server or CLI happened to start in: never what was meant.
        return {"path": f"must be an absolute directory, not {path!r}"}
    if values.get("type") == "s3" and values.get("bucket") and not _BUCKET.match(values["bucket"]):
        return {"bucket": "must be 3-63 lowercase letters, digits, dots or hyphens (an S3 bucket name)"}
    return {}


class VFSConfigurationWizard(Wizard):
    wizard_id = "vfs_configuration"
    title = "VFS configuration"
    description = "How files written through the VFS are chunked and cached, and which directories exist."

    def build_steps(self) -> list[Step]:
        from ..performance.policies import POLICIES

        return [
            Step("layout", "Import layout", "CID version and chunking for files written to the VFS.", (
                Field("cid_version", "CID version", "choice", default="0", choices=("0", "1")),
                Field("chunker", "Chunker", default="size-262144", help="size-N with N bytes, at most 1 MiB"),
                Field("raw_leaves", "Raw leaves", "choice", default="auto", choices=("auto", "yes", "no")),
                Field("trickle", "Trickle layout", "bool", default=False),
            ), check=_check_chunker),
            Step("directories", "Directories", "VFS directories to create (comma-separated absolute paths).", (
                Field("directories", "Directories", "list", default=[], required=False),
                Field("pin_writes", "Pin files written through the VFS", "bool", default=False),
            ), check=_check_directories),
            Step("cache", "Block cache", "Memory cache for blocks read through the store.", (
                Field("block_cache_blocks", "Cached blocks (0 disables)", "int", default=1024, min=0, max=10_000_000),
                Field("block_cache_policy", "Eviction policy", "choice", default=POLICIES[-1], choices=POLICIES),
            )),
            REVIEW_STEP,
        ]

    def build_config(self, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "vfs": {
                "cid_version": int(values["cid_version"]),
                "chunker": values["chunker"],
                "raw_leaves": {"auto": None, "yes": True, "no": False}[values["raw_leaves"]],
                "trickle": values["trickle"],
                "directories": values.get("directories") or [],
                "pin_writes": values["pin_writes"],
            },
            "block_cache_blocks": values["block_cache_blocks"],
            "block_cache_policy": values["block_cache_policy"],
        }

    def current_answers(self, settings) -> dict[str, Any]:
        vfs = settings.vfs_config
        return {
            "cid_version": str(vfs["cid_version"]), "chunker": vfs["chunker"],
            "raw_leaves": {None: "auto", True: "yes", False: "no"}[vfs["raw_leaves"]],
            "trickle": vfs["trickle"], "directories": list(vfs["directories"]), "pin_writes": vfs["pin_writes"],
            "block_cache_blocks": settings.block_cache_blocks, "block_cache_policy": settings.block_cache_policy,
        }

    def after_apply(self, kit, values: dict[str, Any]) -> None:
        for path in values.get("directories") or []:
            kit.files_mkdir(path, parents=True)


def _check_chunker(values: dict[str, Any]) -> dict[str, str]:
    from ..core.importer import parse_chunker

    try:
        parse_chunker(values["chunker"])
    except InvalidInput as exc:
        return {"chunker": str(exc)}
    return {}


def _check_directories(values: dict[str, Any]) -> dict[str, str]:
    from ..content.vfs import split_vfs_path

    for path in values.get("directories") or []:
        try:
            if not split_vfs_path(path):
                return {"directories": "the root / always exists; name directories below it"}
        except InvalidInput as exc:
            return {"directories": str(exc)}
    return {}


class MonitoringSetupWizard(Wizard):
    wizard_id = "monitoring_setup"
    title = "Monitoring setup"
    description = "Metrics retention, the Prometheus endpoint and the alert thresholds the dashboard uses."

    def build_steps(self) -> list[Step]:
        return [
            Step("metrics", "Metrics", "What is collected and exposed.", (
                Field("enabled", "Collect performance metrics", "bool", default=True),
                Field("retention", "Keep samples for", default="7d", pattern=r"[1-9]\d*[hdw]",
                      help="a duration such as 24h, 7d or 2w"),
                Field("prometheus", "Expose /metrics for Prometheus", "bool", default=True),
            ), check=_check_retention),
            Step("alerts", "Alert thresholds", "The dashboard raises an alert when one is crossed.", (
                Field("latency_p95_ms", "p95 latency above (ms)", "float", default=500.0, min=1, max=600_000),
                Field("error_rate_percent", "Error rate above (%)", "float", default=5.0, min=0, max=100),
                Field("cpu_percent", "CPU above (%)", "float", default=80.0, min=1, max=100),
                Field("memory_percent", "Memory above (%)", "float", default=85.0, min=1, max=100),
                Field("failed_logins_per_hour", "Failed logins per hour above", "int", default=10, min=1, max=100_000),
            )),
            REVIEW_STEP,
        ]

    _KEYS = ("enabled", "retention", "prometheus", "latency_p95_ms", "error_rate_percent",
             "cpu_percent", "memory_percent", "failed_logins_per_hour")

    def build_config(self, values: dict[str, Any]) -> dict[str, Any]:
        return {"monitoring": {k: values[k] for k in self._KEYS}}

    def current_answers(self, settings) -> dict[str, Any]:
        current = settings.monitoring_config
        return {k: current[k] for k in self._KEYS if k in current}


def _check_retention(values: dict[str, Any]) -> dict[str, str]:
    from ..config import parse_retention

    try:
        parse_retention(values["retention"])
    except InvalidInput as exc:
        return {"retention": str(exc).removeprefix("monitoring.retention ")}
    return {}


# ---- manager -------------------------------------------------------------------------

WIZARDS: dict[str, type[Wizard]] = {
    w.wizard_id: w for w in (BackendSetupWizard, VFSConfigurationWizard, MonitoringSetupWizard)
}


class WizardManager:
    """Creates wizards; applies through ``kit`` (default: a Kit on the default home)."""

    def __init__(self, kit=None):
        self.kit = kit

    def list_wizards(self) -> list[dict[str, Any]]:
        return [{"wizard_id": wid, "title": cls.title, "description": cls.description,
                 "steps": len(cls().steps), "templates": sorted(_template_library().get(wid, {}))}
                for wid, cls in WIZARDS.items()]

    def create_wizard(self, wizard_id: str) -> Wizard:
        try:
            cls = WIZARDS[wizard_id]
        except KeyError:
            raise NotFound(f"no wizard {wizard_id!r}; wizards: {', '.join(WIZARDS)}") from None
        return cls(self)

    def list_templates(self, wizard_id: str | None = None) -> dict[str, dict[str, str]]:
        library = _template_library()
        ids = [wizard_id] if wizard_id else list(WIZARDS)
        return {wid: {name: t.get("description", "") for name, t in library.get(wid, {}).items()} for wid in ids}


# ---- redaction and diffs ----------------------------------------------------------------

def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with every secret-looking entry replaced by ``***``."""
    if isinstance(value, dict):
        return {k: (REDACTED if _is_secret_key(k) and v not in (None, "") else redact(v, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    return value


def config_diff(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """[{path, old, new}] for every changed leaf; secret values shown as ***."""
    changes: list[dict[str, Any]] = []
    for key in sorted(set(before) | set(after), key=str):
        path = f"{prefix}{key}"
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changes.extend(config_diff(old, new, path + "."))
            continue
        if isinstance(old, dict) or isinstance(new, dict):
            old, new = redact(old) if isinstance(old, dict) else old, redact(new) if isinstance(new, dict) else new
        if _is_secret_key(str(key)):
            old = REDACTED if old not in (None, "") else old
            new = REDACTED if new not in (None, "") else new
        # A damaged config.json may hold NaN/Infinity; the diff goes into a JSON audit event.
        changes.append({"path": path, "old": _json_safe(old), "new": _json_safe(new)})
    return changes


def _read_answers_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read answers file {path}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError
        raise InvalidInput(f"cannot parse answers file {path}: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"answers file {path} must hold an object of field: value")
    return data


def _json_safe(value: Any) -> Any:
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value
