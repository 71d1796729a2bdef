"""The worker's open-loop capacity: which probe runs next and when an estimate is accepted (`next_probe`, pure,
on made-up probe outcomes), and `open_capacity` driving it against a fake worker without a server."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest

from compare import server_calibration
from compare.calibration import LoadLevel
from compare.server_calibration import (
    MAX_PROBES,
    NEAR,
    SATURATED,
    STEP_DOWN,
    Capacity,
    Probe,
    Verdict,
    next_probe,
    open_capacity,
    settle,
)

BURST = 8000.0  # the closed-loop burst's throughput: no estimate goes above it


def probe(rate: float, utilisation: float, *, driver_bound: bool = False, achieved: float | None = None) -> Probe:
    """A probe's outcome on an idle-free worker that answered everything sent (unless `achieved` says less)."""
    return Probe.of(rate, utilisation, achieved or rate, idle=0.0, burst_per_s=BURST, driver_bound=driver_bound)


def worker(rate: float) -> float:
    """A worker whose CPU per request falls as the rate rises (0.3 ms less 0.02 us per req/s), saturating at 1:
    its utilisation reaches 0.95 near 4,549/s."""
    return min(1.0, rate * (0.0003 - 2e-8 * rate))


def converge(
    utilisation: Callable[[float], float], first: float, driver_max: float = float("inf")
) -> tuple[list[Probe], Verdict]:
    """`next_probe` run to a verdict against `utilisation(rate)`, as open_capacity runs it."""
    probes: list[Probe] = []
    rate = first
    for _ in range(MAX_PROBES):
        probes.append(probe(rate, utilisation(rate), driver_bound=rate > driver_max))
        step = next_probe(probes, BURST)
        if isinstance(step, Verdict):
            return probes, step
        rate = step
    return probes, settle(probes)


def test_an_estimate_is_accepted_only_from_a_probe_at_or_just_below_it() -> None:
    far = probe(3000.0, 0.60)  # 0.2 ms a request: the core at 0.95 near 4,750/s, but from far below
    assert next_probe([far], BURST) == pytest.approx(4750.0)  # not accepted: probe the estimate itself
    near = probe(4750.0, 0.92)
    verdict = next_probe([far, near], BURST)
    assert verdict == Verdict(pytest.approx(4750.0 * 0.95 / 0.92), 1)  # type: ignore[arg-type]
    assert verdict.per_s <= near.rate * (1 + NEAR)  # type: ignore[union-attr]


def test_an_overshooting_estimate_is_stepped_down_until_a_probe_at_it_holds() -> None:
    # The case behind this rule: a probe far below the answer made CPU per request look cheap (0.18 ms), the
    # estimate overshot to ~5,300/s, and the worker saturates there.
    first = probe(2800.0, 0.50)
    overshoot = next_probe([first], BURST)
    assert overshoot == pytest.approx(2800.0 * 0.95 / 0.50)
    saturated = probe(5320.0, 1.0, achieved=3600.0)  # served 3,600/s flat out: 0.28 ms a request
    down = next_probe([first, saturated], BURST)
    assert isinstance(down, float)
    assert down <= STEP_DOWN * 5320.0
    assert down == pytest.approx(0.95 * 3600.0)  # re-estimated from what the saturated probe served
    still = probe(down, 0.975)  # just over SATURATED: down again
    lower = next_probe([first, saturated, still], BURST)
    assert lower == pytest.approx(STEP_DOWN * down)
    held = probe(STEP_DOWN * down, 0.92)
    verdict = next_probe([first, saturated, still, held], BURST)
    assert verdict == Verdict(pytest.approx(held.rate * 0.95 / 0.92), 3)  # type: ignore[arg-type]
    assert verdict.per_s < still.rate  # type: ignore[union-attr]  # below every rate that failed
    assert held.utilisation < SATURATED
    # At 0.88 its estimate, 3,323/s, is not within NEAR of it, but a probe there may go no higher than STEP_DOWN
    # of the saturated 3,420/s, which is where it ran: no room left, it stands at its own rate.
    just_under = probe(STEP_DOWN * down, 0.88)
    assert next_probe([first, saturated, still, just_under], BURST) == Verdict(just_under.rate, 3)


