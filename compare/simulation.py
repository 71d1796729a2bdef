"""Run one profile on the simulated platforms and price the result: what `simulate` prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .platforms.base import THROTTLED, Distribution, RunRecords
from .platforms.k8s import K8sConfig, simulate_k8s
from .platforms.lambda_ import LambdaConfig, simulate_lambda
from .prices import LambdaUsage, PodResources, PriceBook, kubernetes_cost, lambda_cost


@dataclass(frozen=True)
class Scenario:
    arrivals: np.ndarray
    duration_s: float
    lambda_warm: Distribution
    lambda_cold_extra: Distribution
    server_warm: Distribution
    lambda_config: LambdaConfig
    k8s_config: K8sConfig
    pod_memory_gib: float = 0.5
    seed: int = 0


def run_lambda(scenario: Scenario, book: PriceBook) -> tuple[RunRecords, dict[str, Any]]:
    run = simulate_lambda(
        scenario.arrivals, scenario.lambda_warm, scenario.lambda_cold_extra, scenario.lambda_config, scenario.seed
    )
    config = scenario.lambda_config
    usage = LambdaUsage(
        requests=int((run.status != THROTTLED).sum()),  # throttled requests are not billed
        billed_ms_total=run.extra["billed_ms_total"],
        memory_mb=config.memory_mb,
        provisioned=config.provisioned,
        provisioned_seconds=scenario.duration_s,
        billed_ms_on_provisioned=run.extra["billed_ms_on_provisioned"],
    )
    return run, lambda_cost(usage, book)


def run_k8s(scenario: Scenario, book: PriceBook) -> tuple[RunRecords, dict[str, Any]]:
    run = simulate_k8s(scenario.arrivals, scenario.server_warm, scenario.k8s_config, scenario.seed)
    pod = PodResources(cpu=scenario.k8s_config.cpu_request, memory_gib=scenario.pod_memory_gib)
    return run, kubernetes_cost(run.extra["pod_seconds"], pod, scenario.duration_s, book)


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
