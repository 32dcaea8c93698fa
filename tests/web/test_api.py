"""The JSON API in process: content, dashboard, audit, wizards, metrics, errors, one event per request."""

from __future__ import annotations

import json

import pytest

from ipfs_kit_py.config import Settings

CID_HELLO = "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX"  # "hello" (CIDv0)


def add(client, tokens, data: bytes, role: str = "writer", **params):
    return client.post("/api/content/add", content=data, params=params,
                       headers={**tokens.headers(role), "Content-Type": "application/octet-stream"})


def test_content_add_pin_browse_cat_unpin(client, tokens):
    r = add(client, tokens, b"hello", name="hello.txt")
    assert r.status_code == 200, r.text
    assert r.json()["cid"] == CID_HELLO and r.json()["name"] == "hello.txt" and r.json()["pinned"]
    h = tokens.headers("reader")
    assert client.get("/api/content/stat", params={"path": CID_HELLO}, headers=h).json()["size"] == 5
    assert client.get("/api/content/cat", params={"path": CID_HELLO}, headers=h).content == b"hello"
    assert client.get("/api/content/cat", params={"path": CID_HELLO, "offset": 1, "length": 3},
                      headers=h).content == b"ell"
    pins = client.get("/api/content/pins", headers=h).json()
    assert [(p["cid"], p["type"]) for p in pins] == [(CID_HELLO, "recursive")]
    r = client.post("/api/content/unpin", json={"path": CID_HELLO}, headers=tokens.headers("writer"))
    assert r.status_code == 200 and client.get("/api/content/pins", headers=h).json() == []
    r = client.post("/api/content/pin", json={"path": CID_HELLO, "type": "direct"}, headers=tokens.headers("writer"))
    assert r.status_code == 200 and r.json()["type"] == "direct"
    assert client.get("/api/repo/stat", headers=h).json()["pins"]["direct"] == 1


def test_overview_widgets_show_real_numbers(client, tokens):
    add(client, tokens, b"x" * 1000)
    add(client, tokens, b"y" * 2000)
    overview = client.get("/api/overview", params={"refresh": True}, headers=tokens.headers("reader")).json()
    widgets = {w["widget_id"]: w for w in overview["widgets"]}
    assert all(w["error"] is None for w in widgets.values()), widgets
    counters = widgets["storage"]["data"]["counters"]
    assert counters["pins"] == 2 and counters["blocks"] == 2 and counters["bytes"] > 3000
    # A reader lists only its own operations; the writer sees its two adds.
    recent = widgets["recent_operations"]["data"]["operations"]
    assert not [op for op in recent if op["action"] == "content.add"]
    mine = client.get("/api/widgets/recent_operations", headers=tokens.headers("writer")).json()
    adds = [op for op in mine["data"]["operations"] if op["action"] == "content.add"]
    assert len(adds) == 2 and {op["user_id"] for op in adds} == {"walt"} and adds[0]["interface"] == "web"
    one = client.get("/api/widgets/storage", headers=tokens.headers("reader")).json()
    assert one["data"]["counters"]["pins"] == 2
    status = client.get("/api/status", headers=tokens.headers("reader")).json()
    assert status["store"]["pins"] == 2 and status["user"] == "rita" and status["role"] == "reader"


def test_chart_endpoint_and_operations(client, tokens):
    h = tokens.headers("reader")
    r = client.post("/api/charts", headers=h, json={
        "type": "scatter", "title": "Fit", "data": {"s": [[0, 1], [1, 3], [2, 5]]}, "options": {"trendline": True}})
    assert r.status_code == 200
    fit = r.json()["datasets"][0]["trendline"]
    assert fit["slope"] == pytest.approx(2.0) and fit["intercept"] == pytest.approx(1.0)
    r = client.post("/api/charts", headers=h, json={"type": "pie", "title": "x", "data": {"a": -1}})
    assert r.status_code == 400 and r.json() == {"error": "pie slices cannot be negative: a"}
    client.get("/api/content/stat", params={"path": CID_HELLO}, headers=h)  # NotFound → a failure event
    ops = client.get("/api/operations", params={"status": "failure"}, headers=h).json()
    assert [op["action"] for op in ops["operations"]] == ["content.stat", "dashboard.chart"]
    assert ops["operations"][1]["error"] == "pie slices cannot be negative: a"


