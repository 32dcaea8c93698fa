"""`ipfs-kit auth token create|list|revoke`: API tokens for HTTP and MCP-HTTP callers."""

from __future__ import annotations

import click

from ..audit.auth import ROLES
from ..audit.timeparse import format_time
from .common import emit, json_option, pass_kit, print_table

_COLUMNS = ["token_id", "user_id", "role", "state", "created", "expires", "last_used"]


def _when(ts: float | None) -> str | None:
    return None if ts is None else format_time(ts)


def _row(info) -> dict:
    return {**info.to_dict(), "created": _when(info.created_at), "expires": _when(info.expires_at) or "never",
            "last_used": _when(info.last_used_at)}


@click.group("auth")
def auth_group() -> None:
    """Identities and API tokens (local CLI use runs as the OS user, role admin)."""


@auth_group.group("token")
def token_group() -> None:
    """Create, list and revoke API tokens (stored hashed; shown once)."""


@token_group.command("create")
@click.option("--user", required=True, help="Who the token identifies.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="admin > writer > reader.")
@click.option("--expires", help="Lifetime, e.g. 30d, 12h, 2w (default: never).")
@json_option
@pass_kit
def create(kit, user, role, expires, as_json):
    """Create a token and print it once (it cannot be shown again)."""
    token, info = kit.auth.create(user, role, expires, created_by=kit.user)

    def human(data):
        click.echo(data["token"])
        click.echo(f"token {info.token_id} for {info.user_id} ({info.role}), expires "
                   f"{_when(info.expires_at) or 'never'}; store it now, it is not shown again", err=True)

    emit({"token": token, **info.to_dict()}, as_json, human)


@token_group.command("list")
@click.option("--active", is_flag=True, help="Hide revoked tokens.")
@json_option
@pass_kit
def list_(kit, active, as_json):
    """List tokens (ids, users, roles, state; never the tokens themselves)."""
    tokens = kit.auth.list(include_revoked=not active)
    emit(tokens, as_json, lambda ts: print_table([_row(t) for t in ts], _COLUMNS) if ts
         else click.echo("no tokens", err=True))


@token_group.command("revoke")
@click.argument("token_id")
@json_option
@pass_kit
def revoke(kit, token_id, as_json):
    """Revoke a token by id; it stops working at once."""
    info = kit.auth.revoke(token_id, revoked_by=kit.user)
    emit(info, as_json, lambda i: click.echo(f"revoked {i.token_id} ({i.user_id}, {i.role})"))


def register(cli: click.Group) -> None:
    cli.add_command(auth_group)
