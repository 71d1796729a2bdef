"""The driver's capacity: the benchmark's ceiling app on one core, `compare load` on the other, at a rate
the httpx driver could not hold (it fell behind below 300 requests/s) nor the aiohttp one on time (lag
p99 19-46 ms at 2,000/s); and a run the driver could not hold is marked driver-bound, its latencies
kept apart from the server's."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench.apps import FEATURES_BODY, LOAD_CPU, SERVER_CPU, Serving, build_apps, serving
from compare.calibration import Calibration, EntryPointTimes
from compare.load import LoadPlan, drive_plan, read_run, summarize
from compare.processes import pinned
from tests.helpers import REPO

# Quiet, this machine's lag p99 is ~2 ms at 2,000/s (and at 3,000/s); another process sharing the
# driver's core adds pauses of ~30 ms, each of which delays ~60 of the run's 10,000 requests, under
# 1 %. The httpx driver's lag at 500/s was seconds, aiohttp's 19-46 ms at 2,000/s: 25 ms keeps a
# 10x margin over this driver and stays below what the others did.
LAG_P99_MS = 25.0


@pytest.fixture(scope="module")
def ceiling() -> Iterator[Serving]:
    app = next(app for app in build_apps(REPO / "bench" / ".venv-baseline" / "bin" / "python") if app.name == "ceiling")
    with serving(app, cpu=SERVER_CPU, timeout_s=30) as running:
        yield running


def _load(url: str, out: Path, *extra: str) -> dict[str, object]:
    command = [sys.executable, "-m", "compare", "load", "--target", url, "--out", str(out), "--quiet", *extra]
    result = subprocess.run(
        pinned(command, LOAD_CPU), cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    summary: dict[str, object] = json.loads(result.stdout)
    assert summary == {**json.loads((out / "summary.json").read_text()), "out": str(out)}
    return summary


@pytest.mark.slow
def test_holds_2000_requests_per_second_open_loop(ceiling: Serving, tmp_path: Path) -> None:
    # Warm the server (and the page cache of the driver's imports), then the measured run.
    _load(ceiling.server.url, tmp_path / "warm", "--arrivals", "poisson", "--rate", "200", "--duration", "1")
    summary = _load(
        ceiling.server.url, tmp_path / "run", "--arrivals", "poisson", "--rate", "2000", "--duration", "5",
        "--lag-threshold-ms", str(LAG_P99_MS),
    )  # fmt: skip
    requests = summary["requests"]
    assert isinstance(requests, int)
    assert abs(requests - 10_000) < 4 * np.sqrt(10_000)
    assert summary["ok"] == requests, "every request answered 200"
    assert summary["unsent"] == 0
    assert summary["achieved_rate_per_s"] == pytest.approx(summary["asked_rate_per_s"], rel=0.03)
    assert summary["schedule_lag_p99_ms"] < LAG_P99_MS, "the driver fell behind its own schedule"  # type: ignore[operator]
    assert summary["driver_bound"] is False
    assert 0 < summary["p50_ms"] <= summary["p99_ms"]  # type: ignore[operator]
    run = read_run(tmp_path / "run")
    assert run.summary()["driver_bound"] == 0.0
    assert run.arrival_s.size == requests


@pytest.mark.slow
def test_a_run_past_the_lag_threshold_is_driver_bound_and_gives_no_server_latency(
    ceiling: Serving, tmp_path: Path
) -> None:
    summary = _load(
        ceiling.server.url, tmp_path / "run", "--arrivals", "poisson", "--rate", "300", "--duration", "1",
        "--lag-threshold-ms", "0",
    )  # fmt: skip
    assert summary["driver_bound"] is True
    assert "schedule lag p99" in str(summary["driver_bound_reason"])
    assert summary["p50_ms"] is None
    assert summary["p99_ms"] is None
    seen = summary["driver_bound_latency_ms"]
    assert isinstance(seen, dict)
    assert seen["p50_ms"] > 0
    assert read_run(tmp_path / "run").summary()["driver_bound"] == 1.0
    report = subprocess.run(
        [sys.executable, "-m", "compare", "report", "--measured", str(tmp_path / "run"), "--out", str(tmp_path / "r")],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["summaries"]["run"]["driver_bound"] == 1.0
    page = (tmp_path / "r" / "index.html").read_text()
    assert "<td>driver-bound</td>" in page  # in place of the percentiles the client saw
    # Nor does a calibration take its latencies as the deployment's.
    base = Calibration(
        lambda_=EntryPointTimes(cold_start_s=[1.0], warm_s={"1": [0.004]}),
        server=EntryPointTimes(cold_start_s=[0.9], warm_s={"1": [0.004]}),
    ).write(tmp_path / "local.json")
    calibrate = subprocess.run(
        [sys.executable, "-m", "compare", "calibrate", "--from-load-run", str(tmp_path / "run"), "--entry-point",
         "server", "--base", str(base), "--out",
         str(tmp_path / "c.json")],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert calibrate.returncode != 0
    assert "driver-bound" in calibrate.stderr


@pytest.mark.slow
def test_the_in_flight_cap_shows_as_lag_and_marks_the_run(ceiling: Serving) -> None:
    # One request in flight at a time cannot carry 20,000 requests/s: a loopback round trip to the
    # ceiling app takes ~0.35 ms (at most ~3,000/s on one connection, as measured in CI), so requests
    # wait for the slot (lag), memory stays bounded, and the run says it was the driver.
    arrivals = np.cumsum(np.random.default_rng(1).exponential(1 / 20_000, 1500))
    plan = LoadPlan(url=ceiling.server.url, arrivals=arrivals, body=FEATURES_BODY, max_connections=1, timeout_s=5)
    run = drive_plan(plan)
    summary = summarize(run.records, unsent=run.unsent)
    assert summary["requests"] + run.unsent == 1500
    assert run.held_by_cap > 0
    assert summary["ok"] == summary["requests"]
    assert summary["driver_bound"] is True
    assert summary["achieved_rate_per_s"] < 0.9 * summary["asked_rate_per_s"]


@pytest.mark.slow
def test_workers_share_the_arrivals_and_their_records_merge_in_schedule_order(ceiling: Serving) -> None:
    arrivals = np.cumsum(np.random.default_rng(2).exponential(1 / 400, 800))
    plan = LoadPlan(url=ceiling.server.url, arrivals=arrivals, body=FEATURES_BODY, workers=2, timeout_s=5)
    run = drive_plan(plan)
    assert run.unsent == 0
    scheduled = np.array([r.scheduled_s for r in run.records])
    np.testing.assert_array_equal(scheduled, arrivals)
    assert all(r.status == 200 and r.latency_s > 0 and r.sent_s >= r.scheduled_s for r in run.records)
    summary = summarize(run.records)
    assert summary["schedule_lag_p99_ms"] < 50  # two processes, one start instant
