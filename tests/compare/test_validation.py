"""The comparison behind `compare validate`, and the server-side service model the simulator takes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from compare.hpa import HPAParams
from compare.platforms.base import Constant
from compare.platforms.k8s import K8sConfig, simulate_k8s
from compare.platforms.lambda_ import LambdaConfig, simulate_lambda
from compare.platforms.service import ServerService
from compare.profiles import steady
from compare.server_calibration import access_latencies
from compare.validation import Figures, all_met, compare, relative_error, row, table


def test_errors_are_relative_for_latency_and_absolute_for_utilisation() -> None:
    result = compare(Figures(2.0, 10.0, 0.50), Figures(2.4, 16.0, 0.53))
    assert result["error"]["p50"] == pytest.approx(0.2)
    assert result["error"]["p99"] == pytest.approx(0.6)
    assert result["error"]["utilisation"] == pytest.approx(0.03)
    assert result["met"] == {"p50": True, "p99": False, "utilisation": True}


def test_targets_hold_both_ways_and_a_missing_figure_never_meets_one() -> None:
    under = compare(Figures(4.0, 10.0, 0.60), Figures(2.9, 5.1, 0.54))
    assert under["met"] == {"p50": False, "p99": True, "utilisation": False}
    assert math.isnan(relative_error(0.0, 1.0))
    nothing = compare(Figures(math.nan, math.nan, 0.1), Figures(1.0, 2.0, 0.1))
    assert nothing["met"] == {"p50": False, "p99": False, "utilisation": True}


def test_rows_table_and_verdict() -> None:
    rows = [
        row("server", 0.25, 400.0, Figures(2.0, 4.0, 0.3), Figures(2.1, 4.4, 0.31), requests=4000),
        row("lambda", 0.8, 900.0, Figures(1.0, 3.0, 0.5), Figures(1.5, 3.0, 0.5), requests=9000),
    ]
    assert all_met(rows[:1])
    assert not all_met(rows)
    text = table(rows)
    assert text.splitlines()[2].startswith("server")
    assert "4,000" in text
    assert "+50%!" in text.splitlines()[3]  # the missed p50 is marked
    assert "shared" not in text
    busy = row("server", 0.5, 800.0, Figures(2.0, 4.0, 0.5), Figures(2.0, 4.0, 0.5), levels_capped_by_driver=True,
               capacity_per_s=2000.0, other_work_cores={"measured_core": {"other": 0.01, "stolen": 0.2},
                                                        "driver_core": None})  # fmt: skip
    marked = table([busy]).splitlines()
    assert marked[2].startswith("server~")
    assert marked[-2].startswith("server: levels capped where the load driver fell behind")
    assert "2,000/s" in marked[-2]
    assert marked[-1].startswith("~ shared")


def test_figures_leave_unanswered_requests_out() -> None:
    figures = Figures.of(np.array([0.001, np.nan, 0.003, 0.002]), 0.4)
    assert figures.p50_ms == pytest.approx(2.0)
    assert figures.utilisation == 0.4


def _service(**overrides: object) -> ServerService:
    values: dict[str, object] = {
        "rates_per_s": (100.0, 500.0, 1000.0),
        "cpu_s": (0.002, 0.001, 0.0008),
        "seen": ((0.0005, 0.0015),) * 3,
        "idle_cpu_cores": 0.01,
        "capacity_per_s": 1000.0,
    }
    return ServerService(**{**values, **overrides})  # type: ignore[arg-type]


def test_cpu_per_request_is_interpolated_at_the_rate_and_held_beyond_the_ends() -> None:
    service = _service()
    # Between levels the utilisation is linear: 0.2 of a core at 100/s, 0.5 at 500/s, so 0.35 at 300/s.
    assert service.cpu_at(300.0) == pytest.approx(0.35 / 300)
    assert service.cpu_at(10.0) == 0.002
    assert service.cpu_at(5000.0) == 0.0008
    assert service.mean == pytest.approx(service.cpu_at(700.0))
    with pytest.raises(ValueError, match="ascend"):
        _service(rates_per_s=(500.0, 100.0, 1000.0))


def _one_pod(service: ServerService, rate: float) -> tuple[float, float]:
    """(p50 ms, utilisation) of one pod without an autoscaler at a steady Poisson rate."""
    config = K8sConfig(HPAParams(1, 1, 0.7), cpu_request=1.0, pod_start=Constant(0.0),
                       idle_cpu_cores=service.idle_cpu_cores)  # fmt: skip
    arrivals = steady(rate, 60).arrivals(seed=3)
    run = simulate_k8s(arrivals, service, config)
    return run.summary()["p50_ms"], run.extra["busy_cpu_s"] / 60 + service.idle_cpu_cores


def test_a_pod_is_busy_for_its_cpu_and_callers_see_wait_in_process_and_overhead() -> None:
    service = _service()
    p50, utilisation = _one_pod(service, 100.0)
    # At 100 req/s a request rarely waits: the caller sees in-process + overhead, 2 ms; the core is
    # 100 x 2 ms busy, plus the idle share.
    assert p50 == pytest.approx(2.0, rel=0.05)
    assert utilisation == pytest.approx(0.21, abs=0.01)
    busy_p50, busy_utilisation = _one_pod(service, 900.0)
    assert busy_utilisation == pytest.approx(900 * service.cpu_at(900) + 0.01, abs=0.02)
    assert busy_p50 > p50  # at 90 % of its capacity requests wait


def test_lambda_bills_the_duration_and_callers_wait_the_overhead_too() -> None:
    arrivals = steady(5.0, 100).arrivals(seed=1)
    config = LambdaConfig(provisioned=2, concurrency_limit=2)
    run = simulate_lambda(arrivals, Constant(0.0006), Constant(0.0), config, overhead=Constant(0.002))
    assert run.summary()["p50_ms"] == pytest.approx(2.6)
    assert run.extra["billed_ms_total"] == arrivals.size  # 0.6 ms rounds up to 1 ms each
    assert run.extra["duration_s_total"] == pytest.approx(arrivals.size * 0.0006)


def test_access_log_lines_give_in_process_latency_by_request_id() -> None:
    log = "\n".join([
        "INFO predict: model iris 1 loaded",
        'INFO predict.access: {"request_id":"a1","method":"POST","route":"/predict","status":200,"latency_ms":0.512}',
        'INFO predict.access: {"request_id":"b2","method":"GET","route":"/ready","status":200,"latency_ms":0.1}',
        'INFO predict.access: {"request_id":"c3","method":"POST","route":"/predict","status":422,"latency_ms":0.3}',
        "INFO predict.access: {not json",
    ])  # fmt: skip
    assert access_latencies(log) == {"a1": pytest.approx(0.000512)}


def test_other_work_on_a_core_is_its_busy_time_less_ours_and_steal_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    from compare import server_calibration

    assert server_calibration.OtherWork(None, lambda: 0.0).cores() is None  # unpinned: unknown, not zero
    times = iter([(10.0, 1.0), (10.9, 1.25)])  # the core worked 0.9 s over the stretch; 0.25 s stolen
    own = iter([2.0, 2.6])  # our process on it, 0.6 s of that
    clock = iter([100.0, 101.0])
    monkeypatch.setattr(server_calibration, "core_times", lambda _cpu: next(times))
    monkeypatch.setattr(server_calibration.time, "perf_counter", lambda: next(clock))
    watch = server_calibration.OtherWork(0, lambda: next(own))
    assert watch.cores() == pytest.approx({"other": 0.3, "stolen": 0.25})


def test_a_core_busy_time_comes_from_proc_stat() -> None:
    from compare.server_calibration import core_times

    if not Path("/proc/stat").exists():
        pytest.skip("no /proc/stat here")
    first = core_times(0)
    assert first is not None
    assert first[0] > 0
    assert core_times(10_000) is None  # no such core
