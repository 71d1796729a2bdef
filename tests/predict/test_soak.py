"""A bounded soak on loopback: minutes at a rate one worker holds, zero errors, memory that stays put."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.load import LoadPlan, run_load, summarize
from compare.profiles import steady
from tests.helpers import child_env, uvicorn_server

RATE, WARM_UP_S, SOAK_S = 100.0, 15.0, 120.0


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident memory from /proc")
def test_soak_has_no_errors_and_no_memory_growth(predict_env: dict[str, str]) -> None:
    with uvicorn_server(child_env(**predict_env)) as server:
        warm = summarize(run_load(LoadPlan(url=server.url, arrivals=steady(RATE, WARM_UP_S).arrivals(seed=1))))
        before = resident_kib(server.process.pid)
        soak = summarize(run_load(LoadPlan(url=server.url, arrivals=steady(RATE, SOAK_S).arrivals(seed=2))))
        after = resident_kib(server.process.pid)
    growth = (after - before) / before
    print(
        f"\nsoak: {soak['requests']} requests in {SOAK_S:.0f} s, {soak['errors']} errors, p99 {soak['p99_ms']:.1f} ms;"
        f" RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB ({growth:+.2%})"
    )
    assert warm["errors"] == 0
    assert soak["errors"] == 0
    assert soak["requests"] > 0.9 * RATE * SOAK_S
    assert growth < 0.10
