"""Traffic profiles: a piecewise-constant request rate, and arrival times drawn from it.

Arrivals are a Poisson process whose rate is constant within each segment (a non-homogeneous
Poisson process with a step rate): per segment, the count is Poisson(rate x duration) and the
times are uniform within it, which is exact and vectorised.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MINUTE = 60.0
DAY = 24 * 3600.0


@dataclass(frozen=True)
class Segment:
    duration_s: float
    rate_per_s: float

    def __post_init__(self) -> None:
        if self.duration_s <= 0 or not math.isfinite(self.duration_s):
            raise ValueError(f"segment duration must be positive and finite, got {self.duration_s}")
        if self.rate_per_s < 0 or not math.isfinite(self.rate_per_s):
            raise ValueError(f"segment rate must be non-negative and finite, got {self.rate_per_s}")


@dataclass(frozen=True)
class Profile:
    name: str
    segments: tuple[Segment, ...]

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.segments)

    @property
    def peak_rate(self) -> float:
        return max(s.rate_per_s for s in self.segments)

    @property
    def expected_requests(self) -> float:
        return sum(s.duration_s * s.rate_per_s for s in self.segments)

    def scaled(self, factor: float) -> Profile:
        """The same shape at `factor` times the rate (e.g. to fit what a machine can serve)."""
        if factor <= 0:
            raise ValueError("scale factor must be positive")
        return Profile(self.name, tuple(Segment(s.duration_s, s.rate_per_s * factor) for s in self.segments))

    def to_peak(self, peak_rate: float) -> Profile:
        return self.scaled(peak_rate / self.peak_rate) if self.peak_rate > 0 else self

    def rate_at(self, t: float) -> float:
        start = 0.0
        for segment in self.segments:
            if t < start + segment.duration_s:
                return segment.rate_per_s
            start += segment.duration_s
        return 0.0

    def arrivals(self, seed: int = 0) -> np.ndarray:
        """Sorted arrival times in seconds from the profile's start."""
        rng = np.random.default_rng(seed)
        parts = []
        start = 0.0
        for segment in self.segments:
            count = rng.poisson(segment.rate_per_s * segment.duration_s)
            parts.append(np.sort(rng.uniform(start, start + segment.duration_s, count)))
            start += segment.duration_s
        return np.concatenate(parts) if parts else np.empty(0)


def steady(rate_per_s: float = 50.0, duration_s: float = 600.0) -> Profile:
    return Profile("steady", (Segment(duration_s, rate_per_s),))


def seed_ramp(minutes_per_step: float = 10.0) -> Profile:
    """The tutorials' ramp: 50 requests/s, then 200, then 500, ten minutes each, then back down."""
    step = minutes_per_step * MINUTE
    rates = (50.0, 200.0, 500.0, 200.0, 50.0)
    return Profile("seed", tuple(Segment(step, rate) for rate in rates))


def spike(
    base_rate: float = 50.0,
    factor: float = 10.0,
    before_s: float = 600.0,
    spike_s: float = 180.0,
    after_s: float = 600.0,
) -> Profile:
    """A steady base with a sudden `factor` x burst for a few minutes."""
    return Profile(
        "spike",
        (Segment(before_s, base_rate), Segment(spike_s, base_rate * factor), Segment(after_s, base_rate)),
    )


def diurnal(peak_rate: float = 200.0, trough_fraction: float = 0.1, step_s: float = 5 * MINUTE) -> Profile:
    """24 hours: a sinusoid from `trough_fraction` x peak at 04:00 to the peak at 16:00, in steps."""
    segments = []
    for start in np.arange(0.0, DAY, step_s):
        middle = start + step_s / 2
        phase = math.cos(2 * math.pi * (middle - 16 * 3600) / DAY)  # 1 at 16:00, -1 at 04:00
        level = trough_fraction + (1 - trough_fraction) * (phase + 1) / 2
        segments.append(Segment(step_s, peak_rate * level))
    return Profile("diurnal", tuple(segments))


def from_per_minute_counts(name: str, counts: Sequence[float]) -> Profile:
    if not counts:
        raise ValueError("the trace has no minutes")
    return Profile(name, tuple(Segment(MINUTE, float(c) / MINUTE) for c in counts))


def read_trace_csv(path: Path) -> Profile:
    """Invocations per minute from a CSV: either the Azure Functions trace format (columns
    HashOwner, HashApp, HashFunction, Trigger, then 1..1440, one row per function: summed), or a
    single column of counts (with or without a header)."""
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        raise ValueError(f"{path}: empty trace")
    header = rows[0]
    if header[:1] == ["HashOwner"] or "1" in header:
        minute_columns = [i for i, name in enumerate(header) if name.strip().isdigit()]
        totals = [0.0] * len(minute_columns)
        for line, row in enumerate(rows[1:], start=2):
            for slot, column in enumerate(minute_columns):
                totals[slot] += _count(row[column] if column < len(row) else "0", path, line)
        return from_per_minute_counts(path.stem, totals)
    start = 0 if _is_number(header[0]) else 1
    return from_per_minute_counts(path.stem, [_count(row[0], path, i + 1) for i, row in enumerate(rows[start:], start)])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _count(text: str, path: Path, line: int) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise ValueError(f"{path}:{line}: not a count: {text!r}") from exc
    if value < 0 or not math.isfinite(value):
        raise ValueError(f"{path}:{line}: counts must be non-negative and finite, got {text!r}")
    return value


BUILT_IN: dict[str, Callable[[], Profile]] = {"seed": seed_ramp, "steady": steady, "spike": spike, "diurnal": diurnal}
