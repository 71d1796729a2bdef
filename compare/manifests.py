"""What the simulation reads from the deployed Kubernetes manifests besides the HPA: pod requests."""

from __future__ import annotations

from pathlib import Path

import yaml

from .prices import PodResources

_CPU_UNITS = {"m": 1e-3}
_MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}


def cpu_cores(quantity: str | int | float) -> float:
    text = str(quantity)
    return float(text[:-1]) * _CPU_UNITS["m"] if text.endswith("m") else float(text)


def memory_gib(quantity: str | int | float) -> float:
    text = str(quantity)
    for suffix, factor in _MEMORY_UNITS.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor / 2**30
    return float(text) / 2**30


def pod_requests(deployment: Path) -> PodResources:
    """The Deployment's first container's requests (our pods run one container)."""
    for document in yaml.safe_load_all(deployment.read_text()):
        if isinstance(document, dict) and document.get("kind") == "Deployment":
            requests = document["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
            return PodResources(cpu=cpu_cores(requests["cpu"]), memory_gib=memory_gib(requests["memory"]))
    raise ValueError(f"{deployment}: no Deployment in it")
