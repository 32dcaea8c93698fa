"""`ipfs-kit dashboard`: widgets, charts, operations, wizards and the status summary."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from ..dashboard.charts import AGGREGATIONS, CHART_TYPES
from ..dashboard.service import OPERATION_STATUSES, Dashboard
from .common import emit, json_option, load_json_file, pass_kit, print_table


def _time(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group()
def dashboard() -> None:
    """Dashboard widgets, charts, operation history, configuration wizards and status."""


@dashboard.command()
@json_option
@pass_kit
def widgets(kit, as_json):
    """List the dashboard widgets and their refresh intervals."""
    result = Dashboard(kit).list_widgets()
    emit(result, as_json, lambda rows: print_table(
        rows, ["widget_id", "widget_type", "title", "refresh_interval"], "Widgets"))


@dashboard.command("widget-data")
@click.option("--widget-id", help="The widget (see `dashboard widgets`); all widgets when omitted.")
@click.option("--refresh", is_flag=True, help="Fetch fresh data instead of the cached value.")
@json_option
@pass_kit
def widget_data(kit, widget_id, refresh, as_json):
    """Show a widget's current data."""
    board = Dashboard(kit)
    result = board.widget_data(widget_id, refresh) if widget_id else board.overview(refresh)
    emit(result, as_json)


@dashboard.command()
@click.option("--type", "chart_type", required=True,
              type=click.Choice([*CHART_TYPES, "timeseries", "time-series"]), help="Chart type.")
@click.option("--title", required=True, help="Chart title.")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False),
              help='JSON file: {"series": [[x, y], ...]} for line/scatter/time_series, {"label": value} for bar/pie.')
@click.option("--trendline", is_flag=True, help="Scatter: add a least-squares trendline per series.")
@click.option("--interval", default="60", show_default=True, help="Time series: bucket size (seconds or 5m, 1h...).")
@click.option("--aggregation", type=click.Choice(AGGREGATIONS), default="avg", show_default=True,
              help="Time series: how each bucket is aggregated.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the chart's data as CSV instead of JSON.")
@json_option
@pass_kit
def chart(kit, chart_type, title, data_file, trendline, interval, aggregation, as_csv, as_json):
    """Build chart data from a JSON file (printed as JSON, or CSV with --csv)."""
    options = {}
    if chart_type == "scatter":
        options["trendline"] = trendline
    elif chart_type in ("time_series", "timeseries", "time-series"):
        options.update(interval=interval, aggregation=aggregation)
    data = load_json_file(data_file, "chart data")
    board = Dashboard(kit)
    if as_csv:
        sys.stdout.write(board.chart_csv(chart_type, title, data, **options))
        return
    emit(board.chart(chart_type, title, data, **options), True)


@dashboard.command()
@click.option("--status", type=click.Choice(OPERATION_STATUSES), help="Only operations with this outcome.")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True, max=24 * 366), default=24,
              show_default=True, help="How far back to look.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="At most this many.")
@json_option
@pass_kit
def operations(kit, status, hours, limit, as_json):
    """Recent operations from the audit log, newest first."""
    result = Dashboard(kit).operations(status, hours, limit)

    def human(res):
        rows = [{**op, "time": _time(op["timestamp"])} for op in res["operations"]]
        print_table(rows, ["time", "action", "status", "user_id", "resource", "duration_ms", "error"],
                    f"{res['total']} operations in the last {res['hours']:g} h")

    emit(result, as_json, human)


@dashboard.command("list-wizards")
@json_option
@pass_kit
def list_wizards(kit, as_json):
    """List the configuration wizards and their templates."""
    result = Dashboard(kit).list_wizards()
    emit(result, as_json, lambda rows: print_table(
        [{**r, "templates": ", ".join(r["templates"])} for r in rows],
        ["wizard_id", "steps", "title", "templates"], "Wizards"))


@dashboard.command()
@click.option("--wizard-id", required=True, help="backend_setup, vfs_configuration or monitoring_setup.")
@click.option("--template", help="A template name (see list-wizards) or a .json/.yaml answers file.")
@click.option("--answers", "answers_file", type=click.Path(dir_okay=False),
              help="JSON file of {field: value}: run without prompting.")
@click.option("--apply/--no-apply", "apply", default=None,
              help="Write the config (default: yes, or as the answers say).")
@json_option
@pass_kit
def wizard(kit, wizard_id, template, answers_file, apply, as_json):
    """Run a configuration wizard: prompts on a terminal, else template/answers/defaults."""
    answers = load_json_file(answers_file, "answers") if answers_file else None
    result = Dashboard(kit).run_wizard(wizard_id, template, answers, interactive=None if not as_json else False,
                                       apply=apply)

    def human(res):
        state = "applied" if res["applied"] else "not applied"
        click.echo(f"{res['wizard_id']}: {state}" + (f" (audit event {res['event_id']})" if res["event_id"] else ""))
        for change in res["changes"]:
            click.echo(f"  {change['path']}: {json.dumps(change['old'])} -> {json.dumps(change['new'])}")
        if not res["changes"] and res["applied"]:
            click.echo("  no changes")

    emit(result, as_json, human)


@dashboard.command()
@json_option
@pass_kit
def status(kit, as_json):
    """System status summary: store, audit log, backends, findings, performance."""
    result = Dashboard(kit).status()

    def human(res):
        click.echo(f"status: {res['status']} ({res['message']})")
        click.echo(f"store: {res['store']['pins']} pins, {res['store']['blocks']} blocks, {res['store']['bytes']} bytes")
        click.echo(f"audit: {res['audit']['events']} events ({res['audit']['store']})")
        click.echo(f"backends: {res['backends']['healthy']}/{res['backends']['total']} healthy")
        perf = res["performance"]
        p95 = "-" if perf["worst_p95_ms"] is None else f"{perf['worst_p95_ms']:.1f} ms"
        click.echo(f"operations (1h): {perf['operations_1h']} ({perf['failures_1h']} failed), worst p95 {p95}")
        click.echo(f"findings (24h): {res['findings']['count']}")

    emit(result, as_json, human)


def register(cli: click.Group) -> None:
    cli.add_command(dashboard)
