"""`python -m compare validate`: the simulator against a real run of the same configuration.

Server: a real single-worker `python -m predict serve` pinned to one core, its capacity measured
open loop (the Poisson rate at which its CPU reaches 0.95 of its core: compare/server_calibration.py's
open_capacity, after a closed-loop burst that bounds it), then Poisson arrivals at 25, 50 and 80 %
of it from the load driver on the other core, capped at the highest rate the driver held if it
could not hold a probe (the JSON's `levels_capped_by_driver`). The simulator runs the same arrivals
(the driver's actual send times) on one pod without an autoscaler (compare/platforms/k8s.py), from
the calibration's server-side figures (compare/platforms/service.py). Compared: the caller's p50
and p99 (the driver's latency against the simulated wait + in-process latency + overhead) and the
process's CPU utilisation (/proc/PID/stat against simulated busy CPU + the idle share).

Lambda: a fixed pool of real awslambdaric processes against the local Runtime API, fed open-loop by
compare/lambda_pool.py (concurrency = pool size, throttled beyond it as Lambda does), at the same
fractions of the pool's closed-loop capacity; simulated by compare/platforms/lambda_.py with the
pool provisioned and the concurrency limit at its size, from the handler durations and overheads
of the calibration. Its utilisation is the environments' busy share (handler duration over pool
size x wall time), which is what Lambda bills; the processes' CPU is shown beside it.

Each level also runs compare/core_speed.py's probe beside the driver: the machine's speed over the level.
Each entry point is then simulated twice: plain, on a core that never slows (what `simulate` assumes of
a pod or an environment), and replayed at the speed the machine ran (the run's clock mapped to work
time, simulated there, the answers and the busy spans mapped back), so utilisation is the busy spans'
wall time. `all_met` is the plain simulation's verdict, `all_met_at_machine_speed` the replay's.

What it cannot show: Lambda's own scheduling (placement, sandbox start, its front end's routing and
queueing) and a real network between callers and either platform; both are loopback here.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .calibration import Calibration
from .core_speed import FULL_SPEED, CoreSpeed, probe
from .events import load_event, make_event
from .hpa import HPAParams
from .load import LoadPlan
from .measure import batch_body
from .platforms.base import THROTTLED, Constant, Empirical
from .platforms.k8s import K8sConfig, simulate_k8s
from .platforms.lambda_ import LambdaConfig, simulate_lambda
from .platforms.service import ServerService
from .processes import cpu_seconds, involuntary_switches, lambda_pool, uvicorn_server
from .server_calibration import (
    LogReader,
    OtherWork,
    cores,
    drive_window,
    measured_capacity,
    on_cpu,
    other_work_cores,
    poisson_arrivals,
)
from .validation import Figures, Targets, all_met, row

LEVELS = (0.25, 0.5, 0.8)


@dataclass(frozen=True)
class Mode:
    """How long each part runs: the full validation, or the short one `make compare` and the test run."""

    name: str
    seconds: float  # Poisson arrivals at each level
    burst: int  # the server's closed-loop burst (requests)
    pool_burst: int  # the Lambda pool's closed-loop burst (invocations)


FULL = Mode("full", seconds=10.0, burst=20000, pool_burst=3000)
SHORT = Mode("short", seconds=4.0, burst=6000, pool_burst=1000)


def _needs(calibration: Calibration, path: Path) -> tuple[ServerService, tuple[Empirical, Empirical]]:
    service, handler = calibration.server_service(), calibration.lambda_handler()
    if service is None or handler is None:
        raise ValueError(
            f"{path} has no server-side figures (version {calibration.version}, source {calibration.source}): "
            "validate simulates from the server's load levels and Lambda's handler durations; run "
            "`python -m compare calibrate` again"
        )
    return service, handler


def one_pod(service: ServerService) -> K8sConfig:
    """One pod, no autoscaler: the HPA pinned at one replica, the pod's whole core as its request."""
    return K8sConfig(HPAParams(min_replicas=1, max_replicas=1, target_utilization=0.7), cpu_request=1.0,
                     pod_start=Constant(0.0), idle_cpu_cores=service.idle_cpu_cores)  # fmt: skip


