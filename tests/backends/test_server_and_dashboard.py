"""The server's background replication loop, and backend health on the dashboard."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from ipfs_kit_py.config import Settings
from ipfs_kit_py.kit import Kit
from ipfs_kit_py.web.app import create_app
from tests.conftest import free_port
from tests.web.conftest import make_tokens


def test_the_server_retries_failed_copies_in_the_background(home, tmp_path):
    blocked = tmp_path / "nas"
    blocked.write_text("a file where the backend directory should be")
    Settings.load(home, env=False).with_changes(
        backends={"nas": {"type": "local", "path": str(blocked)}},
        replication={"replicas": 2, "targets": ["nas"], "retry_base_seconds": 0.1, "retry_max_seconds": 0.3,
                     "sync_interval_seconds": 0.5, "circuit_threshold": 100}).save()
    tokens = make_tokens(home)
    with Kit(home, interface="web") as kit, TestClient(create_app(kit), base_url="http://127.0.0.1") as client:
        added = client.post("/api/content/add", content=b"keep a second copy\n",
                            headers=tokens.headers("writer")).json()
        cid = added["cid"]
        assert added["replication"] == {cid: {"nas": "failed"}}
        blocked.unlink()  # the directory can be made now
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            [row] = client.get("/api/replication", params={"cid": cid}, headers=tokens.headers("reader")).json()["items"]
            if row["status"] == "pinned":
                break
            time.sleep(0.2)
        assert row["status"] == "pinned", row
        assert row["attempts"] >= 2
        [sync] = kit.audit.query_events(action="backend.sync", user_id="replication", status="success", limit=1)
        assert sync.details["pinned"] >= 1


def test_dashboard_status_reports_a_down_backend(cli, home, kubo_node):
    Settings.load(home, env=False).with_changes(backends={
        "node": {"type": "kubo", "api_url": kubo_node.api_url},
        "gone": {"type": "kubo", "api_url": f"http://127.0.0.1:{free_port()}"},
    }).save()
    status = cli("dashboard", "status", "--json").json()
    backends = status["backends"]["backends"]
    assert backends["local"]["healthy"] and backends["node"]["healthy"]
    assert backends["node"]["version"] == "0.22.0"
    assert backends["gone"]["healthy"] is False and "cannot reach the kubo RPC API" in backends["gone"]["error"]
    assert status["backends"]["healthy"] == 2 and status["backends"]["total"] == 3
    assert status["status"] == "warning" and "backend(s) down: gone" in status["message"]


def test_the_server_copies_pins_made_before_a_backend_became_a_target(home, tmp_path):
    tokens = make_tokens(home)
    with Kit(home) as kit:
        cids = [kit.add(f"older pin {i}\n".encode()).cid for i in range(3)]
    Settings.load(home, env=False).with_changes(
        backends={"nas": {"type": "local", "path": str(tmp_path / "nas")}},
        replication={"replicas": 2, "targets": ["nas"], "sync_interval_seconds": 0.5}).save()
    with Kit(home, interface="web") as kit, TestClient(create_app(kit), base_url="http://127.0.0.1") as client:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            items = client.get("/api/replication", headers=tokens.headers("reader")).json()["items"]
            if sorted(i["cid"] for i in items if i["status"] == "pinned") == sorted(cids):
                break
            time.sleep(0.2)
        assert sorted(i["cid"] for i in items if i["status"] == "pinned") == sorted(cids), items
