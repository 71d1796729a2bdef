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

Saturation is a closed-loop burst through the same driver: every arrival at time 0 and at most
`connections` in flight, so each answer lets the next request go (the driver marks such a run
driver-bound, as its schedule lag is the point; only its throughput is read). Its CPU utilisation
says whether the burst saturated the server (about 1) or the driver. That burst overstates what
Poisson arrivals can use: with 32 in flight the loop reads and answers many requests a turn, and
CPU per request falls well below what a request costs arriving on its own. The load levels are
therefore fractions of the open-loop capacity (`open_capacity`): the Poisson rate at which the
process's CPU reaches OPEN_LOOP_TARGET of its core. Each Poisson probe's CPU per request gives an
estimate of it; CPU per request still falls as the rate rises, so an estimate from a probe well
below it overshoots, and it is accepted only once a probe run at it (or just below) kept the
worker under SATURATED with the driver on schedule. A probe that saturates the worker or leaves
the driver behind steps the next one down (`next_probe`); at most MAX_PROBES run. Where the
driver fell behind a probe, the levels are also capped at the highest rate it held, and the
record says so; where it fell behind before any probe could vouch for an estimate, the last held
probe's estimate stands unvouched (`accepted` None). Calibrate and validate start alike
(`measured_capacity`).

Each calibrated level runs compare/core_speed.py's probe beside the driver, watching the server's
main thread: its latency pairs are the requests the machine ran at full speed throughout, and its
`work_share` the share of the server's run time that was full-speed work (recorded, not applied).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .calibration import LoadLevel, ServerLoad
from .core_speed import full_speed, probe
from .load import LAG_THRESHOLD_MS, LoadPlan, RequestRecord, drive_plan, summarize
from .platforms.base import OK
from .processes import Server, cpu_seconds

SERVER_CPU, LOAD_CPU = 0, 1  # the server on one core, the driver on the other (as the benchmark has it)
LEVELS = (0.1, 0.3, 0.6, 0.9)  # calibrated fractions of the open-loop capacity; validate runs others (25, 50, 80 %)
ACCESS_LOGGER = "predict.access: "  # the access log's lines on stderr: "INFO predict.access: {...}"
MAX_SAMPLES = 2000  # per level: enough for the percentiles, small enough for the record
BURST_CONNECTIONS = 32
OPEN_LOOP_TARGET = 0.95  # the worker's CPU at open-loop capacity: below 1, where a Poisson queue is still stable
FIRST_PROBE = 0.5  # the first open-loop probe's rate, as a fraction of the burst's throughput
# Each probe's Poisson arrivals. Not shorter: the cores here slow down for 20-100 ms now and then, and one such
# episode moves a short probe's utilisation by a few hundredths, as much as the band a probe is accepted in.
PROBE_S = 3.0
MAX_PROBES = 5
SATURATED = 0.97  # a probe's utilisation at which the worker is taken as saturated: the rate is above its capacity
NEAR = 0.05  # a probe vouches for an estimate at most this far above its own rate
STEP_DOWN = 0.9  # the next probe after one that failed: at most this share of the failed rate
# A probe the driver sent more than this late (p99) counts as not held: its late arrivals go out in bunches, the
# loop answers a bunch a turn, and CPU per request comes out low (one run: 0.18 ms in a probe at 4,157/s held to
# 10 ms, 0.25 ms over 5 s at the same rate), so the capacity it gives is too high. Not lower than 3 ms: the
# driver's own floor is a lag p99 of 1.7-1.9 ms at 2,000-3,000 requests/s (its timers tick in whole
# milliseconds), and at 2 ms a quiet run refused a 2,044/s probe and capped the levels at 1,022/s.
PROBE_LAG_MS = 3.0


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


def core_times(cpu: int | None) -> tuple[float, float] | None:
    """Seconds core `cpu` has worked on any task since boot (/proc/stat: user, nice, system, irq, softirq), and
    the seconds the hypervisor gave its time to others while it had work (steal); None where unknown (no
    pinning, no /proc)."""
    if cpu is None:
        return None
    try:
        text = Path("/proc/stat").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, *fields = line.split()
        if name == f"cpu{cpu}":
            user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
            tick = os.sysconf("SC_CLK_TCK")
            return (user + nice + system + irq + softirq) / tick, steal / tick
    return None


