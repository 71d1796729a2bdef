"""Knative Serving, simulated: single-worker pods scaled by the KPA on concurrency, down to zero.

Each pod is one uvicorn worker, a first-come-first-served queue (compare/platforms/service.py's Worker)
in which the caller sees its wait plus in-process latency and overhead, as on
compare/platforms/k8s.py (compare/platforms/service.py). Every tick (2 s) the KPA (compare/kpa.py, parameters from the
deployed k8s/knative manifest) reads the revision's concurrency, averaged per second over the
stable and panic windows, and sets the pod count; a new pod takes `pod_start` (scheduling, image
pull, process start, model load) to become ready.

Where a request goes depends on whether the activator is in the request path, which the KPA decides
every tick from the excess burst capacity (compare/kpa.py): with Knative's default target burst
capacity (211) it stays there for any revision of fewer than 211 / target ready pods, that is always
for this service; at zero, and while no pod is ready, it always is.

- Activator in the path: it sends a pod no more than `containerConcurrency` requests at once and holds
  the rest (FIFO, up to 10,000 per revision, then 503), each going to the pod whose slot frees first,
  a pod still starting included (a request that finds no pod ready starts cold, paying the pod's start).
- Activator out of the path (target burst capacity 0, or a revision with the capacity to spare): the
  ingress sends each request to the ready pod holding the fewest; `containerConcurrency` is a hard limit
  per pod, the excess waiting in the pod's queue-proxy, which refuses (503) a request beyond
  10 x containerConcurrency waiting.

The KPA sees every request from its arrival to its answer: the queue-proxy counts a request from the
moment it comes in (before its breaker queue), and the activator the ones it holds. At zero the
activator asks the autoscaler at once (it does not wait for the tick). A request whose answer would
come later than `request_timeout_s` (the Service's timeoutSeconds) counts as a 504.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..kpa import ConcurrencyWindows, KnativePodAutoscaler, KPAParams
from .base import OK, REJECTED, Constant, Distribution, RunRecords, pod_request_status, pod_seconds
from .service import PodWork, Worker

QUEUE_DEPTH_FACTOR = 10  # the queue-proxy's breaker queue: 10 x containerConcurrency
ACTIVATOR_QUEUE_DEPTH = 10_000  # the activator's breaker queue per revision (pkg/activator/net/throttler.go)


@dataclass(frozen=True)
class KnativeConfig:
    kpa: KPAParams
    pod_start: Distribution = field(default_factory=lambda: Constant(20.0))  # the cold start
    request_timeout_s: float = 300.0  # timeoutSeconds
    initial_pods: int | None = None  # ready at the run's start; default: the KPA's initial scale


@dataclass(eq=False)
class _Pod:
    created_at: float
    ready_at: float
    worker: Worker = field(default_factory=Worker)
    pending: deque[float] = field(default_factory=deque)  # when requests not yet done let the worker go
    removed_at: float | None = None

    def held(self, now: float) -> int:
        while self.pending and self.pending[0] <= now:
            self.pending.popleft()
        return len(self.pending)

    def slot_at(self, now: float, concurrency: int) -> float:
        """When the activator may send this pod one more request: it holds at most `concurrency` (0: no limit)."""
        held = self.held(now)
        at = now if not concurrency or held < concurrency else self.pending[held - concurrency]
        return max(at, self.ready_at)

    def serve(self, start: float, hold: float, wake: float) -> tuple[float, float]:
        """(when the worker starts the request, when it lets the next one go): Worker.take, once the pod is ready."""
        begin = self.worker.take(max(start, self.ready_at), hold, wake)
        self.pending.append(begin + hold)
        return begin, begin + hold


class _Revision:
    """The revision's pods, its KPA and the concurrency history the KPA reads."""

    def __init__(self, config: KnativeConfig, rng: np.random.Generator) -> None:
        self.config, self.rng = config, rng
        self.kpa = KnativePodAutoscaler(config.kpa)
        self.windows = ConcurrencyWindows(config.kpa.stable_window_s)
        initial = config.kpa.initial_scale if config.initial_pods is None else config.initial_pods
        self.live = [_Pod(created_at=-1e9, ready_at=0.0) for _ in range(initial)]
        self.removed: list[_Pod] = []
        self.reported_until = 0
        self.panic_ticks = 0
        self.to_zero = 0
        # The activator in the request path: decided by the KPA each tick; at the start, from the ready pods.
        self.activator = config.kpa.excess_burst_capacity(len(self.live), 0.0) < 0
        self.activator_ticks = 0
        self.held_by_activator: list[float] = []  # when each request the activator holds goes on to a pod

    def ready(self, now: float) -> list[_Pod]:
        return [p for p in self.live if p.ready_at <= now]

    def tick(self, now: float) -> None:
        params = self.config.kpa
        had_pods = bool(self.live)
        for second in range(self.reported_until, int(now)):
            if had_pods or self.windows.has_requests(second):
                self.windows.report(second)
        self.reported_until = int(now)
        stable = self.windows.average(now, params.stable_window_s)
        panic = self.windows.average(now, params.panic_window_s)
        if stable is None or panic is None:
            return  # no data: Knative leaves the scale as it is
        decision = self.kpa.step(now, stable, panic, len(self.ready(now)), len(self.live))
        self.panic_ticks += decision.panic
        self.activator = decision.activator_in_path or decision.pods == 0
        self.activator_ticks += self.activator
        self._set(now, decision.pods)
        self.windows.forget_before(int(now - params.stable_window_s) - 1)

    def route(self, now: float, limit: float) -> tuple[_Pod, float, bool] | None:
        """The pod a request arriving now goes to, when it is sent there, and whether it waits for a pod to
        start; None: refused (503)."""
        ready = self.ready(now)
        if ready and not self.activator:  # the ingress sends it straight to a pod's queue-proxy
            pod = min(ready, key=lambda p: p.held(now))
            return None if pod.held(now) >= limit else (pod, now, False)
        # The activator holds it until a pod has a slot under containerConcurrency.
        concurrency = self.config.kpa.container_concurrency
        while self.held_by_activator and self.held_by_activator[0] <= now:
            heapq.heappop(self.held_by_activator)
        if len(self.held_by_activator) >= ACTIVATOR_QUEUE_DEPTH:
            return None
        pod = min(self.live, key=lambda p: (p.slot_at(now, concurrency), p.held(now)))
        start = pod.slot_at(now, concurrency)
        if start > now:
            heapq.heappush(self.held_by_activator, start)
        return pod, start, not ready

    def poke(self, now: float) -> None:
        self.windows.report(int(now))
        self.activator = True
        self._set(now, self.kpa.poke(now, held=1).pods)

    def _set(self, now: float, pods: int) -> None:
        current = len(self.live)
        if pods > current:
            for start in self.config.pod_start.sample(self.rng, pods - current).tolist():
                self.live.append(_Pod(created_at=now, ready_at=now + start))
        elif pods < current:
            # The ReplicaSet deletes pods that are not ready first, then the newest; they finish what they hold.
            order = sorted(self.live, key=lambda p: (p.ready_at <= now, -p.created_at))
            for pod in order[: current - pods]:
                pod.removed_at = now
                self.live.remove(pod)
                self.removed.append(pod)
            self.to_zero += pods == 0


