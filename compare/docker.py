"""The project's images on a local Docker engine: is one there, build, run under a contract, measure.

Used by the container tests, `make bench` (image sizes, the container's cold start) and
`compare calibrate` (a new pod's start). Every container publishes on 127.0.0.1 only and is
removed when its block ends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .pod_contract import PodContract
from .processes import free_port

REPO = Path(__file__).resolve().parents[1]
SERVER_DOCKERFILE = REPO / "container" / "server.Dockerfile"
LAMBDA_DOCKERFILE = REPO / "container" / "lambda.Dockerfile"
# tools/offline-base-images.sh marks the base images it had to make here.
STAND_IN_LABEL = "org.twinserve.stand-in"
_IRIS = {"features": [5.1, 3.5, 1.4, 0.2]}


class DockerError(RuntimeError):
    """The engine refused or failed a command; the message carries its own."""


def engine_missing() -> str | None:
    """None when a Docker engine answers, else why not (a test's skip reason)."""
    if shutil.which("docker") is None:
        return "needs a Docker engine (no docker client)"
    try:
        info = _docker("info", "--format", "{{.ServerVersion}}", timeout_s=15, check=False)
    except DockerError:
        return "needs a Docker engine (docker info timed out)"
    return None if info.returncode == 0 else "needs a Docker engine (docker info fails: no daemon answers)"


def _run(command: list[str], timeout_s: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """One docker command; a timeout is the engine failing to answer, so it is a DockerError too."""
    docker = shutil.which("docker") or "docker"
    try:
        return subprocess.run(  # noqa: S603  # nosec B603
            [docker, *command[1:]], capture_output=True, text=True, timeout=timeout_s, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise DockerError(f"{' '.join(command[:2])} did not finish within {timeout_s:g} s") from exc


def _docker(*args: str, timeout_s: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = _run(["docker", *args], timeout_s)
    if check and result.returncode != 0:
        raise DockerError(f"docker {args[0]} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result


def build(dockerfile: Path, tag: str, timeout_s: float = 1800) -> float:
    """Build an image from the repository root; returns the seconds it took."""
    started = time.perf_counter()
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # Debian's engine here has no buildx
    result = _run(["docker", "build", "--quiet", "-f", str(dockerfile), "-t", tag, str(REPO)], timeout_s, env)
    if result.returncode != 0:
        raise DockerError(f"docker build -f {dockerfile.name} failed: {(result.stdout + result.stderr)[-4000:]}")
    return time.perf_counter() - started


@dataclass(frozen=True)
class ImageFigures:
    tag: str
    size_mb: float
    base: str
    base_size_mb: float
    stand_in_base: bool

    @property
    def project_layers_mb(self) -> float:
        return self.size_mb - self.base_size_mb


def _inspect(image: str) -> dict[str, Any]:
    document: list[dict[str, Any]] = json.loads(_docker("image", "inspect", image).stdout)
    return document[0]


def base_image(dockerfile: Path) -> str:
    """The final stage's FROM (the base users pull)."""
    froms = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("FROM ")]
    return froms[-1]


def has_image(image: str) -> bool:
    return _docker("image", "inspect", image, check=False).returncode == 0


def is_stand_in(image: str) -> bool:
    labels = (_inspect(image).get("Config") or {}).get("Labels") or {}
    return STAND_IN_LABEL in labels


def image_figures(tag: str, dockerfile: Path) -> ImageFigures:
    base = base_image(dockerfile)
    size, base_size = int(_inspect(tag)["Size"]), int(_inspect(base)["Size"])
    return ImageFigures(tag, size / 1e6, base, base_size / 1e6, is_stand_in(base))


@dataclass(frozen=True)
class RunningContainer:
    id: str
    url: str

    def logs(self) -> str:
        result = _docker("logs", self.id, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        return _docker("exec", self.id, *command, timeout_s=timeout_s, check=False)

    def stop(self, grace_s: int) -> float:
        """`docker stop -t grace`: SIGTERM, then SIGKILL after the grace period; returns seconds taken."""
        started = time.perf_counter()
        _docker("stop", "-t", str(grace_s), self.id, timeout_s=grace_s + 60)
        return time.perf_counter() - started

    def exit_code(self) -> int:
        return int(_docker("inspect", "--format", "{{.State.ExitCode}}", self.id).stdout.strip())


@contextmanager
def run_server(image: str, contract: PodContract) -> Iterator[RunningContainer]:
    """The server image as the Deployment runs it, published on a free 127.0.0.1 port."""
    port = free_port()
    container_id = _docker("run", "--detach", *contract.docker_run_args(image, port)).stdout.strip()
    try:
        yield RunningContainer(container_id, f"http://127.0.0.1:{port}")
    finally:
        _docker("rm", "--force", container_id, check=False)


@contextmanager
def run_lambda(image: str, env: dict[str, str] | None = None) -> Iterator[RunningContainer]:
    """The Lambda image under its emulator (the base image's entrypoint), published on 127.0.0.1."""
    port = free_port()
    env_args = [arg for name, value in (env or {}).items() for arg in ("--env", f"{name}={value}")]
    container_id = _docker("run", "--detach", *env_args, "--publish", f"127.0.0.1:{port}:8080", image).stdout.strip()
    try:
        yield RunningContainer(container_id, f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations")
    finally:
        _docker("rm", "--force", container_id, check=False)


def wait_for_answer(container: RunningContainer, timeout_s: float = 60.0) -> float:
    """Poll POST /predict until it answers the tutorial row correctly; returns when (perf_counter)."""
    deadline = time.perf_counter() + timeout_s
    with httpx.Client(base_url=container.url, timeout=5.0) as client:
        while time.perf_counter() < deadline:
            try:
                response = client.post("/predict", json=_IRIS)
            except httpx.TransportError:
                time.sleep(0.005)
                continue
            if response.status_code == 200 and response.json() == {"prediction": 0}:
                return time.perf_counter()
            time.sleep(0.005)
    raise TimeoutError(f"the container did not answer within {timeout_s} s; its log:\n{container.logs()[-2000:]}")


def container_cold_start(image: str, contract: PodContract, timeout_s: float = 60.0) -> float:
    """Seconds from `docker run` to the first correct answer: what a new pod costs before its probe."""
    started = time.perf_counter()
    with run_server(image, contract) as container:
        return wait_for_answer(container, timeout_s) - started
