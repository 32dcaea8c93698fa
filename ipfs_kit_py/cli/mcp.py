"""`ipfs-kit mcp ...`: serve the MCP server (stdio or HTTP) and export its tool manifest."""

from __future__ import annotations

import click

from .common import emit, json_option, pass_kit


@click.group("mcp")
def mcp_group() -> None:
    """The MCP server for AI agents: every tool schema-described and audited."""


@mcp_group.command()
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True,
              help="stdio for a local agent; http serves only MCP (ipfs-kit serve mounts it at /mcp).")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --transport http: address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="With --transport http: port to bind.")
@pass_kit
def serve(kit, transport, host, port):
    """Serve MCP: over stdin/stdout as you (default), or over HTTP with API tokens."""
    from ..mcp.unified_mcp_server import run_http, run_stdio

    if transport == "stdio":
        run_stdio(kit)
    else:
        run_http(kit, host, port)


@mcp_group.command()
@json_option
def tools(as_json):
    """List the MCP tools; --json prints the manifest (names, descriptions, schemas, annotations)."""
    from ..mcp.unified_mcp_server import tool_manifest

    def human(manifest):
        for entry in manifest:
            hints = entry.get("annotations", {})
            kind = "read-only" if hints.get("readOnlyHint") else (
                "destructive" if hints.get("destructiveHint") else "writes")
            click.echo(f"{entry['name']:<40} {kind:<11} {entry.get('title', '')}")

    emit(tool_manifest(), as_json, human)


def register(cli: click.Group) -> None:
    cli.add_command(mcp_group)
