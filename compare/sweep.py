"""The Lambda memory sweep: the real handler at each memory size's CPU share, priced, with Power Tuning's picks.

Lambda gives CPU in proportion to memory: 1,769 MB is one vCPU, smaller sizes that fraction of
one, up to 6 vCPU at 10,240 MB. Each size runs the handler as `calibrate` does (a fresh
awslambdaric process against the local Runtime API), inside a cgroup whose CPU quota is that share
(compare/cgroup.py): `runs` cold starts, each in a fresh process, the last one then serving the
warm requests. Where no cgroup can be written, the handler is measured once unlimited and its
times are divided by min(share, 1): an estimate, labelled so, that takes the handler for
single-threaded and this machine's core for one vCPU.

Cost per million requests is Lambda's requests and GB-seconds from the price book (no HTTP API,
the same at every size), billed on the warm times. Three picks are AWS Lambda Power Tuning's: the
cheapest, the fastest, and the balanced one minimising w * cost / max cost + (1 - w) * time / max
time, over averages that drop the top and bottom 20 % of warm times as Power Tuning does.

Those averages drop the tail, and below one vCPU the tail is the quota: a request that meets the end
of its share of a CFS period waits for the next one (up to (1 - share) x 100 ms; 85 ms at 256 MB),
which the trimmed mean never sees and a p99 target does. So a fourth pick, `p99`, is the cheapest size
whose warm p99 is within `p99_target_ms` (ties: the lower p99); none when no size meets it, and then
a sweep told to choose it falls back to the fastest, saying so. Its default target is half the plans'
end-to-end p99 target (100 ms): the handler's own p99 leaves the other half to queueing and cold
starts. It is what `simulate --sweep` and `plans --sweep` use unless told otherwise (`--choose`).
"""

from __future__ import annotations

import json
import math
import os
import statistics

# Only this interpreter is started, on awslambdaric, with fixed arguments (behind /bin/sh, see cgroup.py).
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from .calibration import machine_facts
from .cgroup import CgroupUnavailable, Controller, Quota, cpu_quota, detect
from .events import load_event, make_event, reply_from_lambda
from .measure import WARM_UP, batch_body
from .platforms.base import Empirical
from .prices import Architecture, LambdaUsage, PriceBook, lambda_cost
from .processes import LAMBDA_ENV, REPO, stop
from .runtime_api import LocalRuntimeAPI

DEFAULT_SIZES = (128, 256, 512, 1024, 1769, 3008)
MB_PER_VCPU = 1769
MIN_MB, MAX_MB, MAX_VCPU = 128, 10_240, 6.0
DISCARD = 0.2  # Power Tuning's discardTopBottom default
COLD_TIMEOUT_S = 600.0  # a 128 MB share (0.07 vCPU) stretches a few CPU-seconds of init a lot
DEFAULT_P99_TARGET_MS = 50.0  # the handler's warm p99: half the plans' end-to-end target (plan_types)
Strategy = Literal["cheapest", "fastest", "balanced", "p99"]
STRATEGIES: tuple[Strategy, ...] = ("cheapest", "fastest", "balanced", "p99")


def cpu_share(memory_mb: int) -> float:
    """vCPU Lambda gives a function of this size."""
    if not MIN_MB <= memory_mb <= MAX_MB:
        raise ValueError(f"Lambda memory is {MIN_MB} to {MAX_MB} MB, not {memory_mb}")
    return min(memory_mb / MB_PER_VCPU, MAX_VCPU)


def trimmed_mean(samples: Sequence[float], discard: float = DISCARD) -> float:
    """The mean without the top and bottom `discard` of the samples (Power Tuning's average)."""
    ordered = sorted(samples)
    cut = int(len(ordered) * discard)
    return statistics.fmean(ordered[cut : len(ordered) - cut] or ordered)


def cost_per_million(warm_s: Sequence[float], memory_mb: int, book: PriceBook, arch: Architecture) -> float:
    """USD for a million requests: the requests and GB-seconds, each request billed in whole increments."""
    step = float(book.raw["lambda"]["billing_granularity_ms"])
    billed_ms = trimmed_mean([math.ceil(s * 1000 / step) * step for s in warm_s])
    usage = LambdaUsage(requests=1_000_000, billed_ms_total=billed_ms * 1e6, memory_mb=memory_mb, architecture=arch)
    return lambda_cost(usage, book, through_http_api=False)["total"]


# ---------------------------------------------------------------------------------------------
# Measuring one size


@dataclass(frozen=True)
class Handler:
    """What awslambdaric runs, the event each invocation gets, and whether a response is right."""

    name: str
    event: bytes
    answered: Callable[[Any], bool]
    env: Mapping[str, str] = field(default_factory=dict)


