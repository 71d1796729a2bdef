"""Figure 8: the real images, where a Docker engine answers (compare.docker).

Each image built (the layer cache makes a rebuild quick): its size, the project's layers above its
base (size less the base's), the base named and whether it is a stand-in built on this machine
(tools/offline-base-images.sh). The server container's cold start under the Deployment's contract
(`docker run` to the first correct answer), one per round beside the process's own cold starts; the
container is not pinned (dockerd starts it, `--cpus` only bounds it), the process is. Without an
engine, or when a build fails, the figure says why and the run's other figures stand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from compare import docker
from compare.pod_contract import DEPLOYMENT, PodContract, pod_contract
from compare.processes import REPO

SERVER_TAG = "twinserve-predict:bench"
LAMBDA_TAG = "twinserve-lambda:bench"
NOT_IN_QUICK = "not built without --sizes (off in --quick)"
# A container that never answers raises TimeoutError; a refused run or build, DockerError.
FAILURES = (docker.DockerError, TimeoutError)

Progress = Callable[[str], None]


def image(dockerfile: Path, tag: str, progress: Progress) -> dict[str, Any]:
    """Build one image and measure it; a failed build is recorded in the figure, not raised."""
    try:
        built_s = docker.build(dockerfile, tag)
        figures = docker.image_figures(tag, dockerfile)
    except FAILURES as exc:
        progress(f"  WARNING {tag} did not build: {str(exc)[-300:]}")
        return {"tag": tag, "dockerfile": dockerfile.name, "error": str(exc)[-1500:]}
    stand_in = " (a stand-in built here)" if figures.stand_in_base else ""
    progress(
        f"  {tag}: {figures.size_mb:.1f} MB = {figures.base}{stand_in} {figures.base_size_mb:.1f} MB"
        f" + {figures.project_layers_mb:.1f} MB of the project's layers (build {built_s:.1f} s)"
    )
    return {
        **{k: round(v, 1) if isinstance(v, float) else v for k, v in asdict(figures).items()},
        "dockerfile": dockerfile.name,
        "project_layers_mb": round(figures.project_layers_mb, 1),
        "build_s": round(built_s, 1),
    }


@dataclass
class Containers:
    """The figure's record (raw["containers"]) and, while it answers, the server image to start."""

    record: dict[str, Any]
    server: str | None = None
    contract: PodContract | None = field(default=None, repr=False)

    def cold_starts(self, count: int, progress: Progress) -> list[float]:
        """`count` server containers, each timed from `docker run` to its first correct answer.

        After a failure the rest of the run starts none (recorded under "errors")."""
        samples: list[float] = []
        if self.server is None or self.contract is None:
            return samples
        try:
            for _ in range(count):
                samples.append(docker.container_cold_start(self.server, self.contract))
        except FAILURES as exc:
            self.record.setdefault("errors", []).append(str(exc)[-1500:])
            self.server = None
            progress(f"  WARNING the server container failed; no more container starts this run: {str(exc)[-300:]}")
        return samples


def prepare(enabled: bool, progress: Progress, server_tag: str = SERVER_TAG) -> Containers:
    """Before the rounds: the server image built and measured, and one discarded container start
    (its layers in the page cache), as bench primes every other entry point."""
    if not enabled:
        return Containers({"skipped": "not asked for (--no-containers)"})
    missing = docker.engine_missing()
    if missing is not None:
        progress(f"containers: skipped: {missing}")
        return Containers({"skipped": missing})
    progress(f"containers: building {server_tag} (cached after the first time), its size, one discarded start")
    server = image(docker.SERVER_DOCKERFILE, server_tag, progress)
    contract = str(DEPLOYMENT.relative_to(REPO))
    found = Containers({"images": {"server": server}, "contract": contract})
    if "error" not in server:
        found.server, found.contract = server_tag, pod_contract()
        found.cold_starts(1, progress)
    return found


def lambda_image(progress: Progress, tag: str = LAMBDA_TAG) -> dict[str, Any]:
    """The Lambda image's figures (built with the run's other sizes)."""
    return image(docker.LAMBDA_DOCKERFILE, tag, progress)
