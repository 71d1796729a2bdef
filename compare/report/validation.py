"""`compare validate --report DIR`: the measured-against-simulated table as an HTML section.

Written as DIR/validation.html and DIR/validation.json; where DIR already holds a report
(`simulate --report`'s index.html), the section goes into it too, replacing an earlier one.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core_speed import SLOW
from ..validation import SHARED, shared

START, END = "<!-- validation -->", "<!-- /validation -->"


def _figure(measured: float, simulated: float, error: float, met: bool, *, relative: bool) -> str:
    shown = "-" if math.isnan(error) else (f"{error:+.0%}" if relative else f"{error:+.3f}")
    style = "" if met else ' style="color:#c53030"'
    value = "{:.2f} / {:.2f}" if relative else "{:.3f} / {:.3f}"
    return f"<td>{value.format(measured, simulated)}</td><td{style}>{shown}</td>"


def validation_section(result: Mapping[str, Any]) -> str:
    targets = result["targets"]
    head = ("<tr><th>entry point</th><th>level</th><th>req/s</th><th>answered</th>"
            "<th>p50 ms measured / simulated</th><th>error</th><th>p99 ms measured / simulated</th><th>error</th>"
            "<th>utilisation measured / simulated</th><th>error</th></tr>")  # fmt: skip
    body = []
    for row in result["rows"]:
        body.append(
            f"<tr><th>{html.escape(row['entry_point'])}{' (driver-bound)' if row.get('driver_bound') else ''}"
            f"{' (shared core)' if shared(row) else ''}</th>"
            f"<td>{row['level']:.0%}</td>"
            f"<td>{row['offered_per_s']:,.0f}</td><td>{row.get('answered', 0):,}</td>"
            + _figures(row, row["simulated"], row["error"], row["met"])
            + "</tr>"
        )
        if "simulated_at_machine_speed" in row:
            body.append(_replayed(row))
    verdict = "every target met" if result["all_met"] else "targets missed are in red"
    if "all_met_at_machine_speed" in result:
        verdict += "; replayed at the machine's measured speed, " + (
            "every target met" if result["all_met_at_machine_speed"] else "some still missed"
        )
    return (
        f"{START}<h2>Validation: the simulator against a real run ({html.escape(result['mode'])})</h2>"
        f"<p>One single-worker server and a pool of {result['lambda_pool']} awslambdaric process(es) under Poisson "
        f"load at fractions of their measured capacity, {result['seconds_per_level']:g} s a level, against the "
        "simulation of the same arrivals from the calibration (one pod, no autoscaler; the pool as provisioned "
        f"concurrency). Targets: utilisation within {targets['utilisation_abs']:g} absolute, p50 within "
        f"{targets['p50_rel']:.0%}, p99 within {targets['p99_rel']:.0%}: {verdict}. Server utilisation is the "
        "process's CPU; Lambda's the environments' busy share (what it bills). Not shown: Lambda's own "
        "scheduling and a real network (both paths run on loopback). A row marked shared core ran while other "
        f"tasks or the hypervisor's steal took more than {SHARED:g} of a core on the measured or the driver's "
        "core, which no simulated pod sees. Each row's second line is the same simulation replayed at the speed "
        "the machine ran during that level, measured by a small probe on the driver's core: this machine's "
        "cores slow down now and then, both at once, for tens of milliseconds (invisible to its steal "
        "counter), and a simulated pod's core never does; the line gives the machine's mean speed and the "
        f"share of time it ran below {SLOW:g} of it.</p>"
        f"<table>{head}{''.join(body)}</table>{END}"
    )


def _replayed(row: Mapping[str, Any]) -> str:
    speed = row["machine_speed"]
    return (
        f'<tr><td colspan="4">at the machine\'s speed (mean {speed["mean_speed"]:.2f}, '
        f"{speed['slow_share']:.0%} of the time below {SLOW:g})</td>"
        + _figures(row, row["simulated_at_machine_speed"], row["error_at_machine_speed"], row["met_at_machine_speed"])
        + "</tr>"
    )


def _figures(row: Mapping[str, Any], s: Mapping[str, float], e: Mapping[str, float], ok: Mapping[str, bool]) -> str:
    """A row's three figures, measured against one simulation (`s`, its errors `e`, which met their targets)."""
    m = row["measured"]
    return (
        _figure(m["p50_ms"], s["p50_ms"], e["p50"], ok["p50"], relative=True)
        + _figure(m["p99_ms"], s["p99_ms"], e["p99"], ok["p99"], relative=True)
        + _figure(m["utilisation"], s["utilisation"], e["utilisation"], ok["utilisation"], relative=False)
    )


def write_validation(out_dir: Path, result: Mapping[str, Any]) -> Path:
    """validation.html and validation.json in `out_dir`; the section also into its index.html if there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    section = validation_section(result)
    (out_dir / "validation.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    page = out_dir / "validation.html"
    page.write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>twinserve: validation</title>'
        "<style>body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; } "
        "table { border-collapse: collapse; } td, th { padding: .3em .6em; border-bottom: 1px solid #e2e8f0; } "
        f"td {{ text-align: right; }}</style></head><body>{section}</body></html>\n"
    )
    index = out_dir / "index.html"
    if index.exists():
        text = index.read_text()
        if START in text and END in text:
            text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
        else:
            text = text.replace("</body>", section + "\n</body>", 1)
        index.write_text(text)
    return page
