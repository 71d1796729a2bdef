"""k8s/knative/: renders with kustomize; the Service passes the schema transcribed from Knative Serving's
CRD (k8s/knative/schema/), the checks Knative's webhook makes, and its pod template passes
kubernetes-validate --strict as the Pod Knative makes of it; the simulator reads its parameters."""

from __future__ import annotations

import copy
import shutil
import subprocess
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from compare.knative_manifest import duration_s, kpa_params, request_timeout_s, webhook_problems
from tests.helpers import REPO
from tests.k8s.kubectl import missing_cluster

KNATIVE = REPO / "k8s" / "knative"
SCHEMA = KNATIVE / "schema" / "service-v1.openapi.yaml"
VERSIONS = ["1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0"]
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (client) for kustomize")


@cache
def rendered() -> dict[str, Any]:
    result = subprocess.run(["kubectl", "kustomize", str(KNATIVE)], capture_output=True, text=True, timeout=60,
                            check=True)  # fmt: skip
    [service] = [d for d in yaml.safe_load_all(result.stdout) if d]
    return service


def service() -> dict[str, Any]:
    return copy.deepcopy(rendered())


def _strict(node: Any) -> Any:
    """The CRD's structural rule: where properties are listed and unknown fields are not preserved, any
    other field is refused (kubectl's default --validate=strict; the API server would prune it otherwise)."""
    if isinstance(node, dict):
        node = {k: _strict(v) for k, v in node.items()}
        if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        return node
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


@cache
def validator() -> jsonschema.Draft7Validator:
    schema = _strict(yaml.safe_load(SCHEMA.read_text()))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(document)]


def test_schema_names_its_source_and_says_it_is_a_transcription() -> None:
    header = SCHEMA.read_text().splitlines()[0]
    assert header.startswith("# TRANSCRIPTION (subset)")
    readme = (KNATIVE / "schema" / "README.md").read_text()
    assert "config/core/300-resources/service.yaml" in readme
    assert "95fb11103084017461721b176f10df8b65199656" in readme


@needs_kubectl
def test_the_service_passes_the_crd_schema() -> None:
    document = service()
    assert (document["apiVersion"], document["kind"]) == ("serving.knative.dev/v1", "Service")
    assert schema_errors(document) == []


@needs_kubectl
@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        ("container", "lifecycle", {"preStop": {"exec": {"command": ["sleep", "5"]}}}),
        ("pod", "terminationGracePeriodSeconds", 35),
        ("container", "stdin", True),
    ],
)
def test_the_schema_refuses_what_knative_does_not_carry(where: str, field: str, value: object) -> None:
    document = service()
    spec = document["spec"]["template"]["spec"]
    (spec["containers"][0] if where == "container" else spec)[field] = value
    assert any(field in error for error in schema_errors(document))


@needs_kubectl
def test_the_webhook_checks_pass_and_catch_what_they_should() -> None:
    assert webhook_problems(service()) == []
    bad = service()
    container = bad["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["name"] = "http"  # the Deployment's name: Knative wants http1 or h2c
    container["env"].append({"name": "PORT", "value": "8000"})
    container["livenessProbe"]["httpGet"]["port"] = 9000
    bad["spec"]["template"]["spec"]["topologySpreadConstraints"] = []
    problems = webhook_problems(bad)
    assert any("http1" in p for p in problems)
    assert any("PORT is set by Knative" in p for p in problems)
    assert any("livenessProbe" in p for p in problems)
    assert any("topologySpreadConstraints needs its feature flag" in p for p in problems)


def _pod(document: dict[str, Any]) -> dict[str, Any]:
    """The Pod Knative makes of the revision template, as far as the user container goes: probes get
    the container's port, and the grace period is the revision's timeout."""
    template = copy.deepcopy(document["spec"]["template"])
    spec = template["spec"]
    timeout = spec.pop("timeoutSeconds", 300)
    spec.pop("containerConcurrency", None)
    spec["terminationGracePeriodSeconds"] = timeout
    for container in spec["containers"]:
        port = container["ports"][0]["containerPort"]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe in container and "httpGet" in container[probe]:
                container[probe]["httpGet"].setdefault("port", port)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "twinserve-predict-00001"}, "spec": spec}


