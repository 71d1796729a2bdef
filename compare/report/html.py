"""A self-contained HTML report: the summary table and the charts, images embedded."""

from __future__ import annotations

import base64
import csv
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..platforms.base import RunRecords
from .charts import cost_curve, latency_and_scale
from .costs import verdict as cost_verdict
from .series import binned

ROWS = [
    ("requests", "requests", "{:,.0f}"),
    ("ok", "answered 2xx", "{:,.0f}"),
    ("errors", "errors (4xx/5xx/none)", "{:,.0f}"),
    ("throttled", "throttled (429)", "{:,.0f}"),
    ("cold_starts", "cold starts", "{:,.0f}"),
    ("p50_ms", "p50 latency (ms)", "{:,.1f}"),
    ("p95_ms", "p95 latency (ms)", "{:,.1f}"),
    ("p99_ms", "p99 latency (ms)", "{:,.1f}"),
    ("max_instances", "most environments / replicas", "{:,.0f}"),
    ("cost_usd", "cost of the run (USD)", "{:,.4f}"),
]


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


# A measured run whose driver fell behind its schedule: what its client saw is not the server's latency.
DRIVER_BOUND_HIDES = {"p50_ms", "p95_ms", "p99_ms"}


def _cell(summary: Mapping[str, float], key: str, fmt: str) -> str:
    if summary.get("driver_bound") == 1.0 and key in DRIVER_BOUND_HIDES:
        return "<td>driver-bound</td>"
    return f"<td>{fmt.format(summary[key]) if key in summary and not np.isnan(summary[key]) else '-'}</td>"


def _table(summaries: Mapping[str, Mapping[str, float]]) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in summaries)
    body = []
    for key, label, fmt in ROWS:
        cells = "".join(_cell(s, key, fmt) for s in summaries.values())
        body.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"


def write_per_second(run: RunRecords, path: Path) -> Path:
    """One row per second: offered load, latency percentiles, cold starts, errors, instances."""
    series = binned(run, 1.0)
    size = series.start_s.size
    instances = np.full(size, np.nan)
    busy = np.full(size, np.nan)
    shared = min(size, run.instances.size)
    instances[:shared], busy[:shared] = run.instances[:shared], run.busy[:shared]
    columns = {
        "second": series.start_s,
        "offered": series.offered_per_s,
        "p50_ms": series.p50_ms,
        "p99_ms": series.p99_ms,
        "cold_starts": series.cold_starts,
        "errors": series.errors,
        "instances": instances,
        "busy_or_ready": busy,
    }
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(zip(*(np.round(c, 3).tolist() for c in columns.values()), strict=True))
    return path


def write_report(
    out_dir: Path,
    title: str,
    runs: Sequence[RunRecords],
    *,
    summaries: Mapping[str, Mapping[str, float]],
    costs: Mapping[str, Any] | None,
    notes: Sequence[str] = (),
    top: str = "",
    extra_summary: Mapping[str, Any] | None = None,
) -> Path:
    """The page (index.html), summary.json and per-second CSVs in `out_dir`. `top`: HTML that opens the
    page, before the verdict (the recommendation); `extra_summary`: more keys for summary.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:
        write_per_second(run, out_dir / f"{run.platform}_per_second.csv")
    main_chart = latency_and_scale(runs, out_dir / "latency_and_scale.png")
    images = [_img(main_chart)]
    crossover, verdict = None, "Measured runs only: simulate with a calibration for the cost comparison."
    if costs is not None:
        curve_path = out_dir / "cost_per_million.png"
        images.append(_img(cost_curve(costs, curve_path)))
        crossover = costs["crossover"]
        verdict = cost_verdict(costs)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #1a202c; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ padding: .3em .8em; border-bottom: 1px solid #e2e8f0; }}
td {{ text-align: right; font-variant-numeric: tabular-nums; }} th {{ text-align: left; }}
img {{ max-width: 100%; }} .note {{ color: #4a5568; font-size: .9em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
{top}
<p>{verdict}</p>
{_table(summaries)}
{"".join(images)}
{"".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)}
</body></html>
"""
    (out_dir / "index.html").write_text(page)
    (out_dir / "summary.json").write_text(
        json.dumps(
            {
                "title": title,
                "summaries": summaries,
                "crossover_req_per_s": crossover,
                "cheapest_by_rate": costs["cheapest"] if costs is not None else None,
                **(extra_summary or {}),
            },
            indent=2,
            default=float,
        )
        + "\n"
    )
    return out_dir / "index.html"
