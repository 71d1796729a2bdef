"""A pod's work per request, from the server-side calibration: what its CPU does and what its callers see.

A pod is one uvicorn worker: one event loop on one core, so a request holds the worker for about
the CPU time it costs, and that time is what the HPA's utilisation and the pod's core are made of.
The calibration measured it (CPU seconds per request) at several offered rates and at saturation:
it falls as the rate rises (at low rates every request pays the loop's wake-up alone; near
saturation the loop reads and answers several per turn). The model takes it as a function of the
pod's offered rate: between the calibrated rates the utilisation (rate x CPU per request) is
interpolated linearly, below them the lowest level's figure holds and above them the saturation
figure (where a pod is overloaded and its queue grows anyway).
The offered rate of a pod is the profile's arrival rate over the trailing `RATE_WINDOW_S` seconds
divided by the ready pods (the Service spreads requests evenly over them). Why CPU per request falls
also says who pays it: the loop's wake-up comes once per busy spell, so a request that finds the worker
busy costs the saturated figure, and the one that wakes it carries the rest (`occupancy_at`), the mean
staying the calibrated one. Costing every request the mean instead queued each one that came while
another was served behind a wake-up it never paid: one worker's simulated p50 came out 36-67 % above
the measured one at 25-80 % of its capacity.

What a caller sees of a request is its wait in the pod's queue (first come, first served, each
request before it holding the worker for its CPU time), then the request's own in-process latency
(the access log's latency_ms, arrival at the middleware to response start) and the overhead around
it (the load driver's round trip less the in-process latency: the client, the loopback, uvicorn's
parsing and writing); those two are drawn as measured pairs at the calibration's lightest level,
where no request waited for another, so the wait is not counted twice.

Where the service is a plain distribution (a hand-given --service, a version-1 calibration), it is
both the worker's occupancy and what the caller sees beyond the wait, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Distribution

RATE_WINDOW_S = 10  # seconds of arrivals that make a pod's offered rate
MAX_RHO = 0.95  # the idle share the wake-up is spread over never falls below 1 - this (near saturation it is noise)
REFERENCE_LOAD = 0.7  # where one figure stands for the service: a pod at 70 % of its capacity (HPA-like)


@dataclass(frozen=True)
class ServerService:
    """CPU per request against the pod's offered rate, and what a caller sees beyond the queue."""

    rates_per_s: tuple[float, ...]  # ascending offered rates of one pod
    cpu_s: tuple[float, ...]  # CPU seconds per request at each rate (the idle process's share taken out)
    seen: tuple[tuple[float, float], ...]  # (in-process latency, overhead) pairs at the lightest level
    idle_cpu_cores: float
    capacity_per_s: float  # what one pod sustains under Poisson arrivals (older records: its closed-loop burst)

    def __post_init__(self) -> None:
        if not self.rates_per_s or len(self.rates_per_s) != len(self.cpu_s) or not self.seen:
            raise ValueError("a server service needs rates, CPU times and in-process samples")
        if any(b <= a for a, b in zip(self.rates_per_s, self.rates_per_s[1:], strict=False)):
            raise ValueError("a server service's rates ascend")

    def cpu_at(self, rate_per_s: float) -> float:
        """CPU seconds per request at a pod's offered rate: the end figures beyond the calibrated rates, and
        between them the utilisation (rate x CPU per request) interpolated linearly, so it never dips."""
        rates = self.rates_per_s
        if rate_per_s <= rates[0]:
            return self.cpu_s[0]
        if rate_per_s >= rates[-1]:
            return self.cpu_s[-1]
        busy = np.interp(rate_per_s, rates, np.multiply(rates, self.cpu_s))
        return float(busy) / rate_per_s

    def occupancy_at(self, rate_per_s: float) -> tuple[float, float]:
        """How long a request holds the worker at a pod's offered rate: (arriving to an idle worker, arriving to a
        busy one). The calibrated CPU per request falls with the rate because the loop's wake-up (the epoll
        return, the system calls and the core's wake from idle) is paid once per busy spell and shared by
        every request that finds the worker already busy: those pay the saturated figure, the last calibrated
        one (a closed-loop burst, always busy). The wake-up goes on the first request of each spell so that the
        mean is the calibrated CPU per request: Poisson arrivals find the worker idle 1 - rho of the time."""
        mean = self.cpu_at(rate_per_s)
        busy = min(mean, self.cpu_s[-1])
        rho = min(rate_per_s * mean, MAX_RHO)
        return busy + (mean - busy) / (1 - rho), busy

    def seen_samples(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """In-process latency + overhead, as measured pairs, for `n` requests."""
        pairs = np.asarray(self.seen)
        picked = pairs[rng.integers(0, len(pairs), n)]
        return np.asarray(picked.sum(axis=1))

    # One figure, where code needs one (the plans' pod estimate, the cost curve): CPU per request at 70 %.
    @property
    def mean(self) -> float:
        return self.cpu_at(REFERENCE_LOAD * self.capacity_per_s)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.mean)


class PodWork:
    """Per request on pods: the worker's occupancy (its CPU time) and what the caller sees beyond its wait."""

    def __init__(self, service: Distribution, arrivals: np.ndarray, rng: np.random.Generator) -> None:
        n = int(arrivals.size)
        self.model = service if isinstance(service, ServerService) else None
        if self.model is None:
            self.seen = service.sample(rng, n)  # the same draw as before the server-side calibration
            self._rate = np.zeros(0)
        else:
            self.seen = self.model.seen_samples(rng, n)
            counts = np.bincount(arrivals.astype(int)) if n else np.zeros(1)
            trailing = np.convolve(counts, np.ones(RATE_WINDOW_S))[: counts.size]
            self._rate = trailing / np.minimum(np.arange(counts.size) + 1, RATE_WINDOW_S)
        self._key: tuple[int, int] = (-1, -1)
        self._cpu = (0.0, 0.0)

    def occupancy(self, index: int, t: float, pods: int, *, idle: bool) -> float:
        """How long request `index`, arriving at `t` while `pods` are ready, holds its pod's worker; `idle`: the
        worker had nothing to do when it came (ServerService.occupancy_at)."""
        if self.model is None:
            return float(self.seen[index])
        key = (int(t), pods)
        if key != self._key:  # one interpolation per second and pod count, not per request
            second = min(key[0], self._rate.size - 1)
            self._key, self._cpu = key, self.model.occupancy_at(float(self._rate[second]) / max(pods, 1))
        return self._cpu[0] if idle else self._cpu[1]

    def answered_at(self, index: int, finish: float, occupancy: float) -> float:
        """When the caller has its answer: the worker took it at finish - occupancy, then in-process + overhead."""
        return finish - occupancy + float(self.seen[index])
