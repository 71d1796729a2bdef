"""Ratios of twinserve to the ceiling and the baseline, the targets, the tables and the files written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import containers, results
from bench.stats import percentile, summary


def load(rps: float, p50: float, p99: float) -> dict[str, float]:
    return {"requests": int(rps * 8), "requests_per_s": rps, "p50_ms": p50, "p99_ms": p99}


def a_round(scale: float) -> dict[str, Any]:
    """One round: twinserve at `scale` of the ceiling's throughput."""
    return {
        "servers": {
            "baseline": {"cold_start_s": 3.0, "throughput": load(50, 300, 700), "one_connection": load(45, 20, 30)},
            "twinserve": {
                "cold_start_s": 1.2,
                "throughput": load(2000 * scale, 8, 20),
                "one_connection": load(900, 1.0, 2.0),
            },
            "ceiling": {"cold_start_s": 1.0, "throughput": load(2000, 6, 15), "one_connection": load(3000, 0.5, 1.0)},
        },
        "lambda_invoke": {
            "twinserve": {"init_s": 1.0, "samples_ms": [0.9, 1.0, 1.1]},
            "ceiling": {"init_s": 0.5, "samples_ms": [0.2, 0.25, 0.3]},
        },
        "cold_starts": {
            "baseline": {"server": [3.2], "lambda": []},
            "twinserve": {"server": [1.4], "lambda": [1.5, 1.5], "container": [2.6]},
            "ceiling": {"server": [0.9], "lambda": [1.0, 1.0]},
        },
        "batch": {"rows": 1000, "model_predict_ms": [2.0, 2.2, 2.4], "handler_ms": [6.0, 6.5, 7.0]},
    }


RAW: dict[str, Any] = {
    "rounds": [a_round(0.9), a_round(0.7), a_round(0.85)],
    "memory": {
        name: {
            "requests": 10_000,
            "failed": 0,
            "idle": {"rss_mib": rss - 1, "hwm_mib": rss},
            "after": {"rss_mib": rss, "hwm_mib": rss, "anon_mib": rss / 2, "file_mib": rss / 2},
        }
        for name, rss in (("baseline", 150.0), ("twinserve", 95.5), ("ceiling", 50.0))
    },
    "sizes": {
        "zip_variant": {"mb": 110.4, "parts_mb": {"DepsLayer": 100.0, "ModelLayer": 0.4, "PredictZipFunction": 10.0}},
        "lambda_image_packages_mb": 120.0,
        "server_image_packages_mb": 140.0,
        "baseline_venv_packages_mb": 300.0,
    },
    "containers": {
        "images": {
            "server": {
                "tag": "twinserve-predict:bench",
                "size_mb": 360.2,
                "base": "python:3.12.8-slim-bookworm",
                "base_size_mb": 139.1,
                "stand_in_base": True,
                "project_layers_mb": 221.1,
                "build_s": 2.0,
            },
            "lambda": {"skipped": containers.NOT_IN_QUICK},
        },
        "contract": "k8s/base/deployment.yaml",
    },
}
NO_ENGINE = "needs a Docker engine (no docker client)"


def test_ratios_come_from_the_medians() -> None:
    ratios = results.ratios(results.figures(RAW))
    assert list(ratios) == list(results.RATIO_KEYS)
    assert ratios["throughput_vs_ceiling"] == pytest.approx(0.85)  # median of 1800, 1400, 1700 over 2000
    assert ratios["throughput_vs_baseline"] == pytest.approx(34.0)
    assert ratios["one_connection_p50_vs_ceiling"] == pytest.approx(2.0)
    assert ratios["lambda_invoke_vs_ceiling"] == pytest.approx(4.0)
    # server cold starts: each round's measured start and its extra one, so the median of 1.2,1.4 x3 over 1.0,0.9 x3
    assert ratios["cold_start_server_vs_ceiling"] == pytest.approx(1.3 / 0.95, abs=1e-3)
    assert ratios["cold_start_lambda_vs_ceiling"] == pytest.approx(1.5)
    assert ratios["cold_start_container_vs_process"] == pytest.approx(2.0)  # 2.6 s over twinserve's 1.3 s
    assert ratios["memory_mib_over_ceiling"] == pytest.approx(45.5)
    assert ratios["memory_anon_mib_over_ceiling"] == pytest.approx(22.8)  # (95.5 - 50) / 2, rounded
    assert ratios["zip_variant_mb"] == pytest.approx(110.4)


