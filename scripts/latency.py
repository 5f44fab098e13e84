"""Latency summaries shared by the benchmarks: nearest-rank percentiles, p50/p90/p99/max/mean in ms."""

from __future__ import annotations

import statistics


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (`share` in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def summary(values: list[float], digits: int = 2) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds, rounded to `digits`."""
    return {"p50": round(percentile(values, 0.50), digits), "p90": round(percentile(values, 0.90), digits),
            "p99": round(percentile(values, 0.99), digits), "max": round(max(values), digits),
            "mean": round(statistics.fmean(values), digits)}
