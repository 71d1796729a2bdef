"""What the plans search (compare/plans.py) and the recommendation (compare/recommendation.py) share:
the targets, a plan, the recommendation and the set of plans. Both import this module; it imports
neither, so they no longer import each other."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .platforms.base import OK, RunRecords

DEFAULT_P99_TARGET_MS = 100.0
DEFAULT_COLD_START_BUDGET = 0.01
DEFAULT_QUEUE_PER_POD = 4
DEFAULT_SCHEDULE_MINUTES = 60


@dataclass(frozen=True)
class Targets:
    p99_ms: float = DEFAULT_P99_TARGET_MS
    cold_start_budget: float = DEFAULT_COLD_START_BUDGET  # fraction of requests PC plans may start cold
    queue_per_pod: int = DEFAULT_QUEUE_PER_POD  # hybrid: requests a pod holds before overflowing
    schedule_minutes: int = DEFAULT_SCHEDULE_MINUTES  # scheduled PC: length of each slot of the day

    def __post_init__(self) -> None:
        if self.p99_ms <= 0 or not 0 <= self.cold_start_budget <= 1:
            raise ValueError("the p99 target must be positive and the cold-start budget a fraction (0 to 1)")
        if self.schedule_minutes <= 0 or (24 * 60) % self.schedule_minutes:
            raise ValueError(f"schedule slots must divide the day: {self.schedule_minutes} minutes do not")


@dataclass
class Plan:
    name: str  # lambda, lambda-pc, lambda-pc-scheduled, hybrid, kubernetes, knative, knative-min-scale
    label: str
    setting: str  # what to configure, in words
    cost: dict[str, float]  # USD for the run, by part, and "total"
    requests: int
    p99_ms: float  # over every request, failures counting as slower than any answer
    cold_start_fraction: float
    failed: int
    key: tuple[Any, ...]  # the effective configuration: plans with equal keys are the same plan
    details: dict[str, Any] = field(default_factory=dict)
    simulations: int = 1
    same_as: str | None = None  # the name of an earlier plan with the same key
    note: str = ""  # why the search came to what it did, or how the plan is priced, where that needs saying
    run: RunRecords | None = field(default=None, repr=False, compare=False)

    @property
    def per_million_usd(self) -> float:
        return self.cost["total"] / self.requests * 1e6 if self.requests else math.nan

    def meets(self, p99_target_ms: float) -> bool:
        return self.p99_ms <= p99_target_ms

    def to_json(self, p99_target_ms: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "setting": self.setting,
            "cost_usd": {k: round(v, 6) for k, v in self.cost.items()},
            "per_million_usd": round(self.per_million_usd, 4),
            "p99_ms": round(self.p99_ms, 3) if math.isfinite(self.p99_ms) else None,
            "cold_start_fraction": round(self.cold_start_fraction, 6),
            "failed": self.failed,
            "meets_p99_target": self.meets(p99_target_ms),
            "same_as": self.same_as,
            "note": self.note,
            "simulations": self.simulations,
            "details": self.details,
        }


def plan_p99_ms(run: RunRecords) -> float:
    """The 99th percentile (nearest rank) of every request's latency, a failure counting as infinite."""
    if run.status.size == 0:
        return math.nan
    latency = np.where(run.status == OK, run.latency_s, np.inf)
    return float(np.percentile(latency, 99, method="higher")) * 1000


@dataclass(frozen=True)
class Recommendation:
    plan: str  # name of the recommended plan
    runner_up: str | None
    meets_target: bool  # False: no plan meets it, and `plan` is the one with the lowest p99
    why: str
    ranking: list[str]  # the distinct plans meeting the target, cheapest first

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "runner_up": self.runner_up,
            "meets_target": self.meets_target,
            "ranking": self.ranking,
            "why": self.why,
        }


@dataclass
class PlanSet:
    profile: str
    requests: int
    duration_s: float
    prices_checked: str
    region: str
    targets: Targets
    plans: list[Plan]
    recommendation: Recommendation
    seconds: float

    def plan(self, name: str) -> Plan:
        for plan in self.plans:
            if plan.name == name:
                return plan
        raise KeyError(name)

    @property
    def simulations(self) -> int:
        return sum(plan.simulations for plan in self.plans)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": {"name": self.profile, "duration_s": self.duration_s, "requests": self.requests},
            "prices_checked": self.prices_checked,
            "targets": {
                "p99_ms": self.targets.p99_ms,
                "cold_start_budget": self.targets.cold_start_budget,
                "queue_per_pod": self.targets.queue_per_pod,
                "schedule_minutes": self.targets.schedule_minutes,
            },
            "plans": [plan.to_json(self.targets.p99_ms) for plan in self.plans],
            "recommendation": self.recommendation.to_json(),
            "searched_in_s": round(self.seconds, 3),
            "simulations": self.simulations,
        }


def duration_text(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.3g} min" if seconds >= 120 else f"{seconds:.3g} s"
