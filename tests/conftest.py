"""Session fixtures: a default model trained into a temporary directory, and settings that point at it."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from predict.train import train_default
from tests.cases import BODY_LIMIT, ROW_LIMIT
from tests.helpers import import_with_env


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    train_default(out)
    return out


@pytest.fixture(scope="session")
def predict_env(artifact_dir: Path) -> dict[str, str]:
    """The PREDICT_* settings every entry point runs with in the tests."""
    return {
        "PREDICT_MODEL_DIR": str(artifact_dir),
        "PREDICT_MAX_BODY_BYTES": str(BODY_LIMIT),
        "PREDICT_MAX_ROWS": str(ROW_LIMIT),
    }


@pytest.fixture(scope="session")
def lambda_module(predict_env: dict[str, str]) -> ModuleType:
    """predict.lambda_handler imported the way Lambda's init phase imports it."""
    return import_with_env("predict.lambda_handler", predict_env)


def pytest_report_header() -> list[str]:
    """Say which Docker engine and base images the container tests use: stand-ins are named as such."""
    from compare import docker

    missing = docker.engine_missing()
    if missing is not None:
        return [f"docker: the container tests skip: {missing}"]
    lines = []
    for dockerfile in (docker.SERVER_DOCKERFILE, docker.LAMBDA_DOCKERFILE):
        base = docker.base_image(dockerfile)
        try:
            kind = "a stand-in built here by tools/offline-base-images.sh" if docker.is_stand_in(base) else "published"
        except docker.DockerError:
            kind = "not present yet: the build pulls it"
        lines.append(f"docker: {dockerfile.name} builds on {base} ({kind})")
    return lines
