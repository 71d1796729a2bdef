"""The machine-speed timeline and its replay (compare/core_speed.py), and the real probe process."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from compare.core_speed import FULL_SPEED, INTERVAL_S, MIN_SPEED, CoreSpeed, SpeedProbe, full_speed, probe
from compare.hpa import HPAParams
from compare.platforms.base import Constant
from compare.platforms.k8s import K8sConfig, simulate_k8s


def replay(speed: CoreSpeed, sent: np.ndarray, simulate: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Latencies of a simulation run in work time, back on the wall clock (as compare validate replays)."""
    arrivals = speed.work_time(sent)
    return speed.wall_time(arrivals + simulate(arrivals)) - sent


def episode(slow_from: float, slow_to: float, speed: float, until: float = 10.0, step: float = 0.002) -> CoreSpeed:
    """Full speed, except `speed` between the two instants (units every `step`, CPU 40 us at full speed)."""
    starts = np.arange(0.0, until, step)
    cpu = np.where((starts >= slow_from) & (starts < slow_to), 40e-6 / speed, 40e-6)
    return CoreSpeed.of(starts, cpu)


def test_a_unit_s_speed_is_the_median_cpu_over_its_own_and_never_above_one() -> None:
    speed = CoreSpeed.of(np.array([0.0, 0.002, 0.004, 0.006]), np.array([40e-6, 30e-6, 400e-6, 40e-6]))
    assert speed.speed.tolist() == pytest.approx([1.0, 1.0, 0.1, 1.0])
    stalled = CoreSpeed.of(np.array([0.0, 0.002, 0.004]), np.array([40e-6, 40e-6, 1.0]))
    assert stalled.speed.min() == MIN_SPEED


def test_work_time_runs_at_the_machine_s_speed_and_at_full_speed_outside_the_probe() -> None:
    speed = episode(1.0, 1.1, 0.1)
    # 100 ms at a tenth of the speed is 10 ms of work
    assert float(speed.work_time(np.array([1.1]))[0] - speed.work_time(np.array([1.0]))[0]) == pytest.approx(0.010)
    assert float(speed.work_time(np.array([0.5]))[0]) == pytest.approx(0.5)
    assert float(speed.work_time(np.array([20.0]))[0] - speed.work_time(np.array([19.0]))[0]) == pytest.approx(1.0)
    assert float(speed.work_time(np.array([-1.0]))[0]) == pytest.approx(-1.0)


@given(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=50), st.lists(st.floats(-1.0, 3.0), min_size=1))
def test_wall_time_inverts_work_time(speeds: list[float], instants: list[float]) -> None:
    starts = np.arange(len(speeds)) * 0.01
    timeline = CoreSpeed.of(starts, 1e-5 / np.array(speeds))
    wall = np.array(instants)
    assert timeline.wall_time(timeline.work_time(wall)) == pytest.approx(wall, abs=1e-9)


def test_a_request_caught_in_a_slow_stretch_takes_longer_and_one_outside_it_does_not() -> None:
    speed = episode(1.0, 1.1, 0.05)
    sent = np.array([0.5, 1.02, 2.0])
    latency = replay(speed, sent, lambda arrivals: np.full(arrivals.size, 0.001))
    assert latency[0] == pytest.approx(0.001)
    assert latency[1] == pytest.approx(0.020)  # 1 ms of work at 5 % of the speed
    assert latency[2] == pytest.approx(0.001)
    taken = speed.work_time(np.array([1.02]))  # a worker taking 1 ms of work there holds it 20 ms of wall time
    assert speed.wall_spans(taken, taken + 0.001)[0] == pytest.approx(0.020)


def test_replaying_a_queue_through_a_slow_episode_makes_its_tail_and_full_speed_changes_nothing() -> None:
    """One worker at 30 % load: a 100 ms stretch at 5 % speed queues everything that arrives in it."""
    rng = np.random.default_rng(1)
    sent = np.cumsum(rng.exponential(1 / 1000, 10_000))  # 1,000/s for ~10 s
    config = K8sConfig(
        HPAParams(min_replicas=1, max_replicas=1, target_utilization=0.7), cpu_request=1.0, pod_start=Constant(0.0)
    )

    def simulate(arrivals: np.ndarray) -> np.ndarray:
        return simulate_k8s(arrivals, Constant(0.0003), config, 0).latency_s

    plain = simulate(sent)
    flat = CoreSpeed.of(np.arange(0, 12, 0.002), np.full(6000, 40e-6))
    assert replay(flat, sent, simulate) == pytest.approx(plain, abs=1e-9)
    assert replay(FULL_SPEED, sent, simulate) == pytest.approx(plain, abs=1e-9)
    slowed = replay(episode(5.0, 5.1, 0.05, until=12.0), sent, simulate)
    assert np.percentile(plain, 99) < 0.002
    assert np.percentile(slowed, 99) > 10 * np.percentile(plain, 99)
    caught = (sent > 5.0) & (sent < 5.1)
    assert np.median(slowed[caught]) > 0.02
    assert np.median(slowed[~caught & (sent < 4.9)]) < 0.001


