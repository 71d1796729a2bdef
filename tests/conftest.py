"""Session fixtures: a default model trained into a temporary directory, and settings that point at it."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
from predict.train import train_default

from tests.cases import BODY_LIMIT, ROW_LIMIT


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


def import_with_env(module: str, env: dict[str, str]) -> ModuleType:
    """(Re)import a module whose import-time code reads PREDICT_* settings, under `env`."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        if module in sys.modules:
            return importlib.reload(sys.modules[module])
        return importlib.import_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def lambda_module(predict_env: dict[str, str]) -> ModuleType:
    """predict.lambda_handler imported the way Lambda's init phase imports it."""
    return import_with_env("predict.lambda_handler", predict_env)
