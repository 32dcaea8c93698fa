"""One status summary for ``ipfs-kit dashboard status``, the overview page and MCP.

The level is the worst of: backends (any unhealthy → warning, all remote ones
down → critical) and findings (a high or critical finding → critical, medium →
warning).
"""

from __future__ import annotations

import os
import time
from typing import Any

import psutil

from .. import __version__
from . import providers

_PROCESS_STARTED = psutil.Process(os.getpid()).create_time()


def status_summary(kit) -> dict[str, Any]:
    now = time.time()
    store = providers.storage(kit)
    head = kit.audit.chain_head()
    health = providers.backend_health(kit)
    healthy = sum(1 for h in health.values() if h.get("healthy"))
    findings = providers.audit_findings(kit, now)
    metrics = providers.operation_summary(kit)
    severities = {f["severity"] for f in findings}

    level, reasons = "ok", []
    if healthy < len(health):
        down = [name for name, h in health.items() if not h.get("healthy")]
        level = "critical" if healthy <= 1 and len(health) > 1 else "warning"
        reasons.append(f"backend(s) down: {', '.join(down)}")
    if severities & {"critical", "high"}:
        level = "critical"
        reasons.append("high-severity findings in the last 24h")
    elif "medium" in severities:
        level = "warning" if level == "ok" else level
        reasons.append("findings in the last 24h")

    return {
        "status": level,
        "message": "; ".join(reasons) or "all good",
        "version": __version__,
        "time": now,
        "uptime_seconds": round(now - _PROCESS_STARTED, 1),
        "home": str(kit.settings.home),
        "user": kit.user,
        "role": kit.role,
        "store": store,
        "audit": {"events": head.seq, "head_event_id": head.event_id,
                  "store": "postgresql" if kit.settings.audit_url else "sqlite"},
        "backends": {"healthy": healthy, "total": len(health), "backends": health},
        "findings": {"count": len(findings),
                     "by_severity": {s: sum(1 for f in findings if f["severity"] == s) for s in sorted(severities)}},
        "performance": {"operations_1h": metrics["count"], "failures_1h": metrics["failures"],
                        "success_rate": metrics["success_rate"], "worst_p95_ms": metrics["worst_p95_ms"]},
    }
