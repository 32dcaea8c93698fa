"""Audit test fixtures: a real PostgreSQL server, and a log on each store.

PostgreSQL: one server per test session, started from the Debian binaries
(``initdb``/``pg_ctl``, on PATH or in /usr/lib/postgresql/*/bin) in a fresh
temp directory, listening on 127.0.0.1 on a free port (and a unix socket in
the temp dir), stopped at teardown. ``initdb`` refuses to run as root, so as
root the server runs as the ``postgres`` (or ``nobody``) user via ``runuser``.
Each test gets its own schema (``search_path`` in the URL). Without the
binaries the PostgreSQL variants skip — except under ``CI=true``, where they
fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from ipfs_kit_py.audit import AuditLogger


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(reason)


@dataclass
class PgServer:
    port: int
    user: str = "postgres"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def schema_url(self, schema: str) -> str:
        return f"{self.url}?options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def postgres_server():
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not initdb or not pg_ctl:
        _missing("initdb/pg_ctl not found (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="ipfs-kit-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        owner = "postgres"
        try:
            pwd.getpwnam(owner)
        except KeyError:
            owner = "nobody"
        run_as = ["runuser", "-u", owner, "--"]
        shutil.chown(base, owner)
    data, sock, log = base / "data", base / "sock", base / "server.log"
    sock.mkdir()
    if run_as:
        shutil.chown(sock, run_as[2])
    port = _free_port()
    subprocess.run([*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                    "--locale=C", "--no-sync"], check=True, capture_output=True, timeout=120)
    options = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
               " -c max_connections=60 -c shared_buffers=32MB")
    start = subprocess.run([*run_as, pg_ctl, "-D", str(data), "-l", str(log), "-o", options,
                            "-w", "-t", "60", "start"], capture_output=True, timeout=90)
    if start.returncode != 0:
        text = log.read_text() if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {start.stderr.decode()} {text[-2000:]}")
    try:
        yield PgServer(port)
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class LogTarget:
    """Where a test's audit log lives; ``open()`` gives a fresh AuditLogger on it."""

    kind: str
    url: str | None = None
    path: Path | None = None

    def open(self) -> AuditLogger:
        return AuditLogger(self.url, path=self.path)

    def raw_execute(self, sql: str, params: tuple = ()) -> None:
        """Run SQL directly against the database (tamper tests), committed."""
        if self.kind == "sqlite":
            import sqlite3

            conn = sqlite3.connect(self.path, isolation_level=None)
            conn.execute(sql, params)
            conn.close()
        else:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql.replace("?", "%s"), params)

    def raw_query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read rows directly from the database (tamper tests)."""
        if self.kind == "sqlite":
            import sqlite3

            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()

    @property
    def tamper(self):
        from tests.audit.tamper import Tamper

        return Tamper(self.raw_query, self.raw_execute)


@pytest.fixture(params=["sqlite", "postgres"])
def target(request, tmp_path) -> LogTarget:
    if request.param == "sqlite":
        return LogTarget("sqlite", path=tmp_path / "audit.db")
    server: PgServer = request.getfixturevalue("postgres_server")
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return LogTarget("postgres", url=server.schema_url(schema))


@pytest.fixture
def log(target):
    logger = target.open()
    yield logger
    logger.close()
