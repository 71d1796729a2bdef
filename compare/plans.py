"""Plans beyond pure Lambda or pure Kubernetes: search them for a profile, then recommend one.

Seven plans, each evaluated by the simulators on the scenario's one arrival sequence (and its one
draw of service and init times, so the candidates differ only by the plan), built platform by
platform (PLAN_BUILDERS: a new platform is one more builder):

- Lambda on demand;
- Lambda with provisioned concurrency (PC) at a constant level: the one that costs least while
  at most `cold_start_budget` of the run's requests start cold;
- Lambda with PC scheduled by slot of the day (Application Auto Scaling scheduled actions; an
  hour by default), the levels that cost least within the same budget;
- hybrid: N always-on pods, the overflow beyond `queue_per_pod` requests a pod on Lambda, with
  the N that costs least while meeting the p99 target;
- Kubernetes with its HPA, as the manifest sets it;
- Knative with the KPA as its manifest sets it (min-scale 0: scale to zero), and the same with
  min-scale 1; both priced as pods on the same cluster for the seconds they exist, the cluster's
  fees (control plane, load balancer) charged for the whole run as for the HPA's pods.

The PC search starts from the level the price book says pays for itself: an environment busy a
fraction u of the time costs `pc` per GB-s provisioned plus `u x pc_duration` instead of
`u x on_demand`, so PC is cheaper at u > pc / (on_demand - pc_duration) (0.6 at list prices), and
under PC-first routing the k-th environment is busy about as often as k or more requests are in
flight: the guess is that quantile of the on-demand run's busy environments (per slot, for a
schedule). Phase 1 walks from the guess to each slot's cheapest level; phase 2 raises the levels,
if need be, by the least that meets the cold-start budget (search_provisioned says how). Levels
stop at the on-demand run's peak concurrency, at and above which no request can start cold. A
constant level is a schedule too: where it costs no more, the scheduled plan is that level.
The hybrid search tries N = 1, 2, ... up to the pods that carry the peak alone at half load, and
stops where the pods' fees alone cost more than the best plan found.

A plan's p99 counts every request, a failed one (throttled, refused, timed out) as slower than
any answer: a plan that fails more than 1 % of requests misses every target. The recommendation
is the cheapest distinct plan that meets the p99 target, the next cheapest its runner-up. The
cold-start budget bounds the PC searches only: every plan, Knative's scale to zero and Lambda on
demand included, is judged on its p99, in which its cold starts count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .plan_types import (
    DEFAULT_COLD_START_BUDGET,
    DEFAULT_P99_TARGET_MS,
    DEFAULT_QUEUE_PER_POD,
    DEFAULT_SCHEDULE_MINUTES,
    Plan,
    PlanSet,
    Targets,
    plan_p99_ms,
)
from .platforms.base import OK, THROTTLED, RunRecords
from .platforms.lambda_ import DAY_S, LambdaConfig, slot_seconds
from .prices import MB_PER_GB, Architecture, PodResources, PriceBook, kubernetes_cost
from .recommendation import duration_text, recommend
from .simulation import Scenario, run_hybrid, run_k8s, run_knative, run_lambda

__all__ = [
    "DEFAULT_COLD_START_BUDGET",
    "DEFAULT_P99_TARGET_MS",
    "DEFAULT_QUEUE_PER_POD",
    "DEFAULT_SCHEDULE_MINUTES",
    "Plan",
    "PlanSet",
    "Targets",
    "evaluate_plans",
    "plan_p99_ms",
    "search_hybrid",
    "search_provisioned",
]

HYBRID_POD_LOAD = 0.5  # the hybrid search's largest N carries the peak rate at this load per pod
MAX_HYBRID_CANDIDATES = 24
MAX_PC_ROUNDS = 24  # rounds of phase 1 of the provisioned-concurrency search, three simulations at most each
ARCH: Architecture = "x86_64"  # what the simulated Lambda is priced as (LambdaUsage's default)


def _plan(
    name: str, label: str, setting: str, *, run: RunRecords, cost: dict[str, float], key: tuple[Any, ...]
) -> Plan:
    answered = int((run.status != THROTTLED).sum())
    return Plan(
        name=name,
        label=label,
        setting=setting,
        cost=cost,
        requests=int(run.status.size),
        p99_ms=plan_p99_ms(run),
        cold_start_fraction=float(run.cold.sum()) / answered if answered else 0.0,
        failed=int((run.status != OK).sum()),
        key=key,
        run=run,
    )


# ---------------------------------------------------------------------------------------------
# Provisioned concurrency


def concurrency_at_arrivals(arrivals: np.ndarray, durations_s: np.ndarray) -> np.ndarray:
    """Requests in flight at each (sorted) arrival, itself included."""
    ends = np.sort(arrivals + durations_s)
    return np.arange(1, arrivals.size + 1) - np.searchsorted(ends, arrivals, side="right")


def break_even_utilization(book: PriceBook, arch: Architecture = ARCH) -> float:
    """The share of time a provisioned environment must be busy to cost no more than on demand."""
    saving = book.lambda_price("per_gb_second", arch) - book.lambda_price("provisioned_duration_per_gb_second", arch)
    fee = book.lambda_price("provisioned_per_gb_second", arch)
    return fee / saving if saving > 0 else math.inf


@dataclass(frozen=True)
class _Slots:
    """The slots of the day a PC level is set for: one for a constant level."""

    count: int
    slot_s: float | None  # None: constant
    of_arrival: np.ndarray  # slot index of each request
    seconds: np.ndarray  # seconds of the run in each slot

    @classmethod
    def make(cls, scenario: Scenario, slot_s: float | None) -> _Slots:
        if slot_s is None:
            return cls(1, None, np.zeros(scenario.arrivals.size, dtype=int), np.array([scenario.duration_s]))
        count = round(DAY_S / slot_s)
        return cls(
            count,
            slot_s,
            (scenario.arrivals // slot_s).astype(int) % count,
            slot_seconds(scenario.duration_s, slot_s, count),
        )

    def of_times(self, times: np.ndarray) -> np.ndarray:
        if self.slot_s is None:
            return np.zeros(times.size, dtype=int)
        return (times // self.slot_s).astype(int) % self.count

    def config(self, base: LambdaConfig, levels: np.ndarray) -> LambdaConfig:
        if self.slot_s is None:
            return replace(base, provisioned=int(levels[0]), provisioned_schedule=())
        return replace(base, provisioned=0, provisioned_schedule=tuple(int(v) for v in levels),
                       schedule_slot_s=self.slot_s)  # fmt: skip


@dataclass(frozen=True)
class _SlotFigures:
    cost: np.ndarray  # USD per slot: requests, duration, PC fee
    cold: np.ndarray
    answered: np.ndarray

    def within(self, budget: float) -> bool:
        """The whole run within the cold-start budget."""
        return bool(self.cold.sum() <= budget * self.answered.sum())


def _slot_figures(
    run: RunRecords, levels: np.ndarray, slots: _Slots, scenario: Scenario, book: PriceBook
) -> _SlotFigures:
    """Each slot's cost and cold starts in a run with these levels, priced as prices.lambda_cost does."""
    config, arch = scenario.lambda_config, ARCH
    gb = config.memory_mb / MB_PER_GB
    answered = run.status != THROTTLED
    billed_ms, on_pc = run.per_request["billed_ms"], run.per_request["on_provisioned"]
    http_api = float(book.raw["http_api"]["per_million_requests"])
    per_request = (book.lambda_price("per_million_requests") + http_api) / 1e6
    on_demand_ms = np.bincount(slots.of_arrival, weights=np.where(on_pc, 0.0, billed_ms), minlength=slots.count)
    provisioned_ms = np.bincount(slots.of_arrival, weights=np.where(on_pc, billed_ms, 0.0), minlength=slots.count)
    count = np.bincount(slots.of_arrival, weights=answered.astype(float), minlength=slots.count)
    cost = (
        count * per_request
        + on_demand_ms / 1000 * gb * book.lambda_price("per_gb_second", arch)
        + provisioned_ms / 1000 * gb * book.lambda_price("provisioned_duration_per_gb_second", arch)
        + levels * slots.seconds * gb * book.lambda_price("provisioned_per_gb_second", arch)
    )
    cold = np.bincount(slots.of_arrival, weights=run.cold.astype(float), minlength=slots.count)
    return _SlotFigures(cost, cold, count)


