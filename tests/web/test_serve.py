"""`ipfs-kit serve` as a real process: URL banner, loopback bind, API, /metrics and /mcp mounted."""

from __future__ import annotations

import signal

import httpx


def test_serve_banner_api_metrics_and_mcp(server, tmp_path):
    banner = (tmp_path / "server.log").read_text()
    assert f"ipfs-kit dashboard: {server.url}/" in banner
    assert "ipfs-kit auth token create --user NAME --role admin" in banner
    admin = {"Authorization": f"Bearer {server.tokens.admin}"}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        added = client.post("/api/content/add", content=b"served", headers={
            **admin, "Content-Type": "application/octet-stream"}).json()
        assert client.get("/api/content/cat", params={"path": added["cid"]}, headers=admin).content == b"served"
        metrics = client.get("/metrics", headers=admin)
        assert 'ipfs_kit_operations_total{operation="content.add",outcome="success"} 1.0' in metrics.text
        assert client.get("/metrics").status_code == 401
        # The MCP server's streamable HTTP endpoint is mounted and wants a token too.
        assert client.post("/mcp/", json={}).status_code == 401
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says so.
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=15) == -signal.SIGTERM
    assert "Traceback" not in (tmp_path / "server.log").read_text()
