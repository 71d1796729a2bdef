"""The open-loop load driver: send a profile's arrivals to a URL on schedule, record every request.

Open loop: each request is sent at its scheduled time whether or not earlier ones have returned,
so a slow server shows up as latency and errors instead of as fewer requests (closed-loop tools,
Locust's users among them, wait for answers and so hide it). Built on asyncio and httpx; the
driver measures its own scheduling lag (actual send time less scheduled time) and reports it.
Bounded: it stops after `max_requests` or `max_seconds`, whichever comes first, and gives each
request at most `timeout_s`.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np

from .platforms.base import OK, RunRecords

IRIS_BODY = b'{"features": [5.1, 3.5, 1.4, 0.2]}'
CLIENT_ERROR = 0  # no HTTP answer: connection refused, reset or timed out


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
    max_connections: int = 512


async def _send(client: httpx.AsyncClient, plan: LoadPlan, scheduled: float, start: float) -> RequestRecord:
    sent = time.perf_counter() - start
    try:
        response = await client.post(plan.path, content=plan.body, headers={"content-type": "application/json"})
    except httpx.HTTPError:
        return RequestRecord(scheduled, sent, time.perf_counter() - start - sent, CLIENT_ERROR, False, "")
    latency = time.perf_counter() - start - sent
    return RequestRecord(
        scheduled,
        sent,
        latency,
        response.status_code,
        response.headers.get("x-cold-start") == "true",
        response.headers.get("x-request-id", ""),
    )


async def _drive(plan: LoadPlan, progress: bool) -> list[RequestRecord]:
    schedule = plan.arrivals[plan.arrivals < plan.max_seconds][: plan.max_requests].tolist()
    limits = httpx.Limits(max_connections=plan.max_connections, max_keepalive_connections=plan.max_connections)
    timeout = httpx.Timeout(plan.timeout_s)
    async with httpx.AsyncClient(base_url=plan.url, limits=limits, timeout=timeout) as client:
        tasks: list[asyncio.Task[RequestRecord]] = []
        # At most one request per connection inside httpx: its pool scans every waiting request on
        # each event, so an unbounded backlog behind a slow server would eat the driver's CPU. A
        # request held here is sent late, and its lag (sent less scheduled) is what shows it.
        slots = asyncio.Semaphore(plan.max_connections)

        async def send_when_free(scheduled: float) -> RequestRecord:
            async with slots:
                return await _send(client, plan, scheduled, start)

        start = time.perf_counter()
        next_report = 1.0
        for scheduled in schedule:
            delay = scheduled - (time.perf_counter() - start)
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send_when_free(scheduled)))
            if progress and scheduled >= next_report:
                done = sum(t.done() for t in tasks)
                print(f"\r{scheduled:7.0f} s  sent {len(tasks):>8}  answered {done:>8}", end="", file=sys.stderr)
                next_report += 1.0
        records = await asyncio.gather(*tasks)
    if progress:
        print(file=sys.stderr)
    return list(records)


def run_load(plan: LoadPlan, progress: bool = False) -> list[RequestRecord]:
    return asyncio.run(_drive(plan, progress))


def summarize(records: list[RequestRecord]) -> dict[str, float]:
    lag = np.array([r.sent_s - r.scheduled_s for r in records]) if records else np.zeros(1)
    ok = np.array([r.latency_s for r in records if r.status == OK])
    p50, p95, p99 = np.percentile(ok, [50, 95, 99]) * 1000 if ok.size else (np.nan,) * 3
    return {
        "requests": len(records),
        "ok": int(ok.size),
        "errors": len(records) - int(ok.size),
        "cold_starts": sum(r.cold_start for r in records),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "schedule_lag_p50_ms": float(np.percentile(lag, 50) * 1000),
        "schedule_lag_p99_ms": float(np.percentile(lag, 99) * 1000),
        "schedule_lag_max_ms": float(lag.max() * 1000),
    }


def write_run(records: list[RequestRecord], out_dir: Path, meta: dict[str, object]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "requests.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(RequestRecord.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(r) for r in records)
    (out_dir / "summary.json").write_text(json.dumps({**meta, **summarize(records)}, indent=2) + "\n")
    return out_dir


def read_run(out_dir: Path) -> RunRecords:
    """A measured run as the same records a simulation produces, for the report."""
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
    )
