"""The calibration record: round trip, validation, and the distributions simulate draws from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from compare.calibration import Calibration, EntryPointTimes, platform_view


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


def _level(rate: float, utilisation: float, **extra: object) -> dict[str, object]:
    return {"offered_per_s": rate, "achieved_per_s": rate, "requests": int(rate * 5), "seconds": 5.0,
            "cpu_s_per_request": utilisation / rate, "utilisation": utilisation,
            "in_process_s": [0.0005, 0.0006], "overhead_s": [0.0015, 0.0014], **extra}  # fmt: skip


def _version_2() -> dict[str, object]:
    load = {"capacity_per_s": 1600.0, "capacity_cpu_s_per_request": 0.000625, "capacity_utilisation": 1.0,
            "capacity_connections": 32, "idle_cpu_cores": 0.01,
            "levels": [_level(800.0, 0.61), _level(160.0, 0.21), _level(1500.0, 0.95, driver_bound=True)]}  # fmt: skip
    return {
        "version": 2,
        "lambda": {"cold_start_s": [1.2], "warm_s": {"1": [0.003, 0.004]}, "handler_s": {"1": [0.0007, 0.0009]}},
        "server": {**_server(), "load": load},
    }


def test_a_version_2_record_gives_what_the_platforms_see(tmp_path: Path) -> None:
    calibration = Calibration.model_validate(_version_2())
    read = Calibration.read(calibration.write(tmp_path / "calibration.json"))
    assert read == calibration
    handler = read.lambda_handler()
    assert handler is not None
    duration, overhead = handler
    assert duration.samples == (0.0007, 0.0009)
    assert overhead.samples == pytest.approx((0.0023, 0.0031))  # round trip less duration, pair by pair
    service = read.server_service()
    assert service is not None
    # Net of the idle share, ascending by rate (a driver-bound level's CPU is the server's), the burst closing it.
    assert service.rates_per_s == (160.0, 800.0, 1500.0, 1600.0)
    assert service.cpu_s == pytest.approx((0.2 / 160, 0.6 / 800, 0.94 / 1500, 0.99 / 1600))
    assert service.seen == ((0.0005, 0.0015), (0.0006, 0.0014))  # the lightest level's pairs
    assert service.idle_cpu_cores == 0.01


def test_a_version_1_record_still_simulates_on_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_record(_server())))
    calibration = Calibration.read(path)
    assert calibration.version == 1
    assert calibration.server_service() is None
    assert calibration.lambda_handler() is None
    assert json.loads(calibration.write(tmp_path / "again.json").read_text())["version"] == 1


def test_an_unknown_version_or_unpaired_samples_are_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "future.json"
    path.write_text(json.dumps({**_version_2(), "version": 3}))
    with pytest.raises(ValidationError, match="reads versions 1 to 2; run `python -m compare calibrate` again"):
        Calibration.read(path)
    unpaired = _version_2()
    unpaired["lambda"] = {"cold_start_s": [1.2], "warm_s": {"1": [0.003]}, "handler_s": {"1": [0.0007, 0.0009]}}
    with pytest.raises(ValidationError, match="pairs with warm_s"):
        Calibration.model_validate(unpaired)
    level = _level(100.0, 0.2)
    level["overhead_s"] = [0.001]
    with pytest.raises(ValidationError, match="paired per request"):
        Calibration.model_validate({**_version_2(), "server": {**_server(), "load": {
            **_version_2()["server"]["load"], "levels": [level]}}})  # type: ignore[index]  # fmt: skip


def test_a_noisy_level_never_makes_a_higher_rate_cost_the_core_less() -> None:
    record = _version_2()
    record["server"]["load"]["levels"] = [_level(160.0, 0.21), _level(800.0, 0.15)]  # type: ignore[index]
    service = Calibration.model_validate(record).server_service()
    assert service is not None
    # 800/s at 0.14 of a core (net of idle) is below 160/s's 0.2: lifted to 0.2, i.e. 0.2 / 800 per request.
    assert service.cpu_s[:2] == pytest.approx((0.2 / 160, 0.2 / 800))


def test_the_open_loop_capacity_is_the_services_and_shown_where_the_driver_capped_the_levels() -> None:
    record = _version_2()
    older = Calibration.model_validate(record).server_service()
    assert older is not None
    assert older.capacity_per_s == 1600.0  # a record without it: the burst's
    record["server"]["load"].update(open_capacity_per_s=1200.0, driver_held_per_s=1000.0)  # type: ignore[index]
    calibration = Calibration.model_validate(record)
    service = calibration.server_service()
    assert service is not None
    assert service.capacity_per_s == 1200.0
    assert service.rates_per_s[-1] == 1600.0  # the burst still closes the CPU table
    view = platform_view(calibration)
    assert view["server_open_loop_capacity_per_s"] == 1200.0
    assert view["server_levels_capped_by_driver_at_per_s"] == 1000.0


def test_a_level_s_full_speed_share_is_recorded_and_bounded_but_its_cpu_enters_the_service_as_measured() -> None:
    """work_share is kept for what it says about the machine; applied, it over-corrected (one validate run: the
    plain simulation's utilisation 0.15-0.18 under the measured, the replay's 0.04-0.13 under)."""
    record = _version_2()
    levels = record["server"]["load"]["levels"]  # type: ignore[index]
    machine = {"units": 2000, "mean_speed": 0.9, "slow_share": 0.05, "min_speed": 0.1}
    levels[0] = _level(800.0, 0.61, work_share=0.8, slow_left_out=40, machine_speed=machine)
    calibration = Calibration.model_validate(record)
    service = calibration.server_service()
    assert service is not None
    assert service.cpu_s[1] == pytest.approx(0.6 / 800)
    assert calibration.server.load is not None
    assert calibration.server.load.levels[0].work_share == 0.8
    with pytest.raises(ValidationError, match="work_share"):
        Calibration.model_validate({**record, "server": {**record["server"], "load": {  # type: ignore[dict-item]
            **record["server"]["load"], "levels": [_level(800.0, 0.61, work_share=1.5)]}}})  # type: ignore[index]  # fmt: skip
