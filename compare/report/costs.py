"""Cost per million requests against a steady request rate, on each platform, and where each is cheapest.

At a steady rate r (requests/s) and a mean service time s (a single-worker pod, one request at a time):

- Lambda on demand behind the HTTP API costs the same per request at every rate;
- Kubernetes runs enough pods to keep each at the HPA's CPU target (against the pod's request), at least
  minReplicas (compare/prices.py: kubernetes_cost_per_hour);
- Knative runs ceil(r x s / (target x utilisation)) pods, the KPA's steady state on in-flight requests
  (r x s of them, Little's law), within min-scale and max-scale; none at r = 0. A steady rate never idles
  for the stable window and grace period, so scale to zero saves nothing here: that saving is in a
  profile's idle stretches, which `plans` simulates. Beyond max-scale pods' worth of work (r x s above
  max-scale x containerConcurrency) the pods cannot keep up, and the curve stops.

Pods on either are priced for what they request over the hour, the cluster's fees (control plane, load
balancer) on top, the same for both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..kpa import KPAParams
from ..prices import PodResources, PriceBook, crossover_rate, kubernetes_cost, kubernetes_cost_per_hour
from ..prices import lambda_cost_per_million as lambda_per_million

LOW_RATE, HIGH_RATE = 0.1, 2000.0  # requests/s the curve spans
CURVE_POINTS, VERDICT_POINTS = 60, 400
NAMES = {"lambda": "Lambda (on demand, + HTTP API)", "k8s": "Kubernetes (HPA)", "knative": "Knative (KPA)"}


def knative_pods(rate_per_s: float, service_s: float, kpa: KPAParams) -> int | None:
    """Pods the KPA keeps for a steady rate; None beyond what max-scale pods can serve."""
    if rate_per_s <= 0:
        return 0
    in_flight = rate_per_s * service_s
    concurrency = kpa.container_concurrency or math.inf
    if kpa.max_scale and in_flight >= kpa.max_scale * concurrency:
        return None
    pods = max(kpa.min_scale, math.ceil(in_flight / kpa.target_value - 1e-9))
    return min(pods, kpa.max_scale) if kpa.max_scale else pods


def knative_cost_per_hour(rate_per_s: float, service_s: float, kpa: KPAParams, pod: PodResources,
                          book: PriceBook) -> float:  # fmt: skip
    """USD an hour at a steady rate: the pods' seconds and the cluster's fees; NaN beyond max-scale."""
    pods = knative_pods(rate_per_s, service_s, kpa)
    return math.nan if pods is None else kubernetes_cost(pods * 3600, pod, 3600, book)["total"]


def cost_figures(
    book: PriceBook,
    service_s: float,
    memory_mb: int,
    pod: PodResources,
    *,
    target: float,
    min_replicas: int,
    knative: KPAParams | None = None,
    knative_pod: PodResources | None = None,
) -> dict[str, Any]:
    """Cost per million requests of each platform across steady rates, the Lambda/Kubernetes crossover, and
    the ranges of rate where each platform is cheapest."""

    def series(rates: np.ndarray) -> dict[str, np.ndarray]:
        def k8s(rate: float) -> float:
            return kubernetes_cost_per_hour(rate, service_s, pod, book, target_utilization=target,
                                            min_replicas=min_replicas)  # fmt: skip

        per_hour = {"k8s": [k8s(r) for r in rates]}
        if knative is not None:
            kpa, pods = knative, knative_pod or pod
            per_hour["knative"] = [knative_cost_per_hour(r, service_s, kpa, pods, book) for r in rates]
        found = {"lambda": np.full(rates.size, lambda_per_million(service_s * 1000, memory_mb, book))}
        found.update({name: np.array(values) / (rates * 3600) * 1e6 for name, values in per_hour.items()})
        return found

    rates = np.geomspace(LOW_RATE, HIGH_RATE, CURVE_POINTS)
    fine = np.geomspace(LOW_RATE, HIGH_RATE, VERDICT_POINTS)
    crossover = crossover_rate(service_s, memory_mb, pod, book, target_utilization=target, min_replicas=min_replicas)
    return {"rates": rates, **series(rates), "crossover": crossover, "cheapest": cheapest_ranges(fine, series(fine))}


def cheapest_ranges(rates: np.ndarray, per_million: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Consecutive rates with the same cheapest platform as one range: [{platform, from, to}, ...]."""
    names = list(per_million)
    table = np.vstack([per_million[name] for name in names])
    table = np.where(np.isnan(table), np.inf, table)
    best = table.argmin(axis=0)
    ranges: list[dict[str, Any]] = []
    for index, rate in enumerate(rates.tolist()):
        name = names[int(best[index])]
        if ranges and ranges[-1]["platform"] == name:
            ranges[-1]["to_req_per_s"] = rate
        else:
            ranges.append({"platform": name, "from_req_per_s": rate, "to_req_per_s": rate})
    return ranges


def verdict(costs: Mapping[str, Any]) -> str:
    """Where each platform is cheapest per request at a steady rate, then the Lambda/Kubernetes crossover (HTML)."""
    parts = [
        f"<b>{NAMES.get(r['platform'], r['platform'])}</b> from {_rate(r['from_req_per_s'])} "
        f"to {_rate(r['to_req_per_s'])}"
        for r in costs["cheapest"]
    ]
    cheapest = "Cheapest per request at a steady rate (requests/s): " + "; ".join(parts) + "."
    crossover = costs["crossover"]
    if crossover is not None:
        pair = (
            f"Between Lambda and the HPA Deployment alone: at a steady rate above <b>{crossover:g} requests/s</b>, "
            "always-on Kubernetes costs less per request than Lambda; below it, Lambda does."
        )
    else:
        pair = f"Lambda costs less than the HPA Deployment at every steady rate up to {HIGH_RATE:,.0f} requests/s."
    return f"{cheapest} {pair}"


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
