"""What the server itself sees under load: its saturation throughput, and at several open-loop rates
below it the CPU its process uses per request and each request's in-process latency.

The server (`python -m predict serve`, one worker) runs pinned to one core and the load driver
(compare/load.py) to the other, this process moved there while it drives. CPU is the process's own
accounting, /proc/PID/stat's utime + stime (all its threads), read before and after each window.
A window is the driver's run; the server idles (`idle_cpu_cores`, measured first) while the driver
sets up and after the last answer, so that share is taken out and the rest divided by the span from
the schedule's start to the last answer. In-process latency is the app's access log line
(`latency_ms`: arrival at the middleware to response start), read from the server's stderr and
matched to the driver's records by x-request-id; the rest of the driver's latency is the overhead
(client, loopback, uvicorn's parsing and writing).

Capacity is a closed-loop burst through the same driver: every arrival at time 0 and at most
`connections` in flight, so each answer lets the next request go (the driver marks such a run
driver-bound, as its schedule lag is the point; only its throughput is read). Its CPU utilisation
says whether the burst saturated the server (about 1) or the driver.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .calibration import LoadLevel, ServerLoad
from .load import LoadPlan, RequestRecord, drive_plan, summarize
from .platforms.base import OK
from .processes import Server, cpu_seconds

SERVER_CPU, LOAD_CPU = 0, 1  # the server on one core, the driver on the other (as the benchmark has it)
LEVELS = (0.1, 0.3, 0.6, 0.9)  # calibrated fractions of capacity; validate runs others (25, 50, 80 %)
ACCESS_LOGGER = "predict.access: "  # the access log's lines on stderr: "INFO predict.access: {...}"
MAX_SAMPLES = 2000  # per level: enough for the percentiles, small enough for the record
BURST_CONNECTIONS = 32


def cores() -> tuple[int | None, int | None]:
    """(server CPU, driver CPU) where this machine has two cores to give, else no pinning."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(allowed) < 2:
        return None, None
    return allowed[SERVER_CPU], allowed[LOAD_CPU]


@contextmanager
def on_cpu(cpu: int | None) -> Iterator[None]:
    """This thread (the driver's loop runs in it) on `cpu` for the block, and the threads it starts meanwhile;
    its affinity restored after."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def access_latencies(log_text: str) -> dict[str, float]:
    """Request id -> in-process seconds, from the server's access log lines for answered POST /predict."""
    latencies: dict[str, float] = {}
    for line in log_text.splitlines():
        _, found, payload = line.partition(ACCESS_LOGGER)
        if not found:
            continue
        try:
            record = json.loads(payload)
        except ValueError:
            continue
        if record.get("route") == "/predict" and record.get("status") == OK and "latency_ms" in record:
            latencies[str(record["request_id"])] = float(record["latency_ms"]) / 1000
    return latencies


class LogReader:
    """The server's stderr from where the last read stopped (its log is a file this process holds)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.offset = 0

    def skip(self) -> None:
        self.server.log.seek(0, os.SEEK_END)
        self.offset = self.server.log.tell()

    def new_text(self) -> str:
        self.server.log.seek(self.offset)
        data = self.server.log.read()
        self.offset += len(data)
        return data.decode(errors="replace")


@dataclass(frozen=True)
class Window:
    """One driven run against the server: its records, and the process's CPU over it."""

    records: list[RequestRecord]
    cpu_s: float  # CPU seconds over the whole drive_plan call
    wall_s: float  # the whole call
    span_s: float  # the schedule's start to the last answer (the driver's clock)
    driver_bound: bool
    in_process_s: dict[str, float]  # request id -> the access log's latency

    @property
    def ok(self) -> list[RequestRecord]:
        return [r for r in self.records if r.status == OK]

    def utilisation(self, idle_cores: float) -> float:
        """CPU seconds per second while the load lasted: the idle share outside the span taken out."""
        return max(0.0, self.cpu_s - idle_cores * max(0.0, self.wall_s - self.span_s)) / self.span_s


def drive_window(server: Server, log: LogReader, plan: LoadPlan, driver_cpu: int | None) -> Window:
    log.skip()
    with on_cpu(driver_cpu):
        cpu_before, started = cpu_seconds(server.process.pid), time.perf_counter()
        run = drive_plan(plan)
        wall, cpu = time.perf_counter() - started, cpu_seconds(server.process.pid) - cpu_before
    records = run.records
    span = max((r.sent_s + r.latency_s for r in records), default=0.0)
    if span <= 0:
        raise RuntimeError(f"the load run against {server.url} recorded no answered request")
    bound = bool(summarize(records, unsent=run.unsent)["driver_bound"])
    return Window(records, cpu, wall, span, bound, access_latencies(log.new_text()))