def test_the_summary_says_how_long_the_machine_ran_slow() -> None:
    summary = episode(1.0, 2.0, 0.2).summary()
    assert summary["slow_share"] == pytest.approx(0.1, abs=0.001)
    assert summary["min_speed"] == pytest.approx(0.2)
    assert summary["mean_speed"] == pytest.approx(0.92, abs=0.001)
    assert summary["unit_cpu_us"] == pytest.approx(40.0)
    assert CoreSpeed.of(np.zeros(0), np.zeros(0)).summary()["mean_speed"] == 1.0


def test_the_probe_process_measures_units_every_interval_until_stopped() -> None:
    with probe(None) as running:
        started = time.monotonic()
        time.sleep(0.5)
    samples = running.samples
    assert samples.shape[1] == 3
    assert np.isnan(samples[:, 2]).all()  # nothing watched
    assert running.work_share() == 1.0
    assert samples.shape[0] > 0.5 / (INTERVAL_S * 3)
    assert started - 1.0 < samples[0, 0]
    assert samples[-1, 0] < time.monotonic()
    assert np.all(np.diff(samples[:, 0]) >= INTERVAL_S)  # a unit each interval, never two at once
    assert np.all(samples[:, 1] > 0)  # each unit's own CPU time
    timeline = running.speed(started)
    assert timeline.at_s[0] < 0.5
    assert 0 < timeline.speed.min() <= timeline.speed.max() == 1.0


def test_a_stretch_is_slow_where_any_moment_of_it_ran_below_half_speed() -> None:
    speed = episode(1.0, 1.1, 0.2)  # units every 2 ms; the slow ones start at 1.000 ... 1.098
    slow = speed.slow_during(np.array([0.5, 0.9995, 1.05, 1.0995, 1.1005, 20.0]),
                             np.array([0.501, 1.0001, 1.051, 1.1, 1.2, 21.0]))  # fmt: skip
    assert slow.tolist() == [False, True, True, True, False, False]
    assert not CoreSpeed.of(np.zeros(0), np.zeros(0)).slow_during(np.array([1.0]), np.array([2.0])).any()


def test_the_probe_reads_a_watched_process_s_run_time_and_weighs_it_by_the_machine_s_speed() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 5\nwhile time.time() < end: pass"])
    try:
        with probe(None, watch=busy.pid) as running:
            time.sleep(0.5)
    finally:
        busy.kill()
        busy.wait()
    run = running.samples[:, 2]
    assert not np.isnan(run).any()
    assert np.all(np.diff(run) >= 0)
    assert run[-1] - run[0] > 0.1  # a busy loop, on this machine's cores for most of half a second
    assert 0 < running.work_share() <= 1


def test_work_share_weights_each_stretch_of_run_time_by_the_speed_at_its_start() -> None:
    # four units, 2 ms apart; the watched process ran 1 ms after each; the second unit ran at a quarter speed
    samples = np.array([[0.0, 40e-6, 0.0], [0.002, 160e-6, 0.001], [0.004, 40e-6, 0.002], [0.006, 40e-6, 0.003]])
    assert SpeedProbe(samples).work_share() == pytest.approx((1 + 0.25 + 1) / 3)


def test_work_time_counts_from_the_run_s_start_even_where_the_probe_started_slow_before_it() -> None:
    starts = np.arange(-0.2, 1.0, 0.002)  # the probe starts 200 ms before the run, slow for its first 100 ms
    speed = CoreSpeed.of(starts, np.where(starts < -0.1, 400e-6, 40e-6))
    assert float(speed.work_time(np.zeros(1))[0]) == pytest.approx(0.0, abs=1e-12)
    assert float(speed.work_time(np.array([0.5]))[0]) == pytest.approx(0.5)


def test_no_units_or_no_origin_is_full_speed_and_says_nothing_measured() -> None:
    nothing = CoreSpeed.of(np.zeros(0), np.zeros(0)).summary()
    assert nothing == {"units": 0, "mean_speed": 1.0, "slow_share": 0.0, "min_speed": 1.0}  # no NaN to write
    unknown = CoreSpeed.of(np.array([np.nan, np.nan]), np.array([40e-6, 400e-6]))
    assert unknown.work_time(np.array([1.0]))[0] == 1.0


def test_full_speed_keeps_the_requests_clear_of_slow_moments_unless_most_were_caught() -> None:
    speed = episode(1.0, 1.1, 0.2)
    sent = np.array([0.5, 1.05, 2.0])
    assert full_speed(speed, sent, sent + 0.001).tolist() == [True, False, True]
    mostly = np.array([1.02, 1.05, 2.0])
    assert full_speed(speed, mostly, mostly + 0.001).tolist() == [True, True, True]