def predict_handler() -> Handler:
    headers = {"content-type": "application/json"}
    event = make_event(load_event("predict-features-v2.json"), "POST", "/predict", batch_body(1), headers)

    def answered(payload: Any) -> bool:
        return bool(reply_from_lambda(payload).json() == {"prediction": 0})

    return Handler("predict.lambda_handler.handler", json.dumps(event).encode(), answered)


@dataclass(frozen=True)
class Measured:
    cold_start_s: list[float]
    warm_s: list[float]
    throttled_s: float | None = None  # time the quota held the process back, over all its runs


@contextmanager
def _runtime(env: Mapping[str, str], handler: Handler, quota: Quota | None) -> Iterator[tuple[LocalRuntimeAPI, float]]:
    """awslambdaric on `handler`, started inside the quota's cgroup; yields the API and its start time."""
    with LocalRuntimeAPI(timeout_s=COLD_TIMEOUT_S) as api, tempfile.TemporaryFile() as log:
        argv = [sys.executable, "-m", "awslambdaric", handler.name]
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603  # nosec B603
            quota.command(argv) if quota else argv,
            env={**LAMBDA_ENV, **env, **handler.env, "AWS_LAMBDA_RUNTIME_API": api.address},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            while not _ready(api):
                if process.poll() is not None:
                    log.seek(0)
                    tail = log.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"the runtime exited with {process.returncode} before its init ended: {tail}")
                if time.perf_counter() - started > COLD_TIMEOUT_S:
                    raise TimeoutError(f"the runtime did not finish init within {COLD_TIMEOUT_S:.0f} s")
            yield api, started
        finally:
            stop(process)


def _ready(api: LocalRuntimeAPI) -> bool:
    try:
        api.wait_ready(timeout_s=0.2)
    except TimeoutError:
        return False
    return True


def _invoke(api: LocalRuntimeAPI, handler: Handler) -> float:
    started = time.perf_counter()
    result = api.invoke(handler.event)
    elapsed = time.perf_counter() - started
    if not result.ok or not handler.answered(result.payload):
        raise RuntimeError(f"the handler answered wrongly: {result.payload}")
    return elapsed


def measure_size(
    env: Mapping[str, str],
    handler: Handler,
    cpus: float | None,
    controller: Controller | None,
    *,
    runs: int,
    warm: int,
    warm_up: int = WARM_UP,
) -> Measured:
    """`runs` cold starts under a `cpus` quota (none where cpus or controller is None), then warm times."""
    cold: list[float] = []
    warm_s: list[float] = []
    throttled = 0.0
    for run in range(runs):
        with ExitStack() as stack:
            quota = stack.enter_context(cpu_quota(cpus, controller)) if cpus and controller else None
            with _runtime(env, handler, quota) as (api, started):
                # The cold start: process start to the first right answer, init included.
                _invoke(api, handler)
                cold.append(time.perf_counter() - started)
                if run == runs - 1:
                    for _ in range(warm_up):
                        _invoke(api, handler)
                    warm_s = [_invoke(api, handler) for _ in range(warm)]
            if quota is not None:
                throttled += quota.throttled_s()
    return Measured(cold, warm_s, throttled if cpus and controller else None)


# ---------------------------------------------------------------------------------------------
# The sweep record


class SizeResult(BaseModel):
    memory_mb: int
    cpu_share: float = Field(description="vCPU Lambda gives this size")
    estimate: bool = Field(description="times scaled by the CPU share, not measured under a quota")
    beyond_machine: bool = Field(default=False, description="the share exceeds this machine's CPUs")
    cold_start_s: list[float] = Field(min_length=1)
    warm_s: list[float] = Field(min_length=1)
    throttled_s: float | None = None
    cold_start_p50_ms: float
    warm_p50_ms: float
    warm_p99_ms: float
    warm_avg_ms: float = Field(description="trimmed mean (top and bottom 20 % dropped), as Power Tuning's")
    cost_per_million_usd: float


