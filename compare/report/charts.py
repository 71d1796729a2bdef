"""The report's charts (matplotlib, no display needed): each function writes one PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in CI
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..platforms.base import RunRecords
from .series import binned

# By run (simulate's platforms, a measured run) and by plan (`plans` names each run after its plan).
COLORS = {
    "lambda": "#d9822b",
    "kubernetes": "#2b6cb0",
    "knative": "#c53030",
    "measured": "#2f855a",
    "lambda-pc": "#b7791f",
    "lambda-pc-scheduled": "#744210",
    "hybrid": "#805ad5",
    "knative-min-scale": "#ed64a6",
}
# What a run's instances are on each platform: Lambda's execution environments, the HPA's replicas, the KPA's pods.
INSTANCES = {
    "lambda": "environments",
    "lambda-pc": "environments",
    "lambda-pc-scheduled": "environments",
    "kubernetes": "replicas",
    "hybrid": "pods",
    "knative": "pods",
    "knative-min-scale": "pods",
}
CURVES = {"lambda": "Lambda + HTTP API", "k8s": "Kubernetes (HPA at target)", "knative": "Knative (KPA at target)"}
CURVE_COLORS = {"lambda": COLORS["lambda"], "k8s": COLORS["kubernetes"], "knative": COLORS["knative"]}


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_and_scale(runs: Sequence[RunRecords], path: Path, bin_s: float = 10.0) -> Path:
    """The main chart: offered load and instances (top), p50/p99 latency (middle), cold starts and errors."""
    fig, (load_ax, latency_ax, events_ax) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    offered_drawn = False
    for run in runs:
        color = COLORS.get(run.platform, "gray")
        series = binned(run, bin_s)
        minutes = series.start_s / 60
        if not offered_drawn:
            load_ax.fill_between(minutes, series.offered_per_s, step="post", color="#cbd5e0", label="offered req/s")
            offered_drawn = True
        if run.instances.size:
            what = INSTANCES.get(run.platform, "instances")
            load_ax.plot(run.seconds / 60, run.instances, color=color, label=f"{run.platform} {what}")
        latency_ax.plot(minutes, series.p50_ms, color=color, linestyle="--", label=f"{run.platform} p50")
        latency_ax.plot(minutes, series.p99_ms, color=color, label=f"{run.platform} p99")
        events_ax.step(minutes, series.cold_starts, where="post", color=color, label=f"{run.platform} cold starts")
        events_ax.step(minutes, series.errors, where="post", color=color, linestyle=":", label=f"{run.platform} errors")
    load_ax.set_ylabel("req/s | environments, replicas, pods")
    load_ax.set_yscale("symlog")
    latency_ax.set_ylabel("latency (ms)")
    latency_ax.set_yscale("log")
    events_ax.set_ylabel(f"per {bin_s:.0f} s")
    events_ax.set_xlabel("minutes")
    for ax in (load_ax, latency_ax, events_ax):
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    load_ax.set_title("Offered load; Lambda environments, HPA replicas, Knative pods; latency; cold starts and errors")
    return _save(fig, path)


def cost_curve(costs: Mapping[str, Any], path: Path) -> Path:
    """Cost per million requests against steady rate, a line per platform in `costs` (report/costs.py)."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    rates, crossover = costs["rates"], costs["crossover"]
    for name, label in CURVES.items():
        if name in costs:
            ax.plot(rates, costs[name], color=CURVE_COLORS[name], label=label)
    if crossover is not None:
        ax.axvline(crossover, color="black", linestyle="--", linewidth=1)
        ax.annotate(
            f"the HPA Deployment cheaper than Lambda above {crossover:g} req/s",
            (crossover, ax.get_ylim()[1] * 0.5),
            xytext=(8, 0),
            textcoords="offset points",
            fontsize=9,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("steady request rate (req/s)")
    ax.set_ylabel("USD per million requests")
    ax.set_title("Cost per million requests against request rate")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return _save(fig, path)
