"""The calibration record: round trip, validation, and the distributions simulate draws from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from compare.calibration import Calibration, EntryPointTimes


def _calibration() -> Calibration:
    return Calibration(
        lambda_=EntryPointTimes(cold_start_s=[1.2, 1.4], warm_s={"1": [0.004, 0.006], "10": [0.02]}),
        server=EntryPointTimes(cold_start_s=[1.5], warm_s={"1": [0.005]}),
    )


def test_round_trip_keeps_the_json_key_lambda(tmp_path: Path) -> None:
    path = _calibration().write(tmp_path / "calibration.json")
    raw = json.loads(path.read_text())
    assert set(raw) >= {"lambda", "server", "created", "machine"}
    assert Calibration.read(path) == _calibration().model_copy(update={"created": raw["created"]})


def test_warm_and_cold_extra_distributions() -> None:
    calibration = _calibration()
    assert calibration.warm("lambda").mean == pytest.approx(0.005)
    # A cold request's extra time is its whole time less a warm one's: 1.195 and 1.395 s.
    assert calibration.cold_extra("lambda").samples == pytest.approx((1.195, 1.395))
    with pytest.raises(ValueError, match="batch size 100"):
        calibration.warm("server", 100)


def test_hand_written_records_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"lambda": {"cold_start_s": [1.0], "warm_s": {"10": [0.1]}}, "server": {}}))
    with pytest.raises(ValidationError, match="batch size 1"):
        Calibration.read(path)
    with pytest.raises(ValueError, match="run `python -m compare calibrate`"):
        Calibration.read(tmp_path / "missing.json")