class Sweep(BaseModel):
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    method: str = Field(description="cgroup-v1, cgroup-v2, or estimate")
    estimate: bool
    note: str | None = None
    machine: dict[str, Any] = Field(default_factory=dict)
    prices_checked: str
    architecture: str
    balanced_weight: float
    sizes: list[SizeResult] = Field(min_length=1)
    picks: dict[str, int]  # Power Tuning's three, and "p99" when a size meets the target
    chosen: Strategy
    p99_target_ms: float | None = Field(default=None, description="the warm p99 the p99 pick must meet")
    chosen_note: str | None = Field(default=None, description="why the chosen pick is not the one asked for")

    @classmethod
    def read(cls, path: Path) -> Sweep:
        try:
            return cls.model_validate_json(path.read_text())
        except FileNotFoundError as exc:
            raise ValueError(f"no sweep at {path}; run `python -m compare sweep` first") from exc

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n")
        return path

    @property
    def chosen_mb(self) -> int:
        return self.picks[self.chosen]

    @property
    def pick_text(self) -> str:
        """The chosen pick in words, as the output names it."""
        if self.chosen == "p99" and self.p99_target_ms is not None:
            return f"p99 pick: warm p99 within {self.p99_target_ms:g} ms"
        return f"{self.chosen}, Power Tuning's"

    def size(self, memory_mb: int | None = None) -> SizeResult:
        """One size's result: the chosen one by default."""
        wanted = self.chosen_mb if memory_mb is None else memory_mb
        for result in self.sizes:
            if result.memory_mb == wanted:
                return result
        raise ValueError(f"the sweep has no {wanted} MB; it measured {[r.memory_mb for r in self.sizes]}")

    def simulation_inputs(self, memory_mb: int | None = None) -> tuple[int, Empirical, Empirical]:
        """Memory, warm service time and a cold request's extra time, for `simulate`."""
        result = self.size(memory_mb)
        warm = Empirical(tuple(result.warm_s))
        return result.memory_mb, warm, Empirical(tuple(max(0.0, c - warm.mean) for c in result.cold_start_s))


def picks(rows: Sequence[SizeResult], balanced_weight: float) -> dict[str, int]:
    """Power Tuning's three: cheapest (ties: faster), fastest (ties: cheaper), balanced."""
    if not 0.0 <= balanced_weight <= 1.0:
        raise ValueError(f"the balanced weight is between 0 (fastest) and 1 (cheapest), not {balanced_weight}")
    max_cost = max(r.cost_per_million_usd for r in rows)
    max_time = max(r.warm_avg_ms for r in rows)

    def balanced(r: SizeResult) -> float:
        return balanced_weight * r.cost_per_million_usd / max_cost + (1 - balanced_weight) * r.warm_avg_ms / max_time

    return {
        "cheapest": min(rows, key=lambda r: (r.cost_per_million_usd, r.warm_avg_ms)).memory_mb,
        "fastest": min(rows, key=lambda r: (r.warm_avg_ms, r.cost_per_million_usd)).memory_mb,
        "balanced": min(rows, key=balanced).memory_mb,
    }


def p99_pick(rows: Sequence[SizeResult], target_ms: float) -> int | None:
    """The cheapest size whose warm p99 is within the target (ties: the lower p99); None when none is."""
    if target_ms <= 0:
        raise ValueError(f"the p99 target must be positive, not {target_ms} ms")
    meeting = [r for r in rows if r.warm_p99_ms <= target_ms]
    return min(meeting, key=lambda r: (r.cost_per_million_usd, r.warm_p99_ms)).memory_mb if meeting else None


def no_p99_pick_text(rows: Sequence[SizeResult], target_ms: float) -> str:
    lowest = min(rows, key=lambda r: r.warm_p99_ms)
    return (
        f"no size's warm p99 is within {target_ms:g} ms (the lowest: {lowest.memory_mb} MB at "
        f"{lowest.warm_p99_ms:,.1f} ms)"
    )


def size_result(
    memory_mb: int, measured: Measured, book: PriceBook, arch: Architecture, *, estimate: bool
) -> SizeResult:
    return SizeResult(
        memory_mb=memory_mb,
        cpu_share=round(cpu_share(memory_mb), 4),
        estimate=estimate,
        beyond_machine=cpu_share(memory_mb) > (os.cpu_count() or 1),
        cold_start_s=measured.cold_start_s,
        warm_s=measured.warm_s,
        throttled_s=measured.throttled_s,
        cold_start_p50_ms=round(statistics.median(measured.cold_start_s) * 1000, 2),
        warm_p50_ms=round(float(np.percentile(measured.warm_s, 50)) * 1000, 3),
        warm_p99_ms=round(float(np.percentile(measured.warm_s, 99)) * 1000, 3),
        warm_avg_ms=round(trimmed_mean(measured.warm_s) * 1000, 3),
        cost_per_million_usd=round(cost_per_million(measured.warm_s, memory_mb, book, arch), 4),
    )


def scaled(measured: Measured, share: float) -> Measured:
    """The estimate: unlimited times slowed by the share, no gain above one vCPU (one thread)."""
    factor = 1 / min(share, 1.0)
    return Measured([t * factor for t in measured.cold_start_s], [t * factor for t in measured.warm_s])


Measure = Callable[[int | None, Controller | None], Measured]  # (memory MB or None: unlimited, controller)