def test_targets_say_which_are_met() -> None:
    targets = results.targets(results.ratios(results.figures(RAW)))
    assert {key: t["met"] for key, t in targets.items()} == {
        "throughput_vs_ceiling": True,
        "one_connection_p50_vs_ceiling": False,
        "lambda_invoke_vs_ceiling": False,
        "cold_start_server_vs_ceiling": True,
        "cold_start_lambda_vs_ceiling": True,
        "memory_mib_over_ceiling": False,
        "zip_variant_mb": True,
    }
    assert targets["throughput_vs_ceiling"]["target"] == ">= 0.8"
    assert targets["zip_variant_mb"]["target"] == "< 120"


@pytest.mark.parametrize(
    ("key", "value", "met"),
    [
        ("throughput_vs_ceiling", 0.8, True),
        ("throughput_vs_ceiling", 0.799, False),
        ("cold_start_lambda_vs_ceiling", 1.5, True),
        ("memory_mib_over_ceiling", 40.0, True),
        ("memory_mib_over_ceiling", 40.1, False),
        ("zip_variant_mb", 120.0, False),
        ("zip_variant_mb", None, None),
    ],
)
def test_target_edges(key: str, value: float | None, met: bool | None) -> None:
    assert results.targets({key: value})[key]["met"] is met


def test_a_run_without_responses_is_left_out() -> None:
    stalled = a_round(0.5)
    stalled["servers"]["twinserve"]["one_connection"] = {
        "requests": 0,
        "requests_per_s": 0.0,
        "p50_ms": 0.0,
        "p99_ms": 0.0,
    }
    fig = results.figures({**RAW, "rounds": [stalled]})
    assert "twinserve" not in fig["one_connection"]
    assert results.ratios(fig)["one_connection_p50_vs_ceiling"] is None
    fig = results.figures({**RAW, "rounds": [*RAW["rounds"], stalled]})
    assert fig["one_connection"]["twinserve"]["runs"] == 3
    assert fig["throughput"]["twinserve"]["runs"] == 4


def test_what_was_not_measured_is_none_not_a_failure() -> None:
    raw = {"rounds": [a_round(1.0)], "memory": RAW["memory"], "sizes": None}
    doc = results.document(raw, {"config": {"connections": 16}})
    assert doc["ratios"]["zip_variant_mb"] is None
    assert doc["targets"]["zip_variant_mb"]["met"] is None
    assert doc["figures"]["sizes"] == {"skipped": "not measured in this run"}
    rows = {row[0]: row[1:] for row in results.figure_rows(doc)}
    assert rows["7. zip variant MB (function+layers)"][1] == "skipped"


def test_table_rows_show_medians_and_ranges() -> None:
    doc = results.document(RAW, {"config": {"connections": 16}, "load_generator": "wrk"})
    rows = {row[0]: row[1:] for row in results.figure_rows(doc)}
    assert rows["1. req/s, -c16 (wrk)"] == ["50", "1,700 [1,400-1,800]", "2,000"]
    assert rows["5. RSS MiB after 10,000 req"] == ["150.0", "95.5", "50.0"]
    assert rows["3. Lambda invoke median ms"] == ["-", "1.000", "0.250"]
    assert rows["7. zip variant MB (function+layers)"][1] == "110.4"
    ratio_rows = {row[0]: row[1:] for row in results.ratio_rows(doc)}
    assert ratio_rows["throughput_vs_ceiling"] == ["0.850", ">= 0.8", "met"]
    assert ratio_rows["throughput_vs_baseline"] == ["34.000", "", ""]
    assert ratio_rows["memory_mib_over_ceiling"] == ["45.5", "<= 40", "NOT met"]


