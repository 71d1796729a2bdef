"""The local Lambda Runtime API, driven by the real awslambdaric client in its own process."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from compare.runtime_api import RuntimeInitError
from tests.helpers import child_env, lambda_runtime, load_event, reply_from_lambda


def test_first_invocation_is_cold_then_warm(predict_env: dict[str, str]) -> None:
    event = load_event("predict-features-v2.json")
    with lambda_runtime(child_env(**predict_env)) as runtime:
        results = [runtime.api.invoke(event) for _ in range(3)]
    replies = [reply_from_lambda(r.payload) for r in results]
    assert [r.headers["x-cold-start"] for r in replies] == ["true", "false", "false"]
    assert all(r.json() == {"prediction": 0} for r in replies)
    # The id the runtime API handed out is the one the response carries.
    assert [r.headers["x-request-id"] for r in replies] == [r.request_id for r in results]


@pytest.mark.parametrize(("damage", "reason"), [("remove", "no model artifact"), ("tamper", "digest mismatch")])
def test_bad_artifact_is_an_init_error_naming_the_problem(
    artifact_dir: Path, tmp_path: Path, predict_env: dict[str, str], damage: str, reason: str
) -> None:
    broken = Path(shutil.copytree(artifact_dir, tmp_path / "artifact"))
    if damage == "remove":
        (broken / "model.joblib").unlink()
    else:
        (broken / "model.joblib").write_bytes(b"tampered")
    env = child_env(**{**predict_env, "PREDICT_MODEL_DIR": str(broken)})
    with lambda_runtime(env, wait=False) as runtime:
        error = runtime.api.wait_init_error(timeout_s=60)
        assert runtime.process.wait(timeout=30) != 0
    assert error.error_type is not None
    assert "ArtifactError" in error.error_type
    assert reason in str(error)


def test_an_invocation_error_is_reported_as_such(tmp_path: Path) -> None:
    (tmp_path / "failing.py").write_text(
        textwrap.dedent(
            """
            def handler(event, context):
                raise ValueError("boom " + event["who"])
            """
        )
    )
    import subprocess
    import sys

    from compare.runtime_api import LocalRuntimeAPI

    with LocalRuntimeAPI() as api:
        process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", "failing.handler"],
            env=child_env(AWS_LAMBDA_RUNTIME_API=api.address, PYTHONPATH=str(tmp_path)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            result = api.invoke({"who": "here"})
        finally:
            process.kill()
            process.wait()
    assert not result.ok
    assert result.payload["errorMessage"] == "boom here"
    assert result.payload["errorType"] == "ValueError"


def test_init_error_raised_to_a_waiting_caller() -> None:
    error = RuntimeInitError({"errorMessage": "no model", "errorType": "ArtifactError"}, "Runtime.Unknown")
    assert "no model" in str(error)
    assert json.dumps(error.payload)