@needs_kubectl
@pytest.mark.parametrize("version", VERSIONS)
def test_the_pod_template_validates_strictly(version: str) -> None:
    kubernetes_validate.validate(_pod(service()), version, strict=True)


@needs_kubectl
def test_the_pod_is_hardened_as_the_deployment_is() -> None:
    spec = service()["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    [container] = spec["containers"]
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 10001
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(container["resources"]["limits"])
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert "emptyDir" in next(v for v in spec["volumes"] if v["name"] == mounts["/tmp"])
    assert container["startupProbe"]["httpGet"]["path"] == "/ready"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert "PORT" not in env
    assert "PREDICT_PORT" not in env
    assert env["PREDICT_WORKERS"] == "1"
    assert float(env["PREDICT_DRAIN_S"]) + int(env["PREDICT_GRACEFUL_SHUTDOWN_S"]) < spec["timeoutSeconds"]
    assert container["image"] == "dev.local/twinserve-predict:local"  # Knative skips resolving dev.local


@needs_kubectl
def test_the_autoscaling_annotations_are_written_out_and_in_range() -> None:
    document = service()
    notes = document["spec"]["template"]["metadata"]["annotations"]
    for key in ("class", "metric", "target", "target-utilization-percentage", "min-scale", "max-scale",
                "initial-scale", "window", "scale-down-delay", "target-burst-capacity"):  # fmt: skip
        assert f"autoscaling.knative.dev/{key}" in notes
    get = lambda key: notes[f"autoscaling.knative.dev/{key}"]  # noqa: E731
    assert get("class") == "kpa.autoscaling.knative.dev"
    assert get("metric") == "concurrency"
    assert float(get("target")) > 0
    assert 1 <= float(get("target-utilization-percentage")) <= 100
    assert int(get("min-scale")) == 0 <= int(get("max-scale"))
    assert int(get("min-scale")) <= int(get("max-scale"))
    assert int(get("initial-scale")) >= 1  # 0 only where the cluster allows a zero initial scale
    assert 6 <= duration_s(get("window")) <= 3600
    assert 0 <= duration_s(get("scale-down-delay")) <= 3600
    assert 0 < document["spec"]["template"]["spec"]["containerConcurrency"] <= 1000


@needs_kubectl
def test_the_simulator_reads_the_deployed_parameters() -> None:
    params = kpa_params(service())
    # One CPU-bound worker per pod: one request at a time, the KPA aiming at 0.7 in flight per pod, and the
    # activator always in the path (it holds what the pods cannot take yet).
    assert (params.target, params.container_concurrency, params.target_utilization) == (1.0, 1, 0.7)
    assert params.target_value == pytest.approx(0.7)
    assert params.target_burst_capacity == -1
    assert (params.min_scale, params.max_scale, params.initial_scale) == (0, 20, 1)
    assert (params.stable_window_s, params.panic_window_s, params.scale_down_delay_s) == (60.0, 6.0, 0.0)
    assert params.scale_to_zero_grace_s == 30.0  # cluster-wide: Knative's default
    assert request_timeout_s(service()) == 30.0


def test_a_bad_annotation_is_refused_with_its_name() -> None:
    document = {"spec": {"template": {"metadata": {"annotations": {"autoscaling.knative.dev/window": "3s"}},
                                      "spec": {"containers": []}}}}  # fmt: skip
    with pytest.raises(ValueError, match=r"window 3 s is outside 6 s\.\.1 h"):
        kpa_params(document)
    document["spec"]["template"]["metadata"]["annotations"] = {"autoscaling.knative.dev/window": "soon"}
    with pytest.raises(ValueError, match=r"autoscaling\.knative\.dev/window"):
        kpa_params(document)


KNATIVE_REASON = missing_cluster(
    ["get", "crd", "services.serving.knative.dev"], "a reachable Kubernetes cluster with Knative Serving installed"
)


@pytest.mark.skipif(KNATIVE_REASON is not None, reason=KNATIVE_REASON or "")
def test_server_side_dry_run_against_knative() -> None:
    # The real admission webhook and CRD schema, without creating anything.
    subprocess.run(["kubectl", "apply", "--dry-run=server", "-k", str(KNATIVE)], check=True, timeout=60)
