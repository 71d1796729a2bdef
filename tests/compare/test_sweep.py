"""The Lambda memory sweep: CPU shares, prices, Power Tuning's picks, the estimate, and real quotas."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from compare.cgroup import CgroupUnavailable, Controller, detect
from compare.prices import PriceBook
from compare.report.sweep_chart import sweep_chart
from compare.sweep import (
    Handler,
    Measure,
    Measured,
    SizeResult,
    Sweep,
    cost_per_million,
    cpu_share,
    measure_size,
    p99_pick,
    picks,
    run_sweep,
    size_result,
    table,
    trimmed_mean,
)
from tests.helpers import REPO, child_env

BOOK = PriceBook.load()


def compare(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "compare", *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


def test_cpu_share_follows_memory() -> None:
    assert cpu_share(1769) == 1.0
    assert cpu_share(128) == pytest.approx(0.0724, abs=1e-4)
    assert cpu_share(3008) == pytest.approx(1.70, abs=0.01)
    assert cpu_share(10_240) == pytest.approx(5.79, abs=0.01)
    for wrong in (64, 10_241):
        with pytest.raises(ValueError, match="128 to 10240 MB"):
            cpu_share(wrong)


def test_power_tuning_average_drops_the_top_and_bottom_fifth() -> None:
    assert trimmed_mean([1, 2, 3, 4, 100]) == pytest.approx(3.0)  # 5 samples: one dropped at each end
    assert trimmed_mean([1, 3]) == pytest.approx(2.0)  # too few to drop any


def test_cost_per_million_is_requests_and_gb_seconds() -> None:
    # 10 ms at 1 GB: a million requests are 10,000 GB-s; no HTTP API (the same at every size).
    assert cost_per_million([0.010] * 5, 1024, BOOK, "x86_64") == pytest.approx(0.20 + 10_000 * 0.0000166667)
    # Billed in whole milliseconds: 9.2 ms costs 10.
    assert cost_per_million([0.0092], 1024, BOOK, "x86_64") == cost_per_million([0.010], 1024, BOOK, "x86_64")


def _row(mb: int, warm_ms: float) -> SizeResult:
    return size_result(mb, Measured([1.0], [warm_ms / 1000] * 5), BOOK, "x86_64", estimate=False)


def test_picks_cheapest_fastest_and_balanced() -> None:
    # Roughly CPU-bound: twice the memory about halves the time below one vCPU, then little more.
    rows = [_row(128, 900), _row(256, 420), _row(512, 200), _row(1024, 105), _row(1769, 75), _row(3008, 72)]
    chosen = picks(rows, 0.5)
    assert chosen == {"cheapest": 512, "fastest": 3008, "balanced": 1024}
    assert picks(rows, 0.0)["balanced"] == 3008  # weight 0: speed alone
    assert picks(rows, 1.0)["balanced"] == 512  # weight 1: cost alone
    # Ties: the fastest of equally cheap, the cheapest of equally fast.
    assert picks([_row(1769, 60), _row(3008, 60)], 0.5)["fastest"] == 1769
    with pytest.raises(ValueError, match="between 0"):
        picks(rows, 1.5)


def _tailed(mb: int, warm_ms: float, tail_ms: float) -> SizeResult:
    """95 warm requests at `warm_ms`, 5 held back by the quota to `tail_ms`: the trimmed mean sees none of the 5."""
    return size_result(mb, Measured([1.0], [warm_ms / 1000] * 95 + [tail_ms / 1000] * 5), BOOK, "x86_64",
                       estimate=False)  # fmt: skip


def test_the_p99_pick_is_the_cheapest_size_whose_warm_p99_meets_the_target() -> None:
    # Below one vCPU a request that meets the end of its quota waits for the next period: a tail of
    # (1 - share) x 100 ms that Power Tuning's trimmed mean drops, and a p99 does not.
    rows = [_tailed(256, 4.0, 85.0), _tailed(512, 3.5, 71.0), _tailed(1024, 3.2, 42.0), _tailed(1769, 3.0, 3.5)]
    assert [r.warm_p99_ms for r in rows] == pytest.approx([85.0, 71.0, 42.0, 3.5])
    assert picks(rows, 0.5)["cheapest"] == 256  # Power Tuning's cheapest: the throttled size
    assert p99_pick(rows, 50.0) == 1024  # the cheapest within 50 ms
    assert p99_pick(rows, 100.0) == 256  # everything meets 100 ms: the cheapest of all
    assert p99_pick(rows, 10.0) == 1769
    assert p99_pick(rows, 1.0) is None
    cheaper_of_two = [_tailed(1769, 3.0, 3.5), _tailed(3008, 3.0, 3.5)]
    assert p99_pick(cheaper_of_two, 50.0) == 1769  # both meet it: the cheaper


def test_the_sweep_records_the_p99_pick_beside_power_tunings_and_feeds_it_forward() -> None:
    def measure(memory_mb: int | None, controller: Controller | None) -> Measured:
        tail = {256: 0.085, 512: 0.071, 1024: 0.042, 1769: 0.0035}[memory_mb or 1769]
        return Measured([2.0], [0.004] * 95 + [tail] * 5)

    controller = Controller(2, Path("/sys/fs/cgroup"))
    swept = run_sweep([256, 512, 1024, 1769], measure, BOOK, controller=controller, p99_target_ms=50.0)
    assert swept.picks["p99"] == 1024
    assert {"cheapest", "fastest", "balanced"} <= set(swept.picks)  # Power Tuning's three, kept
    assert (swept.chosen, swept.chosen_mb, swept.p99_target_ms) == ("p99", 1024, 50.0)  # the default choice
    assert Sweep.model_validate_json(swept.model_dump_json()) == swept
    text = table(swept)
    assert "p99 pick: 1024 MB, the cheapest whose warm p99 is within 50 ms" in text
    assert "chosen for simulate and plans: 1024 MB (p99 pick: warm p99 within 50 ms)" in text
    none = run_sweep([256, 512], measure, BOOK, controller=controller, p99_target_ms=20.0)
    assert "p99" not in none.picks
    assert none.chosen == "fastest"  # asked for the p99 pick, none meets it: the fastest, said so
    assert none.chosen_note == "no size's warm p99 is within 20 ms (the lowest: 512 MB at 71.0 ms): the fastest instead"
    assert "p99 pick: none, no size's warm p99 is within 20 ms" in table(none)
    assert none.chosen_note in table(none)
    with pytest.raises(ValueError, match="positive"):
        p99_pick(none.sizes, 0.0)


def test_an_older_sweep_record_without_the_p99_pick_still_reads(tmp_path: Path) -> None:
    swept = run_sweep([512, 1769], fake_measure([]), BOOK, controller=None, chosen="balanced")
    record = json.loads(swept.model_dump_json())
    del record["p99_target_ms"], record["chosen_note"]
    record["picks"].pop("p99", None)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(record))
    old = Sweep.read(path)
    assert old.p99_target_ms is None
    assert old.chosen_mb == swept.picks["balanced"]
    assert "p99 pick" not in table(old)


def fake_measure(calls: list[tuple[int | None, Controller | None]]) -> Measure:
    def measure(memory_mb: int | None, controller: Controller | None) -> Measured:
        calls.append((memory_mb, controller))
        return Measured([2.0, 2.2, 2.1], [0.004, 0.005, 0.006, 0.005, 0.005])

    return measure


def test_without_a_cgroup_every_size_is_a_labelled_estimate(tmp_path: Path) -> None:
    calls: list[tuple[int | None, Controller | None]] = []
    swept = run_sweep([3008, 128, 1769], fake_measure(calls), BOOK, controller=None, note="no cgroup here")
    assert calls == [(None, None)]  # measured once, unlimited
    assert [r.memory_mb for r in swept.sizes] == [128, 1769, 3008]
    assert swept.estimate
    assert swept.method == "estimate"
    assert all(r.estimate for r in swept.sizes)
    small, one, big = swept.sizes
    assert small.warm_p50_ms == pytest.approx(5.0 / cpu_share(128), rel=1e-3)  # slowed by the share
    assert small.cold_start_p50_ms == pytest.approx(2100 / cpu_share(128), rel=1e-3)
    assert one.warm_p50_ms == big.warm_p50_ms == pytest.approx(5.0)  # one thread: nothing above 1 vCPU
    text = table(swept)
    assert "(estimate)" in text.splitlines()[0]
    assert text.count(" estimate") >= 4  # the title and every row
    path = swept.write(tmp_path / "sweep.json")
    assert Sweep.read(path) == swept
    assert sweep_chart(swept, tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_takes_the_chosen_size_or_memory_from_a_sweep(tmp_path: Path) -> None:
    swept = run_sweep([128, 512, 1769], fake_measure([]), BOOK, controller=None)
    path = swept.write(tmp_path / "sweep.json")
    base = ("simulate", "--platform", "lambda", "--arrivals", "poisson", "--rate", "5", "--duration", "60",
            "--service", "exp:0.005", "--cold", "const:1.2", "--sweep", str(path))  # fmt: skip
    chosen = compare(*base, "--json")
    assert chosen.returncode == 0, chosen.stderr
    note = json.loads(chosen.stdout)["lambda_sweep"]
    assert note["memory_mb"] == swept.chosen_mb == swept.picks["p99"]  # the p99 pick, by default
    assert note["estimate"] is True
    assert "p99" in note["pick"]
    assert note["used"] == "p99 pick: warm p99 within 50 ms"
    at_128 = compare(*base)
    assert at_128.returncode == 0, at_128.stderr
    assert "ESTIMATE" in at_128.stdout
    assert f"lambda times: {swept.chosen_mb} MB (p99 pick: warm p99 within 50 ms;" in at_128.stdout
    named = compare(*base, "--memory", "128", "--json")
    assert json.loads(named.stdout)["lambda_sweep"]["used"] == "--memory"
    planned = compare("plans", *base[3:])
    assert planned.returncode == 0, planned.stderr
    assert f"lambda times: {swept.chosen_mb} MB (p99 pick: warm p99 within 50 ms;" in planned.stdout
    missing = compare(*base, "--memory", "1024")
    assert missing.returncode == 2
    assert "no 1024 MB" in missing.stderr


def test_with_a_controller_each_size_is_measured_under_its_own_quota() -> None:
    calls: list[tuple[int | None, Controller | None]] = []
    controller = Controller(1, Path("/sys/fs/cgroup/cpu"))
    swept = run_sweep([256, 1024], fake_measure(calls), BOOK, controller=controller)
    assert calls == [(256, controller), (1024, controller)]
    assert swept.method == "cgroup-v1"
    assert not swept.estimate
    assert "estimate" not in table(swept)


# ---------------------------------------------------------------------------------------------
# Real quotas on a real runtime


CPU_HANDLER = """
import time

