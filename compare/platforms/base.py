"""What every simulated platform shares: service-time distributions and the records of a run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

OK, THROTTLED, TIMED_OUT, REJECTED = 200, 429, 504, 503


class Distribution(Protocol):
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray: ...

    @property
    def mean(self) -> float: ...


@dataclass(frozen=True)
class Constant:
    value: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value)

    @property
    def mean(self) -> float:
        return self.value


@dataclass(frozen=True)
class Exponential:
    mean_s: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_s, n)

    @property
    def mean(self) -> float:
        return self.mean_s


@dataclass(frozen=True)
class Empirical:
    """Resampled measurements (a calibration's samples), seconds."""

    samples: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.samples or min(self.samples) < 0:
            raise ValueError("an empirical distribution needs non-negative samples")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(np.asarray(self.samples), n)

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples))


def parse_distribution(text: str) -> Distribution:
    """`const:0.005`, `exp:0.005` (seconds) — the scenario mode's notation."""
    kind, _, value = text.partition(":")
    try:
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"{text!r}: expected KIND:SECONDS, e.g. exp:0.005") from exc
    if number < 0:
        raise ValueError(f"{text!r}: seconds must be non-negative")
    if kind == "const":
        return Constant(number)
    if kind == "exp":
        return Exponential(number)
    raise ValueError(f"{text!r}: unknown distribution {kind!r} (const or exp)")


class PodLifetime(Protocol):
    created_at: float
    removed_at: float | None


def pod_request_status(finish: np.ndarray, arrivals: np.ndarray, timeout_s: float) -> np.ndarray:
    """Per request on pods: refused where it never finished (503), too late past the timeout (504), else OK."""
    status = np.full(arrivals.size, OK, dtype=np.int16)
    status[np.isnan(finish)] = REJECTED
    status[finish - arrivals > timeout_s] = TIMED_OUT
    return status


def pod_seconds(pods: Iterable[PodLifetime], end: float) -> float:
    """The seconds pods existed up to `end` (from their creation, not their readiness: a starting pod is paid for)."""
    return sum((pod.removed_at if pod.removed_at is not None else end) - max(pod.created_at, 0.0) for pod in pods)


@dataclass
class RunRecords:
    """Per request and per second, the same shape for every platform, simulated or measured."""

    platform: str
    arrival_s: np.ndarray
    latency_s: np.ndarray  # NaN where the request got no answer in time
    status: np.ndarray
    cold: np.ndarray
    seconds: np.ndarray = field(default_factory=lambda: np.empty(0))
    instances: np.ndarray = field(default_factory=lambda: np.empty(0))  # environments or replicas
    busy: np.ndarray = field(default_factory=lambda: np.empty(0))  # busy environments or ready replicas
    extra: dict[str, float] = field(default_factory=dict)  # platform totals (billed ms, pod-seconds...)
    per_request: dict[str, np.ndarray] = field(default_factory=dict)  # platform arrays (billed ms...), not summed

    def summary(self) -> dict[str, float]:
        ok = self.status == OK
        latency = self.latency_s[ok]
        percentiles = np.percentile(latency, [50, 95, 99]) if latency.size else [np.nan] * 3
        return {
            "requests": float(self.status.size),
            "ok": float(ok.sum()),
            "errors": float((~ok).sum()),
            "throttled": float((self.status == THROTTLED).sum()),
            "cold_starts": float(self.cold.sum()),
            "p50_ms": float(percentiles[0]) * 1000,
            "p95_ms": float(percentiles[1]) * 1000,
            "p99_ms": float(percentiles[2]) * 1000,
            "max_instances": float(self.instances.max()) if self.instances.size else 0.0,
            **self.extra,
        }
