"""How fast the machine's cores ran, moment by moment, while a measured run ran; and the run replayed at that speed.

Why: on this project's test machine (a KVM guest) both cores now and then run at a fraction of their
speed for 20-130 ms, every second or two: a C loop with no system calls and no memory traffic did 5 %
of its usual work per 10 ms window at the worst, recovering over ~50 ms, on both cores at once (64 of
67 slow windows together), with the guest's steal counter at zero and no other task running. A
server caught in one runs its queue at that speed, and its p99 is those episodes: at 1,500 requests/s
every one of 163 requests the server took over 5 ms to answer (from a packet capture) came within
50 ms of a slow probe unit, against 13 % of all requests. The simulated pod has a core of constant
speed, so it cannot show them unless it is told the machine's speed over the run.

The probe: a process pinned to the load driver's core runs a fixed unit of pure-Python work every
`INTERVAL_S` and notes the unit's thread CPU time (not its wall time: a unit the driver preempts is
late, not slow; a unit on a slowed core takes more CPU time, as the guest counts it). A unit's speed is
the run's median unit CPU time over its own, at most 1; the machine's speed holds from one unit to the
next. It costs ~2 % of the driver's core (~40 us of work each 2 ms).

The replay: the run's wall clock is mapped to work time, the integral of the speed (`CoreSpeed`), the
simulation runs in work time at constant speed (its calibrated service times are full-speed figures),
and its answers are mapped back. Everything the simulated request does (its wait, its own work, the
overhead around it) then stretches where the machine was slow, as it did on the machine.
"""

from __future__ import annotations

import array
import math
import os
import signal
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import numpy as np

INTERVAL_S = 0.002
UNIT_ITERATIONS = 400  # ~40 us of CPython 3.12 on this machine: long next to the clock's noise, short next to 2 ms
MIN_SPEED = 0.01  # a unit 100x its median is a stall, not a measurement of speed; so is anything slower
SLOW = 0.5  # below this speed a moment counts as slow (the summary, and calibration's full-speed requests)
MAX_SLOW_SHARE = 0.5  # of a run's requests, the share calibration may leave out for slow moments, at most
START_TIMEOUT_S = 30.0


