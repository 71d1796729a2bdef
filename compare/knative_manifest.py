"""What the simulation reads from the Knative Service in k8s/knative/, and the checks Knative's webhook
makes on it that no schema holds (annotation ranges, the one port, reserved names, refused fields).

The KPA's parameters come from the revision template's `autoscaling.knative.dev/*` annotations and
`containerConcurrency`; what is cluster-wide (config-autoscaler: the scale-to-zero grace period, the
scale rates, the tick) keeps Knative's defaults unless the caller passes others.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from .kpa import KPAParams
from .manifests import cpu_cores, memory_gib
from .prices import PodResources

API_VERSION = "serving.knative.dev/v1"
PREFIX = "autoscaling.knative.dev/"
KPA_CLASS = "kpa.autoscaling.knative.dev"
RESERVED_PORTS = {8012, 8013, 8022, 9090, 9091}  # the queue-proxy's
RESERVED_ENV = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}
PORT_NAMES = {"", "http1", "h2c"}
REFUSED_CONTAINER_FIELDS = {"lifecycle", "stdin", "stdinOnce", "tty", "volumeDevices"}
REFUSED_POD_FIELDS = {"terminationGracePeriodSeconds", "restartPolicy", "activeDeadlineSeconds", "nodeName",
                      "hostname", "subdomain", "priority", "readinessGates"}  # fmt: skip
# Behind feature flags that are off by default (config-features): refused unless the cluster enables them.
FLAGGED_POD_FIELDS = {
    *("affinity", "topologySpreadConstraints", "securityContext", "tolerations", "nodeSelector", "initContainers"),
    *("hostAliases", "runtimeClassName", "priorityClassName", "schedulerName", "dnsPolicy", "dnsConfig"),
    *("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace"),
}
MAX_REVISION_TIMEOUT_S = 600  # config-defaults max-revision-timeout-seconds
MAX_CONTAINER_CONCURRENCY = 1000  # config-defaults container-concurrency-max-limit

_DURATION = re.compile(r"(\d+(?:\.\d*)?)(h|m|s|ms)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def duration_s(text: str) -> float:
    """A Go duration as Knative's annotations take them: `60s`, `1m30s`, `1h`."""
    text = text.strip()
    if not text or _DURATION.sub("", text):
        raise ValueError(f"{text!r}: not a duration such as 60s, 1m30s or 1h")
    return sum(float(number) * _UNIT_S[unit] for number, unit in _DURATION.findall(text))


def read_service(path: Path) -> dict[str, Any]:
    """The Knative Service in a YAML file (a multi-document render is fine)."""
    for document in yaml.safe_load_all(path.read_text()):
        if isinstance(document, dict) and document.get("apiVersion") == API_VERSION and document["kind"] == "Service":
            return document
    raise ValueError(f"{path}: no {API_VERSION} Service in it")


def autoscaling_annotations(service: dict[str, Any]) -> dict[str, str]:
    metadata = service["spec"]["template"].get("metadata") or {}
    return {
        k.removeprefix(PREFIX): str(v) for k, v in (metadata.get("annotations") or {}).items() if k.startswith(PREFIX)
    }


def kpa_params(service: dict[str, Any], **cluster: float) -> KPAParams:
    """The KPA's parameters for the Service; `cluster` overrides config-autoscaler's defaults
    (scale_to_zero_grace_s, max_scale_up_rate, max_scale_down_rate, tick_s)."""
    known = {f.name for f in fields(KPAParams)}
    unknown = set(cluster) - known
    if unknown:
        raise ValueError(f"unknown KPA parameters: {sorted(unknown)}")
    found = autoscaling_annotations(service)
    if found.get("class", KPA_CLASS) != KPA_CLASS or found.get("metric", "concurrency") != "concurrency":
        raise ValueError("the simulation follows the KPA class on the concurrency metric")
    spec = service["spec"]["template"]["spec"]
    concurrency = int(spec.get("containerConcurrency", 0))
    values: dict[str, Any] = {"container_concurrency": concurrency}
    # No target annotation: the containerConcurrency, or Knative's default of 100 when that is 0.
    values["target"] = float(found["target"]) if "target" in found else float(concurrency or 100)
    readers: dict[str, tuple[str, Any]] = {
        "target-utilization-percentage": ("target_utilization", lambda v: float(v) / 100),
        "min-scale": ("min_scale", int),
        "max-scale": ("max_scale", int),
        "initial-scale": ("initial_scale", int),
        "window": ("stable_window_s", duration_s),
        "panic-window-percentage": ("panic_window_percentage", float),
        "panic-threshold-percentage": ("panic_threshold_percentage", float),
        "scale-down-delay": ("scale_down_delay_s", duration_s),
        "scale-to-zero-pod-retention-period": ("pod_retention_s", duration_s),
        "target-burst-capacity": ("target_burst_capacity", float),
    }
    for key, (name, parse) in readers.items():
        if key in found:
            try:
                values[name] = parse(found[key])
            except ValueError as exc:
                raise ValueError(f"{PREFIX}{key}: {found[key]!r}: {exc}") from exc
    values.update(cluster)
    return KPAParams(**values)


