"""AWS Lambda, simulated: one request per execution environment, cold starts, reclaim, limits.

A request takes the most recently freed idle environment (provisioned ones first: a request that
lands on a provisioned environment never starts cold); with none idle, a new environment starts
and the request pays its init time, unless the function is at its concurrency limit or has
already started its burst of new environments in the last 10 s, in which case the request is
throttled (429). Idle on-demand environments are reclaimed after `keep_alive_s`. A request that
takes longer than the HTTP API's 30 s gets a 504 at the client while the function runs on (and
is billed) to the end.

Provisioned concurrency is either constant (`provisioned`) or scheduled, as Application Auto
Scaling's scheduled actions set it: one level per slot of the day (`provisioned_schedule`, e.g. 24
levels of an hour each), the run's t = 0 being 00:00, repeating daily. A raised level is ready at
its slot's start (the scheduled action is set early enough for the environments to initialise);
at a lowered one, idle provisioned environments go at once and busy ones when their request ends.
Requests beyond the provisioned environments spill to on-demand ones, cold starts and all.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .base import OK, THROTTLED, TIMED_OUT, Distribution, RunRecords

BURST_WINDOW_S = 10.0
DAY_S = 24 * 3600.0


@dataclass(frozen=True)
class LambdaConfig:
    memory_mb: int = 1024
    keep_alive_s: float = 600.0  # AWS does not document it; minutes, varying
    concurrency_limit: int = 1000  # account default, or the function's reserved concurrency
    new_environments_per_10s: int = 1000
    provisioned: int = 0  # constant provisioned concurrency, environments
    api_timeout_s: float = 30.0  # HTTP API integration timeout, a hard limit
    provisioned_schedule: tuple[int, ...] = ()  # a level per slot of the day; overrides `provisioned`
    schedule_slot_s: float = 3600.0  # length of each slot: len(provisioned_schedule) x slot = one day

    def __post_init__(self) -> None:
        if self.provisioned < 0 or any(level < 0 for level in self.provisioned_schedule):
            raise ValueError("provisioned concurrency cannot be negative")
        if self.provisioned_schedule and not math.isclose(len(self.provisioned_schedule) * self.schedule_slot_s, DAY_S):
            raise ValueError(
                f"a provisioned-concurrency schedule covers one day: {len(self.provisioned_schedule)} slots of "
                f"{self.schedule_slot_s:g} s do not"
            )

    def provisioned_in_slot(self, index: int) -> int:
        """The provisioned level of the `index`-th slot since the run's start (constant: any index)."""
        schedule = self.provisioned_schedule
        return schedule[index % len(schedule)] if schedule else self.provisioned