def simulate_server(
    service: ServerService, sent_s: np.ndarray, span_s: float, *, seed: int, speed: CoreSpeed = FULL_SPEED
) -> Figures:
    """The arrivals on one pod, replayed at the machine's `speed` (FULL_SPEED: a core that never slows): the run's
    clock mapped to work time, simulated there, the answers and each request's charged CPU mapped back."""
    sent = np.sort(sent_s)
    arrivals = speed.work_time(sent)
    run = simulate_k8s(arrivals, service, one_pod(service), seed)
    latency = speed.wall_time(arrivals + run.latency_s) - sent
    # The CPU each request was charged, from its start, each stretched where the machine was slow then.
    until, cpu = run.per_request["charged_until_s"], run.per_request["charged_cpu_s"]
    busy_s = float(np.nansum(speed.wall_spans(until - cpu, until)))
    return Figures.of(latency, busy_s / span_s + service.idle_cpu_cores)


def simulate_pool(
    handler: tuple[Empirical, Empirical],
    sent_s: np.ndarray,
    size: int,
    span_s: float,
    *,
    seed: int,
    speed: CoreSpeed = FULL_SPEED,
) -> tuple[Figures, float]:
    """The pool as Lambda with `size` provisioned environments and that concurrency limit, replayed at `speed`;
    and its throttled share. An invocation holds its slot from submission to answer, as the pool's dispatcher
    counts it; billed and compared as utilisation is the handler's duration alone."""
    duration, overhead = handler
    config = LambdaConfig(provisioned=size, concurrency_limit=size)
    sent = np.sort(sent_s)
    arrivals = speed.work_time(sent)
    run = simulate_lambda(arrivals, duration, Constant(0.0), config, seed, overhead=overhead,
                          overhead_holds=True)  # fmt: skip
    latency = speed.wall_time(arrivals + run.latency_s) - sent
    busy_s = float(np.sum(speed.wall_spans(arrivals, arrivals + run.per_request["duration_s"])))
    return Figures.of(latency, busy_s / (size * span_s)), float((run.status == THROTTLED).mean())


def validate_server(
    env: dict[str, str], service: ServerService, mode: Mode, progress: Callable[[str], None]
) -> list[dict[str, Any]]:
    server_cpu, driver_cpu = cores()
    rows = []
    with uvicorn_server(env, cpu=server_cpu) as server:
        log = LogReader(server)
        found = measured_capacity(server, log, driver_cpu, burst=mode.burst)
        progress(f"server: {found.describe()}")
        top, idle = found.open, found.idle
        for i, fraction in enumerate(LEVELS):
            rate = top.rate(fraction)
            plan = LoadPlan(url=server.url, arrivals=poisson_arrivals(rate, mode.seconds, 100 + i), timeout_s=10.0)
            switches = involuntary_switches(server.process.pid)
            with probe(driver_cpu) as machine:
                window = drive_window(server, log, plan, driver_cpu, also_ours=machine.pid)
            # Preemptions: the machine's other work taking the server's core, which the simulated pod never sees.
            switches = involuntary_switches(server.process.pid) - switches
            speed = machine.speed(window.started_at)
            sent = np.array([r.sent_s for r in window.records])
            latency = np.array([r.latency_s if r.status == 200 else math.nan for r in window.records])
            measured = Figures.of(latency, window.utilisation(idle))
            simulated = simulate_server(service, sent, window.span_s, seed=i)
            replayed = simulate_server(service, sent, window.span_s, seed=i, speed=speed)
            rows.append(row("server", fraction, rate, measured, simulated, requests=len(window.records),
                            at_machine_speed=(replayed, speed.summary()),
                            answered=len(window.ok), driver_bound=window.driver_bound,
                            capacity_per_s=round(top.per_s, 1), burst_per_s=round(found.burst.per_s, 1),
                            capacity_probes=[[round(p.rate, 1), round(p.utilisation, 4), p.driver_bound]
                                             for p in top.outcomes],
                            capacity_probe_accepted=top.accepted,
                            levels_capped_by_driver=top.driver_held_per_s is not None,
                            server_preempted=switches, other_work_cores=window.other_work_cores()))  # fmt: skip
            progress(f"server: {fraction:.0%} ({rate:,.0f} req/s) done")
    return rows


