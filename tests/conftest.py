"""Fixtures every test area shares: a fresh home, a Kit, and a CLI runner."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ipfs_kit_py.kit import Kit


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def kit(home: Path):
    k = Kit(home)
    yield k
    k.close()


@dataclass
class CliResult:
    code: int
    stdout: bytes
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.stdout)


def run_cli(home: Path, *args: str, input: bytes | None = None, env: dict | None = None,
            timeout: float = 120) -> CliResult:
    """Run `ipfs-kit --home HOME ARGS...` in a real subprocess."""
    full_env = {**os.environ, "IPFS_KIT_HOME": str(home), **(env or {})}
    full_env.pop("IPFS_KIT_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "ipfs_kit_py.cli.main", "--home", str(home), *args],
        input=input, capture_output=True, env=full_env, timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


@pytest.fixture
def cli(home: Path):
    def runner(*args: str, **kwargs) -> CliResult:
        return run_cli(home, *args, **kwargs)

    return runner


def assert_one_line_error(result: CliResult, *fragments: str) -> None:
    """A user error: non-zero exit, one line on stderr, no traceback, nothing on stdout."""
    assert result.code != 0, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
