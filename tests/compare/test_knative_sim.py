"""Knative, simulated: hand-computed traces through the platform, and the closed form of the cold-start
probability for sparse Poisson traffic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compare.kpa import KPAParams
from compare.platforms.base import OK, REJECTED, TIMED_OUT, Constant
from compare.platforms.knative import KnativeConfig, simulate_knative
from compare.profiles import steady

PARAMS = KPAParams(target=1, target_utilization=0.7, container_concurrency=1, target_burst_capacity=-1)  # k8s/knative


def test_idle_reaches_zero_at_window_plus_grace_and_the_next_request_starts_cold() -> None:
    arrivals = np.array([0.0, 100.0, 100.2, 150.0])
    config = KnativeConfig(PARAMS, pod_start=Constant(5.0), request_timeout_s=30)
    run = simulate_knative(arrivals, Constant(0.5), config)
    # The initial pod serves t=0 warm; second 0 leaves the stable window at the tick of t=62 (inactive),
    # and 30 s of grace later, t=92, the pod goes.
    assert run.instances[91] == 1
    assert run.instances[92] == 0
    assert run.instances[99] == 0
    # t=100: the activator holds the request and asks for pods at once: ceil(1 / 0.7) = 2, ready at 105.
    # The request of t=100.2 waits too, for the second pod (one request per pod at a time).
    assert run.cold.tolist() == [False, True, True, False]
    assert run.latency_s.tolist() == pytest.approx([0.5, 5.5, 5.3, 0.5])
    # Per-second records hold the state at each whole second, before that second's requests.
    assert run.instances[101] == 2
    assert run.busy[104] == 0
    assert run.busy[105] == 2
    assert run.extra["scale_to_zero_events"] == 1


def test_container_concurrency_is_a_hard_limit_the_queue_proxy_queues_ten_times_over() -> None:
    # The activator out of the path (target burst capacity 0): 20 requests at once on the one pod,
    # containerConcurrency 1: 1 in the container, 10 queued in its queue-proxy, 9 refused.
    params = KPAParams(target=1, target_utilization=0.7, container_concurrency=1, max_scale=1, target_burst_capacity=0)
    arrivals = np.linspace(0.0, 0.019, 20)
    run = simulate_knative(arrivals, Constant(1.0), KnativeConfig(params, request_timeout_s=300))
    assert (run.status == OK).sum() == 11
    assert (run.status == REJECTED).sum() == 9
    assert np.nanmax(run.latency_s) == pytest.approx(11.0, abs=0.02)  # the 11th waited for ten before it


def test_with_the_activator_in_the_path_a_burst_waits_there_one_request_per_pod_at_a_time() -> None:
    # Knative's default target burst capacity (211) with 1 pod of target 1: EBC = 1 - 211 < 0, the activator
    # stays in the path; it sends the pod one request at a time and holds the other 19: none refused.
    params = KPAParams(target=1, target_utilization=0.7, container_concurrency=1, max_scale=1)
    arrivals = np.linspace(0.0, 0.019, 20)
    run = simulate_knative(arrivals, Constant(1.0), KnativeConfig(params, request_timeout_s=300))
    assert (run.status == OK).all()
    assert run.latency_s.tolist() == pytest.approx(np.arange(1, 21) - arrivals, abs=1e-9)


def test_the_activator_balances_on_free_slots_and_the_kpa_counts_what_it_holds() -> None:
    # Two ready pods, containerConcurrency 1, 4 requests at once of 1 s: two start at once, two wait for
    # a slot (1 s each); the KPA's history holds 4 in flight over [0, 1) and 2 over [1, 2).
    params = KPAParams(target=1, target_utilization=0.7, container_concurrency=1, initial_scale=2, min_scale=2)
    run = simulate_knative(np.zeros(4), Constant(1.0), KnativeConfig(params, request_timeout_s=30))
    assert sorted(run.latency_s.tolist()) == pytest.approx([1.0, 1.0, 2.0, 2.0])
    assert not run.cold.any()


def test_scale_down_in_the_simulation_never_cuts_more_than_half_the_pods_a_tick() -> None:
    # A load the old manifest (target 4 x 70 %, containerConcurrency 4) cycles on: halving to an overloaded
    # pod, then panic. What looked like one-sample dips to 1 are three halvings (9 -> 4 -> 2 -> 1), 2 s apart.
    params = KPAParams(target=4, target_utilization=0.7, container_concurrency=4, max_scale=20)
    arrivals = steady(500.0, 300.0).arrivals(3)
    run = simulate_knative(arrivals, Constant(0.004), KnativeConfig(params, pod_start=Constant(1.0)))
    pods = run.instances.astype(int)
    assert pods.max() > 4
    assert all(pods[s] >= pods[s - 1] // 2 for s in range(1, pods.size))


def test_an_answer_later_than_the_timeout_is_a_504() -> None:
    run = simulate_knative(np.array([0.0, 1.0]), Constant(20.0), KnativeConfig(PARAMS, request_timeout_s=30))
    assert run.status.tolist() == [OK, TIMED_OUT]  # the second waits 19 s, then 20 s of work


def test_a_burst_scales_out_through_panic() -> None:
    arrivals = steady(200.0, 120.0).arrivals(1)  # 200 req/s x 20 ms = 4 busy workers' worth
    run = simulate_knative(
        arrivals, Constant(0.02), KnativeConfig(PARAMS, pod_start=Constant(3.0), request_timeout_s=30)
    )
    assert run.extra["panic_ticks"] > 0
    assert run.instances.max() >= 4
    assert (run.status == OK).mean() > 0.95


@pytest.mark.parametrize(("rate", "seed"), [(0.01, 11), (0.02, 12)])
def test_sparse_poisson_cold_start_probability_matches_the_closed_form(rate: float, seed: int) -> None:
    """rate x service << 1: a request starts cold when the gap since the last one passes the stable window
    plus the grace period, rounded up to the next 2 s tick after the last busy second: between 90 and 93.5 s."""
    duration = 4000 / rate  # about 4,000 requests
    arrivals = steady(rate, duration).arrivals(seed)
    config = KnativeConfig(KPAParams(target=4, target_utilization=0.7, container_concurrency=4),
                           pod_start=Constant(0.5), request_timeout_s=30)  # fmt: skip
    run = simulate_knative(arrivals, Constant(0.005), config, seed=seed)
    observed = float(run.cold.mean())
    window_plus_grace = 60.0 + 30.0
    closed_form = math.exp(-rate * window_plus_grace)
    slowest = math.exp(-rate * (window_plus_grace + 2.0 + 1.0 + 0.5))  # + a tick, the busy second, the start
    error = 3 * math.sqrt(closed_form * (1 - closed_form) / arrivals.size)
    print(
        f"\nrate {rate}/s, {arrivals.size} requests: cold-start probability {observed:.4f}; exp(-rate x 90 s) = "
        f"{closed_form:.4f}; exp(-rate x 93.5 s) = {slowest:.4f}; 3 sigma = {error:.4f}"
    )
    assert slowest - error <= observed <= closed_form + error
