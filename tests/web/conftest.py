"""Web fixtures: a home with admin/writer/reader tokens, an in-process client, a real server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from ipfs_kit_py.kit import Kit
from ipfs_kit_py.web import create_app
from tests.conftest import free_port


@dataclass
class Tokens:
    admin: str
    writer: str
    reader: str

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


def make_tokens(home: Path) -> Tokens:
    with Kit(home) as kit:
        return Tokens(*(kit.auth.create(user, role)[0] for user, role in
                        (("alice", "admin"), ("walt", "writer"), ("rita", "reader"))))


@pytest.fixture
def tokens(home: Path) -> Tokens:
    return make_tokens(home)


@pytest.fixture
def client(home: Path, tokens: Tokens):
    kit = Kit(home, interface="web")
    with TestClient(create_app(kit), base_url="http://127.0.0.1:8080") as c:
        c.kit = kit
        yield c
    kit.close()


@dataclass
class Server:
    url: str
    home: Path
    tokens: Tokens
    proc: subprocess.Popen


def start_server(home: Path, tokens: Tokens, log_path: Path) -> Server:
    """`ipfs-kit serve` as a real subprocess on a free loopback port; waits until it answers."""
    port = free_port()
    env = {**os.environ, "IPFS_KIT_HOME": str(home)}
    env.pop("IPFS_KIT_DEBUG", None)
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "ipfs_kit_py.cli.main", "--home", str(home), "serve",
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log_path.read_text()}")
        try:
            if httpx.get(f"{url}/login", timeout=1).status_code == 200:
                return Server(url, home, tokens, proc)
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not answer within 30 s: {log_path.read_text()}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(timeout=10)


@pytest.fixture
def server(home: Path, tokens: Tokens, tmp_path: Path):
    srv = start_server(home, tokens, tmp_path / "server.log")
    yield srv
    stop_server(srv)
