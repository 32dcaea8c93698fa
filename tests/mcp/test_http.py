"""MCP over streamable HTTP (`ipfs-kit serve`, mounted at /mcp): tokens, roles, sessions, audit."""

from __future__ import annotations

import httpx2
import pytest

from ipfs_kit_py.mcp.tools import all_specs

from .conftest import error_text, http_session, validate_output

pytestmark = pytest.mark.anyio

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def _post(url: str, body: dict, token: str | None = None, **headers: str) -> httpx2.Response:
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(follow_redirects=True, timeout=30) as client:
        return await client.post(url, json=body, headers={**HEADERS, **auth, **headers})


async def test_requests_without_a_valid_token_are_refused(home, http_server):
    for token, reason in [(None, "an API token is required"), ("ik_not-a-real-token", "invalid API token"),
                          (home.tokens["revoked"], "is revoked")]:
        response = await _post(http_server.url, INIT, token)
        assert response.status_code == 401, (token, response.text)
        assert reason in response.json()["error"]
        assert response.headers["www-authenticate"].startswith("Bearer")
    with pytest.raises(Exception):  # noqa: B017 - the SDK client cannot even initialize
        async with http_session(http_server, None):
            pass
    with home.kit() as kit:
        failures = kit.audit.query_events(event_types=["authentication"], status=["failure"], limit=None)
        reasons = [e.details.get("reason") for e in failures]
        assert {"missing token", "unknown token", "revoked token"} <= set(reasons), reasons
        assert all(e.source_ip == "127.0.0.1" for e in failures)
        assert not kit.audit.query_events(event_types=["mcp"], limit=None)  # no tool ever ran


async def test_reader_cannot_call_destructive_or_writing_tools(home, http_server):
    specs = {s.name: s for s in all_specs()}
    async with http_session(http_server, home.tokens["reader"]) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        destructive = [n for n, t in tools.items() if t.annotations.destructive_hint]
        assert {"pin_rm", "files_rm", "repo_gc", "performance_clear_cache"} <= set(destructive)
        for name in destructive:
            text = error_text(await session.call_tool(name, {}))
            assert f"needs the {specs[name].role} role; reader-user has reader" in text, (name, text)
        writes = await session.call_tool("content_add", {"text": "not allowed"})
        assert "needs the writer role" in error_text(writes)
        ok = await session.call_tool("content_stat", {"path": home.facts["text_cid"]})
        assert not ok.is_error
        validate_output(tools["content_stat"], ok.structured_content)
    async with http_session(http_server, home.tokens["writer"]) as session:
        assert "needs the admin role; writer-user has writer" in error_text(await session.call_tool("repo_gc", {}))
        assert not (await session.call_tool("pin_rm", {"paths": [home.facts["text_cid"]]})).is_error
    with home.kit() as kit:
        denied = kit.audit.query_events(event_types=["mcp"], status=["denied"], user_id="reader-user", limit=None)
        assert {e.action for e in denied} == {f"mcp.{n}" for n in destructive} | {"mcp.content_add"}
        assert all(e.source_ip == "127.0.0.1" and e.details["transport"] == "http" for e in denied)
        assert all("needs the" in e.details["error"] for e in denied)
        # a refused call never reached the Kit: no data event under it
        for e in denied:
            assert kit.audit.query_events(operation_id=e.event_id, event_types=["data"], limit=None) == []
        assert kit.content.pins.get(home.facts["dir_cid"]) is not None  # nothing was unpinned by the reader


async def test_only_admins_read_the_audit_log_over_mcp(home, http_server):
    # The same rule as the dashboard's audit and analytics routes: the log names every user and IP.
    audit_tools = [s.name for s in all_specs() if s.name.startswith("audit")]
    assert {"audit_query", "audit_verify", "audit_analytics_get_patterns"} <= set(audit_tools)
    for role in ("reader", "writer"):
        async with http_session(http_server, home.tokens[role]) as session:
            for name in audit_tools:
                text = error_text(await session.call_tool(name, {}))
                assert f"needs the admin role; {role}-user has {role}" in text, (name, text)
    async with http_session(http_server, home.tokens["admin"]) as session:
        found = await session.call_tool("audit_query", {"limit": 5})
        assert not found.is_error and found.structured_content["events"]


async def test_http_calls_run_as_the_token_user_with_progress(home, http_server):
    progress: list[tuple[float, float | None]] = []

    async def record(done, total, message):
        progress.append((done, total))

    payload = "y" * (6 * 1024 * 1024)  # over the SDK's default 4 MiB request body limit
    async with http_session(http_server, home.tokens["writer"]) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        added = await session.call_tool("content_add", {"text": payload}, progress_callback=record)
        assert not added.is_error, added.content
        validate_output(tools["content_add"], added.structured_content)
        cat = await session.call_tool("content_cat", {"path": added.structured_content["cid"], "max_bytes": 10})
        assert cat.structured_content["data"] == "y" * 10 and cat.structured_content["truncated"]
    assert progress[0] == (0, len(payload)) and progress[-1] == (len(payload), len(payload))
    with home.kit() as kit:
        events = kit.audit.query_events(event_types=["mcp"], user_id="writer-user", order="asc", limit=None)
        assert [e.action for e in events] == ["mcp.content_add", "mcp.content_cat"]
        assert all(e.status == "success" and e.source_ip == "127.0.0.1" for e in events)
        assert events[0].session_id and events[0].session_id == events[1].session_id
        child = kit.audit.query_events(operation_id=events[0].event_id, event_types=["data"], limit=None)
        assert [(c.action, c.user_id, c.parent_id) for c in child] == [
            ("content.add", "writer-user", events[0].event_id)]
        assert child[0].bytes == len(payload)


async def test_a_session_belongs_to_the_token_that_opened_it(home, http_server):
    opened = await _post(http_server.url, INIT, home.tokens["admin"])
    assert opened.status_code == 200, opened.text
    session_id = opened.headers["mcp-session-id"]
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "repo_stat", "arguments": {}}}
    hijack = await _post(http_server.url, call, home.tokens["reader"], **{
        "mcp-session-id": session_id, "mcp-protocol-version": "2025-06-18"})
    assert hijack.status_code == 404, hijack.text


async def test_concurrent_callers_keep_their_own_identity(home, http_server):
    """Calls of two tokens interleaved on one server: each event and child event names its caller."""
    import anyio

    async def caller(role: str, calls: int) -> None:
        async with http_session(http_server, home.tokens[role]) as session:
            for _ in range(calls):
                result = await session.call_tool("content_stat", {"path": home.facts["text_cid"]})
                assert not result.is_error

    async with anyio.create_task_group() as tg:
        tg.start_soon(caller, "reader", 15)
        tg.start_soon(caller, "writer", 15)
    with home.kit() as kit:
        events = kit.audit.query_events(event_types=["mcp"], limit=None)
        assert len(events) == 30
        by_user = {}
        for e in events:
            by_user.setdefault(e.user_id, set()).add(e.session_id)
            children = kit.audit.query_events(operation_id=e.event_id, event_types=["data"], limit=None)
            assert [(c.user_id, c.parent_id) for c in children] == [(e.user_id, e.event_id)]
        assert set(by_user) == {"reader-user", "writer-user"}
        assert all(len(sessions) == 1 for sessions in by_user.values())
        assert by_user["reader-user"] != by_user["writer-user"]
