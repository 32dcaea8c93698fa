"""The JSON API under ``/api`` (documented at ``/api/openapi.json``).

Every handler takes its caller from one of the ``Reader``/``Writer``/``Admin``
dependencies and is one audited operation: a single Kit or Dashboard method
call, or a ``with ctx.track():`` block (see ``auth``). Handlers are sync
functions: FastAPI runs them in its thread pool, and the Kit's stores are
blocking SQLite/filesystem code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..audit.events import STATUSES
from ..dashboard import Dashboard
from ..dashboard.charts import AGGREGATIONS, CHART_TYPES
from ..errors import InvalidInput
from ..instrument import note
from ..mcp.controllers.storage import controller_for
from .auth import Admin, Reader, RequestContext, Writer


def _declared_query(dependant) -> Iterator[str]:
    yield from (param.alias for param in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _declared_query(sub)


def reject_unknown_query(request: Request) -> None:
    """A misspelt or unsupported option (``?chunker=``) is an error, not silently a default answer."""
    route = request.scope.get("route")
    if route is None or not request.query_params:
        return
    declared = set(_declared_query(route.dependant))
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        takes = ", ".join(sorted(declared)) or "none"
        raise InvalidInput(f"unknown query parameter(s) {', '.join(unknown)}; this route takes: {takes}")


router = APIRouter(prefix="/api", dependencies=[Depends(reject_unknown_query)])

MAX_UPLOAD = 256 * 1024 * 1024
MAX_CAT = 64 * 1024 * 1024
ContentPath = Annotated[str, Query(min_length=1, max_length=4096, description="A CID, /ipfs/<cid>/path or <cid>/path.")]
Hours = Annotated[float, Query(gt=0, le=24 * 366, description="How far back to look, in hours.")]


def board(ctx: RequestContext) -> Dashboard:
    """A Dashboard for this caller that shares the app's widgets and their cache."""
    return Dashboard(ctx.kit, widgets=ctx.request.app.state.widgets.bind(ctx.kit))


# ---- who am I ---------------------------------------------------------------------

@router.get("/me", tags=["session"], summary="The caller's identity and role")
def me(ctx: Reader) -> dict[str, Any]:
    with ctx.track():
        return {**ctx.principal.to_dict(), "source_ip": ctx.kit.source_ip}


# ---- dashboard ------------------------------------------------------------------------

@router.get("/overview", tags=["dashboard"], summary="Every widget's data")
def overview(ctx: Reader, refresh: bool = False) -> dict[str, Any]:
    return board(ctx).overview(refresh)


@router.get("/status", tags=["dashboard"], summary="System status summary")
def status(ctx: Reader) -> dict[str, Any]:
    return board(ctx).status()


@router.get("/widgets", tags=["dashboard"], summary="Widget list")
def widgets(ctx: Reader) -> list[dict[str, Any]]:
    return board(ctx).list_widgets()


@router.get("/widgets/{widget_id}", tags=["dashboard"], summary="One widget's data")
def widget_data(ctx: Reader, widget_id: Annotated[str, Field(max_length=128)], refresh: bool = False) -> dict[str, Any]:
    return board(ctx).widget_data(widget_id, refresh)


class ChartOptions(BaseModel):
    trendline: bool = Field(False, description="Scatter: add a least-squares line per series.")
    interval: float | str = Field(60, description="Time series: bucket size (seconds or 5m, 1h...).")
    aggregation: Literal[AGGREGATIONS] = "avg"  # type: ignore[valid-type]


class ChartRequest(BaseModel):
    type: Literal[CHART_TYPES]  # type: ignore[valid-type]
    title: str = Field(max_length=200)
    data: dict[str, Any] | list[Any] = Field(description="{series: [[x, y], ...]} or {label: value}.")
    options: ChartOptions = ChartOptions()