@dataclass(frozen=True, eq=False)  # arrays: no field-wise == or hash
class CoreSpeed:
    """The machine's speed over a run, on the run's clock (seconds from its start): piecewise constant from one
    probe unit to the next, full speed outside the probed stretch."""

    at_s: np.ndarray  # the probe units' start times, ascending
    speed: np.ndarray  # each unit's speed, in (0, 1]
    unit_cpu_s: float = math.nan  # the median unit's CPU time: full speed, as this run knew it

    @classmethod
    def of(cls, starts_s: np.ndarray, cpu_s: np.ndarray) -> CoreSpeed:
        """From the probe's units: start times on the run's clock and each unit's CPU time (full speed where there
        are none, or where the clock's origin is unknown)."""
        order = np.argsort(starts_s, kind="stable")
        starts, cpu = np.asarray(starts_s, float)[order], np.asarray(cpu_s, float)[order]
        if not starts.size or not np.isfinite(starts).all() or not np.median(cpu) > 0:
            return cls(np.zeros(0), np.zeros(0))
        median = float(np.median(cpu))
        return cls(starts, np.clip(median / np.maximum(cpu, 1e-12), MIN_SPEED, 1.0), median)

    @property
    def _knots(self) -> tuple[np.ndarray, np.ndarray]:
        """(wall, work) at each unit's start, with full speed before the first and after the last."""
        if self.at_s.size < 2:
            return np.array([0.0, 1.0]), np.array([0.0, 1.0])
        work = np.concatenate([[0.0], np.cumsum(self.speed[:-1] * np.diff(self.at_s))]) + self.at_s[0]
        # Work time counts from the run's start: units before it (the probe starts first) must not shift it.
        return self.at_s, work - float(_extend(np.zeros(1), self.at_s, work)[0])

    def work_time(self, wall_s: np.ndarray) -> np.ndarray:
        """Wall instants (the run's clock) as work time: full-speed seconds of work the machine could have done
        since the run's start."""
        wall, work = self._knots
        return _extend(np.asarray(wall_s, float), wall, work)

    def wall_time(self, work_s: np.ndarray) -> np.ndarray:
        """The inverse of work_time."""
        wall, work = self._knots
        return _extend(np.asarray(work_s, float), work, wall)

    def wall_spans(self, from_work_s: np.ndarray, until_work_s: np.ndarray) -> np.ndarray:
        """How long stretches of work time (a worker's busy spans, say) took on the wall clock."""
        return np.asarray(self.wall_time(until_work_s) - self.wall_time(from_work_s))

    def slow_during(self, from_s: np.ndarray, until_s: np.ndarray) -> np.ndarray:
        """Per stretch of the run's clock: whether the machine ran below SLOW at any moment of it (a probe unit that
        slow whose time, up to the next unit, overlaps it)."""
        start, end = np.asarray(from_s, float), np.asarray(until_s, float)
        if self.at_s.size == 0:
            return np.zeros(start.shape, dtype=bool)
        slow_before = np.concatenate([[0], np.cumsum(self.speed < SLOW)])  # slow units among the first k
        first = np.clip(np.searchsorted(self.at_s, start, side="right") - 1, 0, None)
        last = np.searchsorted(self.at_s, end, side="right")  # units starting at or before the end
        return np.asarray(slow_before[np.maximum(last, first)] - slow_before[first] > 0)

    def summary(self) -> dict[str, float | int]:
        """How the machine ran over the probed stretch: its mean speed, the share of time below SLOW, the slowest
        unit, the number of units and the median unit's CPU time (us: where runs differ, their full speeds did)."""
        if self.at_s.size < 2:  # no probe units: nothing measured, taken as full speed
            return {"units": int(self.at_s.size), "mean_speed": 1.0, "slow_share": 0.0, "min_speed": 1.0}
        spans = np.diff(self.at_s)
        speed = self.speed[:-1]
        total = float(spans.sum())
        return {
            "units": int(self.at_s.size),
            "mean_speed": round(float((speed * spans).sum() / total), 4),
            "slow_share": round(float(spans[speed < SLOW].sum() / total), 4),
            "min_speed": round(float(self.speed.min()), 4),
            "unit_cpu_us": round(self.unit_cpu_s * 1e6, 2),
        }


def full_speed(speed: CoreSpeed, from_s: np.ndarray, until_s: np.ndarray) -> np.ndarray:
    """Which stretches (requests, from send to answer) the machine ran at full speed throughout; all of them where
    more than MAX_SLOW_SHARE were slow: the rest would be too few to stand for the run."""
    slow = speed.slow_during(from_s, until_s)
    if slow.size and float(slow.sum()) > MAX_SLOW_SHARE * slow.size:
        return np.ones(slow.shape, dtype=bool)
    return ~slow


FULL_SPEED = CoreSpeed(np.zeros(0), np.zeros(0))  # a dedicated core that never slows: the plain simulation


