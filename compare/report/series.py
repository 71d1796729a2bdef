"""Per-interval series from per-request records: offered load, latency percentiles, cold starts, errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..platforms.base import OK, RunRecords


@dataclass(frozen=True)
class Series:
    start_s: np.ndarray
    offered_per_s: np.ndarray
    p50_ms: np.ndarray
    p99_ms: np.ndarray
    cold_starts: np.ndarray
    errors: np.ndarray


def binned(run: RunRecords, bin_s: float) -> Series:
    if run.arrival_s.size == 0:
        empty = np.empty(0)
        return Series(empty, empty, empty, empty, empty, empty)
    edges = np.arange(0.0, float(run.arrival_s.max()) + bin_s, bin_s)
    index = np.clip(np.digitize(run.arrival_s, edges) - 1, 0, edges.size - 1)
    count = np.bincount(index, minlength=edges.size).astype(float)
    ok = run.status == OK
    p50, p99 = np.full(edges.size, np.nan), np.full(edges.size, np.nan)
    order = np.argsort(index[ok], kind="stable")
    latency_ms, bins = run.latency_s[ok][order] * 1000, index[ok][order]
    bounds = np.searchsorted(bins, np.arange(edges.size + 1))
    for b in range(edges.size):
        chunk = latency_ms[bounds[b] : bounds[b + 1]]
        if chunk.size:
            p50[b], p99[b] = np.percentile(chunk, [50, 99])
    return Series(
        start_s=edges,
        offered_per_s=count / bin_s,
        p50_ms=p50,
        p99_ms=p99,
        cold_starts=np.bincount(index, weights=run.cold.astype(float), minlength=edges.size),
        errors=np.bincount(index, weights=(~ok).astype(float), minlength=edges.size),
    )
