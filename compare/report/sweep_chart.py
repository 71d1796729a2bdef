"""The memory sweep's chart (matplotlib, no display needed): time and cost against Lambda memory."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in CI
import matplotlib.pyplot as plt

from ..sweep import Sweep
from .charts import COLORS


def sweep_chart(sweep: Sweep, path: Path) -> Path:
    """Cold start and warm p50/p99 (top, log ms) and cost per million requests (bottom), picks marked."""
    mb = [r.memory_mb for r in sweep.sizes]
    label = " (estimate)" if sweep.estimate else ""
    fig, (time_ax, cost_ax) = plt.subplots(2, 1, figsize=(10, 7.5), sharex=True)
    time_ax.plot(mb, [r.cold_start_p50_ms for r in sweep.sizes], "s-", color="#805ad5", label=f"cold start p50{label}")
    time_ax.plot(mb, [r.warm_p99_ms for r in sweep.sizes], "o-", color=COLORS["lambda"], label=f"warm p99{label}")
    time_ax.plot(mb, [r.warm_p50_ms for r in sweep.sizes], "o--", color=COLORS["lambda"], label=f"warm p50{label}")
    if sweep.p99_target_ms is not None:
        time_ax.axhline(sweep.p99_target_ms, color="#c53030", linestyle="--", linewidth=1,
                        label=f"p99 target of the p99 pick ({sweep.p99_target_ms:g} ms)")  # fmt: skip
    time_ax.set_yscale("log")
    time_ax.set_ylabel("time (ms)")
    cost_ax.plot(mb, [r.cost_per_million_usd for r in sweep.sizes], "o-", color=COLORS["kubernetes"],
                 label=f"requests + GB-s{label}")  # fmt: skip
    cost_ax.set_ylabel("USD per million requests")
    cost_ax.set_xlabel("Lambda memory (MB); 1,769 MB = 1 vCPU")
    cost_ax.set_xscale("log", base=2)
    cost_ax.set_xticks(mb, [str(m) for m in mb])
    cost_ax.minorticks_off()
    by_size: dict[int, list[str]] = {}
    for name, size in sweep.picks.items():
        by_size.setdefault(size, []).append(name)
    for size, names in by_size.items():
        row = sweep.size(size)
        for ax in (time_ax, cost_ax):
            ax.axvline(size, color="gray", linestyle=":", linewidth=1)
        cost_ax.annotate(
            " + ".join(names) + (" (chosen)" if size == sweep.chosen_mb else ""),
            (size, row.cost_per_million_usd),
            xytext=(6, 8),
            textcoords="offset points",
            fontsize=8,
        )
    cost_ax.margins(x=0.08, y=0.15)
    for ax in (time_ax, cost_ax):
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="best", fontsize=8)
    how = "ESTIMATE: times scaled by CPU share, no cgroup quota" if sweep.estimate else f"{sweep.method} CPU quota"
    time_ax.set_title(f"Lambda memory sweep: time and cost against memory ({how})")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
