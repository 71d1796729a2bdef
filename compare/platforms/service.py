"""A pod's work per request, from the server-side calibration: what its CPU does and what its callers see.

A pod is one uvicorn worker: one event loop on one core. A request's CPU time is what the HPA's
utilisation and the pod's core are made of, and (less the loop's wake-up, below) how long it holds
the worker.
The calibration measured it (CPU seconds per request) at several offered rates and at saturation:
it falls as the rate rises (at low rates every request pays the loop's wake-up alone; near
saturation the loop reads and answers several per turn). The model takes it as a function of the
pod's offered rate: between the calibrated rates the utilisation (rate x CPU per request) is
interpolated linearly, below them the lowest level's figure holds and above them the saturation
figure (where a pod is overloaded and its queue grows anyway).
The offered rate of a pod is the profile's arrival rate over the trailing `RATE_WINDOW_S` seconds
divided by the ready pods (the Service spreads requests evenly over them). Why CPU per request falls
also says when it is paid: the loop's wake-up (and its way back to sleep) comes once per busy spell.
So a request holds the worker for the saturated figure, and each spell costs the rest of the calibrated
mean, worked off when the spell ends (`costs_at`, `Worker`): it delays what arrives while the loop goes
back to sleep, not what queued during the spell. Each request is charged the calibrated mean CPU
(utilisation, the HPA's signal, the bill), which already counts the spells' wake-ups as the measured
arrivals bunched: charging the spells instead came out 0.10-0.15 of a core low against validate's
driver, whose arrivals leave a timer tick together. Holding every request for the mean instead queued each one that came
while another was served behind a wake-up it never paid: one worker's simulated p50 came out 36-67 %
above the measured one at 25-80 % of its capacity; with the wake-up at the spell's end, the same
calibrations' p50 came within 5-14 % of those runs' below 80 %.

What a caller sees of a request is its wait in the pod's queue (first come, first served, each
request before it holding the worker, `Worker`), then the request's own in-process latency
(the access log's latency_ms, arrival at the middleware to response start) and the overhead around
it (the load driver's round trip less the in-process latency: the client, the loopback, uvicorn's
parsing and writing); those two are drawn as measured pairs at the calibration's lightest level,
where no request waited for another, so the wait is not counted twice.

Where the service is a plain distribution (a hand-given --service, a version-1 calibration), it is
both the worker's occupancy and what the caller sees beyond the wait, as before.
"""

from __future__ import annotations

import math
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

    def costs_at(self, rate_per_s: float) -> tuple[float, float]:
        """At a pod's offered rate: (how long a request holds the worker, the wake-up a busy spell costs on top).
        The calibrated CPU per request falls with the rate because the loop's wake-up (the epoll return, the
        system calls, the core's wake from idle and the way back to sleep) is paid once per busy spell and
        shared by every request in it: a request holds the worker for the saturated figure, the last calibrated
        one (a closed-loop burst, always busy), and each spell costs the rest of the calibrated mean, spread
        over the 1 - rate x hold of Poisson arrivals that find the worker free and start one (`Worker`)."""
        mean = self.cpu_at(rate_per_s)
        hold = min(mean, self.cpu_s[-1])
        return hold, (mean - hold) / (1 - min(rate_per_s * hold, MAX_RHO))

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


@dataclass
class Worker:
    """One worker's event loop, first come first served. A request that finds it free starts a busy spell, whose
    wake-up is worked off when the spell ends (the loop's way back to sleep): it delays only what arrives then,
    not the requests queued during the spell, which the loop answers without sleeping in between."""

    free_at: float = -math.inf  # when the last request taken lets the next one go (none yet: free since ever)
    to_sleep: float = 0.0  # the current spell's wake-up, worked off once it ends

    def take(self, now: float, hold: float, wake: float) -> float:
        """A request arriving at `now`: when the worker starts it."""
        if now > self.free_at:  # a new spell, after the last one's way back to sleep (one let in as the last
            # request lets go, as an activator's slot does, continues the spell)
            start = max(now, self.free_at + self.to_sleep)
            self.to_sleep = wake
        else:
            start = self.free_at
        self.free_at = start + hold
        return start


class PodWork:
    """Per request on pods: how long it holds the worker, the wake-up, its CPU, and what the caller sees beyond its
    wait."""

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
        self._cpu = (0.0, 0.0, 0.0)  # (hold, wake-up, CPU charged) at the current key

    def costs(self, index: int, t: float, pods: int) -> tuple[float, float, float]:
        """For request `index`, arriving at `t` while `pods` are ready: how long it holds its pod's worker, the
        wake-up it costs if it finds the worker free (ServerService.costs_at), and the CPU it is charged: the
        calibrated mean, which already counts the spells' wake-ups however the arrivals bunch (a plain service
        time: that time, no wake-up)."""
        if self.model is None:
            seen = float(self.seen[index])
            return seen, 0.0, seen
        key = (int(t), pods)
        if key != self._key:  # one interpolation per second and pod count, not per request
            second = min(key[0], self._rate.size - 1)
            rate = float(self._rate[second]) / max(pods, 1)
            self._key, self._cpu = key, (*self.model.costs_at(rate), self.model.cpu_at(rate))
        return self._cpu

    def answered_at(self, index: int, start: float) -> float:
        """When the caller has its answer: the worker took it at `start`, then in-process + overhead."""
        return start + float(self.seen[index])
