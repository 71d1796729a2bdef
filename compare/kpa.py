"""The Knative Pod Autoscaler's decision (KPA, concurrency metric), and nothing else.

Follows knative/serving's decider (`pkg/autoscaler/scaling/autoscaler.go`) and the KPA scaler's
bounds and scale to zero (`pkg/reconciler/autoscaling/kpa/scaler.go`), with Knative's documented
defaults. Every tick (2 s), from the revision's concurrency averaged over the stable window (60 s)
and over the panic window (10 % of it):

- desired = ceil(average / target value), the target value being max(0.01, target x utilisation)
  (the target capped by containerConcurrency when that is set), for each window;
- both held within [floor(ready / max scale-down rate 2), ceil(ready x max scale-up rate 1000)],
  ready counting as 1 when there is none;
- panic when the panic window's count reaches 200 % of the ready pods; in panic the larger of the
  two counts is taken and never lowered; panic ends once a stable window has passed since the
  last tick over the threshold;
- a scale-down delay keeps the highest count of its window;
- the excess burst capacity, floor(ready x total target - target burst capacity - panic average) (the
  total target: the target capped by containerConcurrency, without utilisation; 0 when the target burst
  capacity is 0, -1 when it is -1): below zero the activator stays in the request path (the SKS in proxy
  mode), with Knative's default of 211 for any revision of fewer than 211 / total target ready pods;
- then min-scale and max-scale; and zero only when the revision has been active a stable window
  (it is then marked inactive: the activator enters the request path) and inactive for the
  scale-to-zero grace period (30 s; or the pod retention period, if longer).

The decision is a pure function of the observed averages, the parameters and the time: tests
drive it tick by tick with a fake clock. `ConcurrencyWindows` keeps the per-second averages the
autoscaler's collector keeps, and answers both windows' averages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TICK_S = 2.0  # config-autoscaler tick-interval
TARGET_MIN = 0.01  # autoscaling.TargetMin
DEFAULT_TARGET = 100.0  # container-concurrency-target-default
WINDOW_MIN_S, WINDOW_MAX_S = 6.0, 3600.0


@dataclass(frozen=True)
class KPAParams:
    target: float = DEFAULT_TARGET  # concurrency per pod the KPA aims at, before utilisation
    target_utilization: float = 0.7  # container-concurrency-target-percentage 70
    container_concurrency: int = 0  # the hard limit per pod; 0: none
    min_scale: int = 0
    max_scale: int = 0  # 0: no upper bound
    initial_scale: int = 1
    stable_window_s: float = 60.0
    panic_window_percentage: float = 10.0
    panic_threshold_percentage: float = 200.0
    scale_down_delay_s: float = 0.0
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    target_burst_capacity: float = 211.0  # config-autoscaler target-burst-capacity; -1: activator always in path
    scale_to_zero_grace_s: float = 30.0  # cluster-wide (config-autoscaler)
    pod_retention_s: float = 0.0  # scale-to-zero-pod-retention-period
    tick_s: float = TICK_S

    def __post_init__(self) -> None:
        # The ranges Knative's webhook and config-autoscaler accept.
        problems = []
        if self.target < TARGET_MIN:
            problems.append(f"target {self.target} should be at least {TARGET_MIN}")
        if not 0.01 <= self.target_utilization <= 1:
            problems.append(f"target utilisation {self.target_utilization:.0%} is outside 1..100 %")
        if self.container_concurrency < 0:
            problems.append("containerConcurrency cannot be negative")
        if self.min_scale < 0 or self.max_scale < 0 or (self.max_scale and self.max_scale < self.min_scale):
            problems.append(
                f"min-scale {self.min_scale} and max-scale {self.max_scale}: need 0 <= min <= max (or max 0)"
            )
        if self.initial_scale < 0:
            problems.append("initial-scale cannot be negative")
        if not WINDOW_MIN_S <= self.stable_window_s <= WINDOW_MAX_S:
            problems.append(f"window {self.stable_window_s:g} s is outside 6 s..1 h")
        if not 1 <= self.panic_window_percentage <= 100:
            problems.append(f"panic window {self.panic_window_percentage:g} % is outside 1..100 %")
        if not 110 <= self.panic_threshold_percentage <= 1000:
            problems.append(f"panic threshold {self.panic_threshold_percentage:g} % is outside 110..1000 %")
        if not 0 <= self.scale_down_delay_s <= WINDOW_MAX_S:
            problems.append(f"scale-down delay {self.scale_down_delay_s:g} s is outside 0..1 h")
        if self.max_scale_up_rate <= 1 or self.max_scale_down_rate <= 1:
            problems.append("max scale-up and scale-down rates must be above 1")
        if self.scale_to_zero_grace_s < 6 or self.pod_retention_s < 0 or self.target_burst_capacity < -1:
            problems.append(
                "the scale-to-zero grace period is at least 6 s, the pod retention non-negative, "
                f"the target burst capacity -1 or at least 0 (not {self.target_burst_capacity:g})"
            )
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def total_value(self) -> float:
        """Concurrency per pod before utilisation: the target, capped by containerConcurrency (Knative's TotalValue)."""
        return min(self.target, self.container_concurrency) if self.container_concurrency else self.target

    @property
    def target_value(self) -> float:
        """Concurrency per pod the decider divides by: the target (capped by containerConcurrency) x utilisation."""
        return max(TARGET_MIN, self.total_value * self.target_utilization)

    def excess_burst_capacity(self, ready: int, panic: float) -> float:
        """Knative's EBC: below zero the activator stays in the request path."""
        if self.target_burst_capacity == 0:
            return 0.0
        if self.target_burst_capacity < 0:
            return -1.0
        return float(math.floor(ready * self.total_value - self.target_burst_capacity - panic))

    @property
    def panic_window_s(self) -> float:
        return self.stable_window_s * self.panic_window_percentage / 100

    @property
    def panic_threshold(self) -> float:
        return self.panic_threshold_percentage / 100

    @property
    def zero_after_inactive_s(self) -> float:
        return max(self.scale_to_zero_grace_s, self.pod_retention_s)


@dataclass(frozen=True)
class Decision:
    """What one tick decided, with the reason beside the number."""

    pods: int  # the replica count to set
    panic: bool
    reason: str
    stable_pods: int  # ceil(stable average / target value), before any limit
    panic_pods: int  # the same over the panic window
    excess_burst_capacity: float = -1.0  # below zero: the activator in the request path

    @property
    def activator_in_path(self) -> bool:
        return self.excess_burst_capacity < 0


@dataclass
class ConcurrencyWindows:
    """The revision's concurrency, one average per second (bucket `s` covers [s, s + 1)), as the
    collector keeps it. A second counts as reported when a pod or the activator reported in it; a
    window's average is over the seconds since the first report, when that is less than a window
    ago (after a gap of a whole stable window, the history starts again), and up to the last one."""

    stable_window_s: float
    _busy: dict[int, float] = field(default_factory=dict)  # request-seconds in each second
    _first: int | None = None
    _last: int | None = None

    def add_request(self, start: float, end: float) -> None:
        """One request in the system (activator, queue-proxy or container) from `start` to `end`."""
        second = math.floor(start)
        while second < end:
            overlap = min(end, second + 1) - max(start, second)
            if overlap > 0:
                self._busy[second] = self._busy.get(second, 0.0) + overlap
            second += 1

    def has_requests(self, second: int) -> bool:
        return self._busy.get(second, 0.0) > 0

    def report(self, second: int) -> None:
        """A scrape reached the autoscaler during `second` (pods existed, or the activator held requests)."""
        if self._last is None or second - self._last > self.stable_window_s:
            self._first = second
        if self._last is None or second > self._last:
            self._last = second

    def average(self, now: float, window_s: float) -> float | None:
        """Mean concurrency over the seconds in [now - window, now); None: no data (Knative then decides nothing)."""
        if self._first is None or self._last is None:
            return None
        start = max(math.ceil(now - window_s), self._first)
        end = min(math.floor(now), self._last + 1)
        if end <= start:
            return None
        return sum(self._busy.get(s, 0.0) for s in range(start, end)) / (end - start)

    def forget_before(self, second: int) -> None:
        for old in [s for s in self._busy if s < second]:
            del self._busy[old]


@dataclass
class KnativePodAutoscaler:
    params: KPAParams
    panic_since: float | None = None  # last tick over the panic threshold (Knative's panicTime)
    max_panic_pods: int = 0
    active_since: float | None = 0.0  # the revision became active (pods serving without the activator)
    inactive_since: float | None = None  # marked inactive: the activator is in the path
    _delayed: list[tuple[float, int]] = field(default_factory=list)

    def decide(self, now: float, stable: float, panic: float, ready: int) -> Decision:
        """The decider alone: observed averages in, desired pods out (before bounds and scale to zero)."""
        params = self.params
        ready_count = max(1, ready)
        max_up = math.ceil(params.max_scale_up_rate * ready_count)
        max_down = math.floor(ready_count / params.max_scale_down_rate)
        stable_pods = math.ceil(stable / params.target_value)
        panic_pods = math.ceil(panic / params.target_value)
        desired_stable = min(max(stable_pods, max_down), max_up)
        desired_panic = min(max(panic_pods, max_down), max_up)

        over = panic_pods / ready_count >= params.panic_threshold
        if over:
            reason = "panic: the panic window wants 200 % of the ready pods" if self.panic_since is None else "panic"
            self.panic_since = now
        elif self.panic_since is not None and self.panic_since + params.stable_window_s < now:
            self.panic_since, self.max_panic_pods = None, 0
            reason = "panic over: a stable window since the last tick over the threshold"
        else:
            reason = "stable"

        desired = desired_stable
        if self.panic_since is not None:
            desired = max(desired_stable, desired_panic)
            if desired > self.max_panic_pods:
                self.max_panic_pods = desired
            elif desired < self.max_panic_pods and not over:
                reason = "panic: no scale-down"
            desired = self.max_panic_pods
        elif desired < stable_pods and desired == max_down:
            reason = "stable: scale-down rate"

        if params.scale_down_delay_s > 0:
            self._delayed = [(t, d) for t, d in self._delayed if t > now - params.scale_down_delay_s]
            self._delayed.append((now, desired))
            delayed = max(d for _, d in self._delayed)
            if delayed != desired:
                desired, reason = delayed, reason + "; scale-down delay"
        excess = params.excess_burst_capacity(ready, panic)
        return Decision(desired, self.panic_since is not None, reason, stable_pods, panic_pods, excess)

    def step(self, now: float, stable: float, panic: float, ready: int, current: int) -> Decision:
        """One tick: the decider, then min/max scale and the scale-to-zero gate. `current`: the replica
        count set now (ready or starting)."""
        decision = self.decide(now, stable, panic, ready)
        return self._scale(now, decision, current)

    def poke(self, now: float, held: int) -> Decision:
        """At zero, a request reaches the activator: it reports at once and the autoscaler decides then,
        the activator's report being all the (fresh) history there is."""
        decision = self.decide(now, float(held), float(held), 0)
        return self._scale(now, decision, 0)

    def _scale(self, now: float, decision: Decision, current: int) -> Decision:
        params = self.params
        pods = max(decision.pods, params.min_scale)
        if params.max_scale:
            pods = min(pods, params.max_scale)
        if pods > 0:
            if self.inactive_since is not None or current == 0:
                self.inactive_since, self.active_since = None, now
            return _with(decision, pods, decision.reason)
        if self.inactive_since is None:
            active_for = now - (self.active_since if self.active_since is not None else now)
            if active_for >= params.stable_window_s:
                self.inactive_since = now
                return _with(decision, current, "idle a stable window: inactive, the activator takes the traffic")
            return _with(decision, 1, "idle, but active for less than a stable window: at most one pod")
        if now - self.inactive_since >= params.zero_after_inactive_s:
            return _with(decision, 0, "scale to zero: inactive for the grace period")
        return _with(decision, current, "inactive: waiting out the scale-to-zero grace period")


def _with(decision: Decision, pods: int, reason: str) -> Decision:
    return Decision(pods, decision.panic, reason, decision.stable_pods, decision.panic_pods,
                    decision.excess_burst_capacity)  # fmt: skip
