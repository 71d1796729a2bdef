"""`sam build` + `sam local invoke` / `sam local start-api`, as the README tells users, on a Docker engine.

Both variants: the image function (container/lambda.Dockerfile) and the zip function with its layers
(SAM makes its image from the Lambda base). `--skip-pull-image` where that base is on the engine
already (where no registry answers, the stand-in tools/offline-base-images.sh made).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from compare import docker
from predict.invoke import LocalContext
from tests.deploy.conftest import ENGINE_MISSING, needs_engine
from tests.deploy.sam_tools import SAM_ENV, sam
from tests.helpers import EVENTS, REPO, free_port, load_event, reply_from_lambda

pytestmark = [needs_engine, pytest.mark.timeout(1800)]
EVENT_FILES = sorted(EVENTS.glob("*.json"))
# SAM's own base for zip functions: where it is on the engine already (a stand-in where no
# registry answers), SAM must not try to pull it.
SAM_ZIP_BASE = "public.ecr.aws/lambda/python:3.12-x86_64"


def _pull_flags() -> list[str]:
    return ["--skip-pull-image"] if ENGINE_MISSING is None and docker.has_image(SAM_ZIP_BASE) else []


@pytest.fixture(scope="module")
def image_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if sam() is None or ENGINE_MISSING is not None:
        pytest.skip(ENGINE_MISSING or "needs SAM CLI (make test installs it into .venv-sam)")
    build_dir = tmp_path_factory.mktemp("sam-image-build")
    result = subprocess.run(
        [str(sam()), "build", "PredictFunction", "--build-dir", str(build_dir)],
        cwd=REPO, env=SAM_ENV, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build_dir


def sam_local_invoke(function: str, build_dir: Path, event: Path, *parameters: str) -> dict[str, Any]:
    """`sam local invoke FUNCTION -e EVENT` on a build; the function's response (its last stdout line)."""
    overrides = ["--parameter-overrides", " ".join(parameters)] if parameters else []
    result = subprocess.run(
        [str(sam()), "local", "invoke", function, "-t", str(build_dir / "template.yaml"), "-e", str(event),
         *_pull_flags(), *overrides],
        cwd=REPO, env=SAM_ENV, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    response: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return response


@pytest.mark.parametrize("event", EVENT_FILES, ids=lambda p: p.stem)
def test_sam_local_invoke_of_the_image_function(image_build: Path, event: Path, lambda_module: ModuleType) -> None:
    reply = reply_from_lambda(sam_local_invoke("PredictFunction", image_build, event))
    expected = reply_from_lambda(lambda_module.handler(load_event(event.name), LocalContext()))
    assert reply.status == expected.status
    assert reply.json() == expected.json()
    assert reply.headers["x-cold-start"] == "true"  # each `sam local invoke` is a new environment


def test_sam_local_invoke_of_the_zip_variant(zip_build: Path) -> None:
    event = EVENTS / "predict-features-v2.json"
    reply = reply_from_lambda(sam_local_invoke("PredictZipFunction", zip_build, event, "PackageVariant=zip"))
    assert (reply.status, reply.json()) == (200, {"prediction": 0})
    assert reply.headers["x-cold-start"] == "true"


def test_sam_local_start_api_serves_the_tutorial_requests(image_build: Path) -> None:
    port = free_port()
    command = [str(sam()), "local", "start-api", "-t", str(image_build / "template.yaml"), "--host", "127.0.0.1",
               "--port", str(port), *_pull_flags(), "--warm-containers", "EAGER"]  # fmt: skip
    with subprocess.Popen(command, cwd=REPO, env=SAM_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as api:
        try:
            url = f"http://127.0.0.1:{port}"
            replies = []
            with httpx.Client(base_url=url, timeout=120) as http:
                deadline = time.monotonic() + 300
                while True:
                    assert api.poll() is None, "sam local start-api exited"
                    try:
                        replies.append(http.post("/predict", json={"features": [5.1, 3.5, 1.4, 0.2]}))
                        break
                    except httpx.TransportError:
                        assert time.monotonic() < deadline, "sam local start-api did not answer within 300 s"
                        time.sleep(1)
                replies.append(http.post("/predict", json={"input": [5.1, 3.5, 1.4, 0.2]}))
                replies.append(http.post("/predict", json={"features": [5.1, 3.5]}))
                ready = http.get("/ready")
        finally:
            api.terminate()
            try:
                output = api.communicate(timeout=60)[0].decode(errors="replace")
            except subprocess.TimeoutExpired:
                api.kill()
                output = api.communicate()[0].decode(errors="replace")
    # SAM local ignores Conditions and mounts both APIs' identical routes: the template declares the
    # image variant last so that it, the default, is the one served.
    assert "Mounting PredictFunction at" in output
    assert "Mounting PredictZipFunction" not in output
    assert [r.status_code for r in replies] == [200, 200, 422], [r.text for r in replies]
    assert replies[0].json() == {"prediction": 0}
    assert replies[1].json() == {"prediction": [0]}
    assert "wrong number of features" in replies[2].json()["error"]
    assert ready.status_code == 200
    # Warm containers: one execution environment answered all of them, cold only the first time.
    assert [r.headers["x-cold-start"] for r in replies] == ["true", "false", "false"]