def test_tables_print(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps cells to the terminal's width
    results.print_tables(results.document(RAW, {}), note="took 1 s")
    out = capsys.readouterr().out
    assert "1,700 [1,400-1,800]" in out  # brackets survive rich's markup
    assert "360.2 / 221.1" in out
    assert "python:3.12.8-slim-bookworm (a stand-in built on this machine)" in out
    assert "took 1 s" in out


def test_written_twice_latest_and_dated(tmp_path: Path) -> None:
    doc = results.document(RAW, {"started_at": "2026-05-01T10:00:00+00:00"})
    paths = results.write(doc, tmp_path, "2026-05-01")
    assert [p.name for p in paths] == ["latest.json", "2026-05-01.json"]
    for path in paths:
        written = json.loads(path.read_text())
        assert set(written["ratios"]) == set(results.RATIO_KEYS)
        assert set(written["targets"]) <= set(results.RATIO_KEYS)
    assert not list(tmp_path.glob("*.tmp"))


def test_percentile_and_summary() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile([3.0], 99) == 3.0
    assert summary([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert summary([])["median"] is None


def test_container_figures_beside_the_process() -> None:
    doc = results.document(RAW, {"config": {"connections": 16}})
    assert doc["figures"]["cold_start_container"] == {
        "twinserve": {"seconds": {"median": 2.6, "min": 2.6, "max": 2.6, "n": 3}, "samples_s": [2.6, 2.6, 2.6]}
    }
    assert "cold_start_container_vs_process" not in doc["targets"]  # a figure to read, not a target
    rows = {row[0]: row[1:] for row in results.figure_rows(doc)}
    assert rows["4. cold start, server s"][1] == "1.30 [1.20-1.40]"
    assert rows["4. cold start, server container s"] == ["", "2.60", ""]
    assert rows["8. server image MB (total / above base)"] == ["", "360.2 / 221.1", ""]
    assert rows["8. Lambda image MB (total / above base)"] == ["", "skipped", ""]
    labels = [row[0] for row in results.figure_rows(doc)]
    assert labels.index("4. cold start, server container s") < labels.index("5. RSS MiB after 10,000 req")
    lines = results.container_lines(doc)
    assert lines[0] == (
        "8. server image twinserve-predict:bench: 360.2 MB = python:3.12.8-slim-bookworm (a stand-in built on this "
        "machine) 139.1 MB + 221.1 MB of the project's layers"
    )
    assert lines[1] == "8. lambda image: skipped: not built without --sizes (off in --quick)"
    assert lines[2].endswith("k8s/base/deployment.yaml's contract: median 2.60 s over 3, x2.00 the process's")


def test_without_an_engine_the_container_figures_say_why() -> None:
    rounds = [a_round(1.0)]
    del rounds[0]["cold_starts"]["twinserve"]["container"]
    doc = results.document({**RAW, "rounds": rounds, "containers": {"skipped": NO_ENGINE}}, {})
    assert doc["figures"]["containers"] == {"skipped": NO_ENGINE}
    assert doc["figures"]["cold_start_container"] == {}
    assert doc["ratios"]["cold_start_container_vs_process"] is None
    rows = {row[0]: row[1:] for row in results.figure_rows(doc)}
    assert rows["4. cold start, server container s"][1] == "skipped"
    assert rows["8. server image MB (total / above base)"][1] == "skipped"
    assert results.container_lines(doc) == [f"8. images and container cold start: skipped: {NO_ENGINE}"]
    assert json.loads(json.dumps(doc))["raw"]["containers"] == {"skipped": NO_ENGINE}  # in the results JSON


def test_a_failed_build_or_start_is_shown_as_such() -> None:
    server = {"tag": "twinserve-predict:bench", "dockerfile": "server.Dockerfile", "error": "docker build failed"}
    containers = {"images": {"server": server}, "contract": "k8s/base/deployment.yaml", "errors": ["no answer"]}
    doc = results.document({**RAW, "containers": containers}, {})
    rows = {row[0]: row[1:] for row in results.figure_rows(doc)}
    assert rows["8. server image MB (total / above base)"][1] == "failed"
    lines = results.container_lines(doc)
    assert "8. server image: build failed" in lines
    assert "8. WARNING: no answer" in lines