def test_a_failure_counts_at_once_even_if_one_slow_episode_could_explain_it() -> None:
    # The machine's speed drifts and the levels run after the probes: of two samples at a rate, the worse is the
    # one to plan on, so a failed probe is not repeated in the hope of a better one.
    slowed = probe(4000.0, 0.99)
    assert next_probe([probe(3000.0, 0.70), slowed], BURST) == pytest.approx(min(slowed.estimate, STEP_DOWN * 4000))


@pytest.mark.parametrize("first", [1000.0, 2500.0, 4000.0])
def test_against_a_worker_cheaper_per_request_as_the_rate_rises_the_accepted_probe_held(first: float) -> None:
    probes, verdict = converge(worker, first)
    assert verdict.accepted is not None
    vouching = probes[verdict.accepted]
    assert vouching.utilisation < SATURATED
    assert not vouching.driver_bound
    assert verdict.per_s <= vouching.rate * (1 + NEAR)  # a probe ran at it, or just below
    assert 0.9 < worker(verdict.per_s) < SATURATED  # near the 0.95 it aims at
    assert len(probes) <= MAX_PROBES


def test_a_first_probe_past_saturation_steps_down() -> None:
    probes, verdict = converge(worker, 5000.0)
    assert probes[0].utilisation >= SATURATED
    assert probes[1].rate <= STEP_DOWN * 5000.0
    assert verdict.accepted is not None
    assert probes[verdict.accepted].utilisation < SATURATED
    assert 0.9 < worker(verdict.per_s) < SATURATED


def test_met_below_a_saturated_probe_the_held_one_is_accepted_at_its_own_rate() -> None:
    low = probe(3000.0, 0.80)  # would extrapolate to 3,562/s
    high = probe(3300.0, 0.98)  # but saturated at 3,300: the next would be 2,970, below the held one
    verdict = next_probe([low, high], BURST)
    assert verdict == Verdict(3000.0, 0)


def test_below_a_rate_the_driver_fell_behind_the_estimate_stands_unvouched() -> None:
    probes, verdict = converge(worker, 3000.0, driver_max=3500.0)
    assert [p.driver_bound for p in probes] == [False, True, True, False]
    assert probes[-1].rate == pytest.approx(STEP_DOWN * probes[2].rate)
    assert verdict.accepted is None  # no probe could run at the server's capacity
    assert verdict.per_s == pytest.approx(probes[-1].estimate)  # the server's own figure, from the fastest held


def test_out_of_probes_the_fastest_held_probe_stands_else_a_step_below_the_slowest() -> None:
    assert settle([probe(2000.0, 0.5), probe(3000.0, 0.7), probe(3500.0, 0.99)]) == Verdict(3000.0, 1)
    assert settle([probe(3000.0, 0.99), probe(2700.0, 0.5, driver_bound=True)]) == Verdict(STEP_DOWN * 2700.0, None)


def test_never_above_the_burst() -> None:
    assert next_probe([probe(1000.0, 0.05)], BURST) == BURST
    assert probe(1000.0, 0.05).estimate == BURST


SERVER = SimpleNamespace(url="http://127.0.0.1:1")


