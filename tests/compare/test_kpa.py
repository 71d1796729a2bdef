"""The KPA's decision against traces computed by hand from Knative's documented rules, tick by tick
with a fake clock (the time is an argument; nothing sleeps)."""

from __future__ import annotations

import math

import pytest

from compare.kpa import ConcurrencyWindows, KnativePodAutoscaler, KPAParams

# target 10 x utilisation 70 % = 7 in-flight requests per pod; stable window 60 s, panic window 6 s.
PARAMS = KPAParams(target=10, target_utilization=0.7)


def windows_with(*intervals: tuple[float, float, int], until: int) -> ConcurrencyWindows:
    """Concurrency history: `count` requests in the system over [start, end), every second reported."""
    windows = ConcurrencyWindows(PARAMS.stable_window_s)
    for start, end, count in intervals:
        for _ in range(count):
            windows.add_request(start, end)
    for second in range(until):
        windows.report(second)
    return windows


def test_the_parameters_hold_knatives_defaults() -> None:
    defaults = KPAParams()
    assert (defaults.target, defaults.target_utilization, defaults.stable_window_s) == (100, 0.7, 60)
    assert (defaults.panic_window_s, defaults.panic_threshold) == (6, 2.0)
    assert (defaults.max_scale_up_rate, defaults.max_scale_down_rate, defaults.tick_s) == (1000, 2, 2)
    assert defaults.scale_to_zero_grace_s == 30
    assert PARAMS.target_value == pytest.approx(7.0)
    # containerConcurrency caps the target: min(10, 4) x 0.7
    assert KPAParams(target=10, target_utilization=0.7, container_concurrency=4).target_value == pytest.approx(2.8)


def test_the_excess_burst_capacity_decides_whether_the_activator_stays_in_the_path() -> None:
    # EBC = floor(ready x total target - target burst capacity - panic concurrency); the total target is
    # the target capped by containerConcurrency, before utilisation.
    assert KPAParams().target_burst_capacity == 211
    assert KPAParams(target=10).excess_burst_capacity(30, 50.0) == 300 - 211 - 50
    assert KPAParams(target=10).excess_burst_capacity(25, 50.0) < 0
    assert KPAParams(target=10, container_concurrency=4).excess_burst_capacity(100, 0.0) == 400 - 211
    assert KPAParams(target=1, target_burst_capacity=0).excess_burst_capacity(1, 99.0) == 0
    assert KPAParams(target=1, target_burst_capacity=-1).excess_burst_capacity(1000, 0.0) < 0
    decision = KnativePodAutoscaler(KPAParams(target=10)).step(2, 30.0, 30.0, 5, 5)
    assert (decision.excess_burst_capacity, decision.activator_in_path) == (50 - 211 - 30, True)
    with pytest.raises(ValueError, match="burst capacity"):
        KPAParams(target_burst_capacity=-2)


@pytest.mark.parametrize("bad", [{"target": 0}, {"target_utilization": 1.5}, {"min_scale": 3, "max_scale": 2},
                                 {"stable_window_s": 5}, {"panic_threshold_percentage": 100}])  # fmt: skip
def test_values_outside_knatives_ranges_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"outside|at least|need 0"):
        KPAParams(**bad)  # type: ignore[arg-type]


def test_steady_concurrency_settles_at_ceil_c_over_target_times_utilisation() -> None:
    kpa = KnativePodAutoscaler(PARAMS)
    ready, seen = 5, []
    for now in range(2, 22, 2):  # C = 30 in both windows: ceil(30 / 7) = 5
        decision = kpa.step(now, 30.0, 30.0, ready, ready)
        seen.append((decision.pods, decision.panic))
        ready = decision.pods
    assert seen == [(5, False)] * 10
    # From one pod the same load is a panic (5 / 1 >= 200 %), and lands on the same count at once.
    first = KnativePodAutoscaler(PARAMS).step(2, 30.0, 30.0, 1, 1)
    assert (first.pods, first.panic, first.stable_pods) == (5, True, math.ceil(30 / 7))