def simulate_knative(arrivals: np.ndarray, warm: Distribution, config: KnativeConfig, seed: int = 0) -> RunRecords:
    """`warm`: as simulate_k8s's (compare/platforms/service.py)."""
    rng = np.random.default_rng(seed)
    n = int(arrivals.size)
    work = PodWork(warm, arrivals, rng)
    horizon = int(np.ceil(arrivals[-1])) + 1 if n else 0
    pods_now, ready_now = np.zeros(horizon), np.zeros(horizon)
    revision = _Revision(config, rng)
    finish, cold = np.full(n, np.nan), np.zeros(n, dtype=bool)
    concurrency = config.kpa.container_concurrency
    limit = concurrency * (1 + QUEUE_DEPTH_FACTOR) if concurrency else math.inf
    tick = config.kpa.tick_s
    next_tick, next_second = tick, 0

    def advance(until: float) -> None:
        nonlocal next_tick, next_second
        while next_second <= until or next_tick <= until:
            if not revision.live:  # at zero nothing changes until a request comes: skip ahead (records stay 0)
                next_second = max(next_second, int(until) + 1)
                next_tick = max(next_tick, (math.floor(until / tick) + 1) * tick)
                revision.reported_until = max(revision.reported_until, int(until))
                break
            if next_tick <= next_second:
                revision.tick(next_tick)
                next_tick += tick
            else:
                if next_second < horizon:
                    pods_now[next_second] = len(revision.live)
                    ready_now[next_second] = len(revision.ready(next_second))
                next_second += 1

    for index, t in enumerate(arrivals.tolist()):
        advance(t)
        if not revision.live:
            revision.poke(t)
        routed = revision.route(t, limit)
        if routed is None:
            continue  # a full queue (the queue-proxy's or the activator's): 503
        pod, start, cold[index] = routed
        pods = len(revision.ready(t)) if work.model is not None else 1  # counted only where the CPU depends on it
        begin, _ = pod.serve(start, *work.costs(index, t, max(pods, 1))[:2])
        finish[index] = work.answered_at(index, begin)
        revision.windows.add_request(t, finish[index])  # the KPA counts a request in flight until its answer
    advance(horizon - 1 if horizon else -1)

    latency = finish - arrivals
    status = pod_request_status(finish, arrivals, config.request_timeout_s)
    seconds_of_pods = pod_seconds([*revision.live, *revision.removed], float(horizon))
    return RunRecords(
        platform="knative",
        arrival_s=arrivals,
        latency_s=np.where(status == OK, latency, np.nan),
        status=status,
        cold=cold & (status != REJECTED),
        seconds=np.arange(horizon, dtype=float),
        instances=pods_now,
        busy=ready_now,
        extra={
            "pod_seconds": seconds_of_pods,
            "mean_pods": float(pods_now.mean()) if horizon else 0.0,
            "scale_to_zero_events": float(revision.to_zero),
            "panic_ticks": float(revision.panic_ticks),
            "activator_ticks": float(revision.activator_ticks),
        },
    )
