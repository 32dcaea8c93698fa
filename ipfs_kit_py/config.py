"""One settings object and one home directory.

Resolution order for the home: explicit argument (``--home``), then the
``IPFS_KIT_HOME`` environment variable, then ``~/.ipfs-kit``. Settings are read
from ``<home>/config.json`` (written by the config wizards and
``ipfs-kit backend add``); environment variables override single fields.
Writes are atomic (temp file + rename) so a crash never leaves half a config.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import InvalidInput

FSYNC_POLICIES = ("none", "batch", "always")


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
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.fsync not in FSYNC_POLICIES:
            raise InvalidInput(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {self.fsync!r}")
        if self.audit_url and not self.audit_url.startswith(("postgresql://", "postgres://", "sqlite:")):
            raise InvalidInput("audit_url must start with postgresql:// or sqlite:")
        if self.block_cache_blocks < 0:
            raise InvalidInput("block_cache_blocks must be >= 0")

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
