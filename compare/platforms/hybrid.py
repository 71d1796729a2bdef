"""Hybrid, simulated: N always-on pods take what they can, and the overflow goes to Lambda.

A router in front of the pods (an ingress or Envoy balancing on least outstanding requests)
sends each request to the pod holding the fewest; when even that one already holds
`queue_per_pod` requests (in service and waiting), the request goes to the Lambda function
instead, where it meets Lambda's own behaviour (compare/platforms/lambda_.py: cold starts,
keep-alive, limits, provisioned concurrency if configured). The pods are the single-worker,
first-come-first-served pods of compare/platforms/k8s.py, always running: none is added or
removed. With no pods it is Lambda alone, request for request; with pods enough never to hold
`queue_per_pod` requests, nothing reaches Lambda.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from .base import OK, TIMED_OUT, Distribution, RunRecords
from .lambda_ import LambdaConfig, simulate_lambda
from .service import PodWork, Worker


@dataclass(frozen=True)
class HybridConfig:
    pods: int  # always on
    queue_per_pod: int = 4  # requests a pod holds before the next one overflows to Lambda
    lambda_config: LambdaConfig = field(default_factory=LambdaConfig)
    request_timeout_s: float = 30.0  # client/ingress timeout on the pods' side

    def __post_init__(self) -> None:
        if self.pods < 0 or self.queue_per_pod < 1:
            raise ValueError(f"a hybrid needs pods >= 0 and a queue of 1 or more: {self.pods}, {self.queue_per_pod}")


def _route_to_pods(arrivals: np.ndarray, work: PodWork, pods: int, queue_per_pod: int) -> np.ndarray:
    """When each request's caller has its answer from a pod; NaN where every pod was full (it overflows).
    A pod holds a request (for its queue and `queue_per_pod`) as its Worker does (compare/platforms/service.py);
    its offered rate is taken as the whole arrival rate over the pods (the overflow is not subtracted)."""
    finish = np.full(arrivals.size, np.nan)
    held = [0] * pods  # requests each pod holds
    workers = [Worker() for _ in range(pods)]
    pending: list[tuple[float, int]] = []  # heap of (finish time, pod)
    for index, t in enumerate(arrivals.tolist()):
        while pending and pending[0][0] <= t:
            held[heapq.heappop(pending)[1]] -= 1
        fewest = min(held)
        if fewest >= queue_per_pod:
            continue
        pod = held.index(fewest)
        hold, wake, _ = work.costs(index, t, pods)
        start = workers[pod].take(t, hold, wake)
        held[pod] += 1
        heapq.heappush(pending, (start + hold, pod))
        finish[index] = work.answered_at(index, start)
    return finish


def _padded(values: np.ndarray, size: int, fill: float) -> np.ndarray:
    out = np.full(size, fill)
    out[: min(size, values.size)] = values[:size]
    return out


def simulate_hybrid(
    arrivals: np.ndarray,
    pod_warm: Distribution,
    lambda_warm: Distribution,
    lambda_init: Distribution,
    config: HybridConfig,
    *,
    seed: int = 0,
    lambda_overhead: Distribution | None = None,
) -> RunRecords:
    """`pod_warm`: a request's work on a pod (as simulate_k8s's `warm`); `lambda_warm`, `lambda_init`,
    `lambda_overhead`: as simulate_lambda's."""
    n = int(arrivals.size)
    horizon = int(np.ceil(arrivals[-1])) + 1 if n else 0
    if config.pods:
        work = PodWork(pod_warm, arrivals, np.random.default_rng(seed))
        finish = _route_to_pods(arrivals, work, config.pods, config.queue_per_pod)
    else:
        finish = np.full(n, np.nan)
    on_lambda = np.isnan(finish)
    overflow = simulate_lambda(
        arrivals[on_lambda], lambda_warm, lambda_init, config.lambda_config, seed, overhead=lambda_overhead
    )

    latency = finish - arrivals
    status = np.full(n, OK, dtype=np.int16)
    status[latency > config.request_timeout_s] = TIMED_OUT
    status[on_lambda] = overflow.status
    latency[on_lambda] = overflow.latency_s
    cold = np.zeros(n, dtype=bool)
    cold[on_lambda] = overflow.cold
    billed_ms = np.zeros(n)
    billed_ms[on_lambda] = overflow.per_request["billed_ms"]
    last = float(overflow.instances[-1]) if overflow.instances.size else 0.0
    lambda_environments = _padded(overflow.instances, horizon, last)  # idle ones linger past the last overflow
    return RunRecords(
        platform="hybrid",
        arrival_s=arrivals,
        latency_s=np.where(status == OK, latency, np.nan),
        status=status,
        cold=cold,
        seconds=np.arange(horizon, dtype=float),
        instances=config.pods + lambda_environments,
        busy=config.pods + _padded(overflow.busy, horizon, 0.0),
        per_request={"on_lambda": on_lambda, "billed_ms": billed_ms},
        extra={
            "pods": float(config.pods),
            "pod_seconds": float(config.pods * horizon),
            "overflow": float(on_lambda.sum()),
            "overflow_fraction": float(on_lambda.mean()) if n else 0.0,
            "billed_ms_total": overflow.extra["billed_ms_total"],
            "billed_ms_on_provisioned": overflow.extra["billed_ms_on_provisioned"],
        },
    )