def handler(event, context):
    started, n = time.process_time(), 0
    for i in range(event["loops"]):
        n += i
    return {"n": n, "cpu_s": time.process_time() - started}
"""


def _loops_for(seconds: float) -> int:
    """Loop iterations that take about `seconds` of one CPU here."""
    loops, started, n = 2_000_000, time.process_time(), 0
    for i in range(loops):
        n += i
    return int(loops * seconds / (time.process_time() - started))


def test_a_cpu_bound_handler_takes_twice_as_long_at_half_a_vcpu_and_gains_nothing_above_one(tmp_path: Path) -> None:
    try:
        controller = detect()
    except CgroupUnavailable as exc:
        pytest.skip(f"no writable cgroup CPU quota here: {exc}")
    (tmp_path / "cpu_bound.py").write_text(textwrap.dedent(CPU_HANDLER))
    cpu_s: list[float] = []  # the handler's own CPU time, per invocation, in order

    def answered(payload: Any) -> bool:
        cpu_s.append(payload["cpu_s"])
        return True

    event = json.dumps({"loops": _loops_for(0.4)}).encode()
    handler = Handler("cpu_bound.handler", event, answered, env={"PYTHONPATH": str(tmp_path)})

    def wall_per_cpu_second(cpus: float) -> float:
        """Warm wall time over the CPU time it did: the same work at every quota, whatever the core's speed."""
        cpu_s.clear()
        measured = measure_size(child_env(), handler, cpus, controller, runs=1, warm=2, warm_up=0)
        # cpu_s[0] is the cold invocation's; the two warm ones follow.
        return min(wall / cpu for wall, cpu in zip(measured.warm_s, cpu_s[1:], strict=True))

    # The wall time is divided by the handler's CPU time because these VMs' cores change speed when
    # the sibling core is busy (up to a third here): the work is the same, its CPU-seconds are not.
    attempts = []
    for _ in range(3):  # a burst of other work on the machine can spoil one attempt, not the quota
        one, half, two = wall_per_cpu_second(1.0), wall_per_cpu_second(0.5), wall_per_cpu_second(2.0)
        attempts.append((round(one, 3), round(half, 3), round(two, 3)))
        if half / one == pytest.approx(2.0, rel=0.15) and two / one == pytest.approx(1.0, rel=0.15):
            break
    print("wall seconds per CPU-second at 1, 0.5 and 2 vCPU, per attempt:", attempts)
    one, half, two = attempts[-1]
    assert half / one == pytest.approx(2.0, rel=0.15), attempts
    assert two / one == pytest.approx(1.0, rel=0.15), attempts  # a single thread gains nothing above 1 vCPU