@dataclass
class PCSearch:
    levels: np.ndarray
    run: RunRecords
    cost: dict[str, float]
    simulations: int
    peaks: np.ndarray
    guess: np.ndarray
    cheapest: np.ndarray  # phase 1's levels, before any raise for the cold-start budget
    within_budget: bool


class _Evaluator:
    """Runs of the scenario at given PC levels: figures memoised by level, only the latest run kept (a
    big profile's run is large), any other run simulated again when asked for."""

    def __init__(self, scenario: Scenario, book: PriceBook, on_demand: Plan, base: RunRecords, slots: _Slots) -> None:
        self.scenario, self.book, self.on_demand, self.base, self.slots = scenario, book, on_demand, base, slots
        self.simulations = 0
        self.figures: dict[tuple[int, ...], _SlotFigures] = {}
        self.latest: tuple[tuple[int, ...], RunRecords, dict[str, float]] | None = None

    def __call__(self, levels: np.ndarray) -> _SlotFigures:
        key = tuple(levels.tolist())
        if key not in self.figures:
            run, _ = self.run(levels)
            self.figures[key] = _slot_figures(run, levels, self.slots, self.scenario, self.book)
        return self.figures[key]

    def run(self, levels: np.ndarray) -> tuple[RunRecords, dict[str, float]]:
        key = tuple(levels.tolist())
        if not levels.any():
            return self.base, self.on_demand.cost
        if self.latest is None or self.latest[0] != key:
            self.simulations += 1
            config = self.slots.config(self.scenario.lambda_config, levels)
            run, cost = run_lambda(replace(self.scenario, lambda_config=config), self.book)
            self.latest = (key, run, cost)
        return self.latest[1], self.latest[2]


