"""Load on the Lambda path: a fixed pool of real awslambdaric processes behind the local Runtime API,
fed open-loop from this process as Lambda's front end feeds a function whose concurrency is the pool.

Lambda does not queue a synchronous invocation: with every environment busy and the concurrency
limit reached, it throttles (429). The dispatcher does the same: an arrival that finds `size`
invocations in flight (handed to the Runtime API and not yet answered) is throttled at once.
Each answered invocation records the caller's round trip (submitted to answered) and the handler's
duration as the Runtime API saw it (handed out to response received: what REPORT bills).
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from .core_speed import full_speed, probe
from .platforms.base import OK, THROTTLED
from .runtime_api import InvocationResult, LocalRuntimeAPI

FAILED = 502  # the handler answered an error, or no answer came in time


@dataclass(frozen=True)
class PoolRun:
    """Per arrival, in schedule order: when it was sent, the round trip, the handler's duration, the status."""

    sent_s: np.ndarray
    latency_s: np.ndarray  # NaN where throttled or failed
    duration_s: np.ndarray  # NaN where throttled or failed
    status: np.ndarray
    lag_p99_ms: float  # the dispatcher's own schedule lag
    started_at: float = math.nan  # the schedule's start, time.monotonic(): sent_s counts from it

    @property
    def span_s(self) -> float:
        """The schedule's start to the last answer."""
        done = self.sent_s + np.nan_to_num(self.latency_s)
        return float(done.max()) if done.size else 0.0


def _ok(result: InvocationResult) -> bool:
    return result.ok and isinstance(result.payload, dict) and result.payload.get("statusCode") == OK


def drive_pool(
    api: LocalRuntimeAPI, event: Any, arrivals: Sequence[float], size: int, timeout_s: float = 30.0
) -> PoolRun:
    """Send `event` at each arrival (seconds from now), throttling those that find `size` in flight."""
    n = len(arrivals)
    sent, latency, duration = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    status = np.zeros(n, dtype=np.int16)
    lock = threading.Lock()
    in_flight = 0
    futures: list[Future[InvocationResult]] = []
    start = time.monotonic()  # the probe's and the load driver's clock: started_at is the start itself

    def answered(index: int, sent_at: float, future: Future[InvocationResult]) -> None:
        nonlocal in_flight
        now = time.monotonic() - start  # in the Runtime API's thread, as the response arrives
        result = future.result()
        with lock:
            in_flight -= 1
        if _ok(result) and result.duration_s is not None:
            latency[index], duration[index], status[index] = now - sent_at, result.duration_s, OK
        else:
            status[index] = FAILED

    for index, at in enumerate(arrivals):
        delay = at - (time.monotonic() - start)
        if delay > 0:
            time.sleep(delay)
        now = time.monotonic() - start
        sent[index] = now
        with lock:
            full = in_flight >= size
            if not full:
                in_flight += 1
        if full:
            status[index] = THROTTLED
            continue
        future = api.submit(event, timeout_s)
        future.add_done_callback(functools.partial(answered, index, now))
        futures.append(future)
    deadline = time.monotonic() + timeout_s
    for future in futures:
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            break
    status[status == 0] = FAILED  # never answered within the timeout
    lag = sent - np.asarray(arrivals, dtype=float)
    lag_p99 = float(np.percentile(lag, 99) * 1000) if n else math.nan
    return PoolRun(sent, latency, duration, status, lag_p99, start)


def pool_capacity(api: LocalRuntimeAPI, event: Any, size: int, requests: int) -> float:
    """Invocations a second the pool answers with `size` always in flight (closed loop)."""
    slots = threading.Semaphore(size)
    futures = []
    started = time.perf_counter()
    for _ in range(requests):
        slots.acquire()
        future = api.submit(event)
        future.add_done_callback(lambda _f: slots.release())
        futures.append(future)
    for future in futures:
        if not _ok(future.result(timeout=30)):
            raise RuntimeError(f"an invocation failed during the pool's capacity burst: {future.result().payload}")
    return requests / (time.perf_counter() - started)


LIGHT_LOAD = 0.25  # the pool's calibration load: validate's lowest level, as a fraction of its closed-loop capacity


def pairs_under_load(
    api: LocalRuntimeAPI, event: Any, size: int, requests: int, *, fraction: float = LIGHT_LOAD, seed: int = 0
) -> tuple[list[float], list[float]]:
    """(round trip, handler duration) of `requests` answered invocations under Poisson arrivals at `fraction` of
    the pool's closed-loop capacity. One at a time, back to back, the runtime never idles and the Runtime API's
    threads are always awake, so durations come out shorter and tail-free against what an open-loop load
    sees (its durations 1.2-1.3 ms against 0.81 ms in one run): these are measured the way the load arrives.
    Only invocations the machine ran at full speed throughout are kept (compare/core_speed.py, a probe beside this
    process on its core): `compare validate` replays the machine's slow moments on top of them."""
    rate = fraction * pool_capacity(api, event, size, max(200, requests))
    rng = np.random.default_rng(seed)
    trips: list[float] = []
    durations: list[float] = []
    while len(trips) < requests:
        # Enough arrivals for what is left, allowing for the throttled share (about `fraction` of them).
        count = int((requests - len(trips)) / (1 - min(fraction, 0.9)) * 1.2) + 10
        with probe(None) as machine:  # on this thread's core, which the caller pins
            run = drive_pool(api, event, np.cumsum(rng.exponential(1.0 / rate, count)).tolist(), size)
        answered = run.status == OK
        speed = machine.speed(run.started_at)
        answered[answered] = full_speed(speed, run.sent_s[answered], (run.sent_s + run.latency_s)[answered])
        trips += run.latency_s[answered].tolist()
        durations += run.duration_s[answered].tolist()
    return trips[:requests], durations[:requests]
