"""`python -m compare simulate` as users run it, including the scenario mode's figures."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compare.calibration import Calibration
from tests.helpers import REPO


def compare(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compare", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


def without_docker() -> dict[str, str]:
    """This environment with no docker client on PATH: what compare.docker.engine_missing() sees on a machine
    without Docker (and no image is built)."""
    kept = [folder for folder in os.environ["PATH"].split(os.pathsep) if shutil.which("docker", path=folder) is None]
    path = os.pathsep.join(folder for folder in kept if folder)
    assert shutil.which("docker", path=path) is None
    return {**os.environ, "PATH": path}


def scenario(platform: str, *extra: str) -> dict[str, float]:
    result = compare("simulate", "--platform", platform, "--arrivals", "poisson", "--json", *extra)
    assert result.returncode == 0, result.stderr
    figures: dict[str, float] = json.loads(result.stdout)[platform]
    return figures


def test_scenario_busy_environments_are_rate_times_service() -> None:
    figures = scenario("lambda", "--rate", "40", "--service", "exp:0.1", "--cold", "exp:0.5", "--duration", "3000")
    assert figures["mean_busy_environments"] == pytest.approx(40 * 0.1, rel=0.05)
    assert figures["mean_environments"] == pytest.approx(
        figures["mean_busy_environments"] + figures["mean_idle_environments"]
    )


def test_long_keep_alive_makes_cold_starts_vanish() -> None:
    base = ("--rate", "20", "--service", "exp:0.05", "--cold", "exp:1", "--duration", "2000")
    short = scenario("lambda", *base, "--keep-alive", "0.05")
    long = scenario("lambda", *base, "--keep-alive", "600")
    assert short["cold_start_probability"] > 0.3
    assert long["cold_start_probability"] < 0.001


@pytest.mark.parametrize("rate", [0.01, 0.02])
def test_knative_scenario_cold_starts_follow_the_gaps_longer_than_the_way_to_zero(rate: float) -> None:
    # Sparse Poisson traffic: a request starts cold when the gap before it outlasts the stable
    # window plus the grace period (60 + 30 s), give or take the 2 s decision tick.
    figures = scenario("knative", "--rate", str(rate), "--service", "exp:0.005", "--cold", "exp:0.5",
                       "--container-concurrency", "4", "--target", "4", "--stable-window", "60",
                       "--scale-to-zero-grace", "30", "--duration", str(round(4000 / rate)), "--seed", "3")  # fmt: skip
    assert {"cold_start_probability", "mean_pods", "mean_response_s", "rejected"} <= set(figures)
    expected = math.exp(-rate * 90)
    assert figures["cold_start_probability"] == pytest.approx(expected, abs=0.04)
    assert 0 < figures["mean_pods"] < 1  # scaled to zero between the bursts
    assert figures["rejected"] == 0


def test_all_runs_the_three_platforms() -> None:
    result = compare("simulate", "--platform", "all", "--profile", "spike", "--service", "exp:0.005",
                     "--cold", "const:1.2", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert {"lambda", "k8s", "knative"} <= set(figures)
    assert figures["knative"]["requests"] == figures["lambda"]["requests"]


def test_table_for_both_platforms_with_cost() -> None:
    result = compare("simulate", "--profile", "spike", "--service", "exp:0.005", "--cold", "const:1.2")
    assert result.returncode == 0, result.stderr
    assert "lambda" in result.stdout
    assert "k8s" in result.stdout
    assert "cost (USD)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("simulate",), "give --calibration FILE"),
        (("simulate", "--service", "exp:0.1", "--cold", "exp:1", "--calibration", "nope.json"), "no calibration"),
        (("simulate", "--service", "exp:0.1", "--cold", "exp:1", "--hpa", "nope.yaml"), "no HPA manifest"),
    ],
)
def test_clear_errors(args: tuple[str, ...], message: str) -> None:
    result = compare(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_report_with_charts_table_and_crossover(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = compare(
        "simulate", "--profile", "spike", "--service", "exp:0.005", "--cold", "const:1.2", "--report", str(out)
    )
    assert result.returncode == 0, result.stderr
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "p99 latency (ms)" in page
    for chart in ("latency_and_scale.png", "cost_per_million.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["summaries"]) == {"lambda", "kubernetes", "knative"}  # the default covers all three
    assert (out / "knative_per_second.csv").exists()
    per_second = (out / "kubernetes_per_second.csv").read_text().splitlines()
    assert per_second[0] == "second,offered,p50_ms,p99_ms,cold_starts,errors,instances,busy_or_ready"
    assert len(per_second) > 1000  # the spike profile lasts 1,380 s
    assert summary["crossover_req_per_s"] > 0
    assert f"above <b>{summary['crossover_req_per_s']:g} requests/s" in page
    # The verdict names where each platform is cheapest per steady rate, Knative included in the curve.
    assert "Cheapest per request at a steady rate" in page
    assert {r["platform"] for r in summary["cheapest_by_rate"]} <= {"lambda", "k8s", "knative"}
    assert summary["cheapest_by_rate"][0]["platform"] == "lambda"


@pytest.mark.slow
def test_calibrate_measures_both_entry_points_and_simulate_reads_it(
    predict_env: dict[str, str], tmp_path: Path
) -> None:
    """Without a Docker engine (none on PATH), the process's cold start stands in for a pod's start, labelled so."""
    out = tmp_path / "calibration.json"
    measured = compare(
        "calibrate", "--runs", "2", "--requests", "10", "--batches", "1", "3", "--load-seconds", "1", "--burst", "1000",
        "--model-dir", predict_env["PREDICT_MODEL_DIR"], "--out", str(out), env=without_docker(),
    )  # fmt: skip
    assert measured.returncode == 0, measured.stderr
    calibration = Calibration.read(out)
    for times in (calibration.lambda_, calibration.server):
        assert set(times.warm_s) == {"1", "3"}
        assert len(times.warm_s["1"]) == 10
        # A cold start imports scikit-learn and loads the model: far slower than a warm request.
        assert min(times.cold_start_s) > 10 * max(times.warm_s["1"])
    assert calibration.server.pod_start_source == "process"
    assert calibration.server.pod_start_s == calibration.server.cold_start_s
    # What the platforms see: the handler's duration inside each round trip, the server's CPU under load.
    assert calibration.version == 2
    handler = calibration.lambda_.handler_s or {}
    assert all(0 < d < t for d, t in zip(handler["1"], calibration.lambda_.warm_s["1"], strict=True))
    load = calibration.server.load
    assert load is not None
    assert [level.offered_per_s for level in load.levels] == sorted(level.offered_per_s for level in load.levels)
    assert all(level.cpu_s_per_request > 0 and level.in_process_s for level in load.levels)
    assert load.levels[0].utilisation < load.levels[-1].utilisation
    assert len(calibration.server.cold_start_s) == 2
    printed = json.loads(measured.stdout)
    assert printed["pod_start_source"] == "process"
    assert printed["pod_start"].startswith("needs a Docker engine (no docker client)")
    assert "pod start: process: needs a Docker engine" in measured.stderr
    simulated = compare("simulate", "--profile", "steady", "--rate", "20", "--duration", "60",
                        "--calibration", str(out), "--json")  # fmt: skip
    assert simulated.returncode == 0, simulated.stderr
    assert json.loads(simulated.stdout)["lambda"]["cold_starts"] >= 1
