"""The open-loop driver against a real local server: the seed ramp, scaled to what one worker serves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compare.load import LoadPlan, read_run, run_load, summarize
from tests.helpers import REPO, child_env, free_port, uvicorn_server


@pytest.mark.slow
def test_seed_ramp_scaled_down_is_held_on_schedule(predict_env: dict[str, str], tmp_path: Path) -> None:
    with uvicorn_server(child_env(**predict_env)) as server:
        result = subprocess.run(
            [sys.executable, "-m", "compare", "load", "--target", server.url, "--profile", "seed",
             "--step-minutes", "0.05", "--peak", "60", "--out", str(tmp_path / "run"), "--quiet"],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # 3 s steps at 6, 24, 60, 24 and 6 requests/s: 360 expected, Poisson.
    assert abs(summary["requests"] - 360) < 4 * np.sqrt(360)
    assert summary["errors"] == 0
    assert summary["schedule_lag_p99_ms"] < 50, "the driver fell behind its own schedule"
    run = read_run(tmp_path / "run")
    assert run.arrival_s.size == summary["requests"]
    assert np.all(run.latency_s > 0)
    report = subprocess.run(
        [sys.executable, "-m", "compare", "report", "--measured", str(tmp_path / "run"), "--out", str(tmp_path / "r")],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r" / "index.html").read_text()
    assert "measured runs run" in page
    assert page.count("data:image/png;base64,") == 1


def test_open_loop_keeps_sending_while_requests_fail() -> None:
    # Nothing listens on this port: every request fails fast, and all of them are still sent on time.
    plan = LoadPlan(url=f"http://127.0.0.1:{free_port()}", arrivals=np.linspace(0, 1, 50), timeout_s=2)
    records = run_load(plan)
    summary = summarize(records)
    assert summary["requests"] == 50
    assert summary["errors"] == 50
    assert summary["schedule_lag_max_ms"] < 200


def test_bounds_stop_the_run() -> None:
    plan = LoadPlan(url=f"http://127.0.0.1:{free_port()}", arrivals=np.linspace(0, 100, 1000), max_requests=20)
    assert len(run_load(plan)) == 20
    plan = LoadPlan(url=f"http://127.0.0.1:{free_port()}", arrivals=np.linspace(0, 100, 1000), max_seconds=0.5)
    assert len(run_load(plan)) == 5