def search_provisioned(
    scenario: Scenario, book: PriceBook, on_demand: Plan, budget: float, slot_s: float | None
) -> PCSearch:
    """The PC level (slot_s None) or levels per slot of the day that cost least with at most `budget` of the
    run's requests cold. `on_demand` is the scenario's plan without PC: its busy environments guide
    the guess, its concurrency bounds the search, and it is the candidate with every level at 0.

    Phase 1: each slot's cheapest level by cost alone, a pattern search from the guess (every slot
    moves at once and keeps its own best; each round ends on the combination as simulated, since a
    slot hands its on-demand environments, or their absence, to the next). Phase 2, if the run then
    starts more than the budget cold: the slots that had cold starts are raised together by the
    least amount that meets it (bisection), those that start cold once they are raised joining them
    (a slot after a raised one finds fewer on-demand environments warm); failing that every slot goes
    to its peak concurrency, where no request can start cold (a request on a provisioned
    environment is never slower than on demand, so the concurrency can only be lower). For one
    slot, with cost convex in the level and cold starts falling with it, this is the optimum."""
    if on_demand.run is None:
        raise ValueError("the provisioned-concurrency search needs the on-demand plan's run")
    base = on_demand.run
    slots = _Slots.make(scenario, slot_s)
    durations = np.where(base.status == THROTTLED, 0.0, base.per_request["billed_ms"] / 1000)
    peaks = np.zeros(slots.count, dtype=int)
    np.maximum.at(peaks, slots.of_arrival, concurrency_at_arrivals(scenario.arrivals, durations))
    busy_slot = slots.of_times(base.seconds)
    u = break_even_utilization(book)
    guess = np.zeros(slots.count, dtype=int)
    if u < 1:
        for slot in np.unique(busy_slot):
            guess[slot] = int(np.quantile(base.busy[busy_slot == slot], 1 - u, method="lower"))
    guess = np.minimum(guess, peaks)
    evaluate = _Evaluator(scenario, book, on_demand, base, slots)
    reached = slots.seconds > 0
    cheapest = _cheapest_levels(evaluate, guess, peaks, reached)
    levels = _within_budget(evaluate, cheapest, peaks, reached, budget)
    run, cost = evaluate.run(levels)
    return PCSearch(levels, run, cost, evaluate.simulations, peaks, guess, cheapest, evaluate(levels).within(budget))


