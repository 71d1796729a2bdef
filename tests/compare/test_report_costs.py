"""The cost curve's Knative line (pods at a steady rate, priced as pod-seconds) and where each platform is cheapest."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from compare.kpa import KPAParams
from compare.prices import PodResources, PriceBook, kubernetes_cost
from compare.report.charts import cost_curve
from compare.report.costs import cheapest_ranges, cost_figures, knative_pods, verdict

BOOK = PriceBook.load()
POD = PodResources(cpu=0.5, memory_gib=0.25)
KPA = KPAParams(target=1, target_utilization=0.7, container_concurrency=1, min_scale=0, max_scale=20)


def test_knative_pods_at_a_steady_rate() -> None:
    assert knative_pods(0.0, 0.005, KPA) == 0  # no traffic: scaled to zero
    assert knative_pods(0.1, 0.005, KPA) == 1  # any steady traffic: at least one
    assert knative_pods(300.0, 0.005, KPA) == math.ceil(1.5 / 0.7)  # 1.5 in flight, 0.7 a pod
    assert knative_pods(0.1, 0.005, KPAParams(target=1, min_scale=2)) == 2  # min-scale
    assert knative_pods(3900.0, 0.005, KPA) == 20  # 19.5 in flight: max-scale's 20 pods
    assert knative_pods(4000.0, 0.005, KPA) is None  # 20 in flight: more than 20 single-request pods serve


def test_cost_figures_carry_a_knative_series_priced_as_pod_seconds(tmp_path: Path) -> None:
    costs = cost_figures(BOOK, 0.005, 1024, POD, target=0.7, min_replicas=2, knative=KPA, knative_pod=POD)
    assert {"rates", "lambda", "k8s", "knative", "crossover", "cheapest"} <= set(costs)
    rates, knative = costs["rates"], costs["knative"]
    assert knative.shape == rates.shape
    for rate, per_million in zip(rates.tolist(), knative.tolist(), strict=True):
        pods = knative_pods(rate, 0.005, KPA)
        assert pods is not None
        hourly = kubernetes_cost(pods * 3600, POD, 3600, BOOK)["total"]  # pods for the hour, the cluster's fees
        assert per_million == pytest.approx(hourly / (rate * 3600) * 1e6)
    without = cost_figures(BOOK, 0.005, 1024, POD, target=0.7, min_replicas=2)
    assert "knative" not in without
    assert cost_curve(costs, tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cheapest_ranges_and_the_verdict_name_each_platform_where_it_is_cheapest() -> None:
    rates = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    ranges = cheapest_ranges(rates, {"lambda": np.full(5, 2.0), "k8s": np.array([9, 5, 1.5, 1.8, 1.0]),
                                     "knative": np.array([8, 1.9, 1.6, 1.2, np.nan])})  # fmt: skip
    assert [(r["platform"], r["from_req_per_s"], r["to_req_per_s"]) for r in ranges] == [
        ("lambda", 1.0, 1.0), ("knative", 2.0, 2.0), ("k8s", 3.0, 3.0), ("knative", 4.0, 4.0), ("k8s", 5.0, 5.0),
    ]  # fmt: skip
    costs = cost_figures(BOOK, 0.005, 1024, POD, target=0.7, min_replicas=2, knative=KPA, knative_pod=POD)
    cheapest = costs["cheapest"]
    assert cheapest[0]["platform"] == "lambda"  # flat per request: cheapest at low rates
    assert cheapest[0]["from_req_per_s"] == pytest.approx(0.1)
    assert cheapest[-1]["to_req_per_s"] == pytest.approx(2000)
    text = verdict(costs)
    for found in cheapest:
        assert {"lambda": "Lambda", "k8s": "Kubernetes (HPA)", "knative": "Knative (KPA)"}[found["platform"]] in text
    assert f"above <b>{costs['crossover']:g} requests/s</b>" in text  # the Lambda/HPA crossover, still said
