"""The comparison behind `compare validate`: measured against simulated figures, their errors, the targets.

Pure functions over numbers, so they are tested without a server. Errors: the latency percentiles'
relative ((simulated - measured) / measured), the utilisation's absolute (simulated - measured).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .core_speed import SLOW


@dataclass(frozen=True)
class Targets:
    utilisation_abs: float = 0.05
    p50_rel: float = 0.25
    p99_rel: float = 0.50


@dataclass(frozen=True)
class Figures:
    p50_ms: float
    p99_ms: float
    utilisation: float

    @classmethod
    def of(cls, latency_s: np.ndarray, utilisation: float) -> Figures:
        """p50 and p99 of the answered requests' latencies (NaN: unanswered, left out)."""
        answered = latency_s[~np.isnan(latency_s)]
        if not answered.size:
            return cls(math.nan, math.nan, utilisation)
        p50, p99 = np.percentile(answered, [50, 99]) * 1000
        return cls(float(p50), float(p99), utilisation)


def relative_error(measured: float, simulated: float) -> float:
    if not measured or math.isnan(measured) or math.isnan(simulated):
        return math.nan
    return (simulated - measured) / measured


def compare(measured: Figures, simulated: Figures, targets: Targets = Targets()) -> dict[str, Any]:
    """The errors and, per figure, whether its target is met (a NaN error never meets it)."""
    errors = {
        "p50": relative_error(measured.p50_ms, simulated.p50_ms),
        "p99": relative_error(measured.p99_ms, simulated.p99_ms),
        "utilisation": simulated.utilisation - measured.utilisation,
    }
    limits = {"p50": targets.p50_rel, "p99": targets.p99_rel, "utilisation": targets.utilisation_abs}
    met = {name: bool(abs(error) <= limits[name]) for name, error in errors.items() if not math.isnan(error)}
    return {"error": errors, "met": {name: met.get(name, False) for name in errors}}


def row(
    entry_point: str,
    fraction: float,
    offered_per_s: float,
    measured: Figures,
    simulated: Figures,
    *,
    at_machine_speed: tuple[Figures, dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One level of one entry point, as the JSON carries it; with `at_machine_speed`, the simulation replayed at the
    speed the machine ran during the level (compare/core_speed.py) and that speed's summary, compared likewise."""
    out = {
        "entry_point": entry_point,
        "level": fraction,
        "offered_per_s": round(offered_per_s, 1),
        "measured": _rounded(measured),
        "simulated": _rounded(simulated),
        **compare(measured, simulated),
    }
    if at_machine_speed is not None:
        replayed, machine = at_machine_speed
        errors = compare(measured, replayed)
        out |= {"machine_speed": machine, "simulated_at_machine_speed": _rounded(replayed),
                "error_at_machine_speed": errors["error"], "met_at_machine_speed": errors["met"]}  # fmt: skip
    return out | extra


def _rounded(figures: Figures) -> dict[str, float]:
    return {"p50_ms": round(figures.p50_ms, 3), "p99_ms": round(figures.p99_ms, 3),
            "utilisation": round(figures.utilisation, 4)}  # fmt: skip


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:+.0%}"


SHARED = 0.05  # cores of others' work on a row's cores beyond which the row is marked as run on a busy machine


def shared(r: Mapping[str, Any]) -> bool:
    """Other tasks, or the hypervisor's steal, took more than SHARED of the measured process's core or the
    driver's."""
    cores = (r.get("other_work_cores") or {}).values()
    return any(v > SHARED for core in cores if core for v in core.values())


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as text: measured / simulated and the error of each figure, '!' where a target is missed."""
    head = (f"{'entry':<8}{'level':>6}{'req/s':>8}{'sent':>8} | {'p50 ms meas/sim':>17}{'err':>7} | "
            f"{'p99 ms meas/sim':>17}{'err':>7} | {'util meas/sim':>15}{'err':>8}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in rows:
        entry = r["entry_point"] + ("*" if r.get("driver_bound") else "") + ("~" if shared(r) else "")
        m, s, e, ok = r["measured"], r["simulated"], r["error"], r["met"]
        mark = {name: " " if met else "!" for name, met in ok.items()}
        lines.append(
            f"{entry:<8}{r['level']:>6.0%}{r['offered_per_s']:>8,.0f}{r.get('requests', 0):>8,} | "
            f"{m['p50_ms']:>8.2f}/{s['p50_ms']:<8.2f}{_percent(e['p50']):>6}{mark['p50']} | "
            f"{m['p99_ms']:>8.2f}/{s['p99_ms']:<8.2f}{_percent(e['p99']):>6}{mark['p99']} | "
            f"{m['utilisation']:>7.3f}/{s['utilisation']:<7.3f}{e['utilisation']:>+7.3f}{mark['utilisation']}"
        )
        if "simulated_at_machine_speed" in r:
            lines.append(_replayed_line(r))
    if any("simulated_at_machine_speed" in r for r in rows):
        lines.append(
            "@ the same simulation replayed at the speed the machine ran during the level (a probe on the driver's "
            f"core): mean speed, and the share of time below {SLOW:g} of it"
        )
    if any(r.get("driver_bound") for r in rows):
        lines.append(
            "* driver-bound: the load driver fell behind its schedule, so the measured latency is partly its own"
        )
    capped = [r for r in rows if r.get("levels_capped_by_driver")]
    if capped:
        lines.append(
            f"{capped[0]['entry_point']}: levels capped where the load driver fell behind a capacity probe; "
            f"open-loop capacity {capped[0].get('capacity_per_s', 0):,.0f}/s, so a level's rate is the lower of "
            "its share of that and the highest rate the driver held"
        )
    if any(shared(r) for r in rows):
        lines.append(
            f"~ shared: other tasks or the hypervisor's steal took more than {SHARED:g} of a core on the measured "
            "or the driver's core (other_work_cores), which the simulated pod or pool never sees"
        )
    return "\n".join(lines)


def _replayed_line(r: Mapping[str, Any]) -> str:
    """A row's second line: measured against the simulation at the machine's speed."""
    m, s, e = r["measured"], r["simulated_at_machine_speed"], r["error_at_machine_speed"]
    mark = {name: " " if met else "!" for name, met in r["met_at_machine_speed"].items()}
    speed = r["machine_speed"]
    label = f"@{speed['mean_speed']:.2f}, {speed['slow_share']:.0%} slow"
    return (
        f"  {label:<28} | {m['p50_ms']:>8.2f}/{s['p50_ms']:<8.2f}{_percent(e['p50']):>6}{mark['p50']} | "
        f"{m['p99_ms']:>8.2f}/{s['p99_ms']:<8.2f}{_percent(e['p99']):>6}{mark['p99']} | "
        f"{m['utilisation']:>7.3f}/{s['utilisation']:<7.3f}{e['utilisation']:>+7.3f}{mark['utilisation']}"
    )


def all_met(rows: Sequence[Mapping[str, Any]], key: str = "met") -> bool:
    """Every figure of every row met its target (`key`: "met", or "met_at_machine_speed", which rows without a
    replay do not have: then it is not met)."""
    return all(key in r and all(r[key].values()) for r in rows)
