"""`ipfs-kit backend add|list|test|rm|policy|sync|status|replicate|unpin`: storage backends and replication."""

from __future__ import annotations

import click

from ..audit.timeparse import format_time
from .common import FiniteFloat, emit, json_option, pass_kit, print_table


@click.group("backend")
def backend_group() -> None:
    """Storage backends (a local directory, a kubo node, an S3 bucket) and replication to them."""


@backend_group.command("add")
@click.argument("name")
@click.option("--type", "kind", type=click.Choice(["local", "kubo", "s3"]),
              help="Backend kind (optional with --template).")
@click.option("--template", help="Start from a backend_setup template, e.g. s3_production, kubo_local.")
@click.option("--path", help="local: the blockstore directory.")
@click.option("--api-url", help="kubo: RPC API URL (default http://127.0.0.1:5001).")
@click.option("--api-token", help="kubo: bearer token, if the API needs one.")
@click.option("--bucket", help="s3: bucket name.")
@click.option("--region", help="s3: region (default us-east-1).")
@click.option("--endpoint-url", help="s3: endpoint of an S3-compatible server (empty: AWS).")
@click.option("--prefix", help="s3: key prefix (default ipfs/).")
@click.option("--credentials", "credential_source", type=click.Choice(["environment", "profile", "inline"]),
              help="s3: where credentials come from (default: environment / AWS default chain).")
@click.option("--profile", help="s3: AWS profile name (with --credentials profile).")
@click.option("--access-key-id", help="s3: access key id (with --credentials inline).")
@click.option("--secret-access-key", envvar="IPFS_KIT_S3_SECRET_ACCESS_KEY",
              help="s3: secret key (with --credentials inline; or $IPFS_KIT_S3_SECRET_ACCESS_KEY).")
@click.option("--timeout", "timeout_seconds", type=float, help="Request timeout in seconds (default 30).")
@click.option("--retries", "max_retries", type=int, help="Retries per copy during sync (default 3).")
@click.option("--replicate/--no-replicate", default=None, help="Copy pinned content to this backend.")
@click.option("--replicas", type=int, help="Copies to keep in all, the local one included (default 1).")
@click.option("--test/--no-test", default=True, show_default=True,
              help="Probe the backend first and write nothing if it fails.")
@json_option
@pass_kit
def add(kit, name, kind, template, test, as_json, **options):
    """Add (or replace) backend NAME in config.json, after testing it."""
    result = kit.backend_add(name, kind, template=template, test=test, **options)

    def human(data):
        probe = data.get("test")
        click.echo(f"added backend {name}" + (f" (tested: healthy, {probe['latency_ms']} ms)" if probe else ""))
        for change in data.get("changes", []):
            click.echo(f"  {change['path']}: {change['old']!r} -> {change['new']!r}")

    emit(result, as_json, human)


@backend_group.command("list")
@json_option
@pass_kit
def list_(kit, as_json):
    """List configured backends (secrets shown as ***), their circuit state and replication counts."""
    rows = kit.backend_list()

    def human(items):
        if not items:
            click.echo("no backends configured; add one with `ipfs-kit backend add`", err=True)
            return
        print_table([{**r, "where": _where(r["config"]),
                      "target": "yes" if r["replication_target"] else "",
                      "pinned": r["replication"].get("pinned", 0),
                      "failed": r["replication"].get("failed", 0)} for r in items],
                    ["name", "type", "where", "target", "circuit", "pinned", "failed"], "Backends")

    emit(rows, as_json, human)


def _where(conf: dict) -> str:
    if conf.get("type") == "s3":
        return f"s3://{conf.get('bucket')}/{conf.get('prefix', '')} @ {conf.get('endpoint_url') or 'AWS'}"
    if conf.get("type") == "kubo":
        return conf.get("api_url", "http://127.0.0.1:5001")
    return conf.get("path") or "(home blockstore)"


@backend_group.command("policy")
@click.option("--replicas", type=click.IntRange(1, 10), help="Copies to keep in all, the local one included.")
@click.option("--targets", help="Comma-separated backends new pins are copied to, in order of preference.")
@click.option("--read-order", help="Comma-separated backends missing blocks are read from, in order.")
@click.option("--sync-interval", "sync_interval_seconds", type=float,
              help="Seconds between the server's background syncs.")
@click.option("--retry-base", "retry_base_seconds", type=float, help="First retry delay in seconds (doubles).")
@click.option("--retry-max", "retry_max_seconds", type=float, help="Longest retry delay in seconds.")
@click.option("--circuit-threshold", type=int, help="Failures in a row that open a backend's circuit.")
@click.option("--circuit-cooldown", "circuit_cooldown_seconds", type=float,
              help="Seconds an open circuit refuses calls.")
