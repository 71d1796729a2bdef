"""The dated price book (prices.toml) and the cost of a run on each platform."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

BOOK = Path(__file__).with_name("prices.toml")
Architecture = Literal["x86_64", "arm64"]
MB_PER_GB = 1024


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


@dataclass(frozen=True)
class PriceBook:
    raw: dict[str, Any]

    @classmethod
    def load(cls, override: Path | None = None) -> PriceBook:
        book = tomllib.loads(BOOK.read_text())
        if override is not None:
            book = _merge(book, tomllib.loads(override.read_text()))
        return cls(book)

    @property
    def checked(self) -> str:
        return str(self.raw["book"]["checked"])

    def lambda_price(self, key: str, architecture: Architecture | None = None) -> float:
        name = f"{key}_{architecture}" if architecture else key
        return float(self.raw["lambda"][name])


@dataclass(frozen=True)
class LambdaUsage:
    requests: int
    billed_ms_total: float  # sum over requests of the billed duration
    memory_mb: int
    architecture: Architecture = "x86_64"
    provisioned: int = 0  # provisioned concurrency, environments
    provisioned_seconds: float = 0.0  # how long that provisioned concurrency was configured
    billed_ms_on_provisioned: float = 0.0  # part of billed_ms_total served by provisioned environments
    # Environment-seconds of provisioned concurrency (a schedule's levels x their slots); when None,
    # provisioned x provisioned_seconds.
    provisioned_environment_seconds: float | None = None

    @property
    def provisioned_env_s(self) -> float:
        given = self.provisioned_environment_seconds
        return self.provisioned * self.provisioned_seconds if given is None else given


def lambda_cost(usage: LambdaUsage, book: PriceBook, *, through_http_api: bool = True) -> dict[str, float]:
    gb = usage.memory_mb / MB_PER_GB
    on_demand_gb_s = (usage.billed_ms_total - usage.billed_ms_on_provisioned) / 1000 * gb
    provisioned_gb_s = usage.billed_ms_on_provisioned / 1000 * gb
    arch = usage.architecture
    parts = {
        "requests": usage.requests / 1e6 * book.lambda_price("per_million_requests"),
        "duration": on_demand_gb_s * book.lambda_price("per_gb_second", arch)
        + provisioned_gb_s * book.lambda_price("provisioned_duration_per_gb_second", arch),
        "provisioned": usage.provisioned_env_s * gb * book.lambda_price("provisioned_per_gb_second", arch),
        "http_api": usage.requests / 1e6 * float(book.raw["http_api"]["per_million_requests"])
        if through_http_api
        else 0.0,
    }
    parts["total"] = sum(parts.values())
    return parts


@dataclass(frozen=True)
class PodResources:
    cpu: float  # vCPU requested per pod
    memory_gib: float


def kubernetes_cost(
    pod_seconds: float, pod: PodResources, wall_seconds: float, book: PriceBook, *, load_balancer: bool = True
) -> dict[str, float]:
    """Pods priced for what they request over the seconds they ran; cluster fees over wall time."""
    k8s = book.raw["kubernetes"]
    hours = wall_seconds / 3600
    parts = {
        "pods": pod_seconds
        / 3600
        * (pod.cpu * float(k8s["per_vcpu_hour"]) + pod.memory_gib * float(k8s["per_gib_hour"])),
        "control_plane": hours * float(k8s["control_plane_per_hour"]),
        "load_balancer": hours * (float(k8s["load_balancer_per_hour"]) + float(k8s["load_balancer_lcu_per_hour"]))
        if load_balancer
        else 0.0,
    }
    parts["total"] = sum(parts.values())
    return parts


def lambda_cost_per_million(service_ms: float, memory_mb: int, book: PriceBook, arch: Architecture = "x86_64") -> float:
    """On-demand Lambda behind the HTTP API: the same for every request rate."""
    billed_ms = (
        math.ceil(service_ms / book.raw["lambda"]["billing_granularity_ms"])
        * book.raw["lambda"]["billing_granularity_ms"]
    )
    usage = LambdaUsage(
        requests=1_000_000, billed_ms_total=billed_ms * 1_000_000, memory_mb=memory_mb, architecture=arch
    )
    return lambda_cost(usage, book)["total"]


def kubernetes_cost_per_hour(
    rate_per_s: float,
    service_s: float,
    pod: PodResources,
    book: PriceBook,
    *,
    target_utilization: float,
    min_replicas: int,
    pod_capacity_cores: float = 1.0,
) -> float:
    """Steady state: enough single-worker pods to keep each at the HPA's target utilisation."""
    busy_cores = rate_per_s * service_s
    replicas = max(min_replicas, math.ceil(busy_cores / (pod.cpu * target_utilization) - 1e-9))
    replicas = max(replicas, math.ceil(busy_cores / pod_capacity_cores - 1e-9))
    return kubernetes_cost(replicas * 3600, pod, 3600, book)["total"]


def crossover_rate(
    service_s: float,
    memory_mb: int,
    pod: PodResources,
    book: PriceBook,
    *,
    target_utilization: float,
    min_replicas: int,
    max_rate: float = 10_000.0,
    step: float = 0.5,
) -> float | None:
    """The lowest steady request rate (requests/s) at which always-on costs no more than Lambda."""
    per_request = lambda_cost_per_million(service_s * 1000, memory_mb, book) / 1e6
    rate = step
    while rate <= max_rate:
        k8s = kubernetes_cost_per_hour(
            rate, service_s, pod, book, target_utilization=target_utilization, min_replicas=min_replicas
        )
        if k8s <= rate * 3600 * per_request:
            return rate
        rate += step
    return None
