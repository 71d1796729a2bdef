"""The simulated Kubernetes deployment against queueing theory and a hand-computed HPA trace."""

from __future__ import annotations

import numpy as np
import pytest

from compare.hpa import HPAParams
from compare.platforms.base import OK, REJECTED, Constant, Exponential
from compare.platforms.k8s import K8sConfig, simulate_k8s
from compare.profiles import steady


def test_single_pod_matches_mm1_mean_waiting_time() -> None:
    # M/M/1 at utilisation 0.5: mean service 10 ms, 50 requests/s -> mean wait rho/(mu - lambda) = 10 ms.
    config = K8sConfig(HPAParams(min_replicas=1, max_replicas=1, target_utilization=0.5))
    service = Exponential(0.010)
    run = simulate_k8s(steady(50.0, 4000).arrivals(seed=21), service, config, seed=5)
    assert (run.status == OK).all()
    mean_wait = np.mean(run.latency_s) - service.mean
    assert mean_wait == pytest.approx(0.010, rel=0.05)


def test_step_in_load_follows_the_hand_computed_replica_trace() -> None:
    # One pod, CPU request 1 core, target 50 %, pods ready 5 s after creation, 10 ms per request.
    config = K8sConfig(
        HPAParams(min_replicas=1, max_replicas=10, target_utilization=0.5),
        cpu_request=1.0,
        pod_start=Constant(5.0),
        idle_cpu_cores=0.0,
    )
    arrivals = np.concatenate([np.arange(0, 60, 1 / 10), np.arange(60, 120, 1 / 80), np.arange(120, 151, 1 / 300)])
    run = simulate_k8s(arrivals, Constant(0.010), config)
    syncs = np.arange(15, 151, 15)
    # 15-60: 0.1 core busy -> ratio 0.2, min 1.  75: window [60, 75) at 0.8 -> ceil(1.6) = 2.
    # 90: the new pod was not ready at the window's start: counted idle, (0.53 / 2) / 0.5 < 1.1 -> 2.
    # 105, 120: 0.8 core over two pods -> ratio 0.8 -> ceil(1.6) = 2.  135: 3 cores offered, two
    # single-worker pods saturated at 100 % -> ratio 2 -> 4.  150: two busy, two not yet ready for
    # the whole window: (2 x 1.0) / 4 / 0.5 = 1.0 -> 4.
    assert run.instances[syncs].tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 4, 4]


def test_no_ready_pod_means_rejection_and_overload_means_timeouts() -> None:
    config = K8sConfig(HPAParams(min_replicas=1, max_replicas=1, target_utilization=0.5), request_timeout_s=1.0)
    overloaded = simulate_k8s(steady(200.0, 60).arrivals(seed=1), Constant(0.010), config)
    assert (overloaded.status != OK).sum() > 0  # twice what one worker can do: the queue outgrows 1 s
    empty = K8sConfig(HPAParams(min_replicas=1, max_replicas=1, target_utilization=0.5), initial_replicas=1)
    assert (simulate_k8s(np.array([0.5]), Constant(0.01), empty).status == OK).all()
    nothing = simulate_k8s(np.array([0.5]), Constant(0.01), K8sConfig(HPAParams(0, 1, 0.5), initial_replicas=0))
    assert nothing.status.tolist() == [REJECTED]


def test_pod_seconds_cover_the_run() -> None:
    config = K8sConfig(HPAParams(min_replicas=3, max_replicas=3, target_utilization=0.5))
    run = simulate_k8s(steady(10.0, 100).arrivals(seed=3), Constant(0.01), config)
    assert run.extra["pod_seconds"] == pytest.approx(3 * run.seconds.size)


def test_queue_limit_refuses_instead_of_queueing() -> None:
    # One pod, 1 s per request, 10 requests at once: with room for 3, the other 7 get a 503 at once.
    config = K8sConfig(HPAParams(min_replicas=1, max_replicas=1, target_utilization=0.5), max_queue=3)
    run = simulate_k8s(np.full(10, 0.5), Constant(1.0), config)
    assert (run.status == OK).sum() == 3
    assert (run.status == REJECTED).sum() == 7
    assert np.nanmax(run.latency_s) == pytest.approx(3.0)