@router.post("/charts", tags=["dashboard"], summary="Chart data from posted values")
def chart(ctx: Reader, body: ChartRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if body.type == "scatter":
        options["trendline"] = body.options.trendline
    elif body.type == "time_series":
        options.update(interval=body.options.interval, aggregation=body.options.aggregation)
    return board(ctx).chart(body.type, body.title, body.data, **options)


@router.get("/operations", tags=["dashboard"], summary="Recent operations from the audit log")
def operations(ctx: Reader, status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
               hours: Hours = 24, limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> dict[str, Any]:
    return board(ctx).operations(status, hours, limit)


# ---- content -----------------------------------------------------------------------------

@router.get("/repo/stat", tags=["content"], summary="Blocks, bytes and pins in the store")
def repo_stat(ctx: Reader) -> dict[str, Any]:
    return ctx.kit.repo_stat()


@router.get("/content/pins", tags=["content"], summary="Pinned content")
def pins(ctx: Reader, type: Literal["recursive", "direct", "all"] = "recursive") -> list[dict[str, Any]]:
    return ctx.kit.pin_ls(type)


@router.get("/content/ls", tags=["content"], summary="Directory listing of a CID or path")
def ls(ctx: Reader, path: ContentPath) -> list[dict[str, Any]]:
    return ctx.kit.ls(path)


@router.get("/content/stat", tags=["content"], summary="Type and size of a CID or path")
def stat(ctx: Reader, path: ContentPath) -> dict[str, Any]:
    return ctx.kit.stat(path)


@router.get("/content/cat", tags=["content"], summary="A file's bytes",
            responses={200: {"content": {"application/octet-stream": {}}}})
def cat(ctx: Reader, path: ContentPath, offset: Annotated[int, Query(ge=0)] = 0,
        length: Annotated[int | None, Query(ge=0, le=MAX_CAT)] = None) -> Response:
    with ctx.track():
        note(resource=path)
        if length is None:
            size = ctx.kit.stat(path).get("size") or 0
            if size - offset > MAX_CAT:
                raise InvalidInput(f"file is larger than {MAX_CAT} bytes; read it in parts with offset and length")
        data = ctx.kit.cat(path, offset=offset, length=length)
    return Response(data, media_type="application/octet-stream")


@router.post("/content/add", tags=["content"], summary="Add the request body as a file",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def add(ctx: Writer, request: Request, name: Annotated[str | None, Query(max_length=255)] = None,
              cid_version: Annotated[int, Query(ge=0, le=1)] = 0, pin: bool = True) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_UPLOAD:
        raise InvalidInput(f"upload is larger than {MAX_UPLOAD} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_UPLOAD:
            raise InvalidInput(f"upload is larger than {MAX_UPLOAD} bytes")
    result = await run_in_threadpool(ctx.kit.add, bytes(body), cid_version=cid_version, pin=pin)
    return {**result.to_dict(), "name": name or result.cid}


class PinRequest(BaseModel):
    path: str = Field(min_length=1, max_length=4096)
    type: Literal["recursive", "direct"] = "recursive"


class UnpinRequest(BaseModel):
    path: str = Field(min_length=1, max_length=4096)


@router.post("/content/pin", tags=["content"], summary="Pin a CID or path")
def pin(ctx: Writer, body: PinRequest) -> dict[str, Any]:
    return ctx.kit.pin_add(body.path, body.type)


@router.post("/content/unpin", tags=["content"], summary="Remove a pin")
def unpin(ctx: Writer, body: UnpinRequest) -> dict[str, Any]:
    return ctx.kit.pin_rm(body.path)


# ---- audit explorer ---------------------------------------------------------------------------

@router.get("/audit/events", tags=["audit"], summary="Audit events, newest first, with filters")
def audit_events(
    ctx: Admin,
    event_type: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")] = None,
    action: Annotated[str | None, Query(max_length=200, description="Exact, or a prefix ending in *")] = None,
    status: Literal[STATUSES] | None = None,  # type: ignore[valid-type]
    user_id: Annotated[str | None, Query(max_length=256)] = None,
    resource: Annotated[str | None, Query(max_length=4096)] = None,
    operation_id: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[str | None, Query(max_length=64, description="Time or duration ago: 24h, 2024-05-01...")] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
) -> dict[str, Any]:
    with ctx.track():
        page = ctx.kit.audit.query_page(since, until, event_type, user_id, status, action or None,
                                        resource, operation_id, limit, cursor=cursor)
        return page.to_dict()


@router.get("/audit/events/{event_id}", tags=["audit"],
            summary="One event with its correlated events, operation timeline and causation chain")
def audit_event(ctx: Admin, event_id: Annotated[str, Field(max_length=128)],
                window: Annotated[float, Query(gt=0, le=86400)] = 300) -> dict[str, Any]:
    with ctx.track():
        note(resource=event_id)
        event = ctx.kit.audit.get_event(event_id)
        correlator = ctx.kit.correlator
        return {
            "event": event.to_dict(),
            "correlated": [c.to_dict() for c in correlator.correlate_events(event.event_id, time_window=window)],
            "timeline": correlator.reconstruct_timeline(event.operation_id) if event.operation_id else None,
            "causation": correlator.analyze_causation(event_id),
        }


# ---- analytics ------------------------------------------------------------------------------------

@router.get("/analytics/patterns", tags=["analytics"], summary="Detected patterns, with a chart by type")
def analytics_patterns(ctx: Admin, hours: Hours = 24,
                       confidence: Annotated[float, Query(ge=0, le=1)] = 0.7) -> dict[str, Any]:
    with ctx.track():
        patterns = ctx.kit.analytics.analyze_patterns(hours=hours, confidence=confidence)
        rows = [p if isinstance(p, dict) else p.to_dict() for p in patterns]
        by_type: dict[str, float] = {}
        for p in rows:
            by_type[p["pattern_type"]] = by_type.get(p["pattern_type"], 0) + 1
        chart = board(ctx).charts.generate_bar_chart(_cfg("patterns_by_type", "bar", "Patterns by type"),
                                                     by_type).to_dict() if by_type else None
        return {"hours": hours, "confidence": confidence, "patterns": rows, "chart": chart}


@router.get("/analytics/anomalies", tags=["analytics"], summary="Anomalies, with a deviation chart")
def analytics_anomalies(ctx: Admin, threshold: Annotated[float, Query(gt=0, le=100)] = 2.0,
                        days: Annotated[int, Query(ge=1, le=365)] = 7) -> dict[str, Any]:
    with ctx.track():
        anomalies = ctx.kit.analytics.detect_anomalies(threshold=threshold, days=days)
        rows = [a if isinstance(a, dict) else a.to_dict() for a in anomalies]
        series: dict[str, list] = {}
        for a in rows:
            series.setdefault(a["anomaly_type"], []).append((a["timestamp"], a["deviation_score"]))
        chart = board(ctx).charts.generate_scatter_chart(
            _cfg("anomalies", "scatter", "Anomaly deviation over time"), series).to_dict() if series else None
        return {"threshold": threshold, "days": days, "anomalies": rows, "chart": chart}


@router.get("/analytics/compliance", tags=["analytics"], summary="Compliance score against a shipped policy")
def analytics_compliance(ctx: Admin, hours: Hours = 24 * 7,
                         policy: Literal["baseline", "strict"] = "baseline") -> dict[str, Any]:
    with ctx.track():
        score = ctx.kit.analytics.get_compliance_score(policy, hours=hours)
        score = score if isinstance(score, dict) else score.to_dict()
        return {"hours": hours, "compliance": score,
                "dashboard": ctx.kit.visualizer.generate_compliance_dashboard(score)}


@router.get("/analytics/activity", tags=["analytics"], summary="Events over time and by type")
def analytics_activity(ctx: Admin, hours: Hours = 24) -> dict[str, Any]:
    with ctx.track():
        return activity_charts(ctx, hours)


def activity_charts(ctx: RequestContext, hours: float) -> dict[str, Any]:
    import polars as pl

    since = time.time() - hours * 3600
    frame = ctx.kit.audit.export_columns(start_time=since)
    step = 60 if hours <= 3 else (300 if hours <= 24 else 3600)
    charts = board(ctx).charts
    if frame.height == 0:
        return {"hours": hours, "events": 0, "over_time": None, "by_type": None}
    counts = (frame.with_columns(((pl.col("timestamp") // step) * step).alias("bucket"))
              .group_by("bucket", "event_type").len().sort("bucket"))
    series: dict[str, list] = {}
    for bucket, event_type, n in counts.iter_rows():
        series.setdefault(event_type, []).append((bucket, n))
    by_type = {t: n for t, n in frame.group_by("event_type").len().sort("len", descending=True).iter_rows()}
    return {
        "hours": hours, "events": frame.height,
        "over_time": charts.generate_time_series_chart(_cfg("events_over_time", "time_series", "Events over time"),
                                                       series, interval=step, aggregation="sum").to_dict(),
        "by_type": charts.generate_pie_chart(_cfg("events_by_type", "pie", "Events by type"), by_type).to_dict(),
    }


def _cfg(chart_id: str, chart_type: str, title: str):
    from ..dashboard.charts import ChartConfig

    return ChartConfig(chart_id, chart_type, title)


# ---- performance ---------------------------------------------------------------------------------

@router.get("/performance", tags=["performance"],
            summary="Latency and throughput per operation, cache statistics, bottlenecks, resources")
def performance(ctx: Reader, timeframe: Literal["1h", "24h", "7d"] = "1h") -> dict[str, Any]:
    with ctx.track():
        monitor = ctx.kit.monitor
        per_op = monitor.get_metrics(None, timeframe=timeframe)["operations"]
        busiest = sorted(per_op.values(), key=lambda m: -m["count"])[:12]
        charts = board(ctx).charts
        latency = {f"p{q}": {m["operation"]: m[f"p{q}_ms"] for m in busiest} for q in (50, 95, 99)}
        throughput = {m["operation"]: m["throughput_per_s"] for m in busiest}
        usage = monitor.get_resource_usage(0.1)
        return {
            "timeframe": timeframe,
            "operations": busiest,
            "latency_chart": charts.generate_bar_chart(
                _cfg("latency", "bar", "Latency by operation (ms)"), latency).to_dict() if busiest else None,
            "throughput_chart": charts.generate_bar_chart(
                _cfg("throughput", "bar", "Throughput (operations/s)"), throughput).to_dict() if busiest else None,
            "cache": ctx.kit.cache.get_statistics(),
            "bottlenecks": monitor.detect_bottlenecks(timeframe=timeframe, usage=usage),
            "resources": usage,
        }


# ---- wizards -----------------------------------------------------------------------------------

WizardId = Annotated[str, Field(max_length=64)]


class WizardAnswers(BaseModel):
    answers: dict[str, Any] = Field(default_factory=dict)
    template: str | None = Field(None, max_length=128)


class WizardStepAnswers(WizardAnswers):
    step: int = Field(ge=0, le=20)


@router.get("/wizards", tags=["wizards"], summary="Configuration wizards")
def wizards(ctx: Admin) -> list[dict[str, Any]]:
    with ctx.track():
        return board(ctx).wizards.list_wizards()


@router.get("/wizards/{wizard_id}", tags=["wizards"], summary="A wizard's steps and fields")
def wizard(ctx: Admin, wizard_id: WizardId,
           template: Annotated[str | None, Query(max_length=128)] = None) -> dict[str, Any]:
    return board(ctx).describe_wizard(wizard_id, _library_template(template))


@router.post("/wizards/{wizard_id}/validate", tags=["wizards"], summary="Validate one step's answers")
def wizard_validate(ctx: Admin, wizard_id: WizardId, body: WizardStepAnswers) -> dict[str, Any]:
    return board(ctx).validate_wizard_step(wizard_id, body.step, body.answers, _library_template(body.template))


@router.post("/wizards/{wizard_id}/apply", tags=["wizards"], summary="Validate every step and apply")
def wizard_apply(ctx: Admin, wizard_id: WizardId, body: WizardAnswers) -> dict[str, Any]:
    return board(ctx).run_wizard(wizard_id, _library_template(body.template), body.answers,
                                 interactive=False)  # applies unless the answers say apply: false


def _library_template(name: str | None) -> str | None:
    # Over HTTP only library templates: a path or file name would read server-side files.
    if name is not None and ("/" in name or "\\" in name or name.startswith(".")
                             or name.lower().endswith((".json", ".yaml", ".yml"))):
        raise InvalidInput("template must be the name of a library template")
    return name or None


# ---- storage backends and replication -----------------------------------------------------
# Per-backend calls go through the anyio storage controllers; each is one Kit operation.

BackendName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class ReplicateRequest(BaseModel):
    cid: str = Field(min_length=1, max_length=4096)


class SyncRequest(BaseModel):
    cids: list[Annotated[str, Field(min_length=1, max_length=4096)]] | None = Field(None, max_length=10000)
    wait: float = Field(0, ge=0, le=300, description="Keep retrying for up to this many seconds.")
    force: bool = False


@router.get("/backends", tags=["backends"], summary="Configured backends (secrets redacted)")
def backends_list(ctx: Reader) -> list[dict[str, Any]]:
    return ctx.kit.backend_list()


@router.get("/backends/health", tags=["backends"], summary="Health of every configured backend")
def backends_health(ctx: Reader) -> dict[str, Any]:
    return ctx.kit.backend_health()


@router.post("/backends/{name}/test", tags=["backends"], summary="Probe one backend")
async def backend_test(ctx: Reader, name: BackendName) -> dict[str, Any]:
    return await controller_for(ctx.kit, name).health()


@router.get("/backends/{name}/dags", tags=["backends"], summary="Roots of the DAGs a backend holds")
async def backend_dags(ctx: Reader, name: BackendName) -> list[str]:
    return await controller_for(ctx.kit, name).list()


@router.post("/backends/{name}/replicate", tags=["backends"], summary="Copy a DAG to one backend now")
async def backend_replicate(ctx: Writer, name: BackendName, body: ReplicateRequest) -> dict[str, Any]:
    status = await controller_for(ctx.kit, name).replicate(body.cid)
    return {"cid": body.cid, "backend": name, "status": status}


@router.get("/replication", tags=["backends"], summary="Replication status per CID and backend")
def replication_status(ctx: Reader, cid: Annotated[str | None, Query(max_length=4096)] = None,
                       backend: Annotated[str | None, Query(max_length=64)] = None,
                       status: Literal["queued", "pinning", "pinned", "failed"] | None = None) -> dict[str, Any]:
    return ctx.kit.backend_status(cid, backend, status)


@router.post("/replication/sync", tags=["backends"], summary="Retry queued and failed copies")
def replication_sync(ctx: Writer, body: SyncRequest) -> dict[str, Any]:
    return ctx.kit.backend_sync(body.cids, wait=body.wait, force=body.force)