def validate_lambda(
    env: dict[str, str], handler: tuple[Empirical, Empirical], size: int, mode: Mode, progress: Callable[[str], None]
) -> list[dict[str, Any]]:
    from .lambda_pool import drive_pool, pool_capacity

    runtime_cpu, driver_cpu = cores()
    event = make_event(load_event("predict-features-v2.json"), "POST", "/predict", batch_body(1),
                       {"content-type": "application/json"})  # fmt: skip
    rows = []
    # This process on the driver's core first: the Runtime API's threads, started with the pool, inherit it
    # (sched_setaffinity pins the calling thread; a thread started earlier would share the runtimes' core).
    with on_cpu(driver_cpu), lambda_pool(env, size, cpu=runtime_cpu) as pool:
        pool_capacity(pool.api, event, size, 20 * size)  # warm-up: every process past its first invocations
        top = pool_capacity(pool.api, event, size, mode.pool_burst)
        progress(f"lambda: pool of {size}, capacity {top:,.0f} invocations/s")
        for i, fraction in enumerate(LEVELS):
            rate = fraction * top
            arrivals = poisson_arrivals(rate, mode.seconds, 200 + i)
            cpu_before = sum(cpu_seconds(p.pid) for p in pool.processes)
            switches = sum(involuntary_switches(p.pid) for p in pool.processes)
            with probe(driver_cpu) as machine:
                on_runtimes = OtherWork(runtime_cpu, lambda: sum(cpu_seconds(p.pid) for p in pool.processes))
                # The dispatcher and the Runtime API (this process), and the probe beside them.
                on_driver = OtherWork(driver_cpu, lambda: time.process_time() + cpu_seconds(machine.pid or 0))
                run = drive_pool(pool.api, event, arrivals.tolist(), size)
                other = other_work_cores(on_runtimes.cores(), on_driver.cores())
            speed = machine.speed(run.started_at)
            cpu = sum(cpu_seconds(p.pid) for p in pool.processes) - cpu_before
            switches = sum(involuntary_switches(p.pid) for p in pool.processes) - switches
            span = run.span_s
            measured = Figures.of(run.latency_s, float(np.nansum(run.duration_s)) / (size * span))
            simulated, throttled = simulate_pool(handler, run.sent_s, size, span, seed=i)
            replayed, _ = simulate_pool(handler, run.sent_s, size, span, seed=i, speed=speed)
            rows.append(row("lambda", fraction, rate, measured, simulated, requests=int(arrivals.size),
                            at_machine_speed=(replayed, speed.summary()),
                            answered=int((run.status == 200).sum()),
                            throttled={"measured": round(float((run.status == THROTTLED).mean()), 4),
                                       "simulated": round(throttled, 4)},
                            cpu_utilisation_measured=round(cpu / (size * span), 4),
                            dispatch_lag_p99_ms=round(run.lag_p99_ms, 3), capacity_per_s=round(top, 1),
                            runtime_preempted=switches, other_work_cores=other))  # fmt: skip
            progress(f"lambda: {fraction:.0%} ({rate:,.0f} invocations/s) done")
    return rows


def run_validation(
    calibration_path: Path,
    *,
    short: bool,
    pool_size: int = 1,
    model_dir: Path | None = None,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> dict[str, Any]:
    calibration = Calibration.read(calibration_path)
    service, handler = _needs(calibration, calibration_path)
    mode = SHORT if short else FULL
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDICT_")}
    if model_dir:
        env["PREDICT_MODEL_DIR"] = str(model_dir)
    rows = validate_server(env, service, mode, progress) + validate_lambda(env, handler, pool_size, mode, progress)
    targets = Targets()
    return {
        "mode": mode.name,
        "seconds_per_level": mode.seconds,
        "calibration": str(calibration_path),
        "targets": asdict(targets),
        "lambda_pool": pool_size,
        "cores": {"server_or_runtimes": cores()[0], "driver": cores()[1]},
        "rows": rows,
        "all_met": all_met(rows),
        "all_met_at_machine_speed": all_met(rows, "met_at_machine_speed"),
    }


def validate(args: argparse.Namespace) -> dict[str, Any]:
    """The `validate` command: run both, compare, and write the report's section when asked."""
    from .report.validation import write_validation
    from .validation import table

    result = run_validation(args.calibration, short=args.short, pool_size=args.lambda_pool, model_dir=args.model_dir)
    if args.report:
        result["report"] = str(write_validation(args.report, result))
    result["table"] = table(result["rows"])
    return result