def idle_cpu_cores(server: Server, seconds: float) -> float:
    before = cpu_seconds(server.process.pid)
    time.sleep(seconds)
    return (cpu_seconds(server.process.pid) - before) / seconds


def poisson_arrivals(rate: float, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate, int(rate * seconds * 1.5) + 10)
    times = np.cumsum(gaps)
    return times[times < seconds]


@dataclass(frozen=True)
class Capacity:
    per_s: float
    cpu_s_per_request: float
    utilisation: float
    connections: int


def capacity(server: Server, log: LogReader, requests: int, driver_cpu: int | None) -> Capacity:
    """Saturation throughput: `requests` at time 0, at most BURST_CONNECTIONS in flight (closed loop)."""
    plan = LoadPlan(url=server.url, arrivals=np.zeros(requests), max_requests=requests,
                    max_connections=BURST_CONNECTIONS, timeout_s=30.0)  # fmt: skip
    window = drive_window(server, log, plan, driver_cpu)
    ok = window.ok
    if len(ok) < requests * 0.99:
        raise RuntimeError(f"the capacity burst had {requests - len(ok)} failed requests of {requests}")
    first = min(r.sent_s for r in ok)
    rate = len(ok) / (window.span_s - first)
    per_request = window.cpu_s / len(ok)
    return Capacity(rate, per_request, per_request * rate, BURST_CONNECTIONS)


def level(
    server: Server, log: LogReader, rate: float, *, seconds: float, idle: float, driver_cpu: int | None, seed: int
) -> LoadLevel:
    """The server under Poisson arrivals at `rate` for `seconds`: its CPU per request and in-process latencies."""
    plan = LoadPlan(url=server.url, arrivals=poisson_arrivals(rate, seconds, seed), timeout_s=10.0)
    window = drive_window(server, log, plan, driver_cpu)
    ok = window.ok
    matched = [(window.in_process_s[r.request_id], r.latency_s) for r in ok if r.request_id in window.in_process_s]
    if not matched:
        raise RuntimeError("no answered request matched an access log line (is PREDICT_ACCESS_LOG off?)")
    rng = np.random.default_rng(seed)
    keep = sorted(rng.choice(len(matched), min(len(matched), MAX_SAMPLES), replace=False).tolist())
    utilisation = window.utilisation(idle)
    achieved = len(ok) / window.span_s
    return LoadLevel(
        offered_per_s=rate,
        achieved_per_s=achieved,
        requests=len(ok),
        seconds=window.span_s,
        cpu_s_per_request=utilisation / achieved,
        utilisation=utilisation,
        in_process_s=[matched[i][0] for i in keep],
        overhead_s=[max(0.0, matched[i][1] - matched[i][0]) for i in keep],
        driver_bound=window.driver_bound,
    )


def server_load(
    server: Server,
    *,
    seconds: float = 5.0,
    burst: int = 6000,
    fractions: Sequence[float] = LEVELS,
    driver_cpu: int | None = None,
    seed: int = 0,
) -> ServerLoad:
    """The whole server-side calibration against a running (pinned) server."""
    log = LogReader(server)
    warm = LoadPlan(url=server.url, arrivals=np.zeros(200), max_requests=200, max_connections=8, timeout_s=30.0)
    drive_window(server, log, warm, driver_cpu)  # warm-up: the first answers pay one-off costs
    idle = idle_cpu_cores(server, 2.0)
    top = capacity(server, log, burst, driver_cpu)
    levels = [
        level(server, log, fraction * top.per_s, seconds=seconds, idle=idle, driver_cpu=driver_cpu, seed=seed + i)
        for i, fraction in enumerate(fractions)
    ]
    return ServerLoad(
        capacity_per_s=top.per_s,
        capacity_cpu_s_per_request=top.cpu_s_per_request,
        capacity_utilisation=top.utilisation,
        capacity_connections=top.connections,
        idle_cpu_cores=idle,
        levels=levels,
    )


def measure_server_load(env: dict[str, str], *, seconds: float = 5.0, burst: int = 6000) -> ServerLoad:
    """A fresh single-worker server pinned to its core, calibrated under load from the other core."""
    from .processes import uvicorn_server

    server_cpu, driver_cpu = cores()
    with uvicorn_server(env, cpu=server_cpu) as server:
        return server_load(server, seconds=seconds, burst=burst, driver_cpu=driver_cpu)