def _cheapest_levels(evaluate: _Evaluator, guess: np.ndarray, peaks: np.ndarray, reached: np.ndarray) -> np.ndarray:
    """Phase 1: steps of one from the guess, doubled where a slot gains, halved where it does not."""
    levels = guess.copy()
    cost = evaluate(levels).cost
    step = np.where(reached, 1, 0)  # slots the run never reaches stay at 0
    for _ in range(MAX_PC_ROUNDS):
        if not step.any():
            break
        proposal, moved, best = levels.copy(), np.zeros(levels.size, dtype=bool), cost.copy()
        for candidate in (np.minimum(levels + step, peaks), np.maximum(levels - step, 0)):
            if not np.array_equal(candidate, levels):
                trial = evaluate(candidate).cost
                better = (candidate != levels) & (trial < best)
                proposal, best = np.where(better, candidate, proposal), np.where(better, trial, best)
                moved |= better
        step = np.where(moved, step * 2, step // 2)
        levels, cost = proposal, evaluate(proposal).cost
    return levels


def _within_budget(
    evaluate: _Evaluator, levels: np.ndarray, peaks: np.ndarray, reached: np.ndarray, budget: float
) -> np.ndarray:
    """Phase 2: the least common raise, of the slots that start cold, that keeps the run within the budget."""
    figures = evaluate(levels)
    if figures.within(budget):
        return levels
    raised = (figures.cold > 0) & reached

    def lifted(by: int) -> np.ndarray:
        return np.where(raised, np.minimum(levels + by, peaks), levels)

    for _ in range(int(reached.sum())):
        top = int((peaks - levels)[raised].max(initial=0))
        at_top = evaluate(lifted(top))
        if at_top.within(budget):
            low, high = 0, top  # low: over the budget, high: within it
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (low, middle) if evaluate(lifted(middle)).within(budget) else (middle, high)
            return lifted(high)
        grown = raised | ((at_top.cold > 0) & reached)
        if np.array_equal(grown, raised):
            break
        raised = grown
    return np.where(reached, peaks, levels)


def _schedule_text(levels: Sequence[int], slot_s: float, reached: np.ndarray) -> str:
    """Consecutive slots with the same level as one range: '00:00-07:00 2, 07:00-19:00 6, ...'."""
    parts, start = [], 0
    for index in range(1, len(levels) + 1):
        if index == len(levels) or levels[index] != levels[start]:
            parts.append(f"{_clock(start * slot_s)}-{_clock(index * slot_s)} {levels[start]}")
            start = index
    unreached = "" if reached.all() else " (slots the profile does not reach: 0)"
    return ", ".join(parts) + unreached


def _clock(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# ---------------------------------------------------------------------------------------------
# Hybrid


def peak_rate(arrivals: np.ndarray, window_s: float = 60.0) -> float:
    """Requests per second in the busiest `window_s` (whole windows from t = 0)."""
    if arrivals.size == 0:
        return 0.0
    return float(np.bincount((arrivals // window_s).astype(int)).max()) / window_s


def hybrid_pod_bound(scenario: Scenario) -> int:
    """The largest N the hybrid search tries: pods that carry the peak rate alone at HYBRID_POD_LOAD."""
    busy = peak_rate(scenario.arrivals) * scenario.server_warm.mean
    return max(1, math.ceil(busy / HYBRID_POD_LOAD))


def _pods_only_cost(scenario: Scenario, book: PriceBook, pods: int) -> float:
    """What N pods and the cluster cost before any request reaches Lambda: a lower bound of the hybrid's cost."""
    pod = PodResources(cpu=scenario.k8s_config.cpu_request, memory_gib=scenario.pod_memory_gib)
    horizon = int(np.ceil(scenario.arrivals[-1])) + 1 if scenario.arrivals.size else 0
    return kubernetes_cost(pods * horizon, pod, scenario.duration_s, book)["total"]


@dataclass
class HybridSearch:
    pods: int
    run: RunRecords
    cost: dict[str, float]
    simulations: int
    tried: dict[int, dict[str, float]]  # N -> cost total, p99 ms, overflow fraction


def search_hybrid(
    scenario: Scenario, book: PriceBook, on_demand: Plan, p99_target_ms: float, queue_per_pod: int
) -> HybridSearch:
    """The N that costs least with p99 within the target (none meets it: the N with the lowest p99).
    N = 0 is `on_demand` (the hybrid without pods is Lambda alone)."""
    bound = hybrid_pod_bound(scenario)
    candidates = list(range(1, bound + 1))
    if len(candidates) > MAX_HYBRID_CANDIDATES:
        candidates = sorted({int(n) for n in np.linspace(1, bound, MAX_HYBRID_CANDIDATES).round()})
    if on_demand.run is None:
        raise ValueError("the hybrid search needs the on-demand plan's run")
    best = _hybrid_key(on_demand.p99_ms, on_demand.cost["total"], p99_target_ms)
    best_n, best_run, best_cost = 0, on_demand.run, on_demand.cost
    tried = {0: {"cost_usd": on_demand.cost["total"], "p99_ms": on_demand.p99_ms, "overflow_fraction": 1.0}}
    simulations = 0

    def attempt(n: int) -> None:
        nonlocal best, best_n, best_run, best_cost, simulations
        if n in tried or not 0 < n <= bound:
            return
        simulations += 1
        run, cost = run_hybrid(scenario, book, n, queue_per_pod)
        p99 = plan_p99_ms(run)
        tried[n] = {"cost_usd": cost["total"], "p99_ms": p99, "overflow_fraction": run.extra["overflow_fraction"]}
        key = _hybrid_key(p99, cost["total"], p99_target_ms)
        if key < best:
            best, best_n, best_run, best_cost = key, n, run, cost

    for n in candidates:
        if best[0] == 0 and _pods_only_cost(scenario, book, n) >= best[1]:
            break  # the pods' fees alone cost more than the best that meets the target
        attempt(n)
    for n in (best_n - 1, best_n + 1):  # on a coarse grid, the neighbours of the best
        if best[0] == 1 or _pods_only_cost(scenario, book, n) < best[1]:
            attempt(n)
    return HybridSearch(best_n, best_run, best_cost, simulations, dict(sorted(tried.items())))


def _hybrid_key(p99_ms: float, cost: float, target_ms: float) -> tuple[float, float]:
    return (0.0, cost) if p99_ms <= target_ms else (1.0, p99_ms)


# ---------------------------------------------------------------------------------------------
# All plans, and the recommendation


PlanBuilder = Callable[[Scenario, PriceBook, Targets, Sequence[Plan]], list[Plan]]


def lambda_plans(base: Scenario, book: PriceBook, targets: Targets, earlier: Sequence[Plan]) -> list[Plan]:
    """Lambda on demand, with a constant PC level, and with a PC level per slot of the day."""
    mb = base.lambda_config.memory_mb
    run, cost = run_lambda(base, book)
    on_demand = _plan("lambda", "Lambda, on demand", f"{mb} MB", run=run, cost=cost, key=("lambda", 0))
    constant = search_provisioned(base, book, on_demand, targets.cold_start_budget, None)
    level = int(constant.levels[0])
    pc = _plan("lambda-pc", "Lambda + provisioned concurrency", f"{level} provisioned, all day; {mb} MB",
               run=constant.run, cost=constant.cost, key=("lambda", level))  # fmt: skip
    pc.simulations = constant.simulations
    u = break_even_utilization(book)
    pc.details = {
        "level": level,
        "cheapest_level": int(constant.cheapest[0]),
        "guess": int(constant.guess[0]),
        "peak_concurrency": int(constant.peaks[0]),
        "break_even_utilization": round(u, 4),
        "within_cold_start_budget": constant.within_budget,
    }
    if level == 0:
        pc.note = (
            f"no level pays for itself, a provisioned environment having to be busy {u:.0%} of the time, and on "
            f"demand already keeps cold starts within the {targets.cold_start_budget:.2%} budget"
        )
    return [on_demand, pc, _scheduled_plan(base, book, on_demand, pc, targets)]


def hybrid_plans(base: Scenario, book: PriceBook, targets: Targets, earlier: Sequence[Plan]) -> list[Plan]:
    """N always-on pods, the overflow on Lambda: the N that costs least within the p99 target."""
    on_demand = next(plan for plan in earlier if plan.name == "lambda")
    hybrid = search_hybrid(base, book, on_demand, targets.p99_ms, targets.queue_per_pod)
    pods = hybrid.pods
    cpu, memory = base.k8s_config.cpu_request, base.pod_memory_gib
    setting = (
        f"{pods} pods ({cpu:g} vCPU, {memory:g} GiB) always on; "
        f"beyond {targets.queue_per_pod} requests a pod, to Lambda"
    )
    label = "Hybrid: pods + Lambda overflow"
    if pods:
        plan = _plan("hybrid", label, setting, run=hybrid.run, cost=hybrid.cost, key=("hybrid", pods))
    else:  # the best hybrid has no pods: Lambda on demand
        plan = replace(on_demand, name="hybrid", label=label, setting=setting, run=None)
        plan.note = "no number of always-on pods meets the p99 target for less than Lambda alone"
    plan.simulations = hybrid.simulations
    plan.details = {
        "pods": pods,
        "overflow_fraction": round(float(hybrid.run.extra.get("overflow_fraction", 1.0)), 6),
        "tried": {str(n): {k: round(v, 6) for k, v in tried.items()} for n, tried in hybrid.tried.items()},
    }
    return [plan]


def kubernetes_plans(base: Scenario, book: PriceBook, targets: Targets, earlier: Sequence[Plan]) -> list[Plan]:
    """The Deployment with its HPA, as the manifest sets it."""
    hpa, cpu = base.k8s_config.hpa, base.k8s_config.cpu_request
    run, cost = run_k8s(base, book)
    k8s = _plan("kubernetes", "Kubernetes + HPA",
                f"HPA {hpa.min_replicas}-{hpa.max_replicas} pods ({cpu:g} vCPU) at {hpa.target_utilization:.0%} CPU",
                run=run, cost=cost, key=("kubernetes",))  # fmt: skip
    k8s.details = {"mean_replicas": round(run.extra["mean_replicas"], 3), "max_replicas": int(run.instances.max())}
    return [k8s]


KNATIVE_CLUSTER_NOTE = (
    "priced as pods on the same cluster for the seconds they exist; the cluster's fees (control plane, load "
    "balancer) run the whole time, at zero pods too"
)


def knative_plans(base: Scenario, book: PriceBook, targets: Targets, earlier: Sequence[Plan]) -> list[Plan]:
    """The Knative Service as the manifest sets its KPA (scale to zero at its min-scale 0), and the same with
    min-scale 1 (one pod always warm). None when the scenario holds no Knative configuration."""
    config = base.knative_config
    if config is None:
        return []
    kpa = config.kpa
    pod = base.knative_pod or PodResources(cpu=base.k8s_config.cpu_request, memory_gib=base.pod_memory_gib)
    found: list[Plan] = []
    for name, min_scale in (("knative", kpa.min_scale), ("knative-min-scale", max(1, kpa.min_scale))):
        label = "Knative, scale to zero" if min_scale == 0 else f"Knative, min-scale {min_scale}"
        scenario = replace(base, knative_config=replace(config, kpa=replace(kpa, min_scale=min_scale)))
        run, cost = run_knative(scenario, book)
        bounds = f"{min_scale}-{kpa.max_scale}" if kpa.max_scale else f"{min_scale} and up"
        setting = (
            f"KPA {bounds} pods ({pod.cpu:g} vCPU), target {kpa.target:g} x {kpa.target_utilization:.0%} in flight, "
            f"containerConcurrency {kpa.container_concurrency}"
        )
        plan = _plan(name, label, setting, run=run, cost=cost, key=("knative", replace(kpa, min_scale=min_scale)))
        plan.note = KNATIVE_CLUSTER_NOTE
        if found and _same_run(found[0], plan):  # min-scale 1 changed nothing: the profile never idled to zero
            plan.key = found[0].key
            plan.note = "the profile never idles long enough for the KPA to scale to zero: min-scale 1 changes nothing"
        plan.details = {
            "min_scale": min_scale,
            "max_scale": kpa.max_scale,
            "pod_seconds": round(float(run.extra["pod_seconds"]), 3),
            "mean_pods": round(float(run.extra.get("mean_pods", 0.0)), 3),
            "max_pods": int(run.instances.max()) if run.instances.size else 0,
        }
        found.append(plan)
    return found


def _same_run(a: Plan, b: Plan) -> bool:
    """Two plans' runs answered every request alike, at the same cost."""
    if a.run is None or b.run is None or a.cost["total"] != b.cost["total"]:
        return False
    return bool(np.array_equal(a.run.latency_s, b.run.latency_s, equal_nan=True) and
                np.array_equal(a.run.cold, b.run.cold) and np.array_equal(a.run.status, b.run.status))  # fmt: skip


# One builder per platform, in the order the plans are shown; a new platform is one more builder here.
PLAN_BUILDERS: tuple[PlanBuilder, ...] = (lambda_plans, hybrid_plans, kubernetes_plans, knative_plans)


def evaluate_plans(scenario: Scenario, book: PriceBook, targets: Targets, profile: str = "the") -> PlanSet:
    """Every plan for the scenario's arrivals, each searched as the module says, and the recommendation."""
    started = time.perf_counter()
    lambda_config = replace(scenario.lambda_config, provisioned=0, provisioned_schedule=())
    base = replace(scenario, lambda_config=lambda_config)
    plans: list[Plan] = []
    for build in PLAN_BUILDERS:
        plans += build(base, book, targets, plans)

    seen: dict[tuple[Any, ...], str] = {}
    for plan in plans:
        if plan.key in seen:  # its run, if any, is the earlier plan's or the same as it
            plan.same_as, plan.run = seen[plan.key], None
        else:
            seen[plan.key] = plan.name
            if plan.run is not None:
                plan.run.platform = plan.name  # the report's files and colours go by it
    requests, duration = int(scenario.arrivals.size), scenario.duration_s
    region = str(book.raw["book"].get("region", ""))
    context = (
        f"For the {profile} profile ({requests:,} requests over {duration_text(duration)}) at the price book's "
        f"{region} prices (checked {book.checked}), "
    )
    return PlanSet(
        profile=profile,
        requests=requests,
        duration_s=duration,
        prices_checked=book.checked,
        region=region,
        targets=targets,
        plans=plans,
        recommendation=recommend(plans, targets.p99_ms, context=context),
        seconds=time.perf_counter() - started,
    )


def _scheduled_plan(base: Scenario, book: PriceBook, on_demand: Plan, constant: Plan, targets: Targets) -> Plan:
    slot_s = targets.schedule_minutes * 60.0
    slots = round(DAY_S / slot_s)
    reached = slot_seconds(base.duration_s, slot_s, slots) > 0
    label = "Lambda + provisioned concurrency, scheduled"
    name = _slot_name(targets.schedule_minutes)
    if reached.sum() <= 1:  # one slot: the schedule is the constant level
        return _as_constant(constant, label, slots, f"the profile spans one {name}", simulations=0)
    found = search_provisioned(base, book, on_demand, targets.cold_start_budget, slot_s)
    if constant.cost["total"] <= found.cost["total"] and constant.details["within_cold_start_budget"]:
        return _as_constant(constant, label, slots, f"no schedule by {name} beats it", found.simulations)
    levels = [int(v) for v in found.levels]
    used = {level for level, hit in zip(levels, reached.tolist(), strict=True) if hit}
    key = ("lambda", used.pop()) if len(used) == 1 else ("lambda-schedule", tuple(levels))
    setting = f"by {_slot_name(targets.schedule_minutes)}: {_schedule_text(levels, slot_s, reached)}; "
    setting += f"{base.lambda_config.memory_mb} MB"
    plan = _plan("lambda-pc-scheduled", label, setting, run=found.run, cost=found.cost, key=key)
    plan.simulations = found.simulations
    plan.details = {
        "schedule": levels,
        "slot_minutes": targets.schedule_minutes,
        "cheapest_schedule": [int(v) for v in found.cheapest],
        "guess": [int(v) for v in found.guess],
        "peak_concurrency": [int(v) for v in found.peaks],
        "within_cold_start_budget": found.within_budget,
    }
    return plan


def _as_constant(constant: Plan, label: str, slots: int, why: str, simulations: int) -> Plan:
    """The scheduled plan when the constant level is the best schedule."""
    level = int(constant.details["level"])
    details = {**constant.details, "schedule": [level] * slots}
    return replace(constant, name="lambda-pc-scheduled", label=label, setting=f"{level} provisioned, all day",
                   run=None, simulations=simulations, note=f"{why}: {level} all day", details=details)  # fmt: skip


def _slot_name(minutes: int) -> str:
    return "hour" if minutes == 60 else f"{minutes}-minute slot"