@json_option
@pass_kit
def policy(kit, as_json, **changes):
    """Show the replication policy, or change the settings given."""
    result = kit.backend_policy(**changes)
    emit(result, as_json, lambda d: [click.echo(f"{k}: {', '.join(v) if isinstance(v, list) else v}")
                                     for k, v in d.items()])


@backend_group.command("test")
@click.argument("name")
@json_option
@pass_kit
def test(kit, name, as_json):
    """Check that backend NAME is reachable, accepts the credentials and has its bucket."""
    info = kit.backend_test(name)
    emit(info, as_json, lambda d: click.echo(
        f"{name}: healthy ({d['latency_ms']} ms) " + ", ".join(
            f"{k}={v}" for k, v in d.items() if k not in ("name", "healthy", "latency_ms"))))


@backend_group.command("rm")
@click.argument("name")
@json_option
@pass_kit
def rm(kit, name, as_json):
    """Remove backend NAME from the configuration (copies already on it are left there)."""
    emit(kit.backend_rm(name), as_json, lambda d: click.echo(f"removed backend {name}"))


@backend_group.command("sync")
@click.argument("cids", nargs=-1)
@click.option("--wait", type=FiniteFloat(0, 86400), default=0.0, show_default=True,
              help="Keep retrying failed copies (with backoff) for up to this many seconds.")
@click.option("--force", is_flag=True, help="Retry failed copies now, even before their backoff is over.")
@json_option
@pass_kit
def sync(kit, cids, wait, force, as_json):
    """Copy queued and failed replications (all, or only CIDS); exit 1 if any copy failed."""
    result = kit.backend_sync(list(cids) or None, wait=wait, force=force)

    def human(data):
        if data["items"]:
            print_table([_status_row(i) for i in data["items"]], _STATUS_COLUMNS, "Sync")
        click.echo(f"{data['pinned']} pinned, {data['failed']} failed, {data['pending']} still pending", err=True)

    emit(result, as_json, human)
    if result["failed"]:
        raise click.exceptions.Exit(1)


_STATUS_COLUMNS = ["cid", "backend", "status", "attempts", "updated", "last_error"]


def _status_row(item: dict) -> dict:
    return {**item, "updated": format_time(item["updated"]) if item.get("updated") else None}


@backend_group.command("status")
@click.argument("cid", required=False)
@click.option("--backend", help="Only this backend.")
@click.option("--status", type=click.Choice(["queued", "pinning", "pinned", "failed"]), help="Only this status.")
@json_option
@pass_kit
def status(kit, cid, backend, status, as_json):
    """Replication status per CID and backend: queued, pinning, pinned or failed."""
    result = kit.backend_status(cid, backend, status)

    def human(data):
        if data["items"]:
            print_table([_status_row(i) for i in data["items"]], _STATUS_COLUMNS, "Replication")
        click.echo(", ".join(f"{n} {s}" for s, n in data["summary"].items()), err=True)

    emit(result, as_json, human)


@backend_group.command("replicate")
@click.argument("cid")
@click.option("--to", "targets", multiple=True, help="Backend(s) to copy to (default: the policy's targets).")
@json_option
@pass_kit
def replicate(kit, cid, targets, as_json):
    """Copy the DAG under CID to backends now (failures are left for `backend sync`)."""
    result = kit.replicate(cid, list(targets) or None)
    emit(result, as_json, _per_backend("no replication targets: pass --to NAME or set a policy with --replicate"))
    failed = [name for name, state in result.items() if state != "pinned"]
    if failed:
        reasons = {i["backend"]: i["last_error"] for i in kit.backend_status(cid)["items"] if i["last_error"]}
        why = "; ".join(f"{name}: {reasons.get(name, state_of)}" for name, state_of in
                        ((n, result[n]) for n in failed))
        click.echo(f"Error: not copied to {why} (retried by `ipfs-kit backend sync`)", err=True)
        raise click.exceptions.Exit(1)


@backend_group.command("unpin")
@click.argument("cid")
@click.option("--from", "sources", multiple=True, help="Backend(s) to remove it from (default: all).")
@json_option
@pass_kit
def unpin(kit, cid, sources, as_json):
    """Remove CID's copies from backends; the local pin is not touched."""
    result = kit.backend_unpin(cid, list(sources) or None)
    emit(result, as_json, _per_backend("no backend holds a copy"))


def _per_backend(when_empty: str):
    """Human output of a ``{backend: state}`` result: a line each, or ``when_empty`` on stderr."""

    def human(states: dict) -> None:
        for name, state in states.items():
            click.echo(f"{name}: {state}")
        if not states:
            click.echo(when_empty, err=True)

    return human


def register(cli: click.Group) -> None:
    cli.add_command(backend_group)
