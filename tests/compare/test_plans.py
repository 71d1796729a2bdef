"""Plans beyond pure Lambda or Kubernetes: provisioned concurrency, the hybrid, the recommendation, the report."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from compare.hpa import HPAParams
from compare.plans import Plan, Targets, evaluate_plans, search_provisioned
from compare.platforms.base import OK, Constant, Exponential
from compare.platforms.hybrid import HybridConfig, simulate_hybrid
from compare.platforms.k8s import K8sConfig
from compare.platforms.lambda_ import LambdaConfig
from compare.prices import PriceBook
from compare.profiles import Profile, Segment, steady
from compare.recommendation import recommend
from compare.report.html import write_report
from compare.report.recommendation import recommendation_section
from compare.simulation import Scenario, run_hybrid, run_lambda
from tests.helpers import REPO

BOOK = PriceBook.load()
RAW = tomllib.loads((REPO / "compare" / "prices.toml").read_text())  # the book, read here on its own
SERVICE_S = 0.05
POD_WARM = Constant(0.01)
PC_RATE = RAW["lambda"]["provisioned_per_gb_second_x86_64"]
PC_DURATION_RATE = RAW["lambda"]["provisioned_duration_per_gb_second_x86_64"]


def scenario(
    arrivals: np.ndarray,
    duration_s: float,
    *,
    memory_mb: int = 512,
    pods: tuple[int, int] = (1, 4),
    server_warm: Constant | Exponential = POD_WARM,
) -> Scenario:
    return Scenario(
        arrivals=arrivals,
        duration_s=duration_s,
        lambda_warm=Constant(SERVICE_S),
        lambda_cold_extra=Constant(1.0),
        server_warm=server_warm,
        lambda_config=LambdaConfig(memory_mb=memory_mb),
        k8s_config=K8sConfig(HPAParams(min_replicas=pods[0], max_replicas=pods[1], target_utilization=0.7)),
        pod_memory_gib=0.25,
    )


def peak_in_flight(arrivals: np.ndarray, service_s: float) -> int:
    """Requests in flight at the busiest arrival when each takes `service_s`: those arrived in (t - s, t]."""
    return int(
        (np.searchsorted(arrivals, arrivals, "right") - np.searchsorted(arrivals, arrivals - service_s, "right")).max()
    )


# ---------------------------------------------------------------------------------------------
# Provisioned concurrency


def test_provisioned_at_peak_concurrency_or_above_never_starts_cold_and_costs_the_book_rate() -> None:
    arrivals = steady(40.0, 300).arrivals(seed=3)
    peak = peak_in_flight(arrivals, SERVICE_S)
    assert peak >= 3  # bursts of Poisson arrivals: more than the mean of 2
    gb, seconds = 512 / 1024, 300.0
    for level in (peak, peak + 3):
        run, cost = run_lambda(
            replace(scenario(arrivals, seconds), lambda_config=LambdaConfig(512, provisioned=level)), BOOK
        )
        assert run.cold.sum() == 0
        assert (run.status == OK).all()
        # The allocation, used or not: environments x GB x seconds at the book's provisioned rate.
        assert cost["provisioned"] == pytest.approx(level * gb * seconds * PC_RATE)
        # Every request ran on a provisioned environment: 50 ms each at the lower provisioned duration rate.
        assert cost["duration"] == pytest.approx(arrivals.size * 0.050 * gb * PC_DURATION_RATE)
    below = run_lambda(replace(scenario(arrivals, seconds), lambda_config=LambdaConfig(512, provisioned=1)), BOOK)[0]
    assert below.cold.sum() > 0  # beyond the provisioned environments, on demand: cold starts and all


def test_provisioned_cost_rises_with_the_level() -> None:
    arrivals = steady(5.0, 600).arrivals(seed=1)  # mean concurrency 0.25: every extra environment sits idle
    costs = [
        run_lambda(replace(scenario(arrivals, 600.0), lambda_config=LambdaConfig(512, provisioned=level)), BOOK)[1]
        for level in (0, 1, 2, 4, 8, 16)
    ]
    totals = [cost["total"] for cost in costs]
    assert totals == sorted(totals)
    assert len(set(totals)) == len(totals)
    assert [cost["provisioned"] for cost in costs] == pytest.approx(
        [level * 0.5 * 600 * PC_RATE for level in (0, 1, 2, 4, 8, 16)]
    )


def test_a_schedule_sets_the_level_per_slot_and_the_next_slot_spills_on_demand() -> None:
    # Two 10-minute slots at 40 requests/s: provisioned for the peak in the first, none in the second.
    arrivals = steady(40.0, 1200).arrivals(seed=5)
    peak = peak_in_flight(arrivals, SERVICE_S)
    schedule = (peak,) + (0,) * 143  # 144 slots of 10 minutes make the day
    config = LambdaConfig(512, provisioned_schedule=schedule, schedule_slot_s=600.0)
    run, cost = run_lambda(replace(scenario(arrivals, 1200.0), lambda_config=config), BOOK)
    first = arrivals < 600
    assert run.cold[first].sum() == 0
    assert run.cold[~first].sum() > 0  # the provisioned environments go at 10:00; on demand starts cold
    assert cost["provisioned"] == pytest.approx(peak * 0.5 * 600 * PC_RATE)
    with pytest.raises(ValueError, match="covers one day"):
        LambdaConfig(provisioned_schedule=(1, 2, 3))


def test_scheduled_search_follows_the_load_and_keeps_the_budget() -> None:
    # Five minutes busy (10 environments busy on average), five nearly idle, in 5-minute slots.
    profile = Profile("step", (Segment(300, 200.0), Segment(300, 1.0)))
    base = scenario(profile.arrivals(seed=2), profile.duration_s, memory_mb=1024)
    run, cost = run_lambda(base, BOOK)
    lam = Plan("lambda", "Lambda", "", cost, int(run.status.size), 0.0, 0.0, 0, ("lambda", 0), run=run)
    scheduled = search_provisioned(base, BOOK, lam, 0.01, 300.0)
    constant = search_provisioned(base, BOOK, lam, 0.01, None)
    assert scheduled.levels[0] > scheduled.levels[1] == 0  # a busy slot pays for provisioned environments
    assert scheduled.cost["total"] <= constant.cost["total"]
    assert scheduled.within_budget
    strict = search_provisioned(base, BOOK, lam, 0.0, 300.0)  # no cold start at all
    assert strict.within_budget
    assert strict.run.cold.sum() == 0


# ---------------------------------------------------------------------------------------------
# Hybrid


def test_hybrid_with_pods_for_the_whole_load_sends_nothing_to_lambda() -> None:
    arrivals = steady(20.0, 300).arrivals(seed=4)  # 0.2 cores of 10 ms requests; 4 pods hold 16
    run, cost = run_hybrid(scenario(arrivals, 300.0), BOOK, pods=4, queue_per_pod=4)
    assert not run.per_request["on_lambda"].any()
    assert run.extra["overflow"] == 0
    assert run.cold.sum() == 0
    assert (run.status == OK).all()
    assert cost["requests"] == cost["duration"] == cost["http_api"] == 0.0
    per_pod_hour = 0.5 * RAW["kubernetes"]["per_vcpu_hour"] + 0.25 * RAW["kubernetes"]["per_gib_hour"]
    assert cost["pods"] == pytest.approx(4 * run.seconds.size / 3600 * per_pod_hour)


def test_hybrid_without_pods_is_pure_lambda() -> None:
    base = scenario(steady(20.0, 300).arrivals(seed=6), 300.0)
    hybrid, hybrid_cost = run_hybrid(base, BOOK, pods=0, queue_per_pod=4)
    alone, alone_cost = run_lambda(base, BOOK)
    np.testing.assert_array_equal(hybrid.latency_s, alone.latency_s)
    np.testing.assert_array_equal(hybrid.status, alone.status)
    np.testing.assert_array_equal(hybrid.cold, alone.cold)
    assert hybrid_cost["total"] == pytest.approx(alone_cost["total"])
    assert "control_plane" not in hybrid_cost  # no pods, no cluster


def test_a_request_overflows_only_when_every_pod_holds_its_queue() -> None:
    # One pod holding one request, each taking 1 s: the one at 0.5 s finds it full, the one at 1.5 s does not.
    config = HybridConfig(pods=1, queue_per_pod=1, lambda_config=LambdaConfig())
    run = simulate_hybrid(np.array([0.0, 0.5, 1.5]), Constant(1.0), Constant(0.1), Constant(2.0), config)
    assert run.per_request["on_lambda"].tolist() == [False, True, False]
    assert run.latency_s.tolist() == pytest.approx([1.0, 2.1, 1.0])  # the overflow starts Lambda cold
    two = simulate_hybrid(
        np.array([0.0, 0.5, 1.5]), Constant(1.0), Constant(0.1), Constant(2.0), replace(config, queue_per_pod=2)
    )
    assert not two.per_request["on_lambda"].any()
    assert two.latency_s.tolist() == pytest.approx([1.0, 1.5, 1.5])  # queued behind the one before


# ---------------------------------------------------------------------------------------------
# The recommendation


def plan(name: str, cost: float, p99_ms: float, same_as: str | None = None) -> Plan:
    return Plan(name, name.title(), f"{name} setting", {"total": cost, "pods": cost}, 1000, p99_ms, 0.0, 0,
                (name,), same_as=same_as)  # fmt: skip


def test_recommendation_is_the_cheapest_plan_meeting_the_target_not_the_cheapest() -> None:
    plans = [
        plan("cheap", 0.10, 150.0),  # cheapest of all, but misses 100 ms
        plan("copy", 0.05, 10.0, same_as="mid"),  # a duplicate does not count
        plan("mid", 0.20, 60.0),
        plan("fast", 0.30, 20.0),
        plan("dear", 0.90, 5.0),
    ]
    chosen = recommend(plans, 100.0)
    assert (chosen.plan, chosen.runner_up, chosen.meets_target) == ("mid", "fast", True)
    assert chosen.ranking == ["mid", "fast", "dear"]
    assert "Cheap at $0.1000, p99 150.0 ms" in chosen.why  # why the cheapest is not it
    assert "(+50%)" in chosen.why  # the runner-up's premium
    assert recommend(plans, 30.0).plan == "fast"
    nothing = recommend(plans, 1.0)  # no plan meets it: the lowest p99, said so
    assert (nothing.plan, nothing.meets_target) == ("dear", False)
    assert "No plan keeps p99 within 1 ms" in nothing.why


def test_plans_end_to_end_where_the_cheapest_misses_the_target() -> None:
    # One slow pod at 80 % load: Kubernetes is cheapest, its p99 far over 100 ms; Lambda answers in 50 ms.
    arrivals = steady(40.0, 600).arrivals(seed=8)
    base = scenario(arrivals, 600.0, memory_mb=128, pods=(1, 1), server_warm=Exponential(0.02))
    found = evaluate_plans(base, BOOK, Targets(p99_ms=100.0), "steady")
    k8s = found.plan("kubernetes")
    distinct = [p for p in found.plans if p.same_as is None]
    assert k8s.cost["total"] == min(p.cost["total"] for p in distinct)
    assert not k8s.meets(100.0)
    chosen = found.plan(found.recommendation.plan)
    assert chosen.meets(100.0)
    assert chosen.cost["total"] == min(p.cost["total"] for p in distinct if p.meets(100.0))
    assert {p.name for p in found.plans} == {"lambda", "lambda-pc", "lambda-pc-scheduled", "hybrid", "kubernetes"}
    assert json.loads(json.dumps(found.to_json()))["recommendation"]["plan"] == chosen.name


# ---------------------------------------------------------------------------------------------
# The report and the command line


def test_the_report_opens_with_the_recommendation_table(tmp_path: Path) -> None:
    base = scenario(steady(20.0, 300).arrivals(seed=9), 300.0)
    found = evaluate_plans(base, BOOK, Targets(), "steady")
    runs = [p.run for p in found.plans if p.run is not None]
    summaries = {p.name: {**p.run.summary(), "cost_usd": p.cost["total"]} for p in found.plans if p.run is not None}
    page = write_report(tmp_path, "plans", runs, summaries=summaries, costs=None,
                        top=recommendation_section(found, tmp_path)).read_text()  # fmt: skip
    first_table = page.index("<table")
    assert page.index('<table class="plans">') == first_table
    assert page.index('id="recommendation"') < first_table < page.index("<table><tr><th></th>")
    assert "<svg" in page[first_table:]
    assert (tmp_path / "plans.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compare", *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


def test_plans_and_simulate_commands(tmp_path: Path) -> None:
    scenario_args = ("--arrivals", "poisson", "--rate", "20", "--duration", "300",
                     "--service", "exp:0.005", "--cold", "const:1.2")  # fmt: skip
    listed = compare("plans", *scenario_args, "--p99-target-ms", "50", "--cold-start-budget", "0.02", "--json")
    assert listed.returncode == 0, listed.stderr
    result = json.loads(listed.stdout)
    assert result["targets"]["p99_ms"] == 50
    assert result["targets"]["cold_start_budget"] == 0.02
    assert len(result["plans"]) == 7  # the five, and Knative from its manifest: scale to zero and min-scale 1
    assert {"knative", "knative-min-scale"} <= {p["name"] for p in result["plans"]}
    assert result["recommendation"]["plan"] in {p["name"] for p in result["plans"]}
    out = tmp_path / "report"
    simulated = compare("simulate", *scenario_args, "--report", str(out))
    assert simulated.returncode == 0, simulated.stderr
    assert "recommended plan:" in simulated.stdout
    page = (out / "index.html").read_text()
    assert page.index('<table class="plans">') == page.index("<table")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["plans"]["targets"]["p99_ms"] == 100  # the default target
    assert set(summary["summaries"]) == {"lambda", "kubernetes", "knative"}
