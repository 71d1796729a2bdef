"""The two images, built once per session where a Docker engine answers (else the tests skip)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compare import docker
from compare.pod_contract import PodContract, pod_contract
from tests.deploy.sam_tools import SAM_ENV, sam
from tests.helpers import REPO

ENGINE_MISSING = docker.engine_missing()
needs_engine = pytest.mark.skipif(ENGINE_MISSING is not None, reason=ENGINE_MISSING or "")
SERVER_TAG = "twinserve-predict:test"
LAMBDA_TAG = "twinserve-lambda:test"
BUILD_TIMEOUT_S = 1800


def _build(dockerfile: Path, tag: str) -> str:
    if ENGINE_MISSING is not None:
        pytest.skip(ENGINE_MISSING)
    docker.build(dockerfile, tag, timeout_s=BUILD_TIMEOUT_S)
    return tag


@pytest.fixture(scope="session")
def server_image() -> str:
    return _build(docker.SERVER_DOCKERFILE, SERVER_TAG)


@pytest.fixture(scope="session")
def lambda_image() -> str:
    return _build(docker.LAMBDA_DOCKERFILE, LAMBDA_TAG)


@pytest.fixture(scope="session")
def contract() -> PodContract:
    return pod_contract()


@pytest.fixture(scope="session")
def zip_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if sam() is None:
        pytest.skip("needs SAM CLI (make test installs it into .venv-sam)")
    if sys.version_info[:2] != (3, 12):
        pytest.skip("needs Python 3.12 for the python3.12 runtime (make builds .venv with it when the machine has it)")
    build_dir = tmp_path_factory.mktemp("sam-build")
    # python3.12 for the python3.12 runtime: this interpreter when it is one, as in .venv.
    env = {**SAM_ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [str(sam()), "build", "PredictZipFunction", "--parameter-overrides", "PackageVariant=zip",
         "--build-dir", str(build_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build_dir