def slot_seconds(duration_s: float, slot_s: float, slots: int) -> np.ndarray:
    """Seconds of [0, duration_s) in each of the day's `slots` slots, summed over the days."""
    seconds = np.zeros(slots)
    whole = int(duration_s // slot_s)
    np.add.at(seconds, np.arange(whole) % slots, slot_s)
    seconds[whole % slots] += duration_s - whole * slot_s
    return seconds


def provisioned_environment_seconds(config: LambdaConfig, duration_s: float) -> float:
    """Environment-seconds of provisioned concurrency configured over the run: what its fee is billed on.
    (AWS rounds each configured period up to 5 minutes; the simulation does not.)"""
    if not config.provisioned_schedule:
        return config.provisioned * duration_s
    levels = np.asarray(config.provisioned_schedule, dtype=float)
    return float(levels @ slot_seconds(duration_s, config.schedule_slot_s, levels.size))


class _Environments:
    """The function's execution environments at one moment of the simulation."""

    def __init__(self, config: LambdaConfig) -> None:
        self.config = config
        self.busy: list[tuple[float, bool]] = []  # heap of (free at, provisioned?)
        self.idle: deque[float] = deque()  # on-demand, idle since: oldest left, newest right
        self.level = config.provisioned_in_slot(0)
        self.provisioned_idle = self.level
        self.retiring = 0  # busy provisioned environments to deallocate when they finish (level lowered)
        self.slot = 0
        self.next_change = config.schedule_slot_s if config.provisioned_schedule else math.inf
        self.started: deque[float] = deque()  # environment start times within the burst window

    def _free(self, now: float) -> None:
        busy, idle = self.busy, self.idle
        while busy and busy[0][0] <= now:
            free_at, provisioned = heapq.heappop(busy)
            if not provisioned:
                idle.append(free_at)
            elif self.retiring:
                self.retiring -= 1
            else:
                self.provisioned_idle += 1

    def _set_level(self, level: int) -> None:
        change, self.level = level - self.level, level
        if change > 0:  # first keep environments that were to go, then add idle ones
            kept = min(change, self.retiring)
            self.retiring -= kept
            self.provisioned_idle += change - kept
        elif change < 0:  # idle ones go now, busy ones when they finish
            dropped = min(-change, self.provisioned_idle)
            self.provisioned_idle -= dropped
            self.retiring += -change - dropped

    def advance(self, now: float) -> None:
        """Free what finished by `now` (applying scheduled changes in order), then reclaim what idled
        past the keep-alive."""
        while self.next_change <= now:
            self._free(self.next_change)
            self.slot += 1
            self._set_level(self.config.provisioned_in_slot(self.slot))
            self.next_change = (self.slot + 1) * self.config.schedule_slot_s
        self._free(now)
        idle = self.idle
        cutoff = now - self.config.keep_alive_s
        while idle and idle[0] < cutoff:
            idle.popleft()

    @property
    def count(self) -> int:
        return len(self.busy) + len(self.idle) + self.provisioned_idle

    def assign(self, now: float, service: float, init: float) -> str:
        """Route one request arriving at `now`: 'provisioned', 'warm', 'cold' or 'throttled'."""
        if self.provisioned_idle:
            self.provisioned_idle -= 1
            heapq.heappush(self.busy, (now + service, True))
            return "provisioned"
        if self.idle:
            self.idle.pop()
            heapq.heappush(self.busy, (now + service, False))
            return "warm"
        started = self.started
        while started and started[0] <= now - BURST_WINDOW_S:
            started.popleft()
        if len(self.busy) >= self.config.concurrency_limit or len(started) >= self.config.new_environments_per_10s:
            return "throttled"
        started.append(now)
        heapq.heappush(self.busy, (now + init + service, False))
        return "cold"


def simulate_lambda(
    arrivals: np.ndarray,
    warm: Distribution,
    init: Distribution,
    config: LambdaConfig,
    seed: int = 0,
    *,
    overhead: Distribution | None = None,
    overhead_holds: bool = False,
) -> RunRecords:
    """`warm`: the handler's duration (it holds the environment and is billed); `init`: the extra time of a
    request that starts an environment; `overhead`: what the caller waits beyond the duration (the Runtime
    API's and the network's round trip), never billed, and holding the environment only with `overhead_holds`.
    Without it the caller sees the duration alone (a round trip given as `warm` already holds it).

    `overhead_holds`: the concurrency slot is taken from the caller's submission to its answer, not for the
    duration alone. That is how compare/lambda_pool.py counts invocations in flight (a local pool of fixed size
    throttles an arrival that finds `size` unanswered), so `compare validate` simulates it so; Lambda's own
    concurrency is its environments' busy time, the default."""
    rng = np.random.default_rng(seed)
    n = int(arrivals.size)
    service, init_time = warm.sample(rng, n), init.sample(rng, n)
    around = overhead.sample(rng, n) if overhead is not None else np.zeros(n)
    horizon = int(np.ceil(arrivals[-1])) + 1 if n else 0
    instances, busy_now = np.zeros(horizon), np.zeros(horizon)
    routes: list[str] = []
    environments = _Environments(config)
    next_second = 0

    def record_seconds_until(now: float) -> None:
        """The state at each whole second up to `now`, for the per-second records."""
        nonlocal next_second
        while next_second <= now and next_second < horizon:
            environments.advance(next_second)
            instances[next_second], busy_now[next_second] = environments.count, len(environments.busy)
            next_second += 1

    held = service + around if overhead_holds else service  # billing stays on `service` (_records)
    for t, s, i in zip(arrivals.tolist(), held.tolist(), init_time.tolist(), strict=True):
        record_seconds_until(t)
        environments.advance(t)
        routes.append(environments.assign(t, s, i))
    record_seconds_until(horizon)
    return _records(
        arrivals,
        np.array(routes),
        service=service,
        init_time=init_time,
        instances=instances,
        busy_now=busy_now,
        config=config,
        overhead=around,
    )


def _records(
    arrivals: np.ndarray,
    routes: np.ndarray,
    *,
    service: np.ndarray,
    init_time: np.ndarray,
    instances: np.ndarray,
    busy_now: np.ndarray,
    config: LambdaConfig,
    overhead: np.ndarray,
) -> RunRecords:
    cold, throttled = routes == "cold", routes == "throttled"
    duration = np.where(cold, init_time + service, service)
    duration[throttled] = 0.0
    billed_ms = np.ceil(duration * 1000)  # Lambda bills by the millisecond, init included
    seen = duration + overhead
    status = np.full(arrivals.size, OK, dtype=np.int16)
    status[throttled] = THROTTLED
    status[~throttled & (seen > config.api_timeout_s)] = TIMED_OUT
    return RunRecords(
        platform="lambda",
        arrival_s=arrivals,
        latency_s=np.where(status == OK, seen, np.nan),
        status=status,
        cold=cold,
        seconds=np.arange(instances.size, dtype=float),
        instances=instances,
        busy=busy_now,
        # duration_s: the environment's busy time from the arrival (init included), unrounded
        per_request={"billed_ms": billed_ms, "on_provisioned": routes == "provisioned", "duration_s": duration},
        extra={
            "billed_ms_total": float(billed_ms.sum()),
            "duration_s_total": float(duration.sum()),  # environment-seconds busy, unrounded
            "billed_ms_on_provisioned": float(billed_ms[routes == "provisioned"].sum()),
            "mean_busy_environments": float(busy_now.mean()) if busy_now.size else 0.0,
            "mean_environments": float(instances.mean()) if instances.size else 0.0,
        },
    )
