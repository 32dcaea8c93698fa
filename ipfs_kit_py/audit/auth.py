"""Identities, API tokens and roles.

- Local use (Python, CLI) runs as the OS user with the ``admin`` role over
  their own home: ``local_principal()``.
- HTTP and MCP-HTTP callers present an API token. ``TokenStore`` keeps tokens
  in SQLite (``<home>/auth.db``, mode 0600) as SHA-256 hashes only; the
  plaintext (``ik_`` + 43 url-safe characters, 256 random bits) is returned
  once by ``create`` and cannot be recovered. Tokens have an id (``tok_`` +
  12 hex) that is safe to show, list and revoke by.
- Roles are ordered ``reader < writer < admin``; ``require_role`` is the one
  check every interface uses.

Audit trail: every token created or revoked is an ``admin`` event
(``auth.token.create`` / ``auth.token.revoke``, resource = token id); every
authentication is an ``authentication`` event (``auth.token``: success, or
failure with the reason: unknown, revoked or expired token); every refused
role check is an ``authorization`` event with status ``denied``. Successful
role checks are not logged separately: the operation's own event records
who did it.
"""

from __future__ import annotations

import getpass
import hashlib
import math
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from .timeparse import parse_duration, show

ROLES = ("reader", "writer", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
TOKEN_PREFIX = "ik_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT,
    expires_at REAL,
    revoked_at REAL,
    revoked_by TEXT,
    last_used_at REAL
)"""
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
LAST_USED_RESOLUTION = 60.0  # seconds: how fresh ``last_used_at`` is kept
_TOKEN_COLUMNS = "token_id, user_id, role, created_at, created_by, expires_at, revoked_at, revoked_by, last_used_at"


@dataclass(frozen=True)
class Principal:
    """Who is calling, and with which role (``token_id`` None for local use)."""

    user_id: str
    role: str
    token_id: str | None = None

    def has_role(self, needed: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[_role(needed)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TokenInfo:
    """A token's public record: never its plaintext or hash."""

    token_id: str
    user_id: str
    role: str
    created_at: float
    created_by: str | None
    expires_at: float | None
    revoked_at: float | None
    revoked_by: str | None
    last_used_at: float | None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= time.time():
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            # A damaged row (e.g. an infinite expiry written by an old version) must not
            # produce invalid JSON: a time that is not a number is shown as absent.
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        return {**data, "state": self.state}


def local_principal() -> Principal:
    """The OS user running this process, as an admin of their own home."""
    return Principal(getpass.getuser(), "admin")


def _role(role: str) -> str:
    if role not in ROLE_RANK:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def require_role(principal: Principal, needed_role: str, action: str, audit_logger=None, *,
                 resource: str | None = None, source_ip: str | None = None,
                 session_id: str | None = None) -> None:
    """Raise ``PermissionDenied`` (and log a denied event) unless ``principal`` has the role."""
    if principal.has_role(needed_role):
        return
    if audit_logger is not None:
        audit_logger.log_permission_check(
            principal.user_id, action, False, role=principal.role, required_role=needed_role,
            resource=resource, source_ip=source_ip, session_id=session_id,
            details={"token_id": principal.token_id} if principal.token_id else None,
        )
    raise PermissionDenied(f"{action} needs the {needed_role} role; {principal.user_id} has {principal.role}")


