"""Small statistics over samples: percentiles, and the median and range the tables show."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def percentile(samples: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile (the value below which `percent` % of the samples lie)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(samples: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """Median, range and count; the samples themselves stay beside it in the raw figures."""
    if not samples:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": round(statistics.median(samples), digits),
        "min": round(min(samples), digits),
        "max": round(max(samples), digits),
        "n": len(samples),
    }
