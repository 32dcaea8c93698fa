"""``Kit``: the one object every interface (Python, CLI, MCP, web) holds.

Services are built lazily and shared; a Kit is bound to one identity (user,
role, source IP, session). ``kit.as_principal(...)`` gives a view of the same
services for another caller (used per request by the web and MCP servers).
Every public operation is wrapped by ``instrument.operation``: one place that
checks the role, times the call and writes its audit event.

Settings are live: ``Services.current_settings()`` re-reads config.json when it
changed (one ``stat`` per call, a parse only after a change), so a long-lived
server sees a wizard applied by another process. The VFS import options, the
monitoring switches and the dashboard thresholds all read through it.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from functools import cached_property
from typing import Any, BinaryIO

from .config import Settings
from .content.adder import AddOptions, AddResult
from .core.cid import cid_str, parse_cid
from .errors import InvalidInput, PermissionDenied
from .instrument import ROLES, note, operation, tracked

log = logging.getLogger(__name__)


def _config_stamp(path: str) -> tuple[int, int, int] | None:
    """What tells a changed config.json apart: mtime, size and inode (writes replace the file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Services:
    """The shared, lazily built service objects for one home directory.

    ``overrides``: settings fields the caller fixed (``Kit(audit_url=...)``) that
    a reload of config.json must not undo; environment variables are re-applied
    by ``Settings.load``. ``None``: the fields of ``settings`` that differ from
    config.json and the environment right now.
    """

    def __init__(self, settings: Settings, overrides: dict[str, Any] | None = None):
        self._config_file = os.fspath(settings.config_path)  # the home never changes
        self._config_stamp = _config_stamp(self._config_file)
        self.settings = settings
        self._lock = threading.RLock()
        self._overrides = _fixed_fields(settings) if overrides is None else {
            k: v for k, v in overrides.items() if v is not None}
        self._vfs: tuple[Settings, Any] | None = None

    # ---- live settings ------------------------------------------------------------
    def current_settings(self) -> Settings:
        """The settings, re-read from config.json if it changed since the last call.

        Cheap: one ``stat``; the file is parsed only when its mtime (or size or
        inode) changed. A config.json that no longer loads is logged and the
        last good settings are kept until the file changes again.
        """
        stamp = _config_stamp(self._config_file)
        if stamp != self._config_stamp:
            with self._lock:
                if stamp != self._config_stamp:
                    self._reload(stamp)
        return self.settings

    def reload_settings(self) -> Settings:
        """Re-read config.json now (after this process wrote it)."""
        with self._lock:
            self._reload(_config_stamp(self._config_file))
        return self.settings

    def _reload(self, stamp: tuple[int, int, int] | None) -> None:
        try:
            fresh = Settings.load(self.settings.home)
            if self._overrides:
                fresh = fresh.with_changes(**self._overrides)
        except Exception as exc:  # noqa: BLE001 - a bad file must not fail the operations
            log.warning("%s: keeping the settings loaded before: %s", self._config_file, exc)
            self._config_stamp = stamp
            return
        before, self.settings = self.settings, fresh
        self._config_stamp = stamp
        monitor = self.__dict__.get("monitor")
        if monitor is not None:
            monitor.set_retention(fresh.monitoring_retention_s)
        self._apply_store_settings(before, fresh)

    def _apply_store_settings(self, before: Settings, fresh: Settings) -> None:
        """Block cache size/policy and fsync policy take effect in a running process."""
        content = self.__dict__.get("content")
        if content is not None:
            content.blocks.fsync = fresh.fsync
        cache_fields = ("block_cache_blocks", "block_cache_policy")
        if all(getattr(before, f) == getattr(fresh, f) for f in cache_fields) or "cache" not in self.__dict__:
            return
        old = self.__dict__.pop("cache")
        new = self.cache  # rebuilt from the fresh settings (shared counters carry on in cache-stats.json)
        if content is not None:
            content.blocks.cache = new if fresh.block_cache_blocks else None
        old.close()

    @cached_property
    def cache(self):
        from .performance.cache import CacheManager

        s = self.settings
        return CacheManager(
            memory_policy=s.block_cache_policy,
            memory_size=max(s.block_cache_blocks, 1),
            enable_disk=False,
            stats_path=s.home / "cache-stats.json",
            redis_url=s.redis_url,
        )

    @cached_property
    def content(self):
        from .content.store import ContentStore

        store = ContentStore(self.settings, block_cache=self.cache if self.settings.block_cache_blocks else None)
        store.fallback_get = self._fallback_get
        return store

    def _fallback_get(self, cid) -> bytes | None:
        """A missing local block from the backends (verified), or None when there are none."""
        return self.backends.get_block_verified(cid) if self.backends_configured() else None

    def backends_configured(self) -> bool:
        """True once any backend is configured (now, or when the manager was built).

        The manager (and its replication.db) is only built then; the settings
        are live, so backends added by another process count.
        """
        return "backends" in self.__dict__ or bool(self.current_settings().backends)

    def replication_targets(self) -> list[str]:
        return self.backends.targets() if self.backends_configured() else []

    @property
    def vfs(self):
        """The VFS with the current ``Settings.vfs`` options (a new one when they change)."""
        settings = self.current_settings()
        cached = self._vfs
        if cached is None or cached[0] is not settings:
            from .content.vfs import Vfs

            cached = self._vfs = (settings, Vfs(self.content, settings.vfs_import_options,
                                                pin_writes=settings.vfs_pin_writes))
        return cached[1]

    @cached_property
    def audit(self):
        from .audit.logger import AuditLogger

        return AuditLogger(self.settings.audit_url, path=self.settings.audit_db)

    @cached_property
    def auth(self):
        from .audit.auth import TokenStore

        return TokenStore(self.settings.auth_db, self.audit)

    @cached_property
    def monitor(self):
        from .performance.monitor import PerformanceMonitor

        settings = self.current_settings()
        return PerformanceMonitor(state_path=settings.metrics_db,
                                  retention=settings.monitoring_retention_s)

    @cached_property
    def batch(self):
        from .performance.batch import BatchProcessor

        return BatchProcessor(max_workers=4, stats_path=self.settings.home / "batch-stats.json")

    @cached_property
    def analytics(self):
        from .analytics import AuditAnalytics

        return AuditAnalytics(self.audit)

    @cached_property
    def correlator(self):
        from .analytics import EventCorrelator

        return EventCorrelator(self.audit)

    @cached_property
    def visualizer(self):
        from .analytics import AuditVisualizer

        return AuditVisualizer(self.audit)

    @cached_property
    def backends(self):
        from .backends.manager import BackendManager

        return BackendManager(self.current_settings)

    def close(self) -> None:
        for name in ("monitor", "cache", "batch", "content", "audit", "backends"):
            obj = self.__dict__.get(name)
            if obj is not None and hasattr(obj, "close"):
                obj.close()


def _fixed_fields(settings: Settings) -> dict[str, Any]:
    """The fields of ``settings`` that config.json and the environment do not give."""
    names = [f.name for f in fields(Settings) if f.name != "home"]
    try:
        loaded = Settings.load(settings.home)
    except InvalidInput:
        return {name: getattr(settings, name) for name in names}  # all of them, as given
    return {name: getattr(settings, name) for name in names
            if getattr(settings, name) != getattr(loaded, name)}


class Kit:
    def __init__(
        self,
        home: str | os.PathLike | None = None,
        *,
        settings: Settings | None = None,
        audit_url: str | None = None,
        user: str | None = None,
        role: str = "admin",
        source_ip: str | None = None,
        session_id: str | None = None,
        interface: str = "python",
        services: Services | None = None,
    ):
        if services is None:
            if settings is None:
                settings = Settings.load(home, audit_url=audit_url)
                services = Services(settings, {"audit_url": audit_url})
            else:
                services = Services(settings)
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        self.services = services
        # Local use runs as the OS user, with full rights over their own home.
        self.user = user or getpass.getuser()
        self.role = role
        self.source_ip = source_ip or "local"
        self.session_id = session_id
        self.interface = interface

    def as_principal(self, user: str, role: str, source_ip: str | None = None,
                     session_id: str | None = None, interface: str | None = None) -> Kit:
        return Kit(services=self.services, user=user, role=role, source_ip=source_ip,
                   session_id=session_id, interface=interface or self.interface)

    def close(self) -> None:
        self.services.close()

    def __enter__(self) -> Kit:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def track(self, action: str, event_type: str = "data", role: str = "reader",
              resource_type: str | None = None):
        """Context manager: run a block as one audited, timed operation (see instrument.tracked)."""
        return tracked(self, action, event_type, role, resource_type)

    @property
    def settings(self) -> Settings:
        """The settings last loaded (``services.current_settings()`` checks config.json)."""
        return self.services.settings

    # ---- service objects (seed APIs live on these) ------------------------
    @property
    def audit(self):
        return self.services.audit

    @property
    def auth(self):
        return self.services.auth

    @property
    def monitor(self):
        """The performance monitor, with the retention config.json sets now."""
        self.services.current_settings()
        return self.services.monitor

    @property
    def cache(self):
        return self.services.cache

    @property
    def batch(self):
        return self.services.batch

    @property
    def analytics(self):
        return self.services.analytics

    @property
    def correlator(self):
        return self.services.correlator

    @property
    def visualizer(self):
        return self.services.visualizer

    @property
    def backends(self):
        return self.services.backends

    @property
    def content(self):
        return self.services.content

    def _run_batch(self, funcs: list, args: list) -> list:
        """Run ``funcs[i](args[i])`` on a BatchProcessor; the first failure is raised."""
        from .performance.batch import BatchProcessor

        batch = BatchProcessor(max_workers=4, fail_fast=True, stats_path=self.settings.home / "batch-stats.json")
        for func, arg in zip(funcs, args, strict=True):
            batch.add_operation(func, arg)
        result = batch.execute_batch(parallel=True)
        if result.errors:
            raise result.errors[0].exception
        return result.results

    def audit_scope(self) -> str | None:
        """Whose audit events this identity may list: everyone's (None) for an admin, else its own.

        The log names every user and source IP; readers and writers still see
        their own operations on the dashboard.
        """
        return None if ROLES[self.role] >= ROLES["admin"] else self.user

    # ---- instrumentation hooks (called by instrument.operation) ----------
    def check_role(self, needed: str, action: str) -> None:
        """Raise PermissionDenied unless this identity has at least the ``needed`` role."""
        if ROLES[self.role] < ROLES[needed]:
            raise PermissionDenied(f"{action} needs the {needed} role; {self.user} has {self.role}")

    def _record_operation(self, op, event_type: str, status: str, duration_ms: float, error: str | None) -> None:
        details = dict(op.details)
        details["interface"] = self.interface
        if error:
            details["error"] = error
        # Settings were refreshed when the top-level operation started (instrument.tracked).
        if self.settings.monitoring_enabled:  # the audit event is written either way
            name = f"{op.action}@{op.backend}" if op.backend else op.action
            # A sample fails when the system did: refusing bad input ("failure") or a
            # caller without the role ("denied") is the service working, and must not
            # push the error rate (and the dashboard status) up.
            self.services.monitor.record(name, duration_ms, success=status != "error")
        self.audit.log_event(
            event_type,
            op.action,
            status,
            event_id=op.event_id,
            user_id=self.user,
            source_ip=self.source_ip,
            session_id=self.session_id,
            resource=op.resource,
            resource_type=op.resource_type if op.resource else None,
            backend=op.backend,
            operation_id=op.operation_id,
            parent_id=op.parent_id,
            duration_ms=round(duration_ms, 3),
            bytes=op.bytes,
            details=details,
        )

    # ---- content ----------------------------------------------------------
    @operation("content.add", role="writer")
    def add(self, *sources: Any, cid_version: int = 0, chunker: str = "size-262144",
            raw_leaves: bool | None = None, trickle: bool = False, only_hash: bool = False,
            wrap_with_directory: bool = False, pin: bool = True, recursive: bool = False,
            hidden: bool = False, stdin: BinaryIO | None = None, progress=None) -> AddResult:
        """Add files, directories (``recursive=True``), bytes or streams; returns CIDs."""
        options = AddOptions(cid_version=cid_version, chunker=chunker, raw_leaves=raw_leaves,
                             trickle=trickle, only_hash=only_hash, wrap_with_directory=wrap_with_directory,
                             pin=pin, recursive=recursive, hidden=hidden)
        result = self.content.add(list(sources), options, stdin=stdin, progress=progress,
                                  run_files=self._run_batch)
        note(resource=result.cid, bytes=result.bytes, only_hash=only_hash or None,
             files=sum(1 for e in result.entries if e.type == "file"))
        if pin and not only_hash and self.services.replication_targets():
            result.replication = {r.cid: self.backends.replicate(r.cid, self.content) for r in result.roots}
        return result

    @operation("content.cat")
    def cat(self, path: str, out: BinaryIO | None = None, offset: int = 0, length: int | None = None):
        """The file's bytes (or write them to ``out`` and return the count)."""
        note(resource=path)
        result = self.content.cat(path, out=out, offset=offset, length=length)
        note(bytes=result if isinstance(result, int) else len(result))
        return result

    @operation("content.get")
    def get(self, path: str, output: str | os.PathLike) -> dict:
        note(resource=path)
        result = self.content.get(path, output)
        note(bytes=result["bytes"], output=str(output))
        return result

    @operation("content.ls")
    def ls(self, path: str) -> list[dict]:
        note(resource=path)
        return self.content.ls(path)

    @operation("content.stat")
    def stat(self, path: str) -> dict:
        note(resource=path)
        return self.content.stat(path)

    @operation("pin.add", role="writer")
    def pin_add(self, path: str, pin_type: str = "recursive") -> dict:
        note(resource=path, pin_type=pin_type)
        pin = self.content.pin_add(path, pin_type)
        note(resource=pin.cid)
        result = pin.to_dict()
        if pin_type == "recursive" and self.services.replication_targets():
            result["replication"] = self.backends.replicate(pin.cid, self.content)
        return result

    def pin_add_many(self, paths: list[str], pin_type: str = "recursive") -> list[dict]:
        """Pin several CIDs through the batch processor (each pin is its own operation)."""
        return self._run_batch([lambda p: self.pin_add(p, pin_type)] * len(paths), list(paths))

    @operation("pin.rm", role="writer")
    def pin_rm(self, path: str) -> dict:
        note(resource=path)
        return self.content.pin_rm(path).to_dict()

    @operation("pin.ls", resource_type=None)
    def pin_ls(self, pin_type: str = "all") -> list[dict]:
        return self.content.pin_ls(pin_type)

    @operation("content.gc", event_type="data", role="admin", resource_type=None)
    def gc(self) -> dict:
        result = self.content.gc()
        note(bytes=result.freed_bytes, removed_blocks=result.removed_blocks)
        return result.to_dict()

    @operation("car.export")
    def car_export(self, path: str, output: str | os.PathLike | BinaryIO) -> dict:
        """Export ``path``'s DAG as a CARv1 file (written atomically) or to a binary stream."""
        note(resource=path)
        result = self.content.car_export(path, output)
        note(bytes=result["bytes"], blocks=result["blocks"])
        return result

    @operation("car.import", role="writer")
    def car_import(self, source, pin: bool = True) -> dict:
        result = self.content.car_import(source, pin=pin)
        note(resource=",".join(result.roots), bytes=result.bytes, blocks=result.blocks)
        return result.to_dict()

    @operation("repo.stat", resource_type=None)
    def repo_stat(self) -> dict:
        blocks = self.content.blocks.stats()
        return {
            "home": str(self.settings.home),
            "blocks": blocks.blocks,
            "bytes": blocks.bytes,
            "pins": self.content.pins.count(),
            "vfs_root": cid_str(self.services.vfs.root_cid()),
        }

    # ---- audit anchoring ---------------------------------------------------
    def change_config(self, changes_for: Callable[[Settings], dict[str, Any]],
                      then: Callable[[], Any] | None = None, **details: Any) -> dict[str, Any]:
        """One audited ``config.change``: read config.json afresh (without env overrides),
        apply ``changes_for(before)``, save atomically, reload; ``then`` runs inside it.

        Returns ``{"changes": [{path, old, new}], "event_id", "settings_path"}``.
        """
        from .dashboard.wizards import config_diff

        with self.track("config.change", event_type="config", role="admin", resource_type="config") as op:
            # Another wizard run or process may have changed it since this Kit loaded it.
            before = Settings.load(self.settings.home, env=False)  # never persist env overrides
            changes = changes_for(before)
            after = before.with_changes(**changes)
            diff = config_diff(before.to_dict(), after.to_dict())
            note(resource=str(before.config_path), sections=sorted(changes), changes=diff, **details)
            after.save()
            self.services.reload_settings()  # this process at once; others on their next stat
            if then is not None:
                then()
        return {"changes": diff, "event_id": op.event_id, "settings_path": str(before.config_path)}

    # ---- storage backends ----------------------------------------------------
    @operation("backend.list", event_type="backend", resource_type=None)
    def backend_list(self) -> list[dict]:
        """Configured backends (secrets redacted), whether each is a replication target, its counts."""
        return self.backends.list_backends()

    @operation("backend.add", event_type="config", role="admin", resource_type="backend")
    def backend_add(self, name: str, type: str | None = None, template: str | None = None,
                    test: bool = True, **options: Any) -> dict:
        """Add or replace a backend through the backend wizard's validation, then write config.json.

        ``template`` starts from a wizard template (e.g. ``s3_production``);
        ``options`` are wizard fields (``bucket``, ``api_url``, ``replicate``...).
        With ``test`` the backend is probed first and nothing is written if it fails.
        """
        from .dashboard.wizards import BackendSetupWizard, WizardManager

        wizard = BackendSetupWizard(WizardManager(self))
        if template:
            wizard.load_template(template)
        answers = {"name": name, **({"type": type} if type else {}),
                   **{k: v for k, v in options.items() if v is not None}}
        wizard.set_answers(answers)
        values = wizard.values()
        note(resource=values["name"], backend_type=values["type"], template=template)
        result: dict[str, Any] = {}
        if test:
            conf = wizard.build_config(values)["backends"][values["name"]]
            result["test"] = self.backends.test_config(values["name"], conf)
        return {**wizard.run(None, interactive=False, apply=True), **result}

    @operation("backend.rm", event_type="config", role="admin", resource_type="backend")
    def backend_rm(self, name: str) -> dict:
        """Remove a backend from config.json and the replication policy; its stored copies stay where they are."""
        from .backends import policy

        note(resource=name)

        def without(current: Settings) -> dict[str, Any]:
            if name not in current.backends:
                known = ", ".join(current.backends) or "none"
                raise InvalidInput(f"no backend named {name!r} (configured: {known})")
            return {"backends": {k: v for k, v in current.backends.items() if k != name},
                    "replication": policy.without_backend(current, name)}

        self.change_config(without, removed_backend=name)
        self.backends.forget_backend(name)
        return {"removed": name, "backends": sorted(self.settings.backends)}

    @operation("backend.policy", event_type="config", role="admin", resource_type=None)
    def backend_policy(self, **changes: Any) -> dict:
        """Show, or change, the replication policy: replicas, targets, read_order, retry and breaker knobs."""
        from .backends import policy

        changes = {k: v for k, v in changes.items() if v is not None}
        if changes:
            self.change_config(lambda current: {"replication": policy.changed(current, changes)})
        return policy.effective(self.services.current_settings())

    @operation("backend.test", event_type="backend", resource_type="backend")
    def backend_test(self, name: str) -> dict:
        """Probe a backend (reachability, credentials, bucket); a one-line error says what is wrong."""
        note(resource=name)
        return self.backends.test(name)

    @operation("backend.health", event_type="backend", resource_type=None)
    def backend_health(self) -> dict:
        """``{name: {"healthy": bool, ...}}`` for every configured backend."""
        return self.backends.health()

    @operation("backend.replicate", event_type="backend", role="writer")
    def replicate(self, path: str, backends: list[str] | None = None) -> dict:
        """Copy a DAG to the policy's targets (or the named backends) now; ``{backend: status}``."""
        cid = self.content.resolve(path)
        note(resource=cid_str(cid))
        self.content.get_block(cid)  # NotFound now, not a copy queued to fail and retry forever
        return self.backends.replicate(cid, self.content, targets=backends, recheck=True)

    @operation("backend.sync", event_type="backend", role="writer", resource_type=None)
    def backend_sync(self, cids: list[str] | None = None, wait: float = 0.0, force: bool = False) -> dict:
        """Retry queued and failed copies (with backoff, behind each backend's circuit breaker)."""
        if not isinstance(wait, int | float) or wait < 0 or wait > 86400:
            raise InvalidInput(f"wait must be 0..86400 seconds, not {wait!r}")
        result = self.backends.sync(self.content, cids=cids, wait=float(wait), force=force)
        note(pinned=result["pinned"], failed=result["failed"], pending=result["pending"])
        return result

    @operation("backend.status", event_type="backend", resource_type=None)
    def backend_status(self, cid: str | None = None, backend: str | None = None,
                       status: str | None = None) -> dict:
        """Replication status per (CID, backend): queued, pinning, pinned or failed."""
        from .backends.state import STATUSES

        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        items = self.backends.status(cid, backend, status)
        summary = {s: sum(1 for i in items if i["status"] == s) for s in STATUSES}
        return {"items": items, "summary": summary}

    @operation("backend.get_block", event_type="backend")
    def backend_get_block(self, name: str, cid: str) -> bytes:
        """One block from one backend, verified against its CID."""
        note(resource=cid)
        return self.backends.get_block_from(name, parse_cid(cid))

    @operation("backend.has", event_type="backend")
    def backend_has(self, name: str, cid: str) -> bool:
        """Whether a backend holds ``cid`` (a block, or a whole stored DAG)."""
        note(resource=cid)
        return self.backends.has_on(name, parse_cid(cid))

    @operation("backend.stored", event_type="backend", resource_type="backend")
    def backend_stored(self, name: str) -> list[str]:
        """The DAG roots a backend holds (kubo: recursive pins; S3: stored DAGs; local: pin markers)."""
        note(resource=name)
        return self.backends.stored_on(name)

    @operation("backend.unpin", event_type="backend", role="writer")
    def backend_unpin(self, cid: str, backends: list[str] | None = None) -> dict:
        """Remove a DAG's copies from backends (default: all that hold one). The local pin is untouched."""
        note(resource=cid)
        return self.backends.unpin(cid, backends)

    @operation("audit.checkpoint", event_type="admin", role="admin")
    def audit_checkpoint(self) -> dict:
        """Anchor the audit chain head as a pinned CID a third party can verify against."""
        head = self.audit.chain_head()
        doc = {
            "type": "ipfs-kit/audit-checkpoint",
            "version": 1,
            "seq": head.seq,
            "event_id": head.event_id,
            "hash": head.hash,
            "created": time.time(),
        }
        cid = self.add(json.dumps(doc, sort_keys=True).encode("utf-8")).cid
        note(resource=cid, seq=head.seq, head_hash=head.hash)
        return {"cid": cid, **doc}

    @operation("audit.verify_checkpoint", event_type="admin")
    def audit_verify_checkpoint(self, cid: str) -> dict:
        """Check the log up to a checkpoint still hashes to the anchored head."""
        note(resource=cid)
        try:
            doc = json.loads(self.cat(cid))
            seq, expected = int(doc["seq"]), str(doc["hash"])
            if doc.get("type") != "ipfs-kit/audit-checkpoint":
                raise ValueError("not a checkpoint document")
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{cid} is not an audit checkpoint: {exc}") from None
        result = self.audit.verify(end_seq=seq, expect_hash=expected)
        return {"checkpoint": cid, "seq": seq, "hash": expected, **result.to_dict()}

    # ---- VFS --------------------------------------------------------------
    @operation("files.mkdir", role="writer", resource_type="path")
    def files_mkdir(self, path: str, parents: bool = False) -> dict:
        note(resource=path)
        return self.services.vfs.mkdir(path, parents=parents)

    @operation("files.write", role="writer", resource_type="path")
    def files_write(self, path: str, source, parents: bool = False, stdin: BinaryIO | None = None) -> dict:
        """Write a file at a VFS path, imported as ``Settings.vfs`` says (pin_writes: pinned)."""
        note(resource=path)
        vfs = self.services.vfs
        result = vfs.write(path, source, parents=parents, stdin=stdin)
        note(bytes=result.get("bytes"), cid=result["cid"])
        if vfs.pin_writes:
            pin = self.pin_add(result["cid"])
            result["pinned"] = True
            if "replication" in pin:
                result["replication"] = pin["replication"]
        return result

    @operation("files.read", resource_type="path")
    def files_read(self, path: str, out: BinaryIO | None = None, offset: int = 0, length: int | None = None):
        note(resource=path)
        result = self.services.vfs.read(path, out=out, offset=offset, length=length)
        note(bytes=result if isinstance(result, int) else len(result))
        return result

    @operation("files.ls", resource_type="path")
    def files_ls(self, path: str = "/") -> list[dict]:
        note(resource=path)
        return self.services.vfs.ls(path)

    @operation("files.stat", resource_type="path")
    def files_stat(self, path: str = "/") -> dict:
        note(resource=path)
        return self.services.vfs.stat(path)

    @operation("files.rm", role="writer", resource_type="path")
    def files_rm(self, path: str, recursive: bool = False) -> dict:
        note(resource=path)
        return self.services.vfs.rm(path, recursive=recursive)

    @operation("files.mv", role="writer", resource_type="path")
    def files_mv(self, source: str, dest: str) -> dict:
        note(resource=source, dest=dest)
        return self.services.vfs.mv(source, dest)

    @operation("files.cp", role="writer", resource_type="path")
    def files_cp(self, source: str, dest: str) -> dict:
        note(resource=source, dest=dest)
        return self.services.vfs.cp(source, dest)
