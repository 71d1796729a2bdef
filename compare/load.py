"""The open-loop load driver: send a profile's arrivals to a URL on schedule, record every request.

Open loop: each request is sent at its scheduled time whether or not earlier ones have returned,
so a slow server shows up as latency and errors instead of as fewer requests (closed-loop tools,
Locust's users among them, wait for answers and so hide it). Built on uvloop with a lean HTTP/1.1
client (compare/load_http.py: asyncio Protocols and httptools over keep-alive connections; aiohttp
through a proxy), in one process or several with the arrivals dealt between them (compare/load_driver.py).
On one core of these machines it holds 2,000 and 3,000 requests/s Poisson with a schedule lag p99
of ~2 ms and ~60 us of CPU a request, where httpx fell behind below 300 and aiohttp's lag p99 was
19-46 ms at 2,000. The driver measures its own scheduling lag (actual send time less scheduled time)
and the rate it achieved, and marks a run whose lag p99 passes `lag_threshold_ms` (or that could
not send everything) driver-bound: its latencies are then the driver's, not the server's, and the
summary gives none as the server's.
Bounded: it stops after `max_requests` or `max_seconds` of schedule, whichever comes first, gives
each request at most `timeout_s`, keeps at most `max_connections` requests in flight (beyond that
a request waits, which is lag), and sends nothing later than `timeout_s` after its last arrival.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .load_driver import CLIENT_ERROR, Columns, Job, drive
from .platforms.base import OK, RunRecords

__all__ = ["CLIENT_ERROR", "IRIS_BODY", "LAG_THRESHOLD_MS", "LoadPlan", "RequestRecord", "read_run", "run_load",
           "summarize", "write_run"]  # fmt: skip

IRIS_BODY = b'{"features": [5.1, 3.5, 1.4, 0.2]}'
LAG_THRESHOLD_MS = 10.0  # schedule lag p99 above this: the offered load was the driver's, not the profile's


@dataclass(frozen=True)
class RequestRecord:
    scheduled_s: float
    sent_s: float
    latency_s: float
    status: int
    cold_start: bool
    request_id: str


@dataclass(frozen=True)
class LoadPlan:
    url: str
    arrivals: np.ndarray
    path: str = "/predict"
    body: bytes = IRIS_BODY
    max_requests: int = 100_000
    max_seconds: float = 600.0
    timeout_s: float = 30.0
    max_connections: int = 512  # most requests in flight at once, over all workers
    workers: int = 1  # driver processes; the arrivals are dealt between them

    def schedule(self) -> np.ndarray:
        return np.asarray(self.arrivals[self.arrivals < self.max_seconds][: self.max_requests], dtype=float)


@dataclass(frozen=True)
class LoadRun:
    """What a run sent, and what it could not (scheduled, never sent before its deadline)."""

    records: list[RequestRecord]
    scheduled: int
    held_by_cap: int
    started_at: float = math.nan  # the schedule's start, time.monotonic(): records' sent_s count from it

    @property
    def unsent(self) -> int:
        return self.scheduled - len(self.records)


def _records(columns: Columns) -> list[RequestRecord]:
    return [
        RequestRecord(*row)
        for row in zip(columns.scheduled_s.tolist(), columns.sent_s.tolist(), columns.latency_s.tolist(),
                       columns.status.tolist(), columns.cold_start.tolist(), columns.request_id, strict=True)
    ]  # fmt: skip


def drive_plan(plan: LoadPlan, progress: bool = False) -> LoadRun:
    schedule = plan.schedule()
    last = float(schedule[-1]) if schedule.size else 0.0
    job = Job(
        url=plan.url.rstrip("/") + plan.path,
        body=plan.body,
        scheduled_s=schedule,
        cap=plan.max_connections,
        timeout_s=plan.timeout_s,
        deadline_s=last + plan.timeout_s,
        progress=progress,
    )
    columns = drive(job, plan.workers)
    return LoadRun(_records(columns), int(schedule.size), columns.held_by_cap, columns.started_at)


def run_load(plan: LoadPlan, progress: bool = False) -> list[RequestRecord]:
    return drive_plan(plan, progress).records


def _rate(count: int, last_s: float) -> float:
    return count / last_s if last_s > 0 else math.nan


def summarize(
    records: list[RequestRecord], lag_threshold_ms: float = LAG_THRESHOLD_MS, *, unsent: int = 0
) -> dict[str, Any]:
    """Counts, latency percentiles, schedule lag, asked and achieved rates, and whether the run is driver-bound.

    Rates: requests over the time from the start to the last scheduled (asked) or sent (achieved)
    request. A driver-bound run's latency percentiles are null, and kept as `driver_bound_latency_ms`.
    """
    lag = np.array([r.sent_s - r.scheduled_s for r in records]) if records else np.zeros(1)
    ok = np.array([r.latency_s for r in records if r.status == OK])
    p50, p95, p99 = (float(v) for v in np.percentile(ok, [50, 95, 99]) * 1000) if ok.size else (math.nan,) * 3
    lag_p99 = float(np.percentile(lag, 99) * 1000)
    reasons = []
    if lag_p99 > lag_threshold_ms:
        reasons.append(f"schedule lag p99 {lag_p99:.1f} ms > {lag_threshold_ms:g} ms")
    if unsent:
        reasons.append(f"{unsent} scheduled requests never sent")
    driver_bound = bool(reasons)
    latency: dict[str, float | None] = {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99}
    summary: dict[str, Any] = {
        "requests": len(records),
        "ok": int(ok.size),
        "errors": len(records) - int(ok.size),
        "unsent": unsent,
        "cold_starts": sum(r.cold_start for r in records),
        **(dict.fromkeys(latency) if driver_bound else latency),
        "schedule_lag_p50_ms": float(np.percentile(lag, 50) * 1000),
        "schedule_lag_p99_ms": lag_p99,
        "schedule_lag_max_ms": float(lag.max() * 1000),
        "asked_rate_per_s": _rate(len(records) + unsent, max((r.scheduled_s for r in records), default=0.0)),
        "achieved_rate_per_s": _rate(len(records), max((r.sent_s for r in records), default=0.0)),
        "lag_threshold_ms": lag_threshold_ms,
        "driver_bound": driver_bound,
    }
    if driver_bound:
        summary["driver_bound_reason"] = "; ".join(reasons)
        summary["driver_bound_latency_ms"] = latency  # what the client saw, with the driver's delays in it
    return summary


def write_run(
    records: list[RequestRecord],
    out_dir: Path,
    meta: dict[str, object],
    lag_threshold_ms: float = LAG_THRESHOLD_MS,
    *,
    unsent: int = 0,
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "requests.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(RequestRecord.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(r) for r in records)
    summary = {**meta, **summarize(records, lag_threshold_ms, unsent=unsent)}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return out_dir


def _driver_bound(out_dir: Path) -> bool:
    """From the run's summary.json; a run written before the driver judged itself (no key) is not marked."""
    try:
        return bool(json.loads((out_dir / "summary.json").read_text()).get("driver_bound", False))
    except (OSError, ValueError):
        return False


def read_run(out_dir: Path) -> RunRecords:
    """A measured run as the same records a simulation produces, for the report.

    `extra["driver_bound"]` (1.0 or 0.0, from the run's summary.json) goes into its summary."""
    with (out_dir / "requests.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{out_dir}: the run recorded no requests")
    status = np.array([int(r["status"]) for r in rows], dtype=np.int16)
    latency = np.array([float(r["latency_s"]) for r in rows])
    return RunRecords(
        platform="measured",
        arrival_s=np.array([float(r["scheduled_s"]) for r in rows]),
        latency_s=np.where(status == OK, latency, np.nan),
        status=status,
        cold=np.array([r["cold_start"] == "True" for r in rows]),
        extra={"driver_bound": float(_driver_bound(out_dir))},
    )