class OtherWork:
    """What others did on a core over a stretch, in cores: `other`, other tasks (other sessions' tests, the
    system), the core's busy time less what `own` says our processes on it used; `stolen`, time the hypervisor
    ran other machines while this core had work. The simulated pod has its core to itself, so both are load
    the model cannot see; the server's preemptions say how often it was in the way."""

    def __init__(self, cpu: int | None, own: Callable[[], float]) -> None:
        self.cpu, self.own = cpu, own
        self.times, self.own_s, self.started = core_times(cpu), own(), time.perf_counter()

    def cores(self) -> dict[str, float] | None:
        times, wall = core_times(self.cpu), time.perf_counter() - self.started
        if times is None or self.times is None or wall <= 0:
            return None
        busy, stolen = (after - before for after, before in zip(times, self.times, strict=True))
        return {"other": round(max(0.0, busy - (self.own() - self.own_s)) / wall, 4),
                "stolen": round(stolen / wall, 4)}  # fmt: skip


def other_work_cores(
    on_measured: dict[str, float] | None, on_driver: dict[str, float] | None
) -> dict[str, dict[str, float] | None]:
    """Others' work (other tasks, the hypervisor's steal), in cores, on the measured process's core and on the
    driver's over a window, as calibrate's and validate's records hold it (older calibration records name the
    measured core "server_core"; they load as they are, the dict read by its values)."""
    return {"measured_core": on_measured, "driver_core": on_driver}


def pinned_cpu(pid: int) -> int | None:
    """The one core a process is pinned to, if it is."""
    allowed = os.sched_getaffinity(pid) if hasattr(os, "sched_getaffinity") else set()
    return next(iter(allowed)) if len(allowed) == 1 else None


@dataclass(frozen=True)
class Window:
    """One driven run against the server: its records, and the process's CPU over it."""

    records: list[RequestRecord]
    cpu_s: float  # CPU seconds over the whole drive_plan call
    wall_s: float  # the whole call
    span_s: float  # the schedule's start to the last answer (the driver's clock)
    driver_bound: bool
    in_process_s: dict[str, float]  # request id -> the access log's latency
    started_at: float  # the driver's schedule start, time.monotonic(): the records' sent_s count from it
    # Other tasks' work on the server's and the driver's cores over the window, in cores (None: unknown).
    other_work: tuple[dict[str, float] | None, dict[str, float] | None] = (None, None)

    @property
    def ok(self) -> list[RequestRecord]:
        return [r for r in self.records if r.status == OK]

    def other_work_cores(self) -> dict[str, dict[str, float] | None]:
        return other_work_cores(*self.other_work)

    def utilisation(self, idle_cores: float) -> float:
        """CPU seconds per second while the load lasted: the idle share outside the span taken out."""
        return max(0.0, self.cpu_s - idle_cores * max(0.0, self.wall_s - self.span_s)) / self.span_s


def drive_window(
    server: Server,
    log: LogReader,
    plan: LoadPlan,
    driver_cpu: int | None,
    lag_threshold_ms: float = LAG_THRESHOLD_MS,
    *,
    also_ours: int | None = None,
) -> Window:
    """`plan` against the server from `driver_cpu`; driver-bound where its schedule lag p99 passes the threshold.
    `also_ours`: a process of ours on the driver's core (the speed probe), whose CPU is not another task's."""
    log.skip()
    pid = server.process.pid

    def on_driver_core() -> float:  # the driver runs in this process (one worker)
        return time.process_time() + (cpu_seconds(also_ours) if also_ours else 0.0)

    with on_cpu(driver_cpu):
        on_server = OtherWork(pinned_cpu(pid), lambda: cpu_seconds(pid))
        on_driver = OtherWork(driver_cpu, on_driver_core)
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        run = drive_plan(plan)
        wall, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu_before
        other = (on_server.cores(), on_driver.cores())
    records = run.records
    span = max((r.sent_s + r.latency_s for r in records), default=0.0)
    if span <= 0:
        raise RuntimeError(f"the load run against {server.url} recorded no answered request")
    bound = bool(summarize(records, lag_threshold_ms, unsent=run.unsent)["driver_bound"])
    return Window(records, cpu, wall, span, bound, access_latencies(log.new_text()), run.started_at, other)


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


