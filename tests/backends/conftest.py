"""Real servers on 127.0.0.1 for backend tests: moto's S3 server and a kubo node.

moto accepts any credentials unless IAM authentication is on; the
credentials test starts a server of its own with it on (after the three
set-up calls that create a user, its policy and its access key), so wrong
credentials are really rejected. (moto's signature check mishandles a "/" in
a query value, so listing with a prefix fails under auth: the shared server
runs without it.) The kubo node is ``../shared/kubo/kubo_daemon.py`` (kubo
compiled as a library) in the ``.kubo-venv`` that ``scripts/test`` makes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
KUBO_DAEMON = Path(os.environ.get("IPFS_KIT_KUBO_DAEMON", ROOT.parent / "shared" / "kubo" / "kubo_daemon.py"))
KUBO_PYTHON = Path(os.environ.get("IPFS_KIT_KUBO_PYTHON", ROOT / ".kubo-venv" / "bin" / "python"))


@dataclass
class S3Server:
    proc: subprocess.Popen
    endpoint: str
    key_id: str
    secret: str
    port: int

    def client(self, key_id: str | None = None, secret: str | None = None):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=key_id or self.key_id,
                            aws_secret_access_key=secret or self.secret)

    def bucket(self) -> str:
        name = f"b-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def conf(self, bucket: str, **extra) -> dict:
        return {"type": "s3", "bucket": bucket, "region": "us-east-1", "endpoint_url": self.endpoint,
                "prefix": "ipfs/", "credential_source": "inline", "access_key_id": self.key_id,
                "secret_access_key": self.secret, "timeout_seconds": 5, "max_retries": 1, **extra}

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_s3(auth: bool = False) -> S3Server:
    import boto3

    port = free_port()
    env = dict(os.environ)
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    if auth:  # three unauthenticated set-up calls, then every request is checked
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)
    if not auth:
        return S3Server(proc, endpoint, "testing-key", "testing-secret", port)
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="kit")
    iam.put_user_policy(UserName="kit", PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="kit")["AccessKey"]
    return S3Server(proc, endpoint, key["AccessKeyId"], key["SecretAccessKey"], port)


@pytest.fixture(scope="session")
def s3_server():
    server = start_s3()
    yield server
    server.stop()


@pytest.fixture
def own_s3_server():
    """A server of the test's own, for tests that pause or stop it."""
    server = start_s3()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_auth_server():
    """A server that checks credentials (IAM authentication on)."""
    server = start_s3(auth=True)
    yield server
    server.stop()


@dataclass
class KuboNode:
    proc: subprocess.Popen
    api_url: str


def start_kubo(repo: Path) -> KuboNode:
    if not KUBO_PYTHON.exists() or not KUBO_DAEMON.exists():
        raise RuntimeError(f"kubo test node missing: need {KUBO_PYTHON} (scripts/test makes it) and {KUBO_DAEMON}")
    proc = subprocess.Popen([str(KUBO_PYTHON), str(KUBO_DAEMON), "--repo", str(repo), "--api-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if sel.select(timeout=1.0):
            line = proc.stdout.readline()
            if line.startswith("READY "):
                return KuboNode(proc, line.split()[1].strip())
            if not line and proc.poll() is not None:
                break
    proc.kill()
    raise RuntimeError("kubo test node did not become ready")


@pytest.fixture(scope="session")
def kubo_node(tmp_path_factory):
    node = start_kubo(tmp_path_factory.mktemp("kubo") / "repo")
    yield node
    node.proc.terminate()
    try:
        node.proc.wait(15)
    except subprocess.TimeoutExpired:
        node.proc.kill()
