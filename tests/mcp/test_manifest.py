"""The tool manifest (`ipfs-kit mcp tools --json`) and the one-server rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import REPO, cli_json, cli_run, stdio_session

PACKAGE = REPO / "ipfs_kit_py"


@pytest.mark.anyio
async def test_manifest_is_exactly_what_tools_list_returns(home):
    manifest = cli_json(home, "mcp", "tools")
    async with stdio_session(home) as session:
        listed = (await session.list_tools()).tools
    assert manifest == [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed]
    for entry in manifest:
        assert {"name", "title", "description", "inputSchema", "outputSchema", "annotations"} <= set(entry)
        assert {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} <= set(entry["annotations"])


def test_manifest_human_listing_names_every_tool(home):
    manifest = cli_json(home, "mcp", "tools")
    lines = cli_run(home, "mcp", "tools").decode().splitlines()
    assert [line.split()[0] for line in lines] == [t["name"] for t in manifest]


def _python_files() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]


def test_exactly_one_mcp_server_module_in_the_tree():
    server_named = [p.relative_to(REPO).as_posix() for p in REPO.rglob("*mcp_server*.py")
                    if not {"__pycache__", ".venv", ".kubo-venv", "node_modules"} & set(p.parts)]
    assert server_named == ["ipfs_kit_py/mcp/unified_mcp_server.py"]
    # Only that module builds an MCP server (high-level or low-level SDK class).
    builds = re.compile(r"\b(MCPServer|FastMCP)\s*\(|from mcp\.server\.lowlevel import|lowlevel\.Server\s*\(")
    builders = sorted(p.relative_to(REPO).as_posix() for p in _python_files() if builds.search(p.read_text()))
    assert builders == ["ipfs_kit_py/mcp/unified_mcp_server.py"]
    # Nothing imports a removed or duplicate server module.
    imports = re.compile(r"(?:from|import)\s+[\w.]*\b(\w*mcp_server\w*)")
    for path in _python_files():
        for name in imports.findall(path.read_text()):
            assert name == "unified_mcp_server", (path, name)
