"""A validation row with the simulation replayed at the machine's measured speed (compare/validation.py)."""

from __future__ import annotations

import pytest

from compare.validation import Figures, all_met, row, table

MACHINE = {"units": 4600, "mean_speed": 0.9, "slow_share": 0.06, "min_speed": 0.06}


def test_a_row_compares_the_measurement_with_both_simulations() -> None:
    measured, plain, replayed = Figures(0.6, 20.0, 0.30), Figures(0.7, 7.0, 0.29), Figures(0.72, 26.0, 0.31)
    r = row("server", 0.25, 800.0, measured, plain, at_machine_speed=(replayed, MACHINE), requests=8000)
    assert r["met"] == {"p50": True, "p99": False, "utilisation": True}
    assert r["met_at_machine_speed"] == {"p50": True, "p99": True, "utilisation": True}
    assert r["error_at_machine_speed"]["p99"] == pytest.approx(0.3)
    assert r["simulated_at_machine_speed"]["p99_ms"] == 26.0
    assert r["machine_speed"] == MACHINE
    assert r["requests"] == 8000
    assert all_met([r], "met_at_machine_speed")
    assert not all_met([r])


def test_all_met_at_machine_speed_needs_rows_that_have_it() -> None:
    plain_only = row("server", 0.25, 800.0, Figures(1, 2, 0.3), Figures(1, 2, 0.3))
    assert all_met([plain_only])
    assert not all_met([plain_only], "met_at_machine_speed")


def test_the_table_shows_the_replay_on_a_second_line_with_the_machine_s_speed() -> None:
    measured, plain, replayed = Figures(0.6, 20.0, 0.30), Figures(0.7, 7.0, 0.29), Figures(0.72, 26.0, 0.31)
    text = table([row("server", 0.25, 800.0, measured, plain, at_machine_speed=(replayed, MACHINE))])
    first, second = text.splitlines()[2:4]
    assert "7.00" in first
    assert "!" in first
    assert second.lstrip().startswith("@0.90, 6% slow")
    assert "26.00" in second
    assert "!" not in second
    assert "replayed at the speed the machine ran" in text


def test_the_report_section_carries_the_replay_under_its_row() -> None:
    from compare.report.validation import validation_section

    measured, plain, replayed = Figures(0.6, 20.0, 0.30), Figures(0.7, 7.0, 0.29), Figures(0.72, 26.0, 0.31)
    rows = [row("server", 0.25, 800.0, measured, plain, at_machine_speed=(replayed, MACHINE), answered=8000)]
    targets = {"utilisation_abs": 0.05, "p50_rel": 0.25, "p99_rel": 0.5}
    result = {"rows": rows, "targets": targets, "mode": "short", "lambda_pool": 1, "seconds_per_level": 4.0,
              "all_met": False, "all_met_at_machine_speed": True}  # fmt: skip
    section = validation_section(result)
    plain_row, replay_row = section.split("<tr>")[2:4]
    assert "20.00 / 7.00" in plain_row
    assert "#c53030" in plain_row
    assert "at the machine's speed (mean 0.90, 6% of the time below 0.5)" in replay_row
    assert "20.00 / 26.00" in replay_row
    assert "#c53030" not in replay_row
    assert "replayed at the machine's measured speed, every target met" in section


def test_validate_s_replay_queues_what_arrives_in_a_slow_moment_and_busies_the_worker_longer() -> None:
    import numpy as np

    from compare.core_speed import FULL_SPEED, CoreSpeed
    from compare.platforms.service import ServerService
    from compare.validate import simulate_server

    service = ServerService(rates_per_s=(500.0, 2000.0), cpu_s=(0.0004, 0.0003), seen=((0.0002, 0.0003),),
                            idle_cpu_cores=0.0, capacity_per_s=2000.0)  # fmt: skip
    sent = np.cumsum(np.random.default_rng(2).exponential(1 / 800, 8000))  # 800/s, ~10 s
    starts = np.arange(0.0, 11.0, 0.002)
    slowed = CoreSpeed.of(starts, np.where((starts >= 4.0) & (starts < 4.1), 40e-6 / 0.05, 40e-6))
    plain = simulate_server(service, sent, 10.0, seed=1)
    assert simulate_server(service, sent, 10.0, seed=1, speed=FULL_SPEED) == plain
    replayed = simulate_server(service, sent, 10.0, seed=1, speed=slowed)
    assert replayed.p99_ms > 5 * plain.p99_ms  # 100 ms at 5 % speed: what came then queued
    assert replayed.p50_ms == pytest.approx(plain.p50_ms, rel=0.1)  # the rest of the run is as it was
    # The worker's busy spans stretch where it was slow: about 0.1 s more of it over the 10 s span.
    assert replayed.utilisation - plain.utilisation == pytest.approx(0.01, abs=0.004)
