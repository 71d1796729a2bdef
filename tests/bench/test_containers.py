"""Figure 8, the real images: without a Docker engine the figure says why (and bench goes on); with one,
the server image's size above its base and its container's cold start under the Deployment's contract."""

from __future__ import annotations

import os
import shutil

import pytest

from bench import containers
from bench.__main__ import parse_config
from compare import docker
from tests.deploy.conftest import SERVER_TAG

IMAGE_TIMEOUT_S = 1800  # a cold build of the server image (later builds hit the layer cache)


def test_quick_keeps_the_server_container_and_leaves_the_lambda_image_to_sizes() -> None:
    quick = parse_config(["--quick"])
    assert (quick.containers, quick.container_cold_starts, quick.sizes) == (True, 1, False)
    assert parse_config([]).containers
    assert not parse_config(["--quick", "--no-containers"]).containers


def test_not_asked_for_touches_no_engine() -> None:
    said: list[str] = []
    found = containers.prepare(False, said.append)
    assert found.record == {"skipped": "not asked for (--no-containers)"}
    assert found.cold_starts(3, said.append) == []
    assert said == []


def test_without_an_engine_the_figure_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = [folder for folder in os.environ["PATH"].split(os.pathsep) if shutil.which("docker", path=folder) is None]
    monkeypatch.setenv("PATH", os.pathsep.join(folder for folder in kept if folder))
    said: list[str] = []
    found = containers.prepare(True, said.append)
    assert found.record == {"skipped": "needs a Docker engine (no docker client)"}
    assert found.server is None
    assert found.cold_starts(3, said.append) == []
    assert said == ["containers: skipped: needs a Docker engine (no docker client)"]


@pytest.mark.slow
@pytest.mark.timeout(IMAGE_TIMEOUT_S)
@pytest.mark.skipif(docker.engine_missing() is not None, reason=docker.engine_missing() or "")
def test_with_an_engine_the_server_image_and_its_container_cold_start() -> None:
    said: list[str] = []
    found = containers.prepare(True, said.append, server_tag=SERVER_TAG)  # built, measured, one start discarded
    server = found.record["images"]["server"]
    assert "error" not in server, server
    assert server["tag"] == SERVER_TAG
    assert server["base"] == docker.base_image(docker.SERVER_DOCKERFILE)
    assert server["stand_in_base"] is docker.is_stand_in(server["base"])
    assert 0 < server["base_size_mb"] < server["size_mb"]
    assert server["project_layers_mb"] == pytest.approx(server["size_mb"] - server["base_size_mb"], abs=0.11)
    assert found.record["contract"] == "k8s/base/deployment.yaml"
    started = found.cold_starts(2, said.append)
    assert len(started) == 2
    assert all(0 < seconds < 60 for seconds in started)
    assert "errors" not in found.record
    assert any(line.startswith(f"  {SERVER_TAG}: ") and "of the project's layers" in line for line in said)