def _fake_worker(monkeypatch: pytest.MonkeyPatch, driver_max_per_s: float) -> list[float]:
    """drive_window against `worker` (idle 0) and a driver that falls behind beyond `driver_max_per_s`; returns
    the rates probed."""
    from compare.load import RequestRecord

    probed: list[float] = []

    def drive_window(
        _server: object, _log: object, plan: object, _cpu: object, lag_ms: float
    ) -> server_calibration.Window:
        assert lag_ms == server_calibration.PROBE_LAG_MS  # probes are held to a stricter schedule than levels
        rate = len(plan.arrivals) / server_calibration.PROBE_S  # type: ignore[attr-defined]
        probed.append(rate)
        records = [RequestRecord(0.0, 0.0, 0.001, 200, False, str(i)) for i in range(len(plan.arrivals))]  # type: ignore[attr-defined]
        span = server_calibration.PROBE_S
        return server_calibration.Window(records, worker(rate) * span, span, span, rate > driver_max_per_s, {}, 0.0)

    monkeypatch.setattr(server_calibration, "drive_window", drive_window)
    monkeypatch.setattr(
        server_calibration, "poisson_arrivals", lambda rate, seconds, _seed: np.zeros(round(rate * seconds))
    )
    return probed


def test_open_capacity_probes_at_half_the_burst_then_where_next_probe_says(monkeypatch: pytest.MonkeyPatch) -> None:
    probed = _fake_worker(monkeypatch, driver_max_per_s=1e9)
    found = open_capacity(SERVER, object(), Capacity(6000.0, 0.00017, 1.0, 32), 0.0, None)  # type: ignore[arg-type]
    second = 0.95 / (0.0003 - 2e-8 * 3000)  # 3,000 req/s costs 0.24 ms a request: the core at 0.95 near 3,958/s
    third = 0.95 / (0.0003 - 2e-8 * second)  # at 3,958/s 0.874 of the core: still far below, on to ~4,302/s
    assert probed == pytest.approx([3000.0, second, third], rel=1e-3)
    assert found.accepted == 2  # at 4,302/s 0.92 of the core: its estimate is just above it
    assert found.per_s == pytest.approx(0.95 / (0.0003 - 2e-8 * third), rel=1e-3)
    assert found.probes == tuple((p.rate, p.utilisation) for p in found.outcomes)
    assert found.driver_held_per_s is None
    assert found.rate(0.8) == pytest.approx(0.8 * found.per_s)


def test_levels_are_capped_where_the_driver_could_not_hold_a_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    probed = _fake_worker(monkeypatch, driver_max_per_s=3500.0)
    found = open_capacity(SERVER, object(), Capacity(6000.0, 0.00017, 1.0, 32), 0.0, None)  # type: ignore[arg-type]
    second = 0.95 / (0.0003 - 2e-8 * 3000)  # ~3,958/s: the driver falls behind there, and at 0.9 of it
    assert probed == pytest.approx([3000.0, second, STEP_DOWN * second, STEP_DOWN**2 * second], rel=1e-3)
    held = STEP_DOWN**2 * second  # ~3,206/s, the fastest it held
    assert found.driver_held_per_s == pytest.approx(held, rel=1e-3)
    assert found.accepted is None
    assert found.per_s == pytest.approx(0.95 / (0.0003 - 2e-8 * held), rel=1e-3)  # from the held probe's CPU
    assert found.rate(0.25) == pytest.approx(0.25 * found.per_s)
    assert found.rate(1.0) == pytest.approx(held, rel=1e-3)  # a level beyond what the driver held: capped there


def test_other_work_is_keyed_by_the_measured_core_and_older_records_still_load() -> None:
    window = server_calibration.Window([], 0.0, 1.0, 1.0, False, {}, 0.0, ({"other": 0.1, "stolen": 0.0}, None))
    assert window.other_work_cores() == {"measured_core": {"other": 0.1, "stolen": 0.0}, "driver_core": None}
    older = {"offered_per_s": 100.0, "achieved_per_s": 100.0, "requests": 100, "seconds": 1.0,
             "cpu_s_per_request": 0.0002, "utilisation": 0.02, "in_process_s": [0.001], "overhead_s": [0.001],
             "other_work_cores": {"server_core": {"other": 0.01, "stolen": 0.0}, "driver_core": None}}  # fmt: skip
    assert LoadLevel.model_validate(older).other_work_cores == older["other_work_cores"]
