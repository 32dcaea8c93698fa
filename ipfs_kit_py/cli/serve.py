"""`ipfs-kit serve`: the web dashboard, JSON API, /metrics and /mcp over HTTP."""

from __future__ import annotations

import ipaddress

import click

from .common import pass_kit


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; anything else exposes the dashboard).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="TCP port.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="warning", show_default=True, help="Server log level (info logs every request).")
@pass_kit
def serve(kit, host, port, log_level):
    """Serve the dashboard and API until interrupted (Ctrl-C)."""
    import uvicorn

    from ..web import create_app

    app = create_app(kit)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"ipfs-kit dashboard: http://{shown}:{port}/  (home {kit.settings.home})")
    click.echo("Log in with an API token: ipfs-kit auth token create --user NAME --role admin", nl=True)
    if not _is_loopback(host):
        click.echo(f"Warning: listening on {host}, not loopback; use TLS in front of it (tokens travel in headers).",
                   err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False)


def register(cli: click.Group) -> None:
    cli.add_command(serve)
