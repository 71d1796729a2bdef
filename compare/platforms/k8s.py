"""Kubernetes, simulated: single-worker pods behind a Service, scaled by the HPA.

Each pod is one uvicorn worker: a first-come-first-served queue (compare/platforms/service.py's
Worker: each request holds it for the saturated CPU per request, each busy spell's wake-up after it;
from the server-side calibration at the pod's offered rate, or a plain service time), each request
charged its CPU, and the caller has its answer after its wait plus its
in-process latency and the overhead around it. The Service sends each request to a ready pod chosen
at random (kube-proxy's iptables mode). Every sync period the HPA (compare/hpa.py, parameters from
the deployed manifest) reads each pod's CPU utilisation over the last metrics window, measured
against the pod's CPU request, and sets the replica count; new pods take `pod_start` (scheduling,
image pull, process start, model load) to become ready, plus `node_provisioning_s` beyond the pods
the nodes already hold. A request whose answer would come later than `request_timeout_s` counts as a
504; the pod does the work all the same, as a CPU-bound handler is not interrupted. With
`max_queue`, a pod already holding that many requests refuses the next with a 503 (uvicorn's
--limit-concurrency).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np

from ..hpa import HorizontalPodAutoscaler, HPAParams
from .base import OK, Constant, Distribution, RunRecords, pod_request_status, pod_seconds
from .service import PodWork, Worker


@dataclass(frozen=True)
class K8sConfig:
    hpa: HPAParams
    cpu_request: float = 0.5  # cores; the HPA's utilisation is against it
    pod_start: Distribution = field(default_factory=lambda: Constant(20.0))
    initial_replicas: int | None = None  # default: the HPA's minReplicas
    node_provisioning_s: float = 0.0
    pods_without_new_node: int = 1_000_000
    request_timeout_s: float = 30.0
    max_queue: int | None = None  # requests a pod holds (in service + waiting) before it answers 503
    idle_cpu_cores: float = 0.005  # what an idle worker uses
    metrics_window_s: float = 15.0  # metrics-server resolution
    metrics_lag_s: float = 15.0


@dataclass(eq=False)
class _Pod:
    created_at: float
    ready_at: float
    worker: Worker = field(default_factory=Worker)
    pending: deque[float] = field(default_factory=deque)  # when requests taken let the worker go
    removed_at: float | None = None
    busy_by_window: defaultdict[int, float] = field(default_factory=lambda: defaultdict(float))

    def queued(self, now: float) -> int:
        pending = self.pending
        while pending and pending[0] <= now:
            pending.popleft()
        return len(pending)

    def serve(self, now: float, costs: tuple[float, float, float], window: float) -> float:
        """Queue one request (Worker.take, its hold and wake-up); return when the worker starts it. Its CPU is
        counted in the metrics windows from its start."""
        hold, wake, cpu = costs
        start = self.worker.take(now, hold, wake)
        self.pending.append(start + hold)
        end = start + cpu
        first, last = int(start // window), int(end // window)
        if first == last:
            self.busy_by_window[first] += cpu
        else:  # spread over the windows it spans
            for index in range(first, last + 1):
                overlap = min(end, (index + 1) * window) - max(start, index * window)
                self.busy_by_window[index] += max(0.0, overlap)
        return start


class _Cluster:
    def __init__(self, config: K8sConfig, rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        self.hpa = HorizontalPodAutoscaler(config.hpa)
        self.live: list[_Pod] = []
        self.removed: list[_Pod] = []
        initial = config.initial_replicas or config.hpa.min_replicas
        self.live = [_Pod(created_at=-1e9, ready_at=0.0) for _ in range(initial)]  # running before the run
        self.ready_cache: list[_Pod] = list(self.live)
        self.ready_until = math.inf

    def ready(self, now: float) -> list[_Pod]:
        if now >= self.ready_until:
            self._refresh_ready(now)
        return self.ready_cache

    def _refresh_ready(self, now: float) -> None:
        self.ready_cache = [p for p in self.live if p.ready_at <= now]
        pending = [p.ready_at for p in self.live if p.ready_at > now]
        self.ready_until = min(pending, default=math.inf)

    def sync(self, now: float) -> None:
        """One HPA sync: utilisation of the pods ready through the last complete metrics window."""
        config = self.config
        window_index = int((now - config.metrics_lag_s) // config.metrics_window_s)
        window_start = window_index * config.metrics_window_s
        utilizations, unready = [], 0
        for pod in self.live:
            if pod.ready_at <= window_start:
                busy = pod.busy_by_window.get(window_index, 0.0) / config.metrics_window_s
                utilizations.append((min(busy, 1.0) + config.idle_cpu_cores) / config.cpu_request)
            else:
                unready += 1
        current = len(self.live)
        desired = self.hpa.step(now, current, utilizations, unready)
        if desired > current:
            self._add(now, desired - current)
        elif desired < current:
            self._remove(now, current - desired)
        self._refresh_ready(now)

    def _add(self, now: float, count: int) -> None:
        starts = self.config.pod_start.sample(self.rng, count)
        for start in starts.tolist():
            delay = self.config.node_provisioning_s if len(self.live) >= self.config.pods_without_new_node else 0.0
            self.live.append(_Pod(created_at=now, ready_at=now + delay + start))

    def _remove(self, now: float, count: int) -> None:
        # The ReplicaSet deletes pods that are not ready first, then the newest.
        order = sorted(self.live, key=lambda p: (p.ready_at <= now, -p.created_at))
        for pod in order[:count]:
            pod.removed_at = now
            self.live.remove(pod)
            self.removed.append(pod)


def simulate_k8s(arrivals: np.ndarray, warm: Distribution, config: K8sConfig, seed: int = 0) -> RunRecords:
    """`warm`: a ServerService (CPU per request at the pod's rate, what callers see), or one service time."""
    rng = np.random.default_rng(seed)
    n = int(arrivals.size)
    work = PodWork(warm, arrivals, rng)
    picks = rng.random(n)
    horizon = int(np.ceil(arrivals[-1])) + 1 if n else 0
    replicas, ready_now = np.zeros(horizon), np.zeros(horizon)
    cluster = _Cluster(config, rng)
    finish = np.full(n, np.nan)
    charged_until = np.full(n, np.nan)  # the end of the CPU each request was charged, from its start (NaN: none)
    charged = np.zeros(n)  # that CPU (spans of requests queued together overlap: sum them, do not union them)
    busy_cpu_s = 0.0
    window, sync_period, max_queue = config.metrics_window_s, config.hpa.sync_period_s, config.max_queue
    next_sync, next_second = sync_period, 0
    for index, (t, pick) in enumerate(zip(arrivals.tolist(), picks.tolist(), strict=True)):
        while next_second <= t or next_sync <= t:
            if next_sync <= next_second:
                cluster.sync(next_sync)
                next_sync += sync_period
            else:
                replicas[next_second], ready_now[next_second] = len(cluster.live), len(cluster.ready(next_second))
                next_second += 1
        ready = cluster.ready(t)
        if ready:
            pod = ready[int(pick * len(ready))]
            if max_queue is None or pod.queued(t) < max_queue:
                costs = work.costs(index, t, len(ready))
                start, cpu = pod.serve(t, costs, window), costs[2]
                charged_until[index], charged[index] = start + cpu, cpu
                finish[index] = work.answered_at(index, start)
                busy_cpu_s += cpu
    while next_second < horizon:
        replicas[next_second], ready_now[next_second] = len(cluster.live), len(cluster.ready(next_second))
        next_second += 1

    latency = finish - arrivals
    status = pod_request_status(finish, arrivals, config.request_timeout_s)
    seconds_of_pods = pod_seconds([*cluster.live, *cluster.removed], float(horizon))
    return RunRecords(
        platform="kubernetes",
        arrival_s=arrivals,
        latency_s=np.where(status == OK, latency, np.nan),
        status=status,
        cold=np.zeros(n, dtype=bool),
        seconds=np.arange(horizon, dtype=float),
        instances=replicas,
        busy=ready_now,
        per_request={"charged_until_s": charged_until, "charged_cpu_s": charged},
        extra={
            "pod_seconds": seconds_of_pods,
            "mean_replicas": float(replicas.mean()) if horizon else 0.0,
            "busy_cpu_s": busy_cpu_s,
        },
    )