def test_errors_are_json_one_liners_with_the_right_status(client, tokens):
    h = tokens.headers("admin")
    r = client.get("/api/content/stat", params={"path": "not-a-cid"}, headers=h)
    assert r.status_code == 400 and set(r.json()) == {"error"} and "\n" not in r.json()["error"]
    r = client.get("/api/content/stat", params={"path": CID_HELLO}, headers=h)
    assert r.status_code == 404
    r = client.get("/api/operations", params={"hours": "soon"}, headers=h)
    assert r.status_code == 400 and r.json()["error"].startswith("invalid query.hours")
    r = client.post("/api/content/pin", content=b"{not json", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()
    r = client.get("/api/nope", headers=h)
    assert r.status_code == 404 and r.json() == {"error": "no such page or endpoint: /api/nope"}
    r = client.get("/api/widgets/nope", headers=h)
    assert r.status_code == 404 and "no widget 'nope'" in r.json()["error"]


def test_each_request_is_exactly_one_top_level_event_for_its_caller(client, tokens):
    audit = client.kit.audit
    requests = [
        ("GET", "/api/me", None), ("GET", "/api/overview", None), ("GET", "/api/content/pins", None),
        ("GET", "/api/operations", None), ("GET", "/metrics", None), ("GET", "/api/performance", None),
        ("GET", "/api/content/stat?path=bad", None), ("GET", "/api/operations?hours=x", None),
        ("GET", "/api/wizards", None), ("GET", "/overview", None),
    ]
    for method, path, body in requests:
        head = audit.chain_head().seq
        r = client.request(method, path, json=body, headers=tokens.headers("admin"))
        assert r.status_code < 500, (path, r.text)
        new = audit.query_events(limit=None, order="asc")[head:] if head else audit.query_events(limit=None, order="asc")
        top = [e for e in new if e.parent_id is None]
        assert len(top) == 1, (path, [(e.action, e.parent_id) for e in new])
        event = top[0]
        assert (event.user_id, event.session_id) == ("alice", event.session_id) and event.session_id
        assert event.source_ip and event.details.get("interface") == "web", (path, event)
        assert all(e.operation_id == event.operation_id for e in new if e.event_type != "authentication"), path
    # An unknown token and a missing role: one event each, and no handler event.
    head = audit.chain_head().seq
    assert client.get("/api/me", headers={"Authorization": "Bearer ik_bogus"}).status_code == 401
    assert client.get("/api/wizards", headers=tokens.headers("reader")).status_code == 403
    new = audit.query_events(limit=None, order="asc")[head:]
    assert [(e.event_type, e.action, e.status) for e in new] == [
        ("authentication", "auth.token", "failure"), ("authorization", "http.wizards", "denied")]


def test_wizard_api_validate_step_and_apply(client, tokens):
    h = tokens.headers("admin")
    spec = client.get("/api/wizards/backend_setup", params={"template": "s3_minio_dev"}, headers=h).json()
    assert [s["name"] for s in spec["steps"]] == ["backend", "connection", "credentials", "options", "review"]
    assert spec["answers"]["bucket"] == "ipfs-kit-dev"
    v = client.post("/api/wizards/backend_setup/validate", headers=h,
                    json={"step": 1, "answers": {"type": "s3", "bucket": "BAD"}}).json()
    assert v["valid"] is False and "bucket" in v["errors"]
    v = client.post("/api/wizards/backend_setup/validate", headers=h,
                    json={"step": 3, "answers": {"type": "s3", "bucket": "good-bucket"}}).json()
    assert v["valid"] and v["summary"]["backends"]["local"]["bucket"] == "good-bucket"
    r = client.post("/api/wizards/backend_setup/apply", headers=h, json={
        "answers": {"name": "minio", "credential_source": "inline", "access_key_id": "AK",
                    "secret_access_key": "web-secret-9"}, "template": "s3_minio_dev"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["applied"] and "web-secret-9" not in r.text
    assert Settings.load(client.kit.settings.home).backends["minio"]["secret_access_key"] == "web-secret-9"
    event = client.kit.audit.get_event(result["event_id"])
    assert event.action == "config.change" and event.user_id == "alice" and "web-secret-9" not in json.dumps(
        event.to_dict())
    listed = client.get("/api/audit/events", params={"action": "config.change"}, headers=h).json()["events"]
    assert [e["event_id"] for e in listed] == [result["event_id"]]
    r = client.post("/api/wizards/backend_setup/apply", headers=h, json={"template": "../etc/passwd"})
    assert r.status_code == 400 and "library template" in r.json()["error"]
    r = client.post("/api/wizards/nope/apply", headers=h, json={})
    assert r.status_code == 404


def test_wizard_api_keeps_unanswered_fields_and_reads_no_server_files(client, tokens, tmp_path, monkeypatch):
    h = tokens.headers("admin")
    apply = "/api/wizards/monitoring_setup/apply"
    r = client.post(apply, headers=h, json={"answers": {"latency_p95_ms": 123, "prometheus": False}})
    assert r.status_code == 200 and r.json()["applied"], r.text
    # A later run that answers one field keeps the others as configured, not the wizard's defaults.
    r = client.post(apply, headers=h, json={"answers": {"retention": "3d"}})
    assert [c["path"] for c in r.json()["changes"]] == ["monitoring.retention"]
    monitoring = Settings.load(client.kit.settings.home).monitoring
    assert (monitoring["latency_p95_ms"], monitoring["prometheus"], monitoring["retention"]) == (123, False, "3d")
    shown = client.get("/api/wizards/monitoring_setup", headers=h).json()["answers"]
    assert shown["latency_p95_ms"] == 123 and shown["retention"] == "3d"
    # apply: false in the answers only validates, as on the CLI and over MCP.
    r = client.post(apply, headers=h, json={"answers": {"retention": "5d", "apply": False}})
    assert r.status_code == 200 and r.json()["applied"] is False
    assert Settings.load(client.kit.settings.home).monitoring["retention"] == "3d"
    # A bare file name would be opened relative to the server's working directory.
    (tmp_path / "answers.json").write_text('{"retention": "9d"}')
    monkeypatch.chdir(tmp_path)
    for name in ("answers.json", "answers.YAML"):
        r = client.get("/api/wizards/monitoring_setup", params={"template": name}, headers=h)
        assert r.status_code == 400 and "library template" in r.json()["error"], r.text
    # Replicating with one copy (the local one) would copy nothing: refused with the reason.
    r = client.post("/api/wizards/backend_setup/apply", headers=h, json={"answers": {
        "name": "nas", "type": "local", "path": str(tmp_path / "nas"), "replicate": True, "replicas": 1}})
    assert r.status_code == 400 and "replicas" in r.json()["error"], r.text
    r = client.post("/api/wizards/backend_setup/apply", headers=h, json={"answers": {
        "name": "nas", "type": "local", "path": str(tmp_path / "nas"), "replicate": True}})
    assert r.status_code == 200, r.text
    assert client.kit.backends.targets() == ["nas"]


def test_unknown_query_parameters_are_refused(client, tokens):
    # ?chunker= is not an option of this route: the default CID for it would be a wrong answer.
    r = add(client, tokens, b"options matter\n", chunker="size-10")
    assert r.status_code == 400, r.text
    assert "unknown query parameter(s) chunker" in r.json()["error"] and "cid_version" in r.json()["error"]
    assert client.get("/api/content/pins", headers=tokens.headers("reader")).json() == []
    assert add(client, tokens, b"options matter\n", cid_version=1).status_code == 200


def test_audit_explorer_filters_and_paging(client, tokens):
    for i in range(3):
        add(client, tokens, f"file {i}".encode())
    h = tokens.headers("admin")
    page = client.get("/api/audit/events", params={"action": "content.*", "limit": 2}, headers=h).json()
    assert [e["action"] for e in page["events"]] == ["content.add", "content.add"] and page["next_cursor"]
    rest = client.get("/api/audit/events", params={"action": "content.*", "limit": 2,
                                                   "cursor": page["next_cursor"]}, headers=h).json()
    assert len(rest["events"]) == 1 and rest["next_cursor"] is None
    r = client.get("/api/audit/events", params={"since": "yesterday-ish"}, headers=h)
    assert r.status_code == 400


def test_metrics_and_openapi(client, tokens):
    add(client, tokens, b"metrics")
    r = client.get("/metrics", headers=tokens.headers("reader"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'ipfs_kit_operations_total{operation="content.add",outcome="success"} 1.0' in r.text
    doc = client.get("/api/openapi.json", headers=tokens.headers("reader")).json()
    assert doc["openapi"].startswith("3.") and "/api/content/add" in doc["paths"]
    assert set(doc["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyCookie"}
    assert client.get("/api/openapi.json").status_code == 401


def test_security_headers_and_loopback_default(client, tokens):
    r = client.get("/login")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    from ipfs_kit_py.cli.serve import serve

    host = next(p for p in serve.params if p.name == "host")
    assert host.default == "127.0.0.1"


def test_login_cookie_and_cross_site_writes(client, tokens):
    r = client.post("/login", content=f"token={tokens.writer}&next=//evil.example/x",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/overview"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/api/me").json()["user_id"] == "walt"  # cookie now set on the client
    r = client.post("/api/content/pin", json={"path": CID_HELLO}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-site" in r.json()["error"]
    bad = client.post("/login", content="token=ik_wrong", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 401 and "invalid API token" in bad.text
    client.cookies.clear()


def test_audit_event_detail_with_correlation_timeline_and_causation(client, tokens):
    h = tokens.headers("admin")
    applied = client.post("/api/wizards/vfs_configuration/apply", headers=h,
                          json={"answers": {"directories": "/a, /b"}}).json()
    detail = client.get(f"/api/audit/events/{applied['event_id']}", headers=h)
    assert detail.status_code == 200, detail.text
    d = detail.json()
    assert d["event"]["action"] == "config.change" and d["event"]["user_id"] == "alice"
    assert d["timeline"]["actions"] == ["files.mkdir", "files.mkdir", "config.change", "dashboard.wizard.run"]
    assert [link["action"] for link in d["causation"]["explicit_chain"]] == ["dashboard.wizard.run", "config.change"]
    assert sorted(e["resource"] for e in d["causation"]["direct_effects"]) == ["/a", "/b"]
    related = {c["event"]["action"]: c for c in d["correlated"]}
    assert {"files.mkdir", "dashboard.wizard.run"} <= set(related)
    assert all(c["reasons"] for c in d["correlated"])
    assert client.get("/api/audit/events/nope", headers=h).status_code == 404


def test_a_body_that_is_not_a_json_object_gets_a_message_that_says_so(client, tokens):
    headers = tokens.headers("writer")
    for body, content_type, expected in [
        (b"{bad json", "application/json", "the request body is not valid JSON"),
        (b"", "application/json", "must be a JSON object"),
        (b"path=x", "application/x-www-form-urlencoded", "must be a JSON object"),
    ]:
        r = client.post("/api/content/pin", content=body, headers={**headers, "Content-Type": content_type})
        assert r.status_code == 400 and expected in r.json()["error"], r.text


def test_a_wrong_method_names_the_right_one(client, tokens):
    r = client.get("/api/content/add", headers=tokens.headers("writer"))
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["error"] == "GET is not allowed on /api/content/add; use POST"
