"""Fixtures for the MCP tests: a populated home, the server as a real subprocess, SDK clients.

The server runs as `ipfs-kit --home H mcp serve` (stdio) or `ipfs-kit --home H
serve` (HTTP, the web app with MCP mounted at /mcp); the tests talk to it with
the official SDK clients (`mcp.client.stdio`, `mcp.client.streamable_http`).
CLI parity runs the real click commands in-process (`--json`) against the same
home while the server holds it open, as two processes of one home would.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import jsonschema
import pytest
from click.testing import CliRunner
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from ipfs_kit_py.cli.main import cli
from ipfs_kit_py.config import Settings
from ipfs_kit_py.errors import PermissionDenied
from ipfs_kit_py.kit import Kit
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT = 30.0


@pytest.fixture
def anyio_backend():
    return "asyncio"


# ---- a populated home ----------------------------------------------------------------------
@dataclass
class Home:
    path: Path
    root: Path  # the allowed root for server-side paths
    outside: Path  # a directory NOT under an allowed root
    tokens: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    def kit(self, **kwargs) -> Kit:
        return Kit(self.path, **kwargs)


SIMULATED_INCIDENTS = "brute_force,mass_deletion,volume_spike"


def populate(base: Path, simulate: bool = False) -> Home:
    """A home with files, a directory, pins, VFS entries, a CAR, tokens and audit events.

    ``simulate``: also ten days of simulated multi-user activity with injected
    incidents (the analytics engineer's scenario generator), for the analytics tools.
    """
    home = Home(path=base / "home", root=base / "shared", outside=base / "outside")
    home.path.mkdir()
    docs = home.root / "docs"
    (docs / "sub").mkdir(parents=True)
    home.outside.mkdir()
    (docs / "readme.txt").write_text("hello ipfs-kit\n")
    (docs / "sub" / "nested.txt").write_text("nested file\n")
    (docs / "data.bin").write_bytes(bytes(range(256)) * 1200)  # 300 KiB: several blocks
    (home.outside / "secret.txt").write_text("not for MCP clients\n")
    Settings.load(home.path).with_changes(allowed_roots=(str(home.root),)).save()

    with home.kit() as kit:
        if simulate:
            key = kit.analytics.simulate(days=10, users=6, seed=1, incidents=SIMULATED_INCIDENTS)
            incidents = {i.incident_type: i for i in key.incidents}
            nested = next(e for e in kit.audit.query_events(action="content.add", limit=500) if e.parent_id)
            home.facts.update(brute_force=incidents["brute_force"], mass_deletion=incidents["mass_deletion"],
                              nested_event=nested.event_id, nested_operation=nested.operation_id)
        tree = kit.add(str(docs), recursive=True)
        text = kit.add(b"hello from the populated home\n")
        kit.files_write("/notes/a.txt", b"first note\n", parents=True)
        kit.files_mkdir("/empty")
        kit.car_export(tree.cid, home.root / "export.car")
        for _ in range(25):  # enough samples for a latency baseline
            kit.stat(text.cid)
        for role in ("admin", "writer", "reader"):
            token, _info = kit.auth.create(f"{role}-user", role)
            home.tokens[role] = token
        revoked, info = kit.auth.create("gone-user", "admin")
        kit.auth.revoke(info.token_id)
        home.tokens["revoked"] = revoked
        try:  # one refused operation, so "denied" history is not empty
            kit.as_principal("reader-user", "reader").pin_rm(text.cid)
        except PermissionDenied:
            pass
        entries = {e.name: e.cid for e in tree.entries}
        home.facts.update(
            dir_cid=tree.cid, text_cid=text.cid, readme_cid=entries["docs/readme.txt"],
            data_cid=entries["docs/data.bin"], docs=str(docs), car=str(home.root / "export.car"),
            car_b64=base64.b64encode((home.root / "export.car").read_bytes()).decode(),
        )
    return home


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return populate(tmp_path)


@pytest.fixture
def rich_home(tmp_path: Path) -> Home:
    return populate(tmp_path, simulate=True)


# ---- the CLI, in-process ------------------------------------------------------------------------
def cli_run(home: Home, *args: str, input: bytes | None = None) -> bytes:
    """Run an `ipfs-kit` command (the real click commands) and return its stdout bytes."""
    result = CliRunner().invoke(cli, ["--home", str(home.path), *args], input=input, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout_bytes


def cli_json(home: Home, *args: str, input: bytes | None = None) -> Any:
    return json.loads(cli_run(home, *args, "--json", input=input))


# ---- servers ------------------------------------------------------------------------------------------
def server_command(home: Home, *args: str) -> list[str]:
    return [sys.executable, "-m", "ipfs_kit_py.cli.main", "--home", str(home.path), *args]


def server_env(home: Home) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "IPFS_KIT_DEBUG"}
    env["IPFS_KIT_HOME"] = str(home.path)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@asynccontextmanager
async def stdio_session(home: Home, errlog_path: Path | None = None):
    """`ipfs-kit --home H mcp serve` as a subprocess, connected with the SDK's stdio client."""
    params = StdioServerParameters(command=sys.executable, args=server_command(home, "mcp", "serve")[1:],
                                   env=server_env(home), cwd=str(REPO))
    errlog_path = errlog_path or home.path.parent / "mcp-stderr.log"
    with open(errlog_path, "a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


@dataclass
class HttpServer:
    url: str
    process: subprocess.Popen
    log: Path


def web_app_available() -> bool:
    try:
        from ipfs_kit_py.web import create_app  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def http_server(request):
    """The web app (`ipfs-kit serve`, MCP mounted at /mcp) on a free port, stopped at teardown.

    Serves whichever home fixture the test uses (``rich_home`` or ``home``).
    """
    home: Home = request.getfixturevalue("rich_home" if "rich_home" in request.fixturenames else "home")
    port = free_port()
    if web_app_available():
        args = server_command(home, "serve", "--host", "127.0.0.1", "--port", str(port))
    else:  # before the web app exists: the same MCP app under uvicorn on its own
        args = server_command(home, "mcp", "serve", "--transport", "http", "--port", str(port))
    log = home.path.parent / "http-server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=server_env(home), cwd=str(REPO))
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not listen within {SERVER_START_TIMEOUT}s: {log.read_text()}") from None
                time.sleep(0.05)
        yield HttpServer(f"http://127.0.0.1:{port}/mcp", proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@asynccontextmanager
async def http_session(server: HttpServer, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as client:
        async with streamable_http_client(server.url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


# ---- checks ---------------------------------------------------------------------------------------------
def validate_output(tool, structured: Any) -> None:
    """The structured result validates against the tool's advertised output schema."""
    assert tool.output_schema, f"{tool.name} has no output schema"
    jsonschema.Draft202012Validator.check_schema(tool.output_schema)
    jsonschema.validate(structured, tool.output_schema, cls=jsonschema.Draft202012Validator)


def error_text(result) -> str:
    assert result.is_error, result
    text = result.content[0].text
    assert "\n" not in text and "Traceback" not in text, text
    return text