@dataclass(frozen=True)
class Probe:
    """One open-loop probe's outcome: its offered rate, the worker's CPU utilisation over it, the rate at which
    its CPU per request would put the core at OPEN_LOOP_TARGET (never above the burst), and whether the driver
    fell behind its schedule."""

    rate: float
    utilisation: float
    estimate: float
    driver_bound: bool

    @classmethod
    def of(
        cls, rate: float, utilisation: float, achieved: float, *, idle: float, burst_per_s: float, driver_bound: bool
    ) -> Probe:
        # The server's CPU per request is its own even where the driver fell behind (it served what came).
        per_request = max(1e-6, utilisation - idle) / achieved
        return cls(rate, utilisation, min(burst_per_s, (OPEN_LOOP_TARGET - idle) / per_request), driver_bound)

    @property
    def failed(self) -> bool:
        """Too fast to be the capacity: the worker saturated, or the driver could not keep the schedule."""
        return self.driver_bound or self.utilisation >= SATURATED

    @property
    def near(self) -> bool:
        """Run at, or just below, the rate it estimates: far below, its CPU per request is too high an answer
        (the loop answers more per turn as the rate rises), so its estimate overshoots."""
        return self.estimate <= self.rate * (1 + NEAR)


@dataclass(frozen=True)
class OpenCapacity:
    """What a worker sustains under Poisson arrivals, and the highest rate the load driver held if it fell behind."""

    per_s: float  # the rate at which the process's CPU reaches OPEN_LOOP_TARGET of its core
    outcomes: tuple[Probe, ...]  # every probe, in the order run
    driver_held_per_s: float | None  # None: the driver held every probe; else the highest rate it held
    # The probe that vouches for per_s (held, below SATURATED, at or just below it); None: none could (the driver
    # fell behind below it) or none did within MAX_PROBES.
    accepted: int | None

    @property
    def probes(self) -> tuple[tuple[float, float], ...]:
        """(offered rate, CPU utilisation) of each probe."""
        return tuple((p.rate, p.utilisation) for p in self.outcomes)

    def rate(self, fraction: float) -> float:
        """A load level's rate: `fraction` of the capacity, no more than the driver holds."""
        rate = fraction * self.per_s
        return rate if self.driver_held_per_s is None else min(rate, self.driver_held_per_s)


@dataclass(frozen=True)
class Verdict:
    """Where the probes settled: the capacity, and the probe that vouches for it."""

    per_s: float
    accepted: int | None  # held below SATURATED at or just below per_s; None: the driver's limit came first, or none


def next_probe(probes: Sequence[Probe], burst_per_s: float) -> float | Verdict:
    """After `probes`, the next probe's rate, or where they settled. The last probe is accepted where it held,
    stayed below SATURATED and ran at or just below its own estimate, which is the capacity (its own rate where
    that estimate reaches a rate that failed). Otherwise the next probe runs at its estimate, at most STEP_DOWN
    of the lowest rate that failed. Where that is no more than NEAR above the fastest probe that held, the probes
    have met: below a saturated probe, the held one is accepted at its own rate; below one the driver fell
    behind, the capacity is the held probe's estimate, vouched for by no probe (the levels are capped at the
    driver's rate anyway). A failure is never given a second chance: the machine's speed drifts, and the levels
    run later, so of two samples at a rate the worse is the one to plan on."""
    last = probes[-1]
    saturated = min((p.rate for p in probes if p.utilisation >= SATURATED), default=math.inf)
    failed = min((p.rate for p in probes if p.failed), default=math.inf)
    if not last.failed and last.near:
        return Verdict(last.estimate if last.estimate < failed else last.rate, len(probes) - 1)
    rate = min(last.estimate, burst_per_s, STEP_DOWN * failed)
    best = max((i for i, p in enumerate(probes) if not p.failed), key=lambda i: probes[i].rate, default=None)
    if best is None or rate > probes[best].rate * (1 + NEAR):
        return rate
    if saturated <= failed:
        return Verdict(probes[best].rate, best)
    return Verdict(max(probes[best].rate, min(probes[best].estimate, STEP_DOWN * saturated)), None)


