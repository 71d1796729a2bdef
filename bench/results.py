"""From one run's raw measurements to its figures (median and range per app), the ratios the issue
asks for, whether each target is met; written as JSON and shown as tables."""

from __future__ import annotations

import json
import operator
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .stats import percentile, summary

APPS = ("baseline", "twinserve", "ceiling")
RATIO_KEYS = (
    "throughput_vs_ceiling",
    "throughput_vs_baseline",
    "one_connection_p50_vs_ceiling",
    "lambda_invoke_vs_ceiling",
    "cold_start_server_vs_ceiling",
    "cold_start_lambda_vs_ceiling",
    "cold_start_container_vs_process",
    "memory_mib_over_ceiling",
    "memory_anon_mib_over_ceiling",
    "zip_variant_mb",
)
_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le, "<": operator.lt}
TARGETS: dict[str, tuple[str, float]] = {
    "throughput_vs_ceiling": (">=", 0.8),
    "one_connection_p50_vs_ceiling": ("<=", 1.5),
    "lambda_invoke_vs_ceiling": ("<=", 1.5),
    "cold_start_server_vs_ceiling": ("<=", 1.5),
    "cold_start_lambda_vs_ceiling": ("<=", 1.5),
    "memory_mib_over_ceiling": ("<=", 40.0),
    "zip_variant_mb": ("<", 120.0),
}


def _per_round(rounds: Sequence[Mapping[str, Any]], path: Sequence[str]) -> list[float]:
    """One value per round that has it, e.g. path ("servers", "twinserve", "throughput", "requests_per_s")."""
    values: list[float] = []
    for round_ in rounds:
        node: Any = round_
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, int | float):
            values.append(float(node))
    return values


def _load_figure(rounds: Sequence[Mapping[str, Any]], kind: str) -> dict[str, Any]:
    """Median and range over the rounds; a run without a single response has no latency to count."""
    figure: dict[str, Any] = {}
    for app in APPS:
        runs = [r for r in rounds if (_per_round([r], ("servers", app, kind, "requests")) or [0])[0] > 0]
        if runs:
            figure[app] = {
                metric: summary(_per_round(runs, ("servers", app, kind, metric)), 2)
                for metric in ("requests_per_s", "p50_ms", "p99_ms")
            }
            figure[app]["runs"] = len(runs)
    return figure