@pytest.mark.slow
def test_sweep_command_on_the_real_handler_feeds_simulate(predict_env: dict[str, str], tmp_path: Path) -> None:
    out, chart = tmp_path / "sweep.json", tmp_path / "sweep.png"
    swept = compare("sweep", "--sizes", "1024,1769", "--runs", "1", "--warm", "10", "--choose", "fastest",
                    "--model-dir", predict_env["PREDICT_MODEL_DIR"],
                    "--out", str(out), "--chart", str(chart))  # fmt: skip
    assert swept.returncode == 0, swept.stderr
    assert "Lambda memory sweep" in swept.stdout
    assert "chosen for simulate" in swept.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = Sweep.read(out)
    assert [r.memory_mb for r in record.sizes] == [1024, 1769]
    for row in record.sizes:
        assert len(row.warm_s) == 10
        assert row.cold_start_s[0] > 10 * max(row.warm_s)  # init imports scikit-learn and loads the model
        assert row.estimate is record.estimate
    simulated = compare("simulate", "--profile", "steady", "--rate", "5", "--duration", "60", "--json",
                        "--service", "exp:0.005", "--cold", "const:1.2", "--sweep", str(out))  # fmt: skip
    assert simulated.returncode == 0, simulated.stderr
    assert json.loads(simulated.stdout)["lambda_sweep"]["memory_mb"] == record.picks["fastest"]
