"""The simulated Lambda against closed forms and its documented limits."""

from __future__ import annotations

import numpy as np
import pytest

from compare.platforms.base import OK, THROTTLED, TIMED_OUT, Constant, Exponential, parse_distribution
from compare.platforms.lambda_ import LambdaConfig, simulate_lambda
from compare.profiles import Profile, Segment, steady


def test_mean_concurrency_is_rate_times_service_time() -> None:
    # Little's law: at 200 requests/s of 50 ms each, 10 environments are busy on average.
    arrivals = steady(200.0, 1200).arrivals(seed=11)
    run = simulate_lambda(arrivals, Exponential(0.05), Constant(0.0), LambdaConfig())
    assert run.extra["mean_busy_environments"] == pytest.approx(200 * 0.05, rel=0.05)


def test_never_more_than_the_burst_of_new_environments_in_10_s() -> None:
    # 3,000 requests in one second, each holding its environment for 20 s: only 1,000 can start.
    arrivals = np.sort(np.random.default_rng(0).uniform(0, 1, 3000))
    config = LambdaConfig(concurrency_limit=10_000)
    run = simulate_lambda(arrivals, Constant(20.0), Constant(0.5), config)
    starts = run.arrival_s[run.cold]
    assert starts.size == 1000
    windows = np.searchsorted(starts, starts + 10.0) - np.arange(starts.size)
    assert windows.max() <= 1000
    assert (run.status == THROTTLED).sum() == 2000


def test_concurrency_limit_throttles() -> None:
    arrivals = np.linspace(0, 1, 50, endpoint=False)
    run = simulate_lambda(arrivals, Constant(5.0), Constant(0.0), LambdaConfig(concurrency_limit=10))
    assert (run.status == OK).sum() == 10
    assert (run.status == THROTTLED).sum() == 40


def test_idle_environments_are_reclaimed_after_keep_alive() -> None:
    arrivals = np.arange(0.0, 100.0, 20.0)  # one request every 20 s
    short = simulate_lambda(arrivals, Constant(0.01), Constant(1.0), LambdaConfig(keep_alive_s=10))
    long = simulate_lambda(arrivals, Constant(0.01), Constant(1.0), LambdaConfig(keep_alive_s=60))
    assert short.cold.sum() == arrivals.size
    assert long.cold.sum() == 1


def test_provisioned_environments_never_start_cold() -> None:
    arrivals = steady(5.0, 300).arrivals(seed=2)  # mean concurrency 0.25: five are never all busy
    run = simulate_lambda(arrivals, Constant(0.05), Constant(2.0), LambdaConfig(provisioned=5))
    assert run.cold.sum() == 0
    assert run.extra["billed_ms_on_provisioned"] == run.extra["billed_ms_total"]
    assert run.instances.min() >= 5


def test_cold_requests_pay_init_and_slow_ones_time_out() -> None:
    arrivals = np.array([0.0, 100.0])
    run = simulate_lambda(arrivals, Constant(0.1), Constant(1.5), LambdaConfig())
    assert run.latency_s.tolist() == pytest.approx([1.6, 0.1])
    assert run.extra["billed_ms_total"] == 1700
    slow = simulate_lambda(arrivals, Constant(31.0), Constant(0.0), LambdaConfig())
    assert (slow.status == TIMED_OUT).all()
    assert np.isnan(slow.latency_s).all()


def test_ramp_adds_environments_and_reclaims_them_when_load_falls() -> None:
    profile = Profile("ramp", (Segment(120, 10.0), Segment(120, 100.0), Segment(900, 10.0)))
    run = simulate_lambda(profile.arrivals(seed=4), Constant(0.1), Constant(1.0), LambdaConfig(keep_alive_s=300))
    assert run.instances[200] > run.instances[60]
    assert run.instances[-1] < run.instances[200]


def test_distribution_notation() -> None:
    assert parse_distribution("exp:0.005") == Exponential(0.005)
    assert parse_distribution("const:1") == Constant(1.0)
    with pytest.raises(ValueError, match="unknown distribution"):
        parse_distribution("gamma:1")
    with pytest.raises(ValueError, match="KIND:SECONDS"):
        parse_distribution("exp:fast")


def test_an_overhead_that_holds_the_environment_throttles_sooner_and_is_never_billed() -> None:
    # One environment, 1 s handler + 1 s overhead; a second arrival at 1.5 s: free after the duration, busy after
    # the round trip (how the local pool counts an invocation in flight).
    arrivals = np.array([0.0, 1.5])
    config = LambdaConfig(provisioned=1, concurrency_limit=1)
    runs = {
        holds: simulate_lambda(
            arrivals, Constant(1.0), Constant(0.0), config, overhead=Constant(1.0), overhead_holds=holds
        )
        for holds in (False, True)
    }
    assert (runs[False].status == OK).all()
    assert runs[True].status.tolist() == [OK, THROTTLED]
    assert runs[True].latency_s[0] == pytest.approx(2.0)
    assert runs[False].extra["duration_s_total"] == pytest.approx(2.0)  # billed: durations only
    assert runs[True].extra["duration_s_total"] == pytest.approx(1.0)
    assert runs[True].extra["billed_ms_total"] == 1000


def test_each_invocation_s_duration_is_recorded_unrounded_and_sums_to_the_busy_total() -> None:
    arrivals = steady(20.0, 200).arrivals(seed=4)
    run = simulate_lambda(arrivals, Exponential(0.0004), Constant(0.2), LambdaConfig(concurrency_limit=3), seed=1)
    duration = run.per_request["duration_s"]
    assert duration.sum() == pytest.approx(run.extra["duration_s_total"])
    assert np.all(duration[run.status == THROTTLED] == 0)
    assert np.all(np.ceil(duration[run.status == OK] * 1000) == run.per_request["billed_ms"][run.status == OK])
    assert np.any(duration[run.cold] > 0.2)  # a cold start's init is part of its duration