def _extend(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """np.interp with slope-1 lines beyond both ends (full speed there), NaN kept."""
    inside = np.interp(x, xp, fp)
    below, above = x < xp[0], x > xp[-1]
    return np.asarray(np.where(below, fp[0] + (x - xp[0]), np.where(above, fp[-1] + (x - xp[-1]), inside)))


def _unit(iterations: int) -> int:
    x = 1
    for _ in range(iterations):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
    return x


def _run_time_s(schedstat: Path | None) -> float:
    """Seconds a watched thread has been on a CPU (/proc/PID/schedstat's first field, in ns); NaN when none."""
    if schedstat is None:
        return math.nan
    try:
        return int(schedstat.read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):  # gone, or no schedstats in this kernel
        return math.nan


def run_probe(out: Path, max_seconds: float, watch: int | None = None) -> None:
    """The probe's loop: until SIGTERM or `max_seconds`, a unit each INTERVAL_S; then (monotonic start, CPU
    seconds, the watched process's main thread's run time or NaN) per unit to `out` as float64s."""
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    records = array.array("d")
    out.write_bytes(b"")  # the parent waits for the file: it says the probe is set up
    schedstat = Path(f"/proc/{watch}/schedstat") if watch else None
    deadline = time.monotonic() + max_seconds
    while not stopping and time.monotonic() < deadline:
        started, cpu = time.monotonic(), time.thread_time()
        _unit(UNIT_ITERATIONS)
        records.extend((started, time.thread_time() - cpu, _run_time_s(schedstat)))
        time.sleep(INTERVAL_S)
    out.with_suffix(".tmp").write_bytes(records.tobytes())
    out.with_suffix(".tmp").replace(out)


class SpeedProbe:
    """A running probe; `speed(origin)` after `probe()` is done gives the machine's speed on a clock that starts
    at `origin` (a time.monotonic instant: a run's start)."""

    def __init__(self, samples: np.ndarray, process: subprocess.Popen[bytes] | None = None) -> None:
        self.samples = samples  # (n, 3): monotonic start, CPU seconds, the watched thread's run time (or NaN)
        self.process = process  # while it runs: its CPU on the driver's core is ours, not another task's

    def speed(self, origin: float) -> CoreSpeed:
        if not self.samples.size:
            return CoreSpeed.of(np.zeros(0), np.zeros(0))
        return CoreSpeed.of(self.samples[:, 0] - origin, self.samples[:, 1])

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def work_share(self) -> float:
        """Of the watched thread's run time over the probe (a process's main thread: a uvicorn worker's loop), the
        share that was full-speed work: each stretch of it between two units weighted by the machine's speed
        at the first. Its CPU time per request times this is what a request costs a core that never slows
        (1.0 where nothing was watched, or the kernel keeps no schedstat)."""
        read = self.samples[np.isfinite(self.samples[:, 2])] if self.samples.size else np.zeros((0, 3))
        if read.shape[0] < 2:
            return 1.0
        ran = np.diff(read[:, 2])
        total = float(ran.sum())
        speed = CoreSpeed.of(read[:, 0], read[:, 1]).speed  # in time order, as the probe wrote them
        return float((ran * speed[:-1]).sum() / total) if total > 0 else 1.0


@contextmanager
def probe(cpu: int | None, *, watch: int | None = None, max_seconds: float = 120.0) -> Iterator[SpeedProbe]:
    """The probe process on `cpu` (None: unpinned) for the block, reading `watch`'s run time at each unit; its
    samples in the yielded SpeedProbe once the block is done. Stopped by SIGTERM, or by itself after
    `max_seconds`."""
    result = SpeedProbe(np.zeros((0, 3)))
    with tempfile.TemporaryDirectory(prefix="twinserve-speed-") as folder:
        out = Path(folder) / "units.bin"
        command = [sys.executable, "-m", "compare.core_speed", str(out), str(max_seconds), str(watch or 0)]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)  # noqa: S603  # nosec B603
        result.process = process
        try:
            if cpu is not None and hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(process.pid, {cpu})
            deadline = time.monotonic() + START_TIMEOUT_S
            while not out.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the machine-speed probe did not start")
                time.sleep(0.01)
            yield result
        finally:
            from .processes import stop  # here, not at the top: the probe process itself imports this module

            stop(process)
        data = np.frombuffer(out.read_bytes(), dtype=np.float64) if out.exists() else np.zeros(0)
        result.samples = data[: data.size // 3 * 3].reshape(-1, 3)


if __name__ == "__main__":
    run_probe(Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]) or None)
