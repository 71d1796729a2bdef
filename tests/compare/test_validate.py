"""`python -m compare validate --short` end to end: a real server and Lambda pool against the simulation.

No timing assertion: the figures move with the machine. What is checked is that they are real: every
scheduled request counted, the utilisation rising with the load, the server's CPU from its process.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from compare.calibration import Calibration, EntryPointTimes
from compare.measure import lambda_warm_times
from compare.server_calibration import measure_server_load
from tests.helpers import REPO, child_env


@pytest.fixture(scope="module")
def quick_calibration(predict_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What validate simulates from, measured quickly: Lambda's handler durations, the server under load."""
    env = child_env(**predict_env)
    warm, handler = lambda_warm_times(env, [1], 50)
    load = measure_server_load(env, seconds=1.0, burst=1000)
    calibration = Calibration(
        lambda_=EntryPointTimes(cold_start_s=[1.0], warm_s=warm, handler_s=handler),
        server=EntryPointTimes(cold_start_s=[1.0], warm_s={"1": [0.003]}, load=load),
    )
    return calibration.write(tmp_path_factory.mktemp("calibration") / "calibration.json")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_validate_short_measures_both_paths_and_compares_them(
    quick_calibration: Path, predict_env: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "report"
    (report).mkdir()
    (report / "index.html").write_text("<html><body><h1>a report</h1></body></html>")
    result = subprocess.run(
        [sys.executable, "-m", "compare", "validate", "--short", "--json", "--calibration", str(quick_calibration),
         "--model-dir", predict_env["PREDICT_MODEL_DIR"], "--report", str(report)],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=200, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["mode"] == "short"
    assert set(out["targets"]) == {"utilisation_abs", "p50_rel", "p99_rel"}
    rows = out["rows"]
    assert [(r["entry_point"], r["level"]) for r in rows] == [
        (entry, level) for entry in ("server", "lambda") for level in (0.25, 0.5, 0.8)
    ]
    for r in rows:
        assert set(r["met"]) == set(r["error"]) == {"p50", "p99", "utilisation"}
        assert all(isinstance(v, bool) for v in r["met"].values())
        assert r["measured"]["p50_ms"] > 0
        assert r["simulated"]["p50_ms"] > 0
        assert r["measured"]["p99_ms"] >= r["measured"]["p50_ms"]
        assert 0 < r["answered"] <= r["requests"]
        # Poisson at the level's rate for 4 s: the count scheduled is near rate x 4 s (sd ~ sqrt of it).
        assert abs(r["requests"] - r["offered_per_s"] * 4) < 6 * (r["offered_per_s"] * 4) ** 0.5 + 5
    for entry in ("server", "lambda"):
        ours = [r for r in rows if r["entry_point"] == entry]
        assert ours[0]["measured"]["utilisation"] > 0
        for low, high in itertools.pairwise(ours):
            assert high["offered_per_s"] >= low["offered_per_s"]
            # Levels capped at the rate the driver held can share a rate: every higher one must cost more.
            if high["offered_per_s"] > 1.05 * low["offered_per_s"]:
                assert high["simulated"]["utilisation"] > low["simulated"]["utilisation"], (entry, low, high)
        # Measured, between the ends only: this machine's speed drifts by tenths within a minute (the same rate
        # read 0.69 of the core in one probe and 0.90 seconds later), more than two near levels differ by.
        if ours[-1]["offered_per_s"] > 1.5 * ours[0]["offered_per_s"]:
            assert ours[-1]["measured"]["utilisation"] > ours[0]["measured"]["utilisation"], ours
    server = [r for r in rows if r["entry_point"] == "server"]
    capped = {r["levels_capped_by_driver"] for r in server}
    assert len(capped) == 1  # one capacity for the three levels
    if not capped.pop():  # uncapped: the levels are the stated shares of the open-loop capacity
        assert [r["offered_per_s"] for r in server] == pytest.approx(
            [f * server[0]["capacity_per_s"] for f in (0.25, 0.5, 0.8)], rel=1e-3
        )
    for r in rows:  # the machine's speed over each level, from the probe beside the driver, and the replay at it
        speed = r["machine_speed"]
        assert speed["units"] > 4.0 / 0.0025 / 2  # a unit every ~2 ms over the level's 4 s, allowing for a slow one
        assert 0 < speed["min_speed"] <= speed["mean_speed"] <= 1
        assert 0 <= speed["slow_share"] < 1
        assert set(r["met_at_machine_speed"]) == set(r["error_at_machine_speed"]) == {"p50", "p99", "utilisation"}
        # A machine never faster than full speed: the replay's callers wait no less than the plain simulation's.
        assert r["simulated_at_machine_speed"]["p50_ms"] >= 0.95 * r["simulated"]["p50_ms"], r
    assert out["all_met_at_machine_speed"] == all(all(r["met_at_machine_speed"].values()) for r in rows)
    lambda_rows = [r for r in rows if r["entry_point"] == "lambda"]
    assert all(r["answered"] + round(r["throttled"]["measured"] * r["requests"]) <= r["requests"] for r in lambda_rows)
    page = (report / "index.html").read_text()
    assert "Validation: the simulator against a real run" in page
    assert page.count("<tr>") >= 7
    assert json.loads((report / "validation.json").read_text())["rows"] == rows


@pytest.mark.slow
def test_calibrated_latencies_leave_out_requests_caught_in_the_machine_s_slow_moments(quick_calibration: Path) -> None:
    """Each calibrated level carries the machine's speed over it, and its latency pairs are the full-speed
    requests'; the pod's CPU per request is still the whole window's."""
    load = Calibration.read(quick_calibration).server.load
    assert load is not None
    for level in load.levels:
        assert level.machine_speed is not None
        assert level.machine_speed["units"] > 0
        assert 0 < level.machine_speed["mean_speed"] <= 1
        assert 0 <= level.slow_left_out <= level.requests
        assert len(level.in_process_s) <= level.requests - level.slow_left_out
        assert level.cpu_s_per_request == pytest.approx(level.utilisation / level.achieved_per_s)
        assert 0 < level.work_share <= 1  # the server's run time weighted by the machine's speed, from schedstat