class TokenStore:
    def __init__(self, path: str | os.PathLike, audit_logger=None):
        self.path = Path(path)
        self.audit = audit_logger
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            existed = self.path.exists()
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode = WAL")
            # Token rows change rarely; last_used_at is advisory. No fsync per request.
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise InvalidInput(f"cannot open the token store {self.path}: {exc}") from exc
        if not existed:
            os.chmod(self.path, 0o600)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ---- managing tokens ------------------------------------------------------
    def create(self, user: str, role: str, expires: Any = None, *,
               created_by: str | None = None) -> tuple[str, TokenInfo]:
        """A new token for ``user``; returns (plaintext shown once, its record).

        ``expires``: a duration (``"30d"``, seconds, timedelta) from now, or None
        for a token that never expires.
        """
        if not isinstance(user, str) or not user.strip() or len(user) > 256 or user != user.strip():
            raise InvalidInput(f"token user must be a non-empty name, not {show(user)}")
        if _CONTROL_RE.search(user):
            raise InvalidInput(f"token user must not contain control characters (newlines, tabs, ...): {show(user)}")
        _role(role)
        now = time.time()
        expires_at = None if expires is None else now + parse_duration(expires)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(6)
        created_by = created_by or getpass.getuser()
        with self._lock:
            self._conn.execute(
                "INSERT INTO tokens (token_id, token_hash, user_id, role, created_at, created_by, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token_id, hash_token(token), user, role, now, created_by, expires_at),
            )
        info = self.get(token_id)
        if self.audit is not None:
            self.audit.log_admin_action(
                created_by, "auth.token.create", resource=token_id, resource_type="token",
                details={"for_user": user, "role": role, "expires_at": expires_at},
            )
        return token, info

    def get(self, token_id: str) -> TokenInfo:
        with self._lock:
            row = self._conn.execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE token_id = ?",
                                     (token_id,)).fetchone()
        if row is None:
            raise NotFound(f"no API token with id {token_id}")
        return TokenInfo(*row)

    def list(self, include_revoked: bool = True) -> list[TokenInfo]:
        sql = f"SELECT {_TOKEN_COLUMNS} FROM tokens"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at, token_id").fetchall()
        return [TokenInfo(*row) for row in rows]

    def revoke(self, token_id: str, *, revoked_by: str | None = None) -> TokenInfo:
        """Revoke a token (kept in the list as revoked); NotFound if unknown."""
        info = self.get(token_id)
        revoked_by = revoked_by or getpass.getuser()
        if info.revoked_at is None:
            with self._lock:
                self._conn.execute("UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ?",
                                   (time.time(), revoked_by, token_id))
            info = self.get(token_id)
            if self.audit is not None:
                self.audit.log_admin_action(
                    revoked_by, "auth.token.revoke", resource=token_id, resource_type="token",
                    details={"for_user": info.user_id, "role": info.role},
                )
        return info

    # ---- authenticating ---------------------------------------------------------
    def authenticate(self, token: str | None, source_ip: str | None = None, *,
                     session_id: str | None = None) -> Principal:
        """The principal a token stands for; raises ``Unauthenticated`` (and logs it)."""
        if not token or not isinstance(token, str):
            self._log_failure(None, None, source_ip, session_id, "missing token")
            raise Unauthenticated("an API token is required (Authorization: Bearer <token>)")
        with self._lock:
            row = self._conn.execute(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?",
                                     (hash_token(token),)).fetchone()
        if row is None:
            self._log_failure(None, None, source_ip, session_id, "unknown token")
            raise Unauthenticated("invalid API token")
        info = TokenInfo(*row)
        if info.state != "active":
            self._log_failure(info.user_id, info.token_id, source_ip, session_id, f"{info.state} token")
            raise Unauthenticated(f"API token {info.token_id} is {info.state}")
        now = time.time()
        if info.last_used_at is None or now - info.last_used_at >= LAST_USED_RESOLUTION:
            # At most one write per token per minute: not a database write on every request.
            with self._lock:
                self._conn.execute("UPDATE tokens SET last_used_at = ? WHERE token_id = ?",
                                   (now, info.token_id))
        if self.audit is not None:
            self.audit.log_auth_success(info.user_id, source_ip, method="token", action="auth.token",
                                        resource=info.token_id, resource_type="token",
                                        session_id=session_id, details={"role": info.role})
        return Principal(info.user_id, info.role, info.token_id)

    def _log_failure(self, user_id, token_id, source_ip, session_id, reason: str) -> None:
        if self.audit is not None:
            self.audit.log_auth_failure(user_id, source_ip, reason=reason, method="token",
                                        action="auth.token", resource=token_id,
                                        resource_type="token" if token_id else None,
                                        session_id=session_id)


__all__ = ["ROLES", "Principal", "TokenInfo", "TokenStore", "local_principal", "require_role"]