def test_a_step_up_panics_and_scales_within_two_ticks_then_a_drop_holds_the_pods_a_stable_window() -> None:
    # 7 in flight over [0, 110) on one pod, 28 more from t = 100 (35 in all), nothing from t = 110.
    windows = windows_with((0, 110, 7), (100, 110, 28), until=400)
    kpa = KnativePodAutoscaler(PARAMS)
    ready_at = {100: 1, 102: 1, 104: 1, 106: 1}  # the new pods are ready from t = 108 on
    trace: list[tuple[int, int, bool]] = []
    ready = 1
    for now in range(100, 204, 2):
        ready = ready_at.get(now, ready)
        stable, panic = windows.average(now, 60), windows.average(now, 6)
        assert stable is not None
        assert panic is not None
        decision = kpa.step(now, stable, panic, ready, ready)
        trace.append((now, decision.pods, decision.panic))
        if now >= 106:
            ready = decision.pods
    pods = {now: count for now, count, _ in trace}
    panic = {now: flag for now, _, flag in trace}
    # t=100: panic window [94, 100) = 7 -> 1 pod, stable.
    assert (pods[100], panic[100]) == (1, False)
    # t=102: panic window [96, 102) = (4 x 7 + 2 x 35) / 6 = 16.33 -> ceil(2.33) = 3 pods; 3 / 1 ready >= 2: panic.
    assert (pods[102], panic[102]) == (3, True)
    # t=104: (2 x 7 + 4 x 35) / 6 = 25.67 -> 4; t=106: 35 -> 5 (still 1 ready: still over the threshold).
    assert (pods[104], pods[106]) == (4, 5)
    # The drop at t=110: no scale-down in panic, which lasts until a stable window after the last tick
    # over the threshold (t=106): every tick through t=166 keeps 5 pods.
    assert all(pods[now] == 5 and panic[now] for now in range(106, 168, 2))
    # t=168: panic over; stable window [108, 168) = 2 x 35 / 60 = 1.17 -> 1, but the scale-down rate
    # keeps floor(5 / 2) = 2; t=170: [110, 170) = 0 -> 0, held at floor(2 / 2) = 1.
    assert (pods[168], panic[168], pods[170]) == (2, False, 1)
    # t=172: 0 wanted with 1 ready: the revision goes inactive (activator in the path), the pod stays;
    # t=202: 30 s of grace later, zero.
    assert pods[172] == 1
    assert kpa.inactive_since == 172
    assert pods[200] == 1
    assert pods[202] == 0


def test_a_drop_in_stable_mode_follows_the_stable_window_down() -> None:
    windows = windows_with((0, 200, 35), until=400)
    kpa = KnativePodAutoscaler(PARAMS)
    ready, pods = 5, {}
    for now in range(200, 264, 2):
        stable, panic = windows.average(now, 60), windows.average(now, 6)
        assert stable is not None
        assert panic is not None
        decision = kpa.step(now, stable, panic, ready, ready)
        assert not decision.panic
        pods[now] = ready = decision.pods
    # desired = ceil(35 x (260 - t) / 60 / 7): 5 until t=210, 4 from 212, 3 from 224, 2 from 236, 1 from 248;
    # at 260 the window [200, 260) is empty: 0 wanted, the revision goes inactive and keeps its pod.
    assert [pods[t] for t in (202, 210, 212, 222, 224, 236, 248, 258)] == [5, 5, 4, 4, 3, 2, 1, 1]
    assert pods[260] == 1
    assert kpa.inactive_since == 260


def test_scale_down_is_at_most_halving_per_tick() -> None:
    kpa = KnativePodAutoscaler(PARAMS)
    ready, seen = 16, []
    for now in range(2, 12, 2):
        ready = kpa.step(100 + now, 0.0, 0.0, ready, ready).pods
        seen.append(ready)
    # floor(16 / 2) = 8, 4, 2, 1; then 0 wanted: inactive, one pod kept.
    assert seen == [8, 4, 2, 1, 1]


def test_idle_reaches_zero_after_a_stable_window_and_the_grace_period_and_a_request_wakes_it() -> None:
    windows = windows_with((0.0, 0.5, 1), until=1)
    kpa = KnativePodAutoscaler(PARAMS)
    pods, reasons = 1, {}
    for now in range(2, 100, 2):
        windows.report(now - 2)
        windows.report(now - 1)
        stable, panic = windows.average(now, 60), windows.average(now, 6)
        assert stable is not None
        assert panic is not None
        decision = kpa.step(now, stable, panic, pods, pods)
        pods, reasons[now] = decision.pods, decision.reason
        if now < 62:
            assert pods == 1, now  # the request of second 0 is still in the stable window
    # t=62: the window [2, 62) is empty: inactive; t=92 = 62 + 30 s grace: zero. 62 = 60 s window + one 2 s tick.
    assert "inactive" in reasons[62]
    assert "grace" in reasons[90]
    assert "scale to zero" in reasons[92]
    assert pods == 0
    woken = kpa.poke(100.0, held=1)
    assert woken.pods == 1
    assert kpa.inactive_since is None
