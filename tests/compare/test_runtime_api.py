"""The local Lambda Runtime API, driven by the real awslambdaric client in its own process."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from compare.runtime_api import LocalRuntimeAPI, RuntimeInitError
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


@contextmanager
def lambda_runtime_for(handler: str, path: Path) -> Iterator[LocalRuntimeAPI]:
    """awslambdaric running a handler module from `path` against a fresh local Runtime API."""
    with LocalRuntimeAPI() as api:
        process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", handler],
            env=child_env(AWS_LAMBDA_RUNTIME_API=api.address, PYTHONPATH=str(path)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield api
        finally:
            process.kill()
            process.wait()


def test_an_invocation_error_is_reported_as_such(tmp_path: Path) -> None:
    (tmp_path / "failing.py").write_text(
        textwrap.dedent(
            """
            def handler(event, context):
                raise ValueError("boom " + event["who"])
            """
        )
    )
    with lambda_runtime_for("failing.handler", tmp_path) as api:
        result = api.invoke({"who": "here"})
    assert not result.ok
    assert result.payload["errorMessage"] == "boom here"
    assert result.payload["errorType"] == "ValueError"


def test_an_init_failure_reaches_a_caller_already_waiting(tmp_path: Path) -> None:
    # The caller queued its invocation before init failed: invoke() raises the init error, not a timeout.
    (tmp_path / "broken.py").write_text('raise RuntimeError("no model here")\n')
    with (
        lambda_runtime_for("broken.handler", tmp_path) as api,
        pytest.raises(RuntimeInitError, match="no model here"),
    ):
        api.invoke({"any": "event"}, timeout_s=60)


def test_the_handlers_duration_is_what_the_runtime_api_saw(predict_env: dict[str, str]) -> None:
    """Handed out to response received: inside the caller's round trip, and what REPORT's Duration bills."""
    import time

    event = load_event("predict-features-v2.json")
    with lambda_runtime(child_env(**predict_env)) as runtime:
        runtime.api.invoke(event)
        started = time.perf_counter()
        result = runtime.api.invoke(event)
        round_trip = time.perf_counter() - started
        pending = [runtime.api.submit(event) for _ in range(3)]
        submitted = [future.result(timeout=30) for future in pending]
    assert result.duration_s is not None
    assert 0 < result.duration_s < round_trip
    assert all(r.ok and r.duration_s is not None and r.duration_s > 0 for r in submitted)


@pytest.mark.slow
def test_pairs_under_light_load_are_answered_invocations_with_the_duration_inside_the_trip(
    predict_env: dict[str, str],
) -> None:
    """What calibrate records of Lambda: a pool of one under Poisson arrivals, `requests` answered pairs."""
    from compare.lambda_pool import pairs_under_load
    from compare.processes import lambda_pool

    event = load_event("predict-features-v2.json")
    with lambda_pool(child_env(**predict_env), 1) as pool:
        trips, durations = pairs_under_load(pool.api, event, 1, 60)
    assert len(trips) == len(durations) == 60
    assert all(0 < duration < trip for duration, trip in zip(durations, trips, strict=True))
