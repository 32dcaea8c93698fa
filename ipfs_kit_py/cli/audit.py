"""`ipfs-kit audit ...`: verify, query, tail, export, import and prune the audit log.

Times (``--since``, ``--until``, ``--before``) take ISO dates, epoch seconds
or ages such as ``24h`` / ``7d``. ``audit verify`` exits 1 when the chain is
broken, naming the first bad event.
"""

from __future__ import annotations

import json
import sys

import click

from ..audit.chain import verify_export_file
from ..audit.events import STATUSES
from ..audit.timeparse import format_time
from ..errors import InvalidInput
from .common import FiniteFloat, cell_text, emit, json_option, pass_kit, print_table, to_jsonable

_TABLE = ["time", "seq", "event_type", "action", "status", "user_id", "source_ip", "resource"]


def _rows(events) -> list[dict]:
    return [{**e.to_dict(), "time": format_time(e.timestamp)} for e in events]


def _show_events(events, title: str | None = None) -> None:
    if not events:
        click.echo("no events", err=True)
        return
    print_table(_rows(events), _TABLE, title=title)


@click.group("audit")
def audit_group() -> None:
    """Tamper-evident audit log: verify, query, tail, export, import, prune."""


@audit_group.command()
@click.option("--start-seq", type=click.IntRange(min=1), help="First seq to check (default: start of the log).")
@click.option("--end-seq", type=click.IntRange(min=1), help="Last seq to check (default: head).")
@click.option("--from-event", "start_event_id", help="First event id to check.")
@click.option("--to-event", "end_event_id", help="Last event id to check.")
@click.option("--expect-hash", help="Hash the last checked event must have (e.g. a checkpoint head).")
@click.option("--file", "export_file", type=click.Path(dir_okay=False),
              help="Verify an exported JSONL file instead of the log (third-party check).")
@click.option("--prev-hash", help="With --file: hash the first event must link to (default: trust its prev_hash).")
@json_option
@pass_kit
def verify(kit, start_seq, end_seq, start_event_id, end_event_id, expect_hash, export_file,
           prev_hash, as_json):
    """Check the hash chain; exit 1 and name the first bad event if it is broken."""
    if export_file:
        result = verify_export_file(export_file, prev_hash, expect_hash)
    else:
        result = kit.audit.verify(start_seq, end_seq, start_event_id=start_event_id,
                                  end_event_id=end_event_id, expect_hash=expect_hash)
    emit(result, as_json, lambda r: click.echo(r.summary()))
    if not result.ok:
        click.echo(f"Error: {result.summary()}", err=True)
        click.get_current_context().exit(1)


