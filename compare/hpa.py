"""The HorizontalPodAutoscaler's algorithm (autoscaling/v2, CPU utilisation), and nothing else.

Follows the controller's documented behaviour: desired = ceil(ready x utilisation / target)
outside a 0.1 tolerance; not-ready pods count as 0 % when scaling up; recommendations are
stabilised over each direction's window (scale-up: the lowest in its window, scale-down: the
highest); the change is then limited by the direction's policies over their periods (selectPolicy
Max: the policy allowing the largest change) and by min and max replicas. The parameters are read
from the manifest that is deployed (k8s/base/hpa.yaml), so simulation and deployment agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

TOLERANCE = 0.1
SYNC_PERIOD_S = 15.0


@dataclass(frozen=True)
class Policy:
    type: Literal["Pods", "Percent"]
    value: int
    period_s: float


@dataclass(frozen=True)
class Rules:
    stabilization_s: float
    policies: tuple[Policy, ...]
    select: Literal["Max", "Min", "Disabled"] = "Max"


# The controller's defaults when a manifest leaves `behavior` out.
DEFAULT_UP = Rules(0.0, (Policy("Percent", 100, 15.0), Policy("Pods", 4, 15.0)))
DEFAULT_DOWN = Rules(300.0, (Policy("Percent", 100, 15.0),))


@dataclass(frozen=True)
class HPAParams:
    min_replicas: int
    max_replicas: int
    target_utilization: float  # fraction of the pod's CPU request, e.g. 0.7
    scale_up: Rules = DEFAULT_UP
    scale_down: Rules = DEFAULT_DOWN
    tolerance: float = TOLERANCE
    sync_period_s: float = SYNC_PERIOD_S

    @classmethod
    def from_manifest(cls, path: Path) -> HPAParams:
        """Read the HorizontalPodAutoscaler from a YAML file (a multi-document render is fine)."""
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "HorizontalPodAutoscaler":
                return cls.from_spec(document["spec"])
        raise ValueError(f"{path}: no HorizontalPodAutoscaler in it")

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> HPAParams:
        cpu = [
            m["resource"]["target"]
            for m in spec.get("metrics", [])
            if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"
        ]
        if not cpu or "averageUtilization" not in cpu[0]:
            raise ValueError("the HPA must scale on CPU averageUtilization")
        behavior = spec.get("behavior", {})
        return cls(
            min_replicas=int(spec.get("minReplicas", 1)),
            max_replicas=int(spec["maxReplicas"]),
            target_utilization=float(cpu[0]["averageUtilization"]) / 100,
            scale_up=_rules(behavior.get("scaleUp"), DEFAULT_UP),
            scale_down=_rules(behavior.get("scaleDown"), DEFAULT_DOWN),
        )


def _rules(spec: dict[str, Any] | None, default: Rules) -> Rules:
    if not spec:
        return default
    policies = tuple(Policy(p["type"], int(p["value"]), float(p["periodSeconds"])) for p in spec.get("policies", []))
    return Rules(
        stabilization_s=float(spec.get("stabilizationWindowSeconds", default.stabilization_s)),
        policies=policies or default.policies,
        select=spec.get("selectPolicy", default.select),
    )


@dataclass
class HorizontalPodAutoscaler:
    params: HPAParams
    _recommendations: list[tuple[float, int]] = field(default_factory=list)
    _events: list[tuple[float, int]] = field(default_factory=list)  # (time, replicas added; negative: removed)

    def raw_desired(self, current: int, ready_utilizations: Sequence[float], unready: int) -> int:
        """desired = ceil(pods x utilisation / target), skipping changes inside the tolerance."""
        if not ready_utilizations:
            return current
        target = self.params.target_utilization
        ratio = sum(ready_utilizations) / len(ready_utilizations) / target
        if abs(ratio - 1) <= self.params.tolerance:
            return current
        if ratio > 1 and unready:
            # Scaling up: pods not ready yet count as using nothing, so a starting pod damps the step.
            ratio = sum(ready_utilizations) / (len(ready_utilizations) + unready) / target
            if ratio <= 1 + self.params.tolerance:
                return current
            return math.ceil(ratio * (len(ready_utilizations) + unready))
        return math.ceil(ratio * len(ready_utilizations))

    def step(self, now: float, current: int, ready_utilizations: Sequence[float], unready: int = 0) -> int:
        """One sync: the replica count the controller sets at `now`."""
        if current == 0:  # scaling is disabled at zero replicas
            return 0
        desired = self.raw_desired(current, ready_utilizations, unready)
        stabilized = self._stabilize(now, current, desired)
        limited = self._limit_rate(now, current, stabilized)
        if limited != current:
            self._events.append((now, limited - current))
        return limited

    def _stabilize(self, now: float, current: int, desired: int) -> int:
        up_cutoff = now - self.params.scale_up.stabilization_s
        down_cutoff = now - self.params.scale_down.stabilization_s
        up, down = desired, desired
        for when, recommendation in self._recommendations:
            if when > up_cutoff:
                up = min(up, recommendation)
            if when > down_cutoff:
                down = max(down, recommendation)
        horizon = now - max(self.params.scale_up.stabilization_s, self.params.scale_down.stabilization_s)
        self._recommendations = [(w, r) for w, r in self._recommendations if w > horizon]
        self._recommendations.append((now, desired))
        return min(max(current, up), down)

    def _changed_within(self, now: float, period_s: float, sign: int) -> int:
        return sum(delta for when, delta in self._events if when > now - period_s and delta * sign > 0)

    def _limit_rate(self, now: float, current: int, desired: int) -> int:
        params = self.params
        if desired > current:
            rules = params.scale_up
            if rules.select == "Disabled":
                return current
            proposals = []
            for policy in rules.policies:
                start = current - self._changed_within(now, policy.period_s, +1)
                if policy.type == "Pods":
                    proposals.append(start + policy.value)
                else:
                    proposals.append(math.ceil(start * (1 + policy.value / 100)))
            limit = max(proposals) if rules.select == "Max" else min(proposals)
            return min(desired, limit, params.max_replicas)
        if desired < current:
            rules = params.scale_down
            if rules.select == "Disabled":
                return current
            proposals = []
            for policy in rules.policies:
                start = current - self._changed_within(now, policy.period_s, -1)  # removed ones are negative
                if policy.type == "Pods":
                    proposals.append(start - policy.value)
                else:
                    proposals.append(math.floor(start * (1 - policy.value / 100)))
            limit = min(proposals) if rules.select == "Max" else max(proposals)
            return max(desired, limit, params.min_replicas)
        return max(params.min_replicas, min(current, params.max_replicas))