def test_each_request_s_charged_cpu_is_recorded_from_its_start_and_sums_to_the_busy_total() -> None:
    """What `compare validate` replays at the machine's speed: the CPU each request was charged and when that
    ends, counted from when the worker took it (never before its arrival)."""
    config = K8sConfig(HPAParams(min_replicas=1, max_replicas=1, target_utilization=0.5), pod_start=Constant(0.0))
    arrivals = steady(80.0, 2000).arrivals(seed=3)
    run = simulate_k8s(arrivals, Exponential(0.010), config, seed=2)
    until, cpu = run.per_request["charged_until_s"], run.per_request["charged_cpu_s"]
    taken = until - cpu
    assert np.all(taken >= arrivals - 1e-12)
    assert np.all(taken[1:] >= until[:-1] - 1e-12)  # a plain service time: held for it, one after another
    assert cpu.sum() == pytest.approx(run.extra["busy_cpu_s"])
    assert run.latency_s == pytest.approx(until - arrivals)  # and answered as it lets go


def test_a_request_holds_the_worker_for_the_saturated_cpu_and_each_busy_spell_adds_the_rest_of_the_mean() -> None:
    from compare.platforms.service import ServerService

    service = ServerService(rates_per_s=(100.0, 1000.0, 2000.0), cpu_s=(0.0008, 0.0005, 0.0004),
                            seen=((0.0002, 0.0003),), idle_cpu_cores=0.0, capacity_per_s=2000.0)  # fmt: skip
    hold, wake = service.costs_at(1000.0)
    assert hold == 0.0004  # the saturated figure
    assert wake == pytest.approx(0.0001 / (1 - 1000 * 0.0004))  # the rest, over the spells' share 1 - rate x hold
    config = K8sConfig(HPAParams(min_replicas=1, max_replicas=1, target_utilization=0.7), cpu_request=1.0,
                       pod_start=Constant(0.0), idle_cpu_cores=0.0)  # fmt: skip
    arrivals = steady(1000.0, 60).arrivals(seed=8)
    run = simulate_k8s(arrivals, service, config, seed=1)
    charged = run.per_request["charged_cpu_s"]
    assert charged.mean() == pytest.approx(service.cpu_at(1000.0), rel=0.03)  # the calibrated mean, each
    assert run.extra["busy_cpu_s"] == pytest.approx(charged.sum())
    seen = 0.0005  # in-process + overhead, the one pair
    # Fixed arrivals at ~1,000/s: one to an idle worker, one queued behind it, one as the loop goes back to sleep.
    three = np.array([5.0, 5.0001, 5.0008 + 0.00005])  # the third comes after the second let go at 5.0008
    starts = simulate_k8s(np.concatenate([arrivals[arrivals < 4.9], three]), service, config, seed=1)
    latency = starts.latency_s[-3:]
    assert latency[0] == pytest.approx(seen)  # woke the worker: its own latency
    assert latency[1] == pytest.approx(hold - 0.0001 + seen)  # waited for the first's hold, not its wake-up
    # waited out the way back to sleep (the wake-up at the trailing rate there, near 1,000/s)
    assert latency[2] - seen == pytest.approx(wake - 0.00005, rel=0.2)


def test_the_wake_up_delays_what_arrives_as_the_loop_goes_back_to_sleep_not_what_queued_during_the_spell() -> None:
    from compare.platforms.service import Worker

    worker = Worker()
    assert worker.take(0.0, 1.0, 0.5) == 0.0  # starts a spell, whose wake-up is worked off at its end
    assert worker.take(0.4, 1.0, 0.5) == 1.0  # queued during the spell: no wake-up before it
    assert worker.take(2.2, 1.0, 0.5) == 2.5  # came while the loop went back to sleep (2.0-2.5): waits
    assert worker.take(10.0, 1.0, 0.5) == 10.0  # came to a sleeping loop: starts at once
    assert worker.take(11.0, 1.0, 0.5) == 11.0  # let in as the last one let go (an activator's slot): no sleep
