"""k8s/: every overlay renders with kustomize and passes kubernetes-validate --strict on 1.29-1.33,
and the pod hygiene the design asks for is really there."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from typing import Any

import kubernetes_validate
import pytest
import yaml

from compare.hpa import HPAParams
from tests.helpers import REPO

OVERLAYS = sorted(p.name for p in (REPO / "k8s" / "overlays").iterdir() if p.is_dir())
VERSIONS = ["1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0"]
SELECTOR = {"app.kubernetes.io/name": "twinserve-predict", "app.kubernetes.io/instance": "twinserve-predict"}

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (client) for kustomize")


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(REPO / "k8s" / "overlays" / overlay)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def kind(overlay: str, name: str) -> dict[str, Any]:
    [document] = [d for d in render(overlay) if d["kind"] == name]
    return document


def test_overlays_exist() -> None:
    assert {"local", "prod"} <= set(OVERLAYS)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_document_validates_strictly(overlay: str, version: str) -> None:
    for document in render(overlay):
        # An unknown apiVersion or kind raises SchemaNotFoundError: a schema must exist for each.
        kubernetes_validate.validate(document, version, strict=True)


def test_an_unknown_api_version_is_caught() -> None:
    stale = {"apiVersion": "autoscaling/v2beta1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"}}
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(stale, "1.29.0", strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_hardened(overlay: str) -> None:
    pod = kind(overlay, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == mounts["/tmp"])
        assert not container["image"].endswith(":latest")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_and_graceful_shutdown(overlay: str) -> None:
    pod = kind(overlay, "Deployment")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["startupProbe"]["httpGet"]["path"] == "/ready"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["PREDICT_WORKERS"] == "1"
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    shutdown = int(pre_stop[1]) + float(env["PREDICT_DRAIN_S"]) + int(env["PREDICT_GRACEFUL_SHUTDOWN_S"])
    assert pod["terminationGracePeriodSeconds"] > shutdown


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_match_the_pods_on_name_and_instance(overlay: str) -> None:
    deployment = kind(overlay, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == SELECTOR
    assert kind(overlay, "Service")["spec"]["selector"] == SELECTOR
    assert kind(overlay, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == SELECTOR
    assert SELECTOR.items() <= pod_labels.items()
    assert pod_labels["app.kubernetes.io/part-of"] == "twinserve"
    hpa = kind(overlay, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_hpa_behavior_is_written_out_and_read_by_the_simulator() -> None:
    params = HPAParams.from_manifest(REPO / "k8s" / "base" / "hpa.yaml")
    assert params.target_utilization == 0.7
    assert params.scale_up.stabilization_s == 0
    assert {(p.type, p.value, p.period_s) for p in params.scale_up.policies} == {("Percent", 100, 15), ("Pods", 4, 15)}
    assert params.scale_down.stabilization_s == 300
    prod = HPAParams.from_spec(kind("prod", "HorizontalPodAutoscaler")["spec"])
    assert (prod.min_replicas, prod.max_replicas) == (3, 50)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_admits_only_the_ingress_path(overlay: str) -> None:
    policy = kind(overlay, "NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"] == SELECTOR
    assert policy["policyTypes"] == ["Ingress"]
    for rule in policy["ingress"]:
        assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
        assert all("namespaceSelector" in peer for peer in rule["from"])


def test_local_uses_the_loaded_image_and_prod_a_digest() -> None:
    [local] = kind("local", "Deployment")["spec"]["template"]["spec"]["containers"]
    assert (local["image"], local["imagePullPolicy"]) == ("twinserve-predict:local", "Never")
    [prod] = kind("prod", "Deployment")["spec"]["template"]["spec"]["containers"]
    assert "@sha256:" in prod["image"]
    assert kind("prod", "PodDisruptionBudget")["spec"] == {"minAvailable": 2, "selector": {"matchLabels": SELECTOR}}
