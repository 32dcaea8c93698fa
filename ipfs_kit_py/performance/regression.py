"""Is an operation slower than its baseline? A one-sided Mann-Whitney U test.

Latency samples are skewed and heavy-tailed, so a rank test is used rather
than a t-test, and "regressed" needs both statistical evidence (small p) and
a practical effect (p50 or p95 at least ``min_ratio`` times the baseline):
with thousands of samples a 1% slowdown is "significant" but not a problem,
and with a handful of samples no verdict is given at all.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MIN_SAMPLES = 20


def mann_whitney_greater(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """U statistic of ``x`` and the one-sided p-value for "x tends to be larger than y".

    Normal approximation with tie correction and continuity correction; ties
    count one half. Good for n >= ~20 per side, which callers enforce.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples must be non-empty")
    combined = np.concatenate([x, y])
    _, inverse, counts = np.unique(combined, return_inverse=True, return_counts=True)
    # average 1-based rank of each distinct value
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0
    ranks = average_rank[inverse]
    u = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2.0)
    n = n1 + n2
    tie_term = float(np.sum(counts.astype(float) ** 3 - counts)) / (n * (n - 1)) if n > 1 else 0.0
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term)
    if variance <= 0:  # every value identical: no evidence either way
        return u, 0.5 if n1 and n2 else 1.0
    z = (u - n1 * n2 / 2.0 - 0.5) / math.sqrt(variance)
    return u, 0.5 * math.erfc(z / math.sqrt(2.0))


def compare(current: np.ndarray, baseline: np.ndarray, *, alpha: float = 0.01,
            min_ratio: float = 1.2) -> dict[str, Any]:
    """Verdict on ``current`` durations against ``baseline`` durations."""
    current = np.asarray(current, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    out: dict[str, Any] = {
        "current_count": int(len(current)),
        "baseline_count": int(len(baseline)),
        "regressed": False,
        "p_value": None,
        "p50_ratio": None,
        "p95_ratio": None,
    }
    if len(current) < MIN_SAMPLES or len(baseline) < MIN_SAMPLES:
        out["reason"] = (f"not enough samples for a verdict (current {len(current)}, baseline "
                         f"{len(baseline)}; need {MIN_SAMPLES} each)")
        return out
    cur50, cur95 = np.percentile(current, [50, 95])
    base50, base95 = np.percentile(baseline, [50, 95])
    p50_ratio = float(cur50 / base50) if base50 > 0 else math.inf
    p95_ratio = float(cur95 / base95) if base95 > 0 else math.inf
    _, p = mann_whitney_greater(current, baseline)
    regressed = p < alpha and max(p50_ratio, p95_ratio) >= min_ratio
    out.update(p_value=p, p50_ratio=round(p50_ratio, 3), p95_ratio=round(p95_ratio, 3), regressed=regressed,
               current_p50_ms=float(cur50), current_p95_ms=float(cur95),
               baseline_p50_ms=float(base50), baseline_p95_ms=float(base95))
    out["reason"] = (
        f"p95 {cur95:.3f} ms vs baseline {base95:.3f} ms ({p95_ratio:.2f}x), p50 {p50_ratio:.2f}x, "
        f"Mann-Whitney p={p:.2g}, n={len(current)}/{len(baseline)}"
    )
    return out
