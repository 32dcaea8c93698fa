"""Roles on every endpoint: no token → 401, too small a role → 403, enough → not refused."""

from __future__ import annotations

import json

import pytest

# Every API operation and page with the role it needs. The test below fails
# when a route is added without an entry here.
EXPECTED = {
    ("GET", "/api/me"): "reader",
    ("GET", "/api/overview"): "reader",
    ("GET", "/api/status"): "reader",
    ("GET", "/api/widgets"): "reader",
    ("GET", "/api/widgets/{widget_id}"): "reader",
    ("POST", "/api/charts"): "reader",
    ("GET", "/api/operations"): "reader",
    ("GET", "/api/repo/stat"): "reader",
    ("GET", "/api/content/pins"): "reader",
    ("GET", "/api/content/ls"): "reader",
    ("GET", "/api/content/stat"): "reader",
    ("GET", "/api/content/cat"): "reader",
    ("POST", "/api/content/add"): "writer",
    ("POST", "/api/content/pin"): "writer",
    ("POST", "/api/content/unpin"): "writer",
    ("GET", "/api/audit/events"): "admin",
    ("GET", "/api/audit/events/{event_id}"): "admin",
    ("GET", "/api/analytics/patterns"): "admin",
    ("GET", "/api/analytics/anomalies"): "admin",
    ("GET", "/api/analytics/compliance"): "admin",
    ("GET", "/api/analytics/activity"): "admin",
    ("GET", "/api/performance"): "reader",
    ("GET", "/api/wizards"): "admin",
    ("GET", "/api/wizards/{wizard_id}"): "admin",
    ("POST", "/api/wizards/{wizard_id}/validate"): "admin",
    ("POST", "/api/wizards/{wizard_id}/apply"): "admin",
    ("GET", "/api/backends"): "reader",
    ("GET", "/api/backends/health"): "reader",
    ("POST", "/api/backends/{name}/test"): "reader",
    ("GET", "/api/backends/{name}/dags"): "reader",
    ("POST", "/api/backends/{name}/replicate"): "writer",
    ("GET", "/api/replication"): "reader",
    ("POST", "/api/replication/sync"): "writer",
    ("GET", "/metrics"): "reader",
}
PAGES = {"/overview": "reader", "/content": "reader", "/performance": "reader",
         "/audit": "admin", "/analytics": "admin", "/wizards": "admin"}
RANK = {"reader": 0, "writer": 1, "admin": 2}


def concrete(path: str) -> str:
    return (path.replace("{widget_id}", "storage").replace("{event_id}", "x").replace("{wizard_id}", "backend_setup")
            .replace("{name}", "nas"))


def test_every_documented_operation_has_an_expected_role(client, tokens):
    doc = client.get("/api/openapi.json", headers=tokens.headers("reader")).json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == set(EXPECTED)
    for method, path in EXPECTED:
        op = doc["paths"][path][method.lower()]
        assert {"HTTPBearer": []} in op["security"], path


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_roles_enforced(client, tokens, method, path):
    needed = EXPECTED[(method, path)]
    url = concrete(path)
    assert client.request(method, url).status_code == 401
    assert client.request(method, url, headers={"Authorization": "Bearer ik_nope"}).status_code == 401
    for role in ("reader", "writer", "admin"):
        r = client.request(method, url, headers=tokens.headers(role))
        if RANK[role] < RANK[needed]:
            assert r.status_code == 403, (role, path, r.text)
            assert r.json()["error"].endswith(f"needs the {needed} role; {getattr_user(role)} has {role}")
        else:
            assert r.status_code not in (401, 403), (role, path, r.text)


def getattr_user(role: str) -> str:
    return {"reader": "rita", "writer": "walt", "admin": "alice"}[role]


@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_redirect_to_login_and_refuse_small_roles(client, tokens, page):
    r = client.get(page, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=%2F{page[1:]}"
    for role in ("reader", "admin"):
        r = client.get(page, headers=tokens.headers(role))
        if RANK[role] < RANK[PAGES[page]]:
            assert r.status_code == 403 and "needs the admin role" in r.text and "<html" in r.text
        else:
            assert r.status_code == 200 and f'data-page="{page[1:]}"' in r.text


def test_readers_and_writers_list_only_their_own_operations(client, tokens):
    # The audit log names every user and IP: only admins list other users' events.
    client.post("/api/content/add", content=b"walt's file\n",
                headers={**tokens.headers("writer"), "Content-Type": "application/octet-stream"})
    client.get("/api/content/stat", params={"path": "not-a-cid"}, headers=tokens.headers("admin"))  # a finding
    client.get("/api/content/pins", headers=tokens.headers("reader"))
    for role, user in (("reader", "rita"), ("writer", "walt")):
        ops = client.get("/api/operations", params={"limit": 200}, headers=tokens.headers(role)).json()
        assert ops["operations"] and {o["user_id"] for o in ops["operations"]} == {user}, ops
        assert ops["total"] == len(ops["operations"])
        for widget in ("audit_findings", "recent_operations"):
            shown = client.get(f"/api/widgets/{widget}", headers=tokens.headers(role)).json()
            assert "alice" not in json.dumps(shown), (role, widget, shown)
    everyone = client.get("/api/operations", params={"limit": 200}, headers=tokens.headers("admin")).json()
    assert {"alice", "walt", "rita"} <= {o["user_id"] for o in everyone["operations"]}
    findings = client.get("/api/widgets/audit_findings", headers=tokens.headers("admin")).json()
    assert "alice" in json.dumps(findings)
