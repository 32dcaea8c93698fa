"""One settings object and one home directory.

Resolution order for the home: explicit argument (``--home``), then the
``IPFS_KIT_HOME`` environment variable, then ``~/.ipfs-kit``. Settings are read
from ``<home>/config.json`` (written by the config wizards and
``ipfs-kit backend add``); environment variables override single fields.
Writes are atomic (temp file + rename) so a crash never leaves half a config.
The ``vfs`` and ``monitoring`` sections are checked here too, and read through
the properties below (``vfs_import_options``, ``monitoring_enabled``...), so a
hand-edited config.json fails at load with a one-line error instead of later.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidInput

if TYPE_CHECKING:
    from .core.importer import ImportOptions

FSYNC_POLICIES = ("none", "batch", "always")

# The sections the VFS and monitoring wizards write, and their defaults
# (kubo's import defaults; metrics on for 7 days with /metrics exposed).
VFS_DEFAULTS: dict[str, Any] = {"cid_version": 0, "chunker": "size-262144", "raw_leaves": None,
                                "trickle": False, "pin_writes": False, "directories": []}
MONITORING_DEFAULTS: dict[str, Any] = {
    "enabled": True, "retention": "7d", "prometheus": True, "latency_p95_ms": 500.0,
    "error_rate_percent": 5.0, "cpu_percent": 80.0, "memory_percent": 85.0,
    "failed_logins_per_hour": 10}
_DURATION = re.compile(r"([1-9][0-9]{0,5})([hdw])")
_DURATION_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}
MAX_RETENTION_S = 366 * 86400


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    if home is None:
        home = os.environ.get("IPFS_KIT_HOME") or Path.home() / ".ipfs-kit"
    return Path(home).expanduser().resolve()


@dataclass(frozen=True)
class Settings:
    home: Path
    # Blockstore durability: "none" relies on the OS (safe against process
    # crashes, not power loss); "batch" fsyncs the blocks of one operation
    # before it returns; "always" fsyncs every block before its rename.
    fsync: str = "batch"
    # Audit store: None = SQLite in the home; or "postgresql://..."
    audit_url: str | None = None
    # Block read cache (memory tier, number of blocks) and policy.
    block_cache_blocks: int = 256
    block_cache_policy: str = "w-tinylfu"
    redis_url: str | None = None
    # Backends and replication, as written by the backend wizard / CLI.
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)
    replication: dict[str, Any] = field(default_factory=dict)
    vfs: dict[str, Any] = field(default_factory=dict)
    monitoring: dict[str, Any] = field(default_factory=dict)
    # Roots under which MCP/HTTP callers may add server-side paths.
    allowed_roots: tuple[str, ...] = ()

    # ---- paths inside the home -------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.home / "config.json"

    @property
    def blocks_dir(self) -> Path:
        return self.home / "blocks"

    @property
    def store_db(self) -> Path:
        return self.home / "store.db"

    @property
    def audit_db(self) -> Path:
        return self.home / "audit.db"

    @property
    def auth_db(self) -> Path:
        return self.home / "auth.db"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def metrics_db(self) -> Path:
        return self.home / "metrics.db"

    # ---- load / save -------------------------------------------------------
    @classmethod
    def load(cls, home: str | os.PathLike | None = None, *, env: bool = True, **overrides: Any) -> Settings:
        """Settings from config.json, then (``env=True``) environment variables and overrides.

        Writers that read, change and ``save()`` the file pass ``env=False`` so a
        one-off ``IPFS_KIT_AUDIT_URL`` or ``--audit-url`` is never persisted.
        """
        root = resolve_home(home)
        data: dict[str, Any] = {}
        cfg = root / "config.json"
        if cfg.exists():
            try:
                data = json.loads(cfg.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InvalidInput(f"cannot read {cfg}: {exc}; fix or remove the file") from exc
            if not isinstance(data, dict):
                raise InvalidInput(f"{cfg} must hold a JSON object")
        known = {f.name for f in fields(cls)} - {"home"}
        unknown = set(data) - known
        if unknown:
            raise InvalidInput(f"{cfg}: unknown setting(s) {', '.join(sorted(unknown))}")
        env_values = {
            "fsync": os.environ.get("IPFS_KIT_FSYNC"),
            "audit_url": os.environ.get("IPFS_KIT_AUDIT_URL"),
            "redis_url": os.environ.get("IPFS_KIT_REDIS_URL"),
        }
        if env:
            data.update({k: v for k, v in env_values.items() if v})
            data.update({k: v for k, v in overrides.items() if v is not None})
        if "allowed_roots" in data:
            data["allowed_roots"] = tuple(data["allowed_roots"])
        settings = cls(home=root, **data)
        try:  # these two sections only come from the file: say so
            settings._check_vfs()
            settings._check_monitoring()
        except InvalidInput as exc:
            raise InvalidInput(f"{cfg}: {exc}") from None
        settings.validate()
        return settings

    def validate(self) -> None:
        self._check_vfs()
        self._check_monitoring()
        if self.fsync not in FSYNC_POLICIES:
            raise InvalidInput(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {self.fsync!r}")
        if self.audit_url and not self.audit_url.startswith(("postgresql://", "postgres://", "sqlite:")):
            raise InvalidInput("audit_url must start with postgresql:// or sqlite:")
        if self.block_cache_blocks < 0:
            raise InvalidInput("block_cache_blocks must be >= 0")

    def _check_vfs(self) -> None:
        vfs = _section(self.vfs, "vfs", VFS_DEFAULTS)
        if vfs["cid_version"] not in (0, 1) or isinstance(vfs["cid_version"], bool):
            raise InvalidInput(f"vfs.cid_version must be 0 or 1, not {vfs['cid_version']!r}")
        if vfs["raw_leaves"] not in (None, True, False):
            raise InvalidInput(
                f"vfs.raw_leaves must be null, true or false, not {vfs['raw_leaves']!r}")
        for key in ("trickle", "pin_writes"):
            _check_bool(vfs, "vfs", key)
        dirs = vfs["directories"]
        if not isinstance(dirs, list) or not all(
                isinstance(d, str) and d.startswith("/") for d in dirs):
            raise InvalidInput("vfs.directories must be a list of absolute VFS paths")
        if vfs["chunker"] != VFS_DEFAULTS["chunker"]:  # the importer costs ~0.1 s to import
            from .core.importer import parse_chunker

            try:
                parse_chunker(vfs["chunker"])
            except InvalidInput as exc:
                raise InvalidInput(f"vfs.chunker: {exc}") from None

    def _check_monitoring(self) -> None:
        mon = _section(self.monitoring, "monitoring", MONITORING_DEFAULTS)
        for key in ("enabled", "prometheus"):
            _check_bool(mon, "monitoring", key)
        parse_retention(mon["retention"])
        for key in ("latency_p95_ms", "error_rate_percent", "cpu_percent", "memory_percent",
                    "failed_logins_per_hour"):
            value = mon[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise InvalidInput(f"monitoring.{key} must be a number >= 0, not {value!r}")

    # ---- the vfs and monitoring sections, with their defaults --------------------
    # (computed once per Settings object: a running service keeps one until
    # config.json changes, see ``kit.Services.current_settings``)
    @cached_property
    def vfs_config(self) -> dict[str, Any]:
        """The ``vfs`` section over ``VFS_DEFAULTS``."""
        return {**VFS_DEFAULTS, **self.vfs}

    @cached_property
    def vfs_import_options(self) -> ImportOptions:
        """How files written through the VFS are imported (CID version, chunker, leaves, layout)."""
        from .core.importer import ImportOptions, parse_chunker

        vfs = self.vfs_config
        return ImportOptions(cid_version=vfs["cid_version"],
                             chunk_size=parse_chunker(vfs["chunker"]),
                             raw_leaves=vfs["raw_leaves"], trickle=vfs["trickle"])

    @property
    def vfs_pin_writes(self) -> bool:
        return bool(self.vfs_config["pin_writes"])

    @cached_property
    def monitoring_config(self) -> dict[str, Any]:
        """The ``monitoring`` section over ``MONITORING_DEFAULTS``."""
        return {**MONITORING_DEFAULTS, **self.monitoring}

    @property
    def monitoring_enabled(self) -> bool:
        """False: operations are still audited, but no performance samples are recorded."""
        return bool(self.monitoring_config["enabled"])

    @property
    def prometheus_enabled(self) -> bool:
        return bool(self.monitoring_config["prometheus"])

    @cached_property
    def monitoring_retention_s(self) -> float:
        """How long performance samples are kept, in seconds."""
        return parse_retention(self.monitoring_config["retention"])

    def with_changes(self, **changes: Any) -> Settings:
        new = replace(self, **changes)
        new.validate()
        return new

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("home")
        data["allowed_roots"] = list(self.allowed_roots)
        return data

    def save(self) -> None:
        """Write config.json atomically."""
        self.home.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config_path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


def parse_retention(text: Any) -> float:
    """``"24h"``, ``"7d"``, ``"2w"`` -> seconds (at most 366 days)."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise InvalidInput(
            f"monitoring.retention must be a duration such as 24h, 7d or 2w, not {text!r}")
    seconds = float(int(match.group(1)) * _DURATION_UNITS[match.group(2)])
    if seconds > MAX_RETENTION_S:
        raise InvalidInput(f"monitoring.retention {text} is too long; at most 366d")
    return seconds


def _section(value: Any, name: str, defaults: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} must be an object")
    unknown = sorted(set(value) - set(defaults))
    if unknown:
        raise InvalidInput(f"unknown {name} setting(s) {', '.join(unknown)}; "
                           f"settings: {', '.join(defaults)}")
    return {**defaults, **value}


def _check_bool(section: dict[str, Any], name: str, key: str) -> None:
    if not isinstance(section[key], bool):
        raise InvalidInput(f"{name}.{key} must be true or false, not {section[key]!r}")


def output_target(path: str | os.PathLike) -> Path:
    """Where a user-named output file is written: through a symlink to the file it names.

    Output is written to a temp file and renamed over the target, which would
    turn a symlink, a FIFO or a device (``-o /dev/null`` as root) into a
    regular file: symlinks are followed, and anything but a regular file (or a
    new name) is refused.
    """
    real = Path(os.path.realpath(path))
    if real.is_dir():
        raise InvalidInput(f"{path} is a directory; give a file path")
    if real.exists() and not real.is_file():
        raise InvalidInput(f"{path} is not a regular file (a device, FIFO or socket); "
                           "give a file path, or - for stdout")
    return real


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