@audit_group.command()
@click.option("--since", help="Only events at or after this time (ISO date, epoch, or age like 24h).")
@click.option("--until", help="Only events before this time.")
@click.option("-t", "--type", "event_types", multiple=True, help="Event type (repeatable).")
@click.option("-u", "--user", "user_id", help="User id.")
@click.option("-s", "--status", multiple=True, type=click.Choice(STATUSES), help="Status (repeatable).")
@click.option("-a", "--action", help="Action, exact or prefix with * (e.g. 'content.*').")
@click.option("-r", "--resource", help="Resource (CID or path).")
@click.option("--operation-id", help="Operation id.")
@click.option("--session-id", help="Session id.")
@click.option("--source-ip", help="Source IP.")
@click.option("-n", "--limit", type=click.IntRange(min=0), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--cursor", help="Continue after this event id (printed as next_cursor).")
@click.option("--order", type=click.Choice(["desc", "asc"]), default="desc", show_default=True)
@json_option
@pass_kit
def query(kit, since, until, event_types, user_id, status, action, resource, operation_id,
          session_id, source_ip, limit, offset, cursor, order, as_json):
    """Search events (newest first); page with --cursor."""
    page = kit.audit.query_page(
        since, until, list(event_types) or None, user_id, list(status) or None, action, resource,
        operation_id, limit, order, offset=offset, cursor=cursor, session_id=session_id,
        source_ip=source_ip,
    )

    def human(p):
        _show_events(p.events)
        if p.next_cursor:
            click.echo(f"more: --cursor {p.next_cursor}", err=True)

    emit(page, as_json, human)


@audit_group.command()
@click.option("-n", "--lines", "count_last", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many of the newest events to show first.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing events as they are logged.")
@click.option("--max-seconds", type=FiniteFloat(min=0), help="With -f: stop after this many seconds.")
@click.option("--count", "max_count", type=click.IntRange(min=1), help="With -f: stop after this many new events.")
@click.option("--interval", type=FiniteFloat(min=0.01), default=0.5, show_default=True,
              help="With -f: seconds between polls.")
@json_option
@pass_kit
def tail(kit, count_last, follow, max_seconds, max_count, interval, as_json):
    """Show the newest events; -f follows new ones (JSON lines with --json)."""
    events = kit.audit.tail(count_last)
    if not follow:
        emit(events, as_json, lambda evs: _show_events(evs))
        return
    after = events[-1].seq if events else None
    stream = kit.audit.follow(after, poll_interval=interval, max_seconds=max_seconds, count=max_count)
    for event in [*events, *stream]:
        if as_json:
            sys.stdout.write(json.dumps(to_jsonable(event), ensure_ascii=False) + "\n")
        else:
            row = _rows([event])[0]
            sys.stdout.write("\t".join(cell_text(row.get(c)) for c in _TABLE) + "\n")
        sys.stdout.flush()


@audit_group.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--since", help="Only events at or after this time.")
@click.option("--until", help="Only events before this time.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (default: stdout).")
@json_option
@pass_kit
def export(kit, fmt, since, until, output, as_json):
    """Export events in chain order (JSONL keeps the hashes: verifiable with verify --file)."""
    if output is None:
        kit.audit.export(sys.stdout, fmt, since, until)
        return
    count = kit.audit.export(output, fmt, since, until)
    emit({"path": output, "format": fmt, "count": count}, as_json,
         lambda r: click.echo(f"exported {r['count']} events to {r['path']}"))


@audit_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "sshd"]), default="auto", show_default=True)
@click.option("--strict", is_flag=True, help="Reject the whole file if any line is bad (nothing is written).")
@click.option("--year", type=click.IntRange(1970, 9999), help="sshd: year of the first line (syslog lines have none).")
@click.option("--tz", help="sshd: time zone of the log's times (default: local; e.g. UTC, Europe/Berlin).")
@json_option
@pass_kit
def import_(kit, file, fmt, strict, year, tz, as_json):
    """Import JSONL events or sshd/auth.log lines; bad lines are listed with line numbers."""
    report = kit.audit.import_events(file, fmt, strict, year=year, tz=tz, user_id=kit.user)

    def human(r):
        click.echo(f"imported {r.imported} events from {r.path} ({r.format}); "
                   f"{r.duplicates} already present, {r.ignored} lines ignored, {len(r.skipped)} bad lines")
        for skipped in r.skipped:
            click.echo(f"  line {skipped.line}: {skipped.reason}", err=True)

    emit(report, as_json, human)


@audit_group.command()
@click.option("--before", required=True, help="Delete the oldest events stamped before this time (e.g. 90d).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_kit
def prune(kit, before, yes, as_json):
    """Delete old events; the rest of the chain still verifies. Recorded as an admin event."""
    if not yes:
        if not sys.stdin.isatty():  # nobody to answer: a script must say --yes, not get "Aborted."
            raise InvalidInput("audit prune deletes events; pass --yes to confirm")
        click.confirm(f"Delete audit events older than {before}?", abort=True, err=True)
    result = kit.audit.prune(before, user_id=kit.user)
    emit(result, as_json, lambda r: click.echo(
        f"pruned {r.deleted} events; chain now starts after seq {r.base_seq}"
        + (f" ({r.remaining_older} older events kept: recorded later)" if r.remaining_older else "")))


@audit_group.command()
@click.option("--verify", "verify_cid", metavar="CID", help="Verify the log against an earlier checkpoint instead.")
@json_option
@pass_kit
def checkpoint(kit, verify_cid, as_json):
    """Anchor the chain head as a pinned CID (or --verify one): third parties can check a range."""
    if verify_cid is not None:  # --verify "" is a mistake to report, not a request for a new checkpoint
        result = kit.audit_verify_checkpoint(verify_cid)
        emit(result, as_json, lambda r: click.echo(
            f"checkpoint {r['checkpoint']} (seq {r['seq']}): "
            + ("verified" if r["ok"] else f"BROKEN at seq {r['first_bad_seq']}: {r['reason']}")))
        if not result["ok"]:
            raise click.exceptions.Exit(1)
        return
    result = kit.audit_checkpoint()
    emit(result, as_json, lambda r: click.echo(f"checkpoint {r['cid']} anchors seq {r['seq']} hash {r['hash']}"))


def register(cli: click.Group) -> None:
    cli.add_command(audit_group)
