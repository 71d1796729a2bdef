"""Run one profile on the simulated platforms and price the result: what `simulate` prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .platforms.base import THROTTLED, Distribution, RunRecords
from .platforms.hybrid import HybridConfig, simulate_hybrid
from .platforms.k8s import K8sConfig, simulate_k8s
from .platforms.knative import KnativeConfig, simulate_knative
from .platforms.lambda_ import LambdaConfig, provisioned_environment_seconds, simulate_lambda
from .platforms.service import ServerService
from .prices import LambdaUsage, PodResources, PriceBook, kubernetes_cost, lambda_cost


@dataclass(frozen=True)
class Scenario:
    arrivals: np.ndarray
    duration_s: float
    lambda_warm: Distribution  # the handler's duration (billed), or a round trip where no duration was measured
    lambda_cold_extra: Distribution
    server_warm: Distribution  # a ServerService (compare/platforms/service.py), or one service time
    lambda_config: LambdaConfig
    k8s_config: K8sConfig
    pod_memory_gib: float = 0.5
    seed: int = 0
    knative_config: KnativeConfig | None = None  # None: no Knative run (its manifest or flags were not read)
    knative_pod: PodResources | None = None
    lambda_overhead: Distribution | None = None  # the caller's wait beyond the handler's duration


def run_lambda(scenario: Scenario, book: PriceBook) -> tuple[RunRecords, dict[str, Any]]:
    run = simulate_lambda(
        scenario.arrivals,
        scenario.lambda_warm,
        scenario.lambda_cold_extra,
        scenario.lambda_config,
        scenario.seed,
        overhead=scenario.lambda_overhead,
    )
    return run, lambda_cost(_lambda_usage(run, run.status != THROTTLED, scenario), book)


def _lambda_usage(run: RunRecords, billed: np.ndarray, scenario: Scenario) -> LambdaUsage:
    """What Lambda bills for the run: `billed` marks the requests it answered (throttled ones are free)."""
    config = scenario.lambda_config
    return LambdaUsage(
        requests=int(billed.sum()),
        billed_ms_total=run.extra["billed_ms_total"],
        memory_mb=config.memory_mb,
        provisioned=config.provisioned,
        provisioned_seconds=scenario.duration_s,
        billed_ms_on_provisioned=run.extra["billed_ms_on_provisioned"],
        provisioned_environment_seconds=provisioned_environment_seconds(config, scenario.duration_s),
    )


def run_k8s(scenario: Scenario, book: PriceBook) -> tuple[RunRecords, dict[str, Any]]:
    run = simulate_k8s(scenario.arrivals, scenario.server_warm, scenario.k8s_config, scenario.seed)
    pod = PodResources(cpu=scenario.k8s_config.cpu_request, memory_gib=scenario.pod_memory_gib)
    return run, kubernetes_cost(run.extra["pod_seconds"], pod, scenario.duration_s, book)


def run_knative(scenario: Scenario, book: PriceBook) -> tuple[RunRecords, dict[str, Any]]:
    """Pods scaled by the KPA, to zero; priced as the Kubernetes platform's pods, for the seconds they exist."""
    if scenario.knative_config is None:
        raise ValueError("no Knative configuration in the scenario")
    run = simulate_knative(scenario.arrivals, scenario.server_warm, scenario.knative_config, scenario.seed)
    pod = scenario.knative_pod or PodResources(cpu=scenario.k8s_config.cpu_request, memory_gib=scenario.pod_memory_gib)
    return run, kubernetes_cost(run.extra["pod_seconds"], pod, scenario.duration_s, book)


def run_hybrid(scenario: Scenario, book: PriceBook, pods: int, queue_per_pod: int) -> tuple[RunRecords, dict[str, Any]]:
    """`pods` always-on pods (priced as the Kubernetes platform's), the overflow on the scenario's Lambda
    (priced as Lambda: requests, GB-s, HTTP API). No pods: no cluster, and nothing but Lambda to pay."""
    config = HybridConfig(pods, queue_per_pod, scenario.lambda_config, scenario.k8s_config.request_timeout_s)
    run = simulate_hybrid(
        scenario.arrivals,
        scenario.server_warm,
        scenario.lambda_warm,
        scenario.lambda_cold_extra,
        config,
        seed=scenario.seed,
        lambda_overhead=scenario.lambda_overhead,
    )
    pod = PodResources(cpu=scenario.k8s_config.cpu_request, memory_gib=scenario.pod_memory_gib)
    cluster = kubernetes_cost(run.extra["pod_seconds"], pod, scenario.duration_s, book) if pods else {}
    overflow = lambda_cost(_lambda_usage(run, run.per_request["on_lambda"] & (run.status != THROTTLED), scenario), book)
    parts = {
        **{k: v for k, v in cluster.items() if k != "total"},
        **{k: v for k, v in overflow.items() if k != "total"},
    }
    parts["total"] = sum(parts.values())
    return run, parts


def scenario_figures(run: RunRecords, summary: dict[str, float]) -> dict[str, float]:
    """The figures of the scenario mode, comparable with closed forms and published simulators.
    `summary` is `run.summary()`, computed once by the caller (percentiles over every request)."""
    answered = run.status.size - summary["throttled"]
    ok_latency = run.latency_s[~np.isnan(run.latency_s)]
    return {
        "requests": summary["requests"],
        "cold_start_probability": summary["cold_starts"] / answered if answered else 0.0,
        "mean_environments": float(run.instances.mean()) if run.instances.size else 0.0,
        "mean_busy_environments": float(run.busy.mean()) if run.busy.size else 0.0,
        "mean_idle_environments": float((run.instances - run.busy).mean()) if run.instances.size else 0.0,
        "mean_response_s": float(ok_latency.mean()) if ok_latency.size else float("nan"),
        "rejected": summary["errors"],
    }


def service_model(scenario: Scenario) -> dict[str, str]:
    """How the run took its service times: what the platforms see (server-side calibration) or one round trip."""
    server = scenario.server_warm
    return {
        "server": (
            f"CPU per request at the pod's offered rate ({server.cpu_s[0] * 1000:.3f} ms at "
            f"{server.rates_per_s[0]:,.0f} req/s to {server.cpu_s[-1] * 1000:.3f} ms at the "
            f"{server.capacity_per_s:,.0f} req/s capacity) makes its utilisation; a request holds the worker "
            "for the saturated figure and each busy spell's wake-up comes after it; "
            "callers see the wait plus in-process latency and overhead"
            if isinstance(server, ServerService)
            else "one service time for the worker's occupancy, its CPU and what callers see"
        ),
        "lambda": (
            "the handler's duration (billed, holds the environment) plus the caller's overhead"
            if scenario.lambda_overhead is not None
            else "one time for the duration billed and what callers see"
        ),
    }