def settle(probes: Sequence[Probe]) -> Verdict:
    """Out of probes without a verdict: the fastest probe that held, at its own rate (or its estimate if lower);
    with none, STEP_DOWN of the slowest probe, vouched for by none."""
    held = [i for i, p in enumerate(probes) if not p.failed]
    if held:
        best = max(held, key=lambda i: probes[i].rate)
        return Verdict(min(probes[best].rate, probes[best].estimate), best)
    return Verdict(STEP_DOWN * min(p.rate for p in probes), None)


def open_capacity(
    server: Server, log: LogReader, burst: Capacity, idle: float, driver_cpu: int | None, *, seed: int = 900
) -> OpenCapacity:
    """Poisson probes of PROBE_S each, the first at FIRST_PROBE of the burst's rate, each next one where
    `next_probe` says, until one is accepted or MAX_PROBES have run (then `settle`)."""
    rate = FIRST_PROBE * burst.per_s
    probes: list[Probe] = []
    verdict: Verdict | None = None
    for step in range(MAX_PROBES):
        plan = LoadPlan(url=server.url, arrivals=poisson_arrivals(rate, PROBE_S, seed + step), timeout_s=10.0)
        window = drive_window(server, log, plan, driver_cpu, PROBE_LAG_MS)
        probes.append(Probe.of(rate, window.utilisation(idle), len(window.ok) / window.span_s, idle=idle,
                               burst_per_s=burst.per_s, driver_bound=window.driver_bound))  # fmt: skip
        step_next = next_probe(probes, burst.per_s)
        if isinstance(step_next, Verdict):
            verdict = step_next
            break
        rate = step_next
    verdict = verdict or settle(probes)
    driver_held = None
    if any(p.driver_bound for p in probes):
        driver_held = max((p.rate for p in probes if not p.driver_bound), default=verdict.per_s)
    return OpenCapacity(verdict.per_s, tuple(probes), driver_held, verdict.accepted)


def level(
    server: Server, log: LogReader, rate: float, *, seconds: float, idle: float, driver_cpu: int | None, seed: int
) -> LoadLevel:
    """The server under Poisson arrivals at `rate` for `seconds`: its CPU per request and in-process latencies.
    The latencies are those of requests the machine ran at full speed throughout (compare/core_speed.py): the
    simulation's pod has a core that never slows, and `compare validate` replays the machine's slow moments on
    top, so a pair taken in one would count it twice. The CPU per request is the window's, slow moments and all,
    and beside it the share of that CPU time that was full-speed work (`work_share`, recorded only)."""
    plan = LoadPlan(url=server.url, arrivals=poisson_arrivals(rate, seconds, seed), timeout_s=10.0)
    with probe(driver_cpu, watch=server.process.pid) as machine:
        window = drive_window(server, log, plan, driver_cpu, also_ours=machine.pid)
    speed = machine.speed(window.started_at)
    ok = [r for r in window.ok if r.request_id in window.in_process_s]
    if not ok:
        raise RuntimeError("no answered request matched an access log line (is PREDICT_ACCESS_LOG off?)")
    kept = full_speed(speed, np.array([r.sent_s for r in ok]), np.array([r.sent_s + r.latency_s for r in ok]))
    matched = [(window.in_process_s[r.request_id], r.latency_s) for r, k in zip(ok, kept.tolist(), strict=True) if k]
    rng = np.random.default_rng(seed)
    keep = sorted(rng.choice(len(matched), min(len(matched), MAX_SAMPLES), replace=False).tolist())
    utilisation = window.utilisation(idle)
    achieved = len(window.ok) / window.span_s
    return LoadLevel(
        offered_per_s=rate,
        achieved_per_s=achieved,
        requests=len(window.ok),
        seconds=window.span_s,
        cpu_s_per_request=utilisation / achieved,
        utilisation=utilisation,
        in_process_s=[matched[i][0] for i in keep],
        overhead_s=[max(0.0, matched[i][1] - matched[i][0]) for i in keep],
        driver_bound=window.driver_bound,
        other_work_cores=window.other_work_cores(),
        machine_speed=speed.summary(),
        slow_left_out=int((~kept).sum()),
        work_share=machine.work_share(),
    )