def measurer(env: Mapping[str, str], handler: Handler, *, runs: int, warm: int, warm_up: int = WARM_UP) -> Measure:
    """measure_size for a memory size: its CPU share as the quota, its size in the Lambda environment."""
    if runs < 1 or warm < 1:
        raise ValueError(f"a sweep needs at least one cold start and one warm request per size, not {runs} and {warm}")

    def measure(memory_mb: int | None, controller: Controller | None) -> Measured:
        size_env = {**env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb or MB_PER_VCPU)}
        cpus = cpu_share(memory_mb) if memory_mb else None
        return measure_size(size_env, handler, cpus, controller, runs=runs, warm=warm, warm_up=warm_up)

    return measure


def run_sweep(
    sizes: Sequence[int],
    measure: Measure,
    book: PriceBook,
    *,
    controller: Controller | None,
    note: str | None = None,
    balanced_weight: float = 0.5,
    chosen: Strategy = "p99",
    p99_target_ms: float = DEFAULT_P99_TARGET_MS,
    arch: Architecture = "x86_64",
    progress: Callable[[str], None] = lambda _: None,
) -> Sweep:
    """Measure each size under its quota (controller given) or scale one unlimited measurement."""
    sizes = sorted(set(sizes))
    shares = {mb: cpu_share(mb) for mb in sizes}  # validates every size before anything runs
    rows = []
    if controller is None:
        progress("measuring once without a quota; every size is an estimate")
        base = measure(None, None)
        rows = [size_result(mb, scaled(base, shares[mb]), book, arch, estimate=True) for mb in sizes]
    else:
        for mb in sizes:
            progress(f"{mb} MB: {shares[mb]:.3f} vCPU under {controller.label}")
            rows.append(size_result(mb, measure(mb, controller), book, arch, estimate=False))
    found = picks(rows, balanced_weight)
    within = p99_pick(rows, p99_target_ms)
    chosen_note = None
    if within is not None:
        found["p99"] = within
    elif chosen == "p99":
        chosen, chosen_note = "fastest", f"{no_p99_pick_text(rows, p99_target_ms)}: the fastest instead"
        progress(chosen_note)
    return Sweep(
        method=controller.label if controller else "estimate",
        estimate=controller is None,
        note=note,
        machine=machine_facts(),
        prices_checked=book.checked,
        architecture=arch,
        balanced_weight=balanced_weight,
        sizes=rows,
        picks=found,
        chosen=chosen,
        p99_target_ms=p99_target_ms,
        chosen_note=chosen_note,
    )


def find_controller(*, estimate: bool = False) -> tuple[Controller | None, str | None]:
    """The cgroup controller to use, or None and the reason the sweep is an estimate."""
    if estimate:
        return None, "estimate asked for: times measured once and scaled by the CPU share"
    try:
        return detect(), None
    except CgroupUnavailable as exc:
        return None, f"{exc}; times measured once and scaled by the CPU share (an estimate)"


def table(sweep: Sweep) -> str:
    """The sweep as text: one row per size, the picks below."""
    mark = " (estimate)" if sweep.estimate else ""
    lines = [
        f"Lambda memory sweep{mark}: {sweep.method}, prices checked {sweep.prices_checked} ({sweep.architecture})",
        f"{'MB':>6} {'vCPU':>6} {'cold p50 ms':>12} {'warm p50 ms':>12} {'warm p99 ms':>12} {'USD/M req':>10}",
    ]
    for r in sweep.sizes:
        flags = " estimate" if r.estimate else ""
        flags += " (share above this machine's CPUs)" if r.beyond_machine else ""
        flags += "".join(f" <- {name}" for name, mb in sweep.picks.items() if mb == r.memory_mb)
        lines.append(
            f"{r.memory_mb:>6} {r.cpu_share:>6.3f} {r.cold_start_p50_ms:>12,.1f} {r.warm_p50_ms:>12,.2f}"
            f" {r.warm_p99_ms:>12,.2f} {r.cost_per_million_usd:>10.4f}{flags}"
        )
    lines.append(
        f"Power Tuning's picks (trimmed means): cheapest {sweep.picks['cheapest']} MB, fastest "
        f"{sweep.picks['fastest']} MB, balanced (weight {sweep.balanced_weight:g}) {sweep.picks['balanced']} MB"
    )
    if sweep.p99_target_ms is not None:
        target = sweep.p99_target_ms
        lines.append(
            f"p99 pick: {sweep.picks['p99']} MB, the cheapest whose warm p99 is within {target:g} ms"
            if "p99" in sweep.picks
            else f"p99 pick: none, {no_p99_pick_text(sweep.sizes, target)}"
        )
    chosen = f"chosen for simulate and plans: {sweep.chosen_mb} MB ({sweep.pick_text}){mark}"
    lines.append(chosen + (f"; {sweep.chosen_note}" if sweep.chosen_note else ""))
    if sweep.note:
        lines.append(f"note: {sweep.note}")
    return "\n".join(lines)
