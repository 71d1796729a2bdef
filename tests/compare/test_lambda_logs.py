"""Calibration from Lambda REPORT lines in the documented formats, malformed and truncated ones included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from compare.calibration import Calibration, EntryPointTimes
from compare.lambda_logs import lambda_times, read_reports
from tests.helpers import REPO

WARM = "REPORT RequestId: {id} Duration: {ms} ms Billed Duration: 5 ms Memory Size: 1024 MB Max Memory Used: 160 MB"
COLD = WARM + " Init Duration: 1183.52 ms"
SNAPSTART = WARM + " Restore Duration: 412.30 ms Billed Restore Duration: 120 ms"


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_text_json_export_and_platform_report_formats(tmp_path: Path) -> None:
    text = _write(tmp_path, "text.log", [
        "START RequestId: a Version: $LATEST",
        COLD.format(id="a", ms="12.50"),
        "END RequestId: a",
        WARM.format(id="b", ms="4.20"),
        SNAPSTART.format(id="c", ms="6.00"),
        "REPORT RequestId: d Duration: 4.",  # truncated
    ])  # fmt: skip
    export = _write(tmp_path, "export.json", [
        json.dumps({"timestamp": 1, "message": WARM.format(id="e", ms="3.80")}),
        '{"message": "REPORT RequestId: f Dura',  # cut off mid-line
    ])  # fmt: skip
    platform = _write(tmp_path, "platform.json", [
        json.dumps({"type": "platform.report", "record": {"requestId": "g", "metrics": {
            "durationMs": 4.6, "billedDurationMs": 5, "memorySizeMB": 1024, "maxMemoryUsedMB": 160}}}),
        json.dumps({"type": "platform.start", "record": {"requestId": "g"}}),
    ])  # fmt: skip
    reports = read_reports([text, export, platform])
    assert sorted(reports.warm_ms) == [3.8, 4.2, 4.6]
    assert reports.cold_ms == pytest.approx([1183.52 + 12.5, 412.3 + 6.0])
    assert reports.unreadable == 2
    assert reports.memory_mb == {1024}
    times = lambda_times(reports)
    assert times.memory_mb == 1024
    assert sorted(times.warm_s["1"]) == pytest.approx([0.0038, 0.0042, 0.0046])


def test_an_empty_result_is_a_clear_error(tmp_path: Path) -> None:
    only_noise = _write(tmp_path, "noise.log", ["START RequestId: a", "REPORT RequestId: x Duration: ??"])
    with pytest.raises(ValueError, match=r"0 warm and 0 cold REPORT lines \(1 unreadable of 2 lines\)"):
        lambda_times(read_reports([only_noise]))


def test_mixed_memory_sizes_are_refused(tmp_path: Path) -> None:
    mixed = _write(
        tmp_path, "mixed.log", [COLD.format(id="a", ms="1"), WARM.replace("1024", "512").format(id="b", ms="1")]
    )
    with pytest.raises(ValueError, match=r"mix memory sizes \[512, 1024\]"):
        lambda_times(read_reports([mixed]))


def test_cli_writes_a_calibration_that_simulate_reads(tmp_path: Path) -> None:
    base = Calibration(
        lambda_=EntryPointTimes(cold_start_s=[1.0], warm_s={"1": [0.004]}),
        server=EntryPointTimes(cold_start_s=[0.9], warm_s={"1": [0.004]}),
    ).write(tmp_path / "local.json")
    logs = _write(tmp_path, "fn.log", [COLD.format(id="a", ms="10")] + [WARM.format(id=i, ms="7.5") for i in "bcd"])
    out = tmp_path / "cloud.json"
    run = subprocess.run(
        [sys.executable, "-m", "compare", "calibrate", "--from-lambda-logs", str(logs), "--base", str(base),
         "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["warm_reports"], summary["cold_reports"], summary["lambda_warm_1_row_ms"]) == (3, 1, 7.5)
    calibration = Calibration.read(out)
    assert calibration.source == "lambda-logs"
    assert calibration.lambda_.cold_start_s == pytest.approx([1.19352])
    assert calibration.server == Calibration.read(base).server
    missing_base = subprocess.run(
        [sys.executable, "-m", "compare", "calibrate", "--from-lambda-logs", str(logs), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert missing_base.returncode == 2
    assert "--base" in missing_base.stderr


def test_calibration_from_a_load_run_splits_cold_and_warm(tmp_path: Path) -> None:
    from compare.load import RequestRecord, write_run

    base = Calibration(
        lambda_=EntryPointTimes(cold_start_s=[1.0], warm_s={"1": [0.004], "10": [0.006]}),
        server=EntryPointTimes(cold_start_s=[0.9], warm_s={"1": [0.004]}),
    ).write(tmp_path / "local.json")
    records = (
        [RequestRecord(0.0, 0.0, 1.5, 200, True, "a")]
        + [RequestRecord(i, i, 0.02, 200, False, str(i)) for i in range(1, 6)]
        + [RequestRecord(7.0, 7.0, 30.0, 0, False, "")]
    )  # no answer: left out
    write_run(records, tmp_path / "run", {"target": "https://example.execute-api.us-east-1.amazonaws.com"})
    out = tmp_path / "cloud.json"
    run = subprocess.run(
        [sys.executable, "-m", "compare", "calibrate", "--from-load-run", str(tmp_path / "run"),
         "--entry-point", "lambda", "--base", str(base), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (json.loads(run.stdout)["warm_requests"], json.loads(run.stdout)["cold_requests"]) == (5, 1)
    calibration = Calibration.read(out)
    assert calibration.source == "load-run"
    assert calibration.lambda_.cold_start_s == [1.5]
    assert calibration.lambda_.warm_s == {"1": [0.02] * 5, "10": [0.006]}
    assert calibration.server == Calibration.read(base).server