@dataclass(frozen=True)
class Measured:
    """A running server's capacity, as calibrate and validate both start: its idle CPU, the closed-loop burst, and
    the open-loop capacity its load levels are fractions of."""

    idle: float  # cores the idle process uses
    burst: Capacity
    open: OpenCapacity

    def describe(self) -> str:
        probes = ", ".join(f"{p.rate:,.0f}/s at {p.utilisation:.3f}{' (driver behind)' if p.driver_bound else ''}"
                           for p in self.open.outcomes)  # fmt: skip
        accepted = f"probe {self.open.accepted + 1} accepted" if self.open.accepted is not None else "none vouches"
        capped = "" if self.open.driver_held_per_s is None else f", levels capped at {self.open.driver_held_per_s:,.0f}"
        return (f"open-loop capacity {self.open.per_s:,.0f} req/s (probes {probes}: {accepted}{capped}); closed-loop "
                f"burst {self.burst.per_s:,.0f} req/s, its CPU {self.burst.utilisation:.2f} of a core")  # fmt: skip


def measured_capacity(server: Server, log: LogReader, driver_cpu: int | None, *, burst: int) -> Measured:
    """Warm-up, the idle process's CPU, a closed-loop burst of `burst` requests, then the open-loop probes."""
    warm = LoadPlan(url=server.url, arrivals=np.zeros(200), max_requests=200, max_connections=8, timeout_s=30.0)
    drive_window(server, log, warm, driver_cpu)  # warm-up: the first answers pay one-off costs
    idle = idle_cpu_cores(server, 2.0)
    top = capacity(server, log, burst, driver_cpu)
    return Measured(idle, top, open_capacity(server, log, top, idle, driver_cpu))


def server_load(
    server: Server,
    *,
    seconds: float = 5.0,
    burst: int = 6000,
    fractions: Sequence[float] = LEVELS,
    driver_cpu: int | None = None,
    seed: int = 0,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> ServerLoad:
    """The whole server-side calibration against a running (pinned) server."""
    log = LogReader(server)
    measured = measured_capacity(server, log, driver_cpu, burst=burst)
    progress(f"server: {measured.describe()}")
    idle, sustained = measured.idle, measured.open
    levels = [
        level(server, log, sustained.rate(fraction), seconds=seconds, idle=idle, driver_cpu=driver_cpu, seed=seed + i)
        for i, fraction in enumerate(fractions)
    ]
    return ServerLoad(
        capacity_per_s=measured.burst.per_s,
        capacity_cpu_s_per_request=measured.burst.cpu_s_per_request,
        capacity_utilisation=measured.burst.utilisation,
        capacity_connections=measured.burst.connections,
        idle_cpu_cores=idle,
        open_capacity_per_s=sustained.per_s,
        driver_held_per_s=sustained.driver_held_per_s,
        levels=levels,
    )


def measure_server_load(env: dict[str, str], *, seconds: float = 5.0, burst: int = 6000) -> ServerLoad:
    """A fresh single-worker server pinned to its core, calibrated under load from the other core."""
    from .processes import uvicorn_server

    server_cpu, driver_cpu = cores()
    with uvicorn_server(env, cpu=server_cpu) as server:
        return server_load(server, seconds=seconds, burst=burst, driver_cpu=driver_cpu)
