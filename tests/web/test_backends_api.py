"""The backend and replication endpoints, through the anyio controllers, with a directory backend."""

from __future__ import annotations

from ipfs_kit_py.config import Settings


def test_backend_endpoints(client, tokens, home, tmp_path):
    Settings.load(home, env=False).with_changes(
        backends={"nas": {"type": "local", "path": str(tmp_path / "nas")}}).save()
    writer, reader = tokens.headers("writer"), tokens.headers("reader")
    cid = client.post("/api/content/add", content=b"to the nas\n", headers=writer).json()["cid"]

    [nas] = client.get("/api/backends", headers=reader).json()
    assert nas["name"] == "nas" and nas["type"] == "local" and nas["circuit"] == "closed"
    assert client.get("/api/backends/health", headers=reader).json()["nas"]["healthy"] is True
    probe = client.post("/api/backends/nas/test", headers=reader).json()
    assert probe["healthy"] and probe["path"] == str(tmp_path / "nas")

    copied = client.post("/api/backends/nas/replicate", json={"cid": cid}, headers=writer).json()
    assert copied == {"cid": cid, "backend": "nas", "status": "pinned"}
    assert client.get("/api/backends/nas/dags", headers=reader).json() == [cid]
    status = client.get("/api/replication", params={"cid": cid}, headers=reader).json()
    assert [(i["backend"], i["status"], i["method"]) for i in status["items"]] == [("nas", "pinned", "blocks")]
    synced = client.post("/api/replication/sync", json={}, headers=writer).json()
    assert synced["failed"] == 0 and synced["pending"] == 0

    # Each call is one audited operation of the caller, with the backend call as its child.
    events = client.kit.audit.query_events(action="backend.replicate", limit=10)
    assert events[0].user_id == "walt" and events[0].status == "success"
    [child] = client.kit.audit.query_events(action="backend.put_dag", operation_id=events[0].operation_id)
    assert child.backend == "nas" and child.parent_id == events[0].event_id

    # Content that is nowhere: a 404 naming it, and nothing queued to retry forever.
    absent = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    refused = client.post("/api/backends/nas/replicate", json={"cid": absent}, headers=writer)
    assert refused.status_code == 404 and absent in refused.json()["error"], refused.text
    assert client.get("/api/replication", params={"cid": absent}, headers=reader).json()["items"] == []


def test_backend_endpoint_errors_are_4xx_json(client, tokens):
    writer = tokens.headers("writer")
    missing = client.post("/api/backends/nope/test", headers=writer)
    assert missing.status_code == 404 and "no backend named 'nope'" in missing.json()["error"]
    bad_cid = client.post("/api/backends/nope/replicate", json={"cid": ""}, headers=writer)
    assert bad_cid.status_code == 400 and "error" in bad_cid.json()
    bad_wait = client.post("/api/replication/sync", json={"wait": 1000}, headers=writer)
    assert bad_wait.status_code == 400
    bad_status = client.get("/api/replication", params={"status": "done"}, headers=writer)
    assert bad_status.status_code == 400
    bad_name = client.post("/api/backends/a%20b/test", headers=writer)
    assert bad_name.status_code == 400
