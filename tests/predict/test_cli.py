"""`python -m predict ...` as users run it: invoke, train, package, serve (and its refusals)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import EVENTS, REPO, child_env, free_port, uvicorn_server


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "predict", *args],
        cwd=REPO,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_invoke_prints_the_lambda_response(predict_env: dict[str, str]) -> None:
    result = run_cli("invoke", str(EVENTS / "predict-features-v2.json"), env=child_env(**predict_env))
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"prediction": 0}
    assert response["headers"]["x-cold-start"] == "true"


def test_invoke_names_a_missing_event_file(predict_env: dict[str, str]) -> None:
    result = run_cli("invoke", "no-such-event.json", env=child_env(**predict_env))
    assert result.returncode != 0
    assert "event file not found" in result.stderr


def test_train_and_train_if_missing(tmp_path: Path) -> None:
    out = tmp_path / "model"
    first = run_cli("train", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "held-out accuracy" in first.stdout
    digest = json.loads((out / "metadata.json").read_text())["sha256"]
    again = run_cli("train", "--out", str(out), "--if-missing")
    assert "already present" in again.stdout
    assert json.loads((out / "metadata.json").read_text())["sha256"] == digest


def test_package_refusal_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.joblib").write_bytes(b"nope")
    result = run_cli("package", "--model", str(tmp_path / "bad.joblib"), "--out", str(tmp_path / "a"))
    assert result.returncode == 2
    assert "not a joblib/pickle file" in result.stderr


def test_package_makes_the_compiled_form_from_held_out_rows_and_says_so(tmp_path: Path) -> None:
    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 3))
    joblib.dump(RandomForestClassifier(n_estimators=10, random_state=0).fit(x, x[:, 0] > 0), tmp_path / "m.joblib")
    np.save(tmp_path / "holdout.npy", x[:20])
    out = tmp_path / "artifact"
    made = run_cli("package", "--model", str(tmp_path / "m.joblib"), "--out", str(out), "--holdout",
                   str(tmp_path / "holdout.npy"))  # fmt: skip
    assert made.returncode == 0, made.stderr
    compiled = json.loads((out / "metadata.json").read_text())["compiled"]
    assert f"compiled form model.onnx, verified on {20 + 1000} rows" in made.stdout
    assert f"compiled form sha256 {compiled['sha256']}" in made.stdout
    skops = run_cli("package", "--model", str(tmp_path / "m.joblib"), "--out", str(tmp_path / "s"), "--format", "skops")
    assert skops.returncode == 0, skops.stderr
    assert "no compiled form: give --holdout rows" in skops.stdout
    assert "PREDICT_SKOPS_TRUSTED=sklearn.tree._tree.Tree" in skops.stdout
    unreadable = run_cli("package", "--model", str(tmp_path / "m.joblib"), "--out", str(tmp_path / "u"), "--holdout",
                         str(tmp_path / "missing.csv"))  # fmt: skip
    assert unreadable.returncode == 2
    assert "cannot read held-out rows" in unreadable.stderr


def test_serve_answers_and_stops_cleanly_on_sigterm(predict_env: dict[str, str]) -> None:
    with uvicorn_server(child_env(**predict_env)) as server:
        reply = httpx.post(f"{server.url}/predict", json={"input": [5.1, 3.5, 1.4, 0.2]})
        assert reply.json() == {"prediction": [0]}
        server.process.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal it handled once shut down, so the exit status says SIGTERM.
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in server.log_text()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [("remove", "no model artifact"), ("tamper", "digest mismatch")],
)
def test_serve_refuses_a_bad_artifact(artifact_dir: Path, tmp_path: Path, damage: str, reason: str) -> None:
    broken = Path(shutil.copytree(artifact_dir, tmp_path / "artifact"))
    if damage == "remove":
        (broken / "metadata.json").unlink()
    else:
        (broken / "model.joblib").write_bytes(b"tampered")
    port = free_port()
    result = run_cli("serve", "--port", str(port), "--model-dir", str(broken), env=child_env(PREDICT_HOST="127.0.0.1"))
    assert result.returncode != 0
    assert reason in result.stderr


def test_serve_refuses_invalid_settings() -> None:
    result = run_cli("serve", env=child_env(PREDICT_MODEL_SHA256="not-a-digest"))
    assert result.returncode == 2
    assert "PREDICT_MODEL_SHA256" in result.stderr or "model_sha256" in result.stderr
