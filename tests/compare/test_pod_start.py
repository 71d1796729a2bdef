"""A new pod's start in `compare calibrate`: the server container where a Docker engine answers (without
one, the process's cold start labelled so: tests/compare/test_cli.py); and `simulate` starts its pods with it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compare import docker
from compare.__main__ import _parser
from compare.calibration import Calibration
from compare.commands import _profile, _scenario
from compare.platforms.base import Constant
from tests.deploy.conftest import SERVER_TAG
from tests.helpers import REPO

IMAGE_TIMEOUT_S = 1800  # a cold build of the server image (later builds hit the layer cache)


def _calibrate(out: Path, model_dir: str, *extra: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "compare", "calibrate", "--runs", "2", "--requests", "5", "--batches", "1",
         "--model-dir", model_dir, "--out", str(out), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=IMAGE_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    printed: dict[str, object] = json.loads(result.stdout)
    printed["stderr"] = result.stderr
    return printed


@pytest.mark.slow
@pytest.mark.timeout(IMAGE_TIMEOUT_S)
@pytest.mark.skipif(docker.engine_missing() is not None, reason=docker.engine_missing() or "")
def test_with_an_engine_the_server_container_is_timed_as_a_pod(predict_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "calibration.json"
    printed = _calibrate(out, predict_env["PREDICT_MODEL_DIR"], "--pod-image", SERVER_TAG)
    calibration = Calibration.read(out)
    assert calibration.server.pod_start_source == "container"
    pod_start = calibration.server.pod_start_s or []
    assert len(pod_start) == 2
    assert all(0 < seconds < 60 for seconds in pod_start)
    assert pod_start != calibration.server.cold_start_s  # timed on their own, not the process's copied
    assert printed["pod_start_source"] == "container"
    assert SERVER_TAG in str(printed["pod_start"])
    assert "the Deployment's contract" in str(printed["pod_start"])


def _pod_start(calibration: Calibration, tmp_path: Path, *extra: str) -> object:
    path = calibration.write(tmp_path / "calibration.json")
    args = _parser().parse_args(["simulate", "--profile", "steady", "--duration", "60", "--calibration", str(path),
                                 *extra])  # fmt: skip
    return _scenario(args, _profile(args)).k8s_config.pod_start


def test_simulate_starts_pods_with_the_recorded_pod_start(tmp_path: Path) -> None:
    record = {
        "lambda": {"cold_start_s": [1.2], "warm_s": {"1": [0.004]}},
        "server": {"cold_start_s": [1.5, 1.7], "warm_s": {"1": [0.005]}},
    }
    older = Calibration.model_validate(record)
    assert _pod_start(older, tmp_path) == Constant(10.0 + 1.7)  # scheduling + the process's slowest start
    record["server"] |= {"pod_start_s": [2.4, 3.1], "pod_start_source": "container"}
    measured = Calibration.model_validate(record)
    assert _pod_start(measured, tmp_path) == Constant(10.0 + 3.1)
    assert _pod_start(measured, tmp_path, "--pod-scheduling-s", "4") == Constant(4.0 + 3.1)
    assert _pod_start(measured, tmp_path, "--pod-start", "const:25") == Constant(25.0)
