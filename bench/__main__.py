"""`python -m bench [--quick] [--rounds N] [--seconds S]`: twinserve against the tutorials' app and the ceiling.

All in one run, interleaved: each round starts a fresh server of baseline, twinserve and ceiling in
turn, warms it up and measures it, then times the Lambda entry points (and, with a Docker engine, the
server container's start under the Deployment's contract); memory and sizes come once at the end.
Prints tables of medians and ranges, and writes bench/results/latest.json plus a dated copy.
PREDICT_* variables in the environment reach twinserve (e.g. PREDICT_SERVING_FORM=sklearn).
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from compare.processes import REPO

from . import containers, figures, results
from .apps import BASELINE_VENV, LOAD_CPU, MODEL_DIR, SERVER_CPU, App, build_apps, ensure_baseline, project_stack
from .apps import caller_predict_env as passed_through
from .wrk import ensure_wrk, wrk_version

RESULTS_DIR = Path(__file__).resolve().parent / "results"
QUICK = figures.Config(
    rounds=1,
    seconds=2.0,
    warmup_s=1.0,
    cold_starts=1,
    invoke_seconds=1.0,
    batch_repeats=5,
    memory_requests=1000,
    memory_timeout_s=120.0,
    sizes=False,
    quick=True,
)


def _positive(kind: Callable[[str], float | int]) -> Callable[[str], Any]:
    def parse(text: str) -> float | int:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text}")
        return value

    return parse


def parse_config(argv: Sequence[str] | None) -> figures.Config:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke test: 1 round, 2 s runs, 1,000 requests for RSS")
    parser.add_argument("--rounds", type=_positive(int), help="rounds of baseline, twinserve, ceiling (default 3)")
    parser.add_argument("--seconds", type=_positive(float), help="seconds of each measured load run (default 8)")
    parser.add_argument(
        "--sizes",
        action=argparse.BooleanOptionalAction,
        help="measure what each deployment ships (pip install --target, sam build); default: on, off with --quick",
    )
    parser.add_argument(
        "--containers",
        action=argparse.BooleanOptionalAction,
        help="with a Docker engine: build the images (sizes above their base) and time the server container's "
        "cold start (default: on; the Lambda image is built only with --sizes)",
    )
    args = parser.parse_args(argv)
    config = QUICK if args.quick else figures.Config()
    if args.rounds is not None:
        config = replace(config, rounds=args.rounds)
    if args.seconds is not None:
        config = replace(config, seconds=args.seconds)
    if args.sizes is not None:
        config = replace(config, sizes=args.sizes)
    if args.containers is not None:
        config = replace(config, containers=args.containers)
    return config


def _pin_harness() -> dict[str, int | None]:
    """This process (and the Runtime API's threads, and polling) on the load generator's CPU, off the server's."""
    if (os.cpu_count() or 1) < 2:
        print("one CPU only: nothing is pinned, servers and load generator share it")
        return {"server_cpu": None, "load_cpu": None}
    os.sched_setaffinity(0, {LOAD_CPU})
    return {"server_cpu": SERVER_CPU, "load_cpu": LOAD_CPU}


def _model_present() -> None:
    if "PREDICT_MODEL_URI" in os.environ or "PREDICT_MODEL_DIR" in os.environ:
        return
    if not (REPO / MODEL_DIR / "metadata.json").exists():
        raise SystemExit(f"no default model in {MODEL_DIR}: run `make model` first")


def _middle(samples: Sequence[float]) -> float:
    return sorted(samples)[len(samples) // 2]


def measure(
    config: figures.Config, load: figures.LoadGenerator, apps: list[App], say: figures.Progress
) -> dict[str, Any]:
    lambda_apps = [app for app in apps if app.handler is not None]
    twinserve = next(app for app in apps if app.name == "twinserve")
    images = containers.prepare(config.containers, say)
    figures.prime(apps, say)
    rounds: list[dict[str, Any]] = []
    for number in range(1, config.rounds + 1):
        say(f"round {number}/{config.rounds}: fresh servers, warm-up {config.warmup_s:g} s, runs {config.seconds:g} s")
        round_: dict[str, Any] = {"servers": {}, "lambda_invoke": {}}
        for app in apps:
            round_["servers"][app.name] = figures.server_round(app, load, config, say)
        for app in lambda_apps:
            round_["lambda_invoke"][app.name] = invoked = figures.lambda_invoke(app, config)
            samples = invoked["samples_ms"]
            say(f"  {app.name:<9} Lambda in-process: {len(samples)} invocations, median {_middle(samples):.3f} ms")
        # Each server above started cold once already; the Lambda runtimes all start here.
        round_["cold_starts"] = figures.cold_starts(apps, config.cold_starts - 1, config.cold_starts, say)
        if images.server is not None:  # twinserve's server as a new pod starts it, beside its process
            started = images.cold_starts(config.container_cold_starts, say)
            round_["cold_starts"]["twinserve"]["container"] = started
            if started:
                say("  twinserve container cold start (s): " + " ".join(f"{s:.2f}" for s in started))
        round_["batch"] = batch = figures.batch(twinserve, config)
        say(f"  twinserve {batch['rows']} rows: model predict {_middle(batch['model_predict_ms']):.2f} ms")
        rounds.append(round_)
        if number == 1:
            info = round_["servers"]["twinserve"].get("info") or {}
            say(f"  twinserve serves its {info.get('serving_form', '?')} form (GET /model)")
    # Neither RSS nor sizes depend on timing: the installs and builds run meanwhile, on every CPU.
    images_record = images.record.get("images")
    with ThreadPoolExecutor(max_workers=1) as pool:
        sized = pool.submit(figures.sizes, BASELINE_VENV, say) if config.sizes else None
        if sized:
            say("sizes: pip install --target (Lambda image, server image), sam build of the zip variant")
        lambda_built = pool.submit(containers.lambda_image, say) if sized and images_record is not None else None
        say(f"memory: a fresh worker per app, {config.memory_requests:,} requests each (the three at once)")
        memory = figures.memory(apps, load, config, say)
        sizes = sized.result() if sized else None
        if images_record is not None:
            images_record["lambda"] = lambda_built.result() if lambda_built else {"skipped": containers.NOT_IN_QUICK}
    return {"rounds": rounds, "memory": memory, "sizes": sizes, "containers": images.record}


def _compile_sources() -> None:
    """Bytecode for the apps' own modules, as every deployment ships it (pip compiles what it
    installs, the zip variant's Makefile compiles by hash): a cold start then reads it, whatever
    PYTHONDONTWRITEBYTECODE says, instead of compiling the sources again."""
    for folder in (REPO / "functions" / "predict", REPO / "bench"):
        compileall.compile_dir(folder, quiet=1, rx=re.compile(r"\.venv"))


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)
    started, wall = time.monotonic(), datetime.now().astimezone()

    def say(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", flush=True)

    pinning = _pin_harness()
    _model_present()
    _compile_sources()
    wrk = ensure_wrk()
    load = figures.LoadGenerator(wrk, wrk_version(wrk) if wrk else "python")
    baseline_stack = ensure_baseline()
    apps = build_apps(BASELINE_VENV / "bin" / "python")
    say(f"load generator: {load.label}; PREDICT_* passed to twinserve: {passed_through() or 'none'}")
    load_before = os.getloadavg()
    if load_before[0] > 0.5 * (os.cpu_count() or 1):
        say(f"WARNING: load average {load_before[0]:.2f} before starting: other work on this machine adds noise")
    try:
        raw = measure(config, load, apps, say)
    except KeyboardInterrupt:
        print("\ninterrupted: every server and runtime started was stopped; nothing written", file=sys.stderr)
        return 130
    meta = {
        "started_at": wall.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
        "config": asdict(config),
        "load_generator": load.label,
        "pinning": pinning,
        "host": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "machine": platform.machine(),
            "loadavg_before": [round(n, 2) for n in load_before],
            "loadavg_after": [round(n, 2) for n in os.getloadavg()],
            # With it set, no process writes bytecode: every cold start compiles the app's own modules.
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        },
        "apps": {app.name: {"description": app.description, "handler": app.handler} for app in apps},
        "stacks": {"baseline": baseline_stack, "project": project_stack()},
        "predict_env": passed_through(),
    }
    doc = results.document(raw, meta)
    paths = results.write(doc, RESULTS_DIR, wall.date().isoformat())
    written = ", ".join(str(path.relative_to(REPO)) for path in paths)
    loads = f"{load_before[0]:.1f}/{os.getloadavg()[0]:.1f}"
    results.print_tables(doc, note=f"took {meta['duration_s']:.0f} s (load average before/after {loads}); {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
