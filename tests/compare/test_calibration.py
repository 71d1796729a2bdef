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


def _server(**pod: object) -> dict[str, object]:
    return {"cold_start_s": [1.5, 1.7], "warm_s": {"1": [0.005]}, **pod}


def _record(server: dict[str, object]) -> dict[str, object]:
    return {"lambda": {"cold_start_s": [1.2], "warm_s": {"1": [0.004]}}, "server": server}


def test_an_older_record_without_a_pod_start_loads_and_the_process_cold_start_stands_in(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_record(_server())))
    calibration = Calibration.read(path)
    assert calibration.server.pod_start_s is None
    assert calibration.server.pod_start_source is None
    assert calibration.pod_start_s() == [1.5, 1.7]


def test_a_pod_start_round_trips_and_is_what_a_new_pod_costs(tmp_path: Path) -> None:
    calibration = Calibration.model_validate(_record(_server(pod_start_s=[2.4, 2.9], pod_start_source="container")))
    path = calibration.write(tmp_path / "calibration.json")
    raw = json.loads(path.read_text())
    assert raw["server"]["pod_start_s"] == [2.4, 2.9]
    assert raw["server"]["pod_start_source"] == "container"
    read = Calibration.read(path)
    assert read == calibration
    assert read.pod_start_s() == [2.4, 2.9]  # not the process's 1.5 and 1.7


@pytest.mark.parametrize(
    ("pod", "message"),
    [
        ({"pod_start_s": [2.0]}, "come together"),
        ({"pod_start_source": "container"}, "come together"),
        ({"pod_start_s": [2.0], "pod_start_source": "vm"}, "container"),
        ({"pod_start_s": [], "pod_start_source": "process"}, "at least 1"),
        ({"pod_start_s": [-1.0], "pod_start_source": "process"}, "non-negative"),
    ],
)
def test_a_pod_start_says_what_was_timed(pod: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Calibration.model_validate(_record(_server(**pod)))


def test_a_lambda_environment_has_no_pod_start() -> None:
    record = _record(_server())
    record["lambda"] = {"cold_start_s": [1.2], "warm_s": {"1": [0.004]}, "pod_start_s": [1.0],
                        "pod_start_source": "process"}  # fmt: skip
    with pytest.raises(ValidationError, match="belongs to the server"):
        Calibration.model_validate(record)