def kpa_params_from_manifest(path: Path, **cluster: float) -> KPAParams:
    return kpa_params(read_service(path), **cluster)


def request_timeout_s(service: dict[str, Any]) -> float:
    """timeoutSeconds, or config-defaults' revision-timeout-seconds (300) when unset."""
    return float(service["spec"]["template"]["spec"].get("timeoutSeconds", 300))


def webhook_problems(service: dict[str, Any]) -> list[str]:
    """What Knative's admission webhook would refuse in the revision template, by default feature flags."""
    problems: list[str] = []
    spec = service["spec"]["template"]["spec"]
    problems += [f"pod field {name} is not allowed" for name in sorted(REFUSED_POD_FIELDS & set(spec))]
    problems += [f"pod field {name} needs its feature flag" for name in sorted(FLAGGED_POD_FIELDS & set(spec))]
    if not 0 <= int(spec.get("containerConcurrency", 0)) <= MAX_CONTAINER_CONCURRENCY:
        problems.append(f"containerConcurrency must be within 0..{MAX_CONTAINER_CONCURRENCY}")
    if not 0 <= int(spec.get("timeoutSeconds", 300)) <= MAX_REVISION_TIMEOUT_S:
        problems.append(f"timeoutSeconds must be within 0..{MAX_REVISION_TIMEOUT_S}")
    containers = spec.get("containers", [])
    with_ports = [c for c in containers if c.get("ports")]
    if len(containers) != 1 and len(with_ports) != 1:
        problems.append("exactly one container must name the port that receives traffic")
    for container in containers:
        problems += _container_problems(container)
    try:
        kpa_params(service)
    except ValueError as exc:
        problems.append(f"annotations: {exc}")
    return problems


def _container_problems(container: dict[str, Any]) -> list[str]:
    name = container.get("name", "?")
    problems = [f"{name}: field {f} is not allowed" for f in sorted(REFUSED_CONTAINER_FIELDS & set(container))]
    ports = container.get("ports", [])
    if len(ports) > 1:
        problems.append(f"{name}: only one port may be given")
    port = ports[0]["containerPort"] if ports else 8080
    for entry in ports:
        if entry.get("name", "") not in PORT_NAMES:
            problems.append(f"{name}: port name {entry['name']!r} must be http1 or h2c (or none)")
        if entry["containerPort"] in RESERVED_PORTS:
            problems.append(f"{name}: port {entry['containerPort']} is reserved for the queue-proxy")
    reserved = RESERVED_ENV & {e["name"] for e in container.get("env", [])}
    problems += [f"{name}: {variable} is set by Knative" for variable in sorted(reserved)]
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name) or {}
        for handler in ("httpGet", "tcpSocket", "grpc"):
            if handler in probe and probe[handler].get("port", port) != port:
                problems.append(f"{name}: {probe_name} may name no port but the container's ({port})")
    if (container.get("securityContext") or {}).get("privileged"):
        problems.append(f"{name}: privileged may only be false")
    return problems


def pod_resources(service: dict[str, Any]) -> PodResources:
    """The user container's requests (what a pod of the revision is priced on; the queue-proxy's are Knative's)."""
    spec = service["spec"]["template"]["spec"]
    containers = spec["containers"]
    container = next((c for c in containers if c.get("ports")), containers[0])
    requests = container["resources"]["requests"]
    return PodResources(cpu=cpu_cores(requests["cpu"]), memory_gib=memory_gib(requests["memory"]))
