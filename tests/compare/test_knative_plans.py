"""The two Knative plans (scale to zero, min-scale 1) beside the other five: their figures, their pricing as
pod-seconds, and the recommendation picking one where it is the cheapest within the target, and only there."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from compare.hpa import HPAParams
from compare.knative_manifest import kpa_params_from_manifest, pod_resources, read_service
from compare.plans import Targets, evaluate_plans
from compare.platforms.base import Constant
from compare.platforms.k8s import K8sConfig
from compare.platforms.knative import KnativeConfig
from compare.platforms.lambda_ import LambdaConfig
from compare.prices import PriceBook
from compare.profiles import Profile, Segment
from compare.simulation import Scenario
from tests.helpers import REPO

BOOK = PriceBook.load()
RAW = tomllib.loads((REPO / "compare" / "prices.toml").read_text())
MANIFEST = REPO / "k8s" / "knative" / "service.yaml"
# Half an hour at one request every 2 s, then an hour and a half idle, twice: the KPA scales to zero between.
ON_OFF = Profile("on-off", (Segment(1800, 0.5), Segment(5400, 0.0)) * 2)
SEVEN = {"lambda", "lambda-pc", "lambda-pc-scheduled", "hybrid", "kubernetes", "knative", "knative-min-scale"}


def scenario(profile: Profile = ON_OFF, *, lambda_warm_s: float, pod_start_s: float = 2.0) -> Scenario:
    return Scenario(
        arrivals=profile.arrivals(seed=1),
        duration_s=profile.duration_s,
        lambda_warm=Constant(lambda_warm_s),
        lambda_cold_extra=Constant(1.0),
        server_warm=Constant(0.01),
        lambda_config=LambdaConfig(memory_mb=512),
        k8s_config=K8sConfig(HPAParams(min_replicas=1, max_replicas=4, target_utilization=0.7)),
        pod_memory_gib=0.25,
        knative_config=KnativeConfig(kpa_params_from_manifest(MANIFEST), pod_start=Constant(pod_start_s)),
        knative_pod=pod_resources(read_service(MANIFEST)),
    )


def test_scale_to_zero_starts_cold_on_sparse_traffic_min_scale_one_does_not_both_priced_as_pod_seconds() -> None:
    found = evaluate_plans(scenario(lambda_warm_s=0.05), BOOK, Targets(p99_ms=200.0), "on-off")
    assert {p.name for p in found.plans} == SEVEN
    zero, one = found.plan("knative"), found.plan("knative-min-scale")
    assert (zero.label, one.label) == ("Knative, scale to zero", "Knative, min-scale 1")
    assert kpa_params_from_manifest(MANIFEST).min_scale == 0  # the manifest's own: scale to zero
    assert zero.same_as is None
    assert one.same_as is None
    assert zero.run is not None
    assert one.run is not None
    assert zero.run.extra["scale_to_zero_events"] >= 1  # in the idle between (the run ends at its last request)
    # The run starts with the manifest's initial scale (1 pod); after the idle, the first request waits for a pod.
    after_idle = int(np.searchsorted(zero.run.arrival_s, 7200.0))
    assert zero.run.cold[after_idle]
    assert not zero.run.cold[:after_idle].any()
    assert 0 < zero.cold_start_fraction < 0.01
    assert one.cold_start_fraction == 0
    assert one.run.cold.sum() == 0
    assert one.run.instances.min() >= 1
    assert zero.failed == one.failed == 0
    k8s, pod = RAW["kubernetes"], pod_resources(read_service(MANIFEST))
    per_pod_hour = pod.cpu * k8s["per_vcpu_hour"] + pod.memory_gib * k8s["per_gib_hour"]
    hours = ON_OFF.duration_s / 3600
    for plan in (zero, one):
        assert plan.run is not None
        assert plan.cost["pods"] == pytest.approx(plan.run.extra["pod_seconds"] / 3600 * per_pod_hour)
        # The cluster's fees run the whole time, whatever the pods do; the plan says so.
        assert plan.cost["control_plane"] == pytest.approx(hours * k8s["control_plane_per_hour"])
        assert "cluster's fees" in plan.note
    # Scaled to zero for most of the idle hours: far fewer pod-seconds than one pod all along.
    assert zero.run.extra["pod_seconds"] < 0.6 * one.run.extra["pod_seconds"]
    assert zero.cost["total"] < one.cost["total"]


def test_recommendation_picks_knative_where_it_is_the_cheapest_within_the_target() -> None:
    # Lambda's warm 300 ms misses a 200 ms p99; pods answer in 10 ms. Of the plans on pods, the one that
    # scales to zero pays for the fewest pod-seconds, and its few cold starts (2 s) stay under 1 %.
    found = evaluate_plans(scenario(lambda_warm_s=0.3), BOOK, Targets(p99_ms=200.0), "on-off")
    assert not found.plan("lambda").meets(200.0)
    assert found.recommendation.plan == "knative"
    zero = found.plan("knative")
    meeting = [p for p in found.plans if p.same_as is None and p.meets(200.0)]
    assert zero.cost["total"] == min(p.cost["total"] for p in meeting)
    assert found.recommendation.ranking[0] == "knative"
    assert "Knative, scale to zero" in found.recommendation.why
    assert "cluster's fees" in found.recommendation.why


def test_recommendation_does_not_pick_knative_where_lambda_is_cheaper_or_its_cold_starts_miss() -> None:
    # Lambda at 50 ms meets the target for a few cents: the cluster's fee alone costs more.
    cheap_lambda = evaluate_plans(scenario(lambda_warm_s=0.05), BOOK, Targets(p99_ms=200.0), "on-off")
    assert cheap_lambda.recommendation.plan == "lambda"
    assert cheap_lambda.plan("knative").meets(200.0)  # it qualifies, it is not the cheapest
    # Ten-minute idles between five-minute bursts and a 20 s pod start: every burst's first 20 s start cold.
    bursty = Profile("bursty", (Segment(300, 0.5), Segment(600, 0.0)) * 8)
    found = evaluate_plans(scenario(bursty, lambda_warm_s=0.3, pod_start_s=20.0), BOOK, Targets(p99_ms=200.0))
    zero = found.plan("knative")
    assert zero.cold_start_fraction > 0.01
    assert not zero.meets(200.0)
    assert found.recommendation.plan != "knative"
    assert found.plan(found.recommendation.plan).meets(200.0)
