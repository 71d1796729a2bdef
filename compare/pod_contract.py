"""The Deployment's contract for its container, read from k8s/, as `docker run` flags.

A pod's container runs as the manifest says: its user, a read-only root filesystem with /tmp as
an emptyDir, its CPU and memory limits, no capabilities, no privilege escalation, its environment
and its port. Running the image under the same flags on a Docker engine checks that the image
keeps that contract, and times what a new pod costs before its probe passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .manifests import cpu_cores

DEPLOYMENT = Path(__file__).resolve().parents[1] / "k8s" / "base" / "deployment.yaml"

# The one writable path of the pod: an emptyDir there, a tmpfs under Docker (not a temp file of ours).
TMP_MOUNT = "/tmp"  # noqa: S108  # nosec B108
# Kubernetes' binary suffixes and Docker's --memory units (b, k, m, g: powers of 1024).
_DOCKER_MEMORY = {"Ki": "k", "Mi": "m", "Gi": "g"}


@dataclass(frozen=True)
class PodContract:
    user: str
    read_only_root: bool
    tmp_size: str | None
    cpus: float
    memory: str
    env: dict[str, str]
    port: int
    command: list[str]
    drop_all_capabilities: bool
    no_new_privileges: bool
    termination_grace_s: int
    pre_stop: list[str] = field(default_factory=list)

    def docker_run_args(self, image: str, host_port: int) -> list[str]:
        """`docker run` arguments for this contract, the port published on 127.0.0.1 only."""
        args = ["--user", self.user, "--cpus", f"{self.cpus:g}", "--memory", self.memory]
        if self.read_only_root:
            args.append("--read-only")
        if self.tmp_size is not None:
            args += ["--tmpfs", f"{TMP_MOUNT}:rw,size={self.tmp_size}"]
        if self.drop_all_capabilities:
            args += ["--cap-drop", "ALL"]
        if self.no_new_privileges:
            args += ["--security-opt", "no-new-privileges"]
        for name, value in self.env.items():
            args += ["--env", f"{name}={value}"]
        args += ["--publish", f"127.0.0.1:{host_port}:{self.port}"]
        return [*args, image, *self.command]


def docker_memory(quantity: str) -> str:
    for suffix, unit in _DOCKER_MEMORY.items():
        if quantity.endswith(suffix):
            return quantity[: -len(suffix)] + unit
    return quantity  # plain bytes


def _deployment(path: Path) -> dict[str, Any]:
    for document in yaml.safe_load_all(path.read_text()):
        if isinstance(document, dict) and document.get("kind") == "Deployment":
            return document
    raise ValueError(f"{path}: no Deployment in it")


def pod_contract(deployment: Path = DEPLOYMENT) -> PodContract:
    """The first container's contract (our pods run one container)."""
    pod = _deployment(deployment)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    pod_security = pod.get("securityContext", {})
    security = {**pod_security, **container.get("securityContext", {})}
    if not security.get("runAsNonRoot") or "runAsUser" not in security:
        raise ValueError(f"{deployment}: the pod must run as a named non-root user")
    user = f"{security['runAsUser']}:{security.get('runAsGroup', security['runAsUser'])}"
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    tmp_size = None
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        if mount["mountPath"] == TMP_MOUNT and "emptyDir" in volume:
            tmp_size = docker_memory(str(volume["emptyDir"].get("sizeLimit", "64Mi")))
    limits = container["resources"]["limits"]
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return PodContract(
        user=user,
        read_only_root=bool(security.get("readOnlyRootFilesystem")),
        tmp_size=tmp_size,
        cpus=cpu_cores(limits["cpu"]),
        memory=docker_memory(str(limits["memory"])),
        env={variable["name"]: str(variable["value"]) for variable in container.get("env", []) if "value" in variable},
        port=int(container["ports"][0]["containerPort"]),
        command=list(container.get("command", [])) + list(container.get("args", [])),
        drop_all_capabilities="ALL" in security.get("capabilities", {}).get("drop", []),
        no_new_privileges=security.get("allowPrivilegeEscalation") is False,
        termination_grace_s=int(pod.get("terminationGracePeriodSeconds", 30)),
        pre_stop=list(pre_stop),
    )