def _invoke_figure(rounds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    figure: dict[str, Any] = {}
    for app in APPS:
        runs = [r["lambda_invoke"][app] for r in rounds if app in r.get("lambda_invoke", {})]
        if runs:
            figure[app] = {
                "median_ms": summary([statistics.median(run["samples_ms"]) for run in runs], 4),
                "p99_ms": summary([percentile(run["samples_ms"], 99) for run in runs], 4),
                "invocations": sum(len(run["samples_ms"]) for run in runs),
                "init_s": summary([run["init_s"] for run in runs]),
            }
    return figure


def _cold_figure(rounds: Sequence[Mapping[str, Any]], kind: str) -> dict[str, Any]:
    figure: dict[str, Any] = {}
    for app in APPS:
        samples = [s for r in rounds for s in r.get("cold_starts", {}).get(app, {}).get(kind, [])]
        if kind == "server":  # each round's measured server started cold too
            samples += _per_round(rounds, ("servers", app, "cold_start_s"))
        if samples:
            figure[app] = {"seconds": summary(samples), "samples_s": [round(s, 4) for s in samples]}
    return figure


def _batch_figure(rounds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    runs = [r["batch"] for r in rounds if r.get("batch")]
    if not runs:
        return {}
    return {
        "twinserve": {
            "rows": runs[0]["rows"],
            "serving_form": runs[0].get("serving_form"),
            "model_predict_ms": summary([statistics.median(run["model_predict_ms"]) for run in runs], 4),
            "handler_ms": summary([statistics.median(run["handler_ms"]) for run in runs], 4),
        }
    }


def figures(raw: Mapping[str, Any]) -> dict[str, Any]:
    rounds: Sequence[Mapping[str, Any]] = raw["rounds"]
    memory = {
        app: {
            "rss_mib": m["after"]["rss_mib"],
            "hwm_mib": m["after"]["hwm_mib"],
            "anon_mib": m["after"].get("anon_mib"),
            "file_mib": m["after"].get("file_mib"),
            "idle_rss_mib": m["idle"]["rss_mib"],
            "requests": m["requests"],
        }
        for app, m in (raw.get("memory") or {}).items()
    }
    return {
        "throughput": _load_figure(rounds, "throughput"),
        "one_connection": _load_figure(rounds, "one_connection"),
        "lambda_invoke": _invoke_figure(rounds),
        "cold_start_server": _cold_figure(rounds, "server"),
        "cold_start_lambda": _cold_figure(rounds, "lambda"),
        "cold_start_container": _cold_figure(rounds, "container"),
        "memory": memory,
        "batch": _batch_figure(rounds),
        "sizes": raw.get("sizes") or {"skipped": "not measured in this run"},
        "containers": raw.get("containers") or {"skipped": "not measured in this run"},
    }


def _median(figure: Mapping[str, Any], *path: str) -> float | None:
    node: Any = figure
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, int | float) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def ratios(fig: Mapping[str, Any]) -> dict[str, float | None]:
    """twinserve against the ceiling (and the baseline), from the medians."""

    def both(name: str, *path: str) -> tuple[float | None, float | None]:
        return _median(fig, name, "twinserve", *path), _median(fig, name, "ceiling", *path)

    twin_rps, ceiling_rps = both("throughput", "requests_per_s", "median")
    memory_twin, memory_ceiling = both("memory", "rss_mib")
    return {
        "throughput_vs_ceiling": _ratio(twin_rps, ceiling_rps),
        "throughput_vs_baseline": _ratio(twin_rps, _median(fig, "throughput", "baseline", "requests_per_s", "median")),
        "one_connection_p50_vs_ceiling": _ratio(*both("one_connection", "p50_ms", "median")),
        "lambda_invoke_vs_ceiling": _ratio(*both("lambda_invoke", "median_ms", "median")),
        "cold_start_server_vs_ceiling": _ratio(*both("cold_start_server", "seconds", "median")),
        "cold_start_lambda_vs_ceiling": _ratio(*both("cold_start_lambda", "seconds", "median")),
        # twinserve's server as a pod starts it (docker run, the Deployment's contract) against its bare process
        "cold_start_container_vs_process": _ratio(
            _median(fig, "cold_start_container", "twinserve", "seconds", "median"),
            _median(fig, "cold_start_server", "twinserve", "seconds", "median"),
        ),
        "memory_mib_over_ceiling": _difference(memory_twin, memory_ceiling),
        # No target: the heap alone, without shared libraries' pages (see bench.apps.rss_mib).
        "memory_anon_mib_over_ceiling": _difference(*both("memory", "anon_mib")),
        "zip_variant_mb": _median(fig, "sizes", "zip_variant", "mb"),
    }


def _difference(a: float | None, b: float | None) -> float | None:
    return round(a - b, 1) if a is not None and b is not None else None


def targets(values: Mapping[str, float | None]) -> dict[str, dict[str, Any]]:
    """For each target: the value, the target, and whether it is met (None: not measured in this run)."""
    result: dict[str, dict[str, Any]] = {}
    for key, (op, limit) in TARGETS.items():
        value = values.get(key)
        met = None if value is None else _OPS[op](value, limit)
        result[key] = {"value": value, "target": f"{op} {limit:g}", "met": met}
    return result


def document(raw: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    fig = figures(raw)
    values = ratios(fig)
    return {**meta, "figures": fig, "ratios": values, "targets": targets(values), "raw": raw}


def write(doc: Mapping[str, Any], directory: Path, date: str) -> list[Path]:
    """bench/results/latest.json and a dated copy, each written whole (through a .tmp file)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2) + "\n"
    paths = [directory / "latest.json", directory / f"{date}.json"]
    for path in paths:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return paths


# Tables.


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _cell(stats: Any, digits: int) -> str:
    if not isinstance(stats, Mapping) or stats.get("median") is None:
        return "-"
    if stats.get("n", 1) <= 1 or stats["min"] == stats["max"]:
        return _fmt(stats["median"], digits)
    return f"{_fmt(stats['median'], digits)} [{_fmt(stats['min'], digits)}-{_fmt(stats['max'], digits)}]"


def figure_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    """Rows of the figures table: what, then one cell per app (median [min-max])."""
    fig = doc["figures"]
    conns = doc.get("config", {}).get("connections", 16)
    tool = str(doc.get("load_generator", "wrk")).split()[0]
    rows: list[tuple[str, str, tuple[str, ...], int]] = [
        (f"1. req/s, -c{conns} ({tool})", "throughput", ("requests_per_s",), 0),
        (f"1. p50 ms, -c{conns}", "throughput", ("p50_ms",), 2),
        (f"1. p99 ms, -c{conns}", "throughput", ("p99_ms",), 2),
        ("2. p50 ms, -c1", "one_connection", ("p50_ms",), 2),
        ("2. p99 ms, -c1", "one_connection", ("p99_ms",), 2),
        ("3. Lambda invoke median ms", "lambda_invoke", ("median_ms",), 3),
        ("3. Lambda invoke p99 ms", "lambda_invoke", ("p99_ms",), 3),
        ("4. cold start, server s", "cold_start_server", ("seconds",), 2),
        ("4. cold start, Lambda s", "cold_start_lambda", ("seconds",), 2),
        ("6. 1,000 rows, model ms", "batch", ("model_predict_ms",), 2),
        ("6. 1,000 rows, handler ms", "batch", ("handler_ms",), 2),
    ]
    table: list[list[str]] = []
    for label, name, path, digits in rows:
        cells = []
        for app in APPS:
            node: Any = fig.get(name, {}).get(app)
            for key in path:
                node = node.get(key) if isinstance(node, Mapping) else None
            cells.append(_cell(node, digits))
        table.append([label, *cells])
    memory = fig.get("memory", {})
    requests = next((m["requests"] for m in memory.values()), 0)
    containers = fig.get("containers", {})
    container_cell = "skipped" if "skipped" in containers else _cell(_twinserve(fig, "cold_start_container"), 2)
    table.insert(9, ["4. cold start, server container s", "", container_cell, ""])
    table.insert(10, [f"5. RSS MiB after {requests:,} req", *(_fmt(memory.get(a, {}).get("rss_mib"), 1) for a in APPS)])
    table.insert(11, ["5. of which anon / file-backed MiB", *(_anon_file(memory.get(a, {})) for a in APPS)])
    sizes = fig.get("sizes", {})
    zipped = sizes.get("zip_variant", {})
    zip_cell = _fmt(zipped["mb"], 1) if "mb" in zipped else "failed" if "error" in zipped else "skipped"
    table.append(["7. zip variant MB (function+layers)", "", zip_cell, ""])
    table.append(
        [
            "7. packages MB (venv / Lambda image / server image)",
            _fmt(sizes.get("baseline_venv_packages_mb"), 1),
            f"{_fmt(sizes.get('lambda_image_packages_mb'), 1)} / {_fmt(sizes.get('server_image_packages_mb'), 1)}",
            "",
        ]
    )
    images = containers.get("images", {})
    for name, label in (("server", "server"), ("lambda", "Lambda")):
        table.append([f"8. {label} image MB (total / above base)", "", _image_cell(containers, images.get(name)), ""])
    return table


def _twinserve(fig: Mapping[str, Any], name: str) -> Any:
    node = fig.get(name, {}).get("twinserve")
    return node.get("seconds") if isinstance(node, Mapping) else None


def _image_cell(containers: Mapping[str, Any], image: Mapping[str, Any] | None) -> str:
    if "skipped" in containers or image is None or "skipped" in image:
        return "skipped"
    if "error" in image:
        return "failed"
    return f"{_fmt(image['size_mb'], 1)} / {_fmt(image['project_layers_mb'], 1)}"


def container_lines(doc: Mapping[str, Any]) -> list[str]:
    """Figure 8 in words: each image's base (a stand-in or not), or why there is no figure."""
    containers = doc["figures"].get("containers", {})
    if "skipped" in containers:
        return [f"8. images and container cold start: skipped: {containers['skipped']}"]
    lines = []
    for name, image in containers.get("images", {}).items():
        if "skipped" in image or "error" in image:
            lines.append(f"8. {name} image: {'skipped: ' + image['skipped'] if 'skipped' in image else 'build failed'}")
            continue
        kind = "a stand-in built on this machine" if image["stand_in_base"] else "the published image"
        lines.append(
            f"8. {name} image {image['tag']}: {image['size_mb']:,.1f} MB = {image['base']} ({kind}) "
            f"{image['base_size_mb']:,.1f} MB + {image['project_layers_mb']:,.1f} MB of the project's layers"
        )
    started = _twinserve(doc["figures"], "cold_start_container")
    if isinstance(started, Mapping):
        ratio = doc["ratios"].get("cold_start_container_vs_process")
        lines.append(
            f"4. server container cold start under {containers.get('contract', 'the Deployment')}'s contract: "
            f"median {_fmt(started['median'], 2)} s over {started['n']}, x{_fmt(ratio, 2)} the process's"
        )
    lines += [f"8. WARNING: {error[-300:]}" for error in containers.get("errors", [])]
    return lines


def ratio_rows(doc: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for key in RATIO_KEYS:
        value = doc["ratios"].get(key)
        target = doc["targets"].get(key)
        met = "" if target is None else {True: "met", False: "NOT met", None: "not measured"}[target["met"]]
        digits = 1 if key in ("memory_mib_over_ceiling", "zip_variant_mb") else 3
        rows.append([key, _fmt(value, digits), target["target"] if target else "", met])
    return rows


def print_tables(doc: Mapping[str, Any], note: str = "") -> None:
    figure_header = ["figure (median [range])", *APPS]
    ratio_header = ["ratio", "value", "target", ""]
    try:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table
    except ImportError:
        for header, rows in ((figure_header, figure_rows(doc)), (ratio_header, ratio_rows(doc))):
            widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
            for row in [header, *rows]:
                print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
            print()
        for line in container_lines(doc):
            print(line)
        if note:
            print(note)
        return
    console = Console()
    if not console.is_terminal:  # a log or a pipe: room for the table as it is
        console = Console(width=120)
    for title, header, rows in (
        ("twinserve benchmark", figure_header, figure_rows(doc)),
        ("ratios and targets", ratio_header, ratio_rows(doc)),
    ):
        table = Table(title=title)
        for i, name in enumerate(header):
            table.add_column(escape(name), justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))  # "[min-max]" is not rich markup
        console.print(table)
    for line in container_lines(doc):
        console.print(escape(line), soft_wrap=True)
    if note:
        console.print(note)


def _anon_file(memory: Mapping[str, Any]) -> str:
    anon, file = memory.get("anon_mib"), memory.get("file_mib")
    return f"{anon:.1f} / {file:.1f}" if anon is not None and file is not None else "-"
