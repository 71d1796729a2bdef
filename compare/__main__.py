"""`python -m compare calibrate|sweep|simulate|plans|load|validate`: measure the handler, simulate the platforms
and the plans between them, recommend one, drive a real URL, check the simulator against a real run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .commands import DEFAULT_DEPLOYMENT, DEFAULT_HPA, DEFAULT_KNATIVE, calibrate, load, plans, report, simulate, sweep
from .load import LAG_THRESHOLD_MS
from .measure import POD_IMAGE
from .platforms.base import parse_distribution
from .profiles import BUILT_IN
from .validate import validate


def _print_table(result: dict[str, Any]) -> None:
    rows = ["requests", "ok", "errors", "throttled", "cold_starts", "p50_ms", "p95_ms", "p99_ms", "max_instances"]
    platforms = [p for p in ("lambda", "k8s", "knative") if p in result]
    profile = result["profile"]
    print(f"profile {profile['name']}: {profile['requests']} requests over {profile['duration_s']:.0f} s")
    print(f"{'':<16}" + "".join(f"{p:>16}" for p in platforms))
    for row in rows:
        print(f"{row:<16}" + "".join(f"{result[p][row]:>16,.1f}" for p in platforms))
    print(f"{'cost (USD)':<16}" + "".join(f"{result[p]['cost_usd']['total']:>16,.4f}" for p in platforms))
    if "lambda_sweep" in result:  # compare sweep: where the Lambda side's times came from
        print(_sweep_line(result["lambda_sweep"]))
    if "recommendation" in result:  # simulate --report: the plans' search, as `compare plans` prints it
        chosen = result["recommendation"]
        print(f"recommended plan: {chosen['plan']} (runner-up {chosen['runner_up']}); report: {result['report']}")
    print(
        f"(prices checked {result['prices_checked']}; simulated in "
        + ", ".join(f"{p} {result[p]['simulated_in_s']} s" for p in platforms)
        + ")"
    )


def _sweep_line(swept: dict[str, Any]) -> str:
    """Which size of a `compare sweep` the Lambda side used, and by which pick."""
    estimate = " (ESTIMATE: scaled by CPU share)" if swept["estimate"] else ""
    return (
        f"lambda times: {swept['memory_mb']} MB ({swept['used']}; warm p99 {swept['warm_p99_ms']:,.1f} ms) "
        f"from {swept['file']}, {swept['method']}{estimate}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m compare", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sim = commands.add_parser("simulate", help="simulate Lambda, Kubernetes (HPA) and Knative for a traffic profile")
    sim.add_argument("--platform", choices=["lambda", "k8s", "knative", "all", "both"], default="all",
                     help="all: Lambda, the HPA Deployment and Knative; both: Lambda and the Deployment")  # fmt: skip
    _scenario_arguments(sim)
    sim.add_argument("--provisioned", type=int, default=0, help="Lambda provisioned concurrency")
    sim.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sim.add_argument("--report", type=Path, help="write an HTML report (the plans' recommendation first) here")
    sim.add_argument("--measured", type=Path, help="a `compare load` run to overlay in the report")
    _plan_arguments(sim, " (for the report's recommendation)")

    plan = commands.add_parser(
        "plans", help="search provisioned concurrency and a pods + Lambda hybrid; recommend the cheapest within a p99"
    )
    _scenario_arguments(plan)
    _plan_arguments(plan)
    plan.add_argument("--json", action="store_true", help="print JSON instead of a table")
    plan.add_argument("--report", type=Path, help="write an HTML report, the recommendation first, into this directory")
    plan.set_defaults(provisioned=0)

    rep = commands.add_parser("report", help="an HTML report of measured runs (from `compare load`)")
    rep.add_argument("--measured", type=Path, nargs="+", required=True, help="`compare load --out` directories")
    rep.add_argument("--out", type=Path, default=Path("compare-runs/measured-report"))

    cal = commands.add_parser("calibrate", help="measure both entry points of the real handler on this machine")
    cal.add_argument("--runs", type=int, default=5, help="cold starts measured per entry point")
    cal.add_argument("--requests", type=int, default=200, help="warm requests timed per batch size")
    cal.add_argument("--batches", type=int, nargs="+", default=[1, 10, 100], help="batch sizes (rows)")
    cal.add_argument("--model-dir", type=Path, help="artifact to serve (default: PREDICT_MODEL_DIR or the embedded)")
    cal.add_argument("--out", type=Path, default=Path("compare-runs/calibration.json"))
    cal.add_argument("--load-seconds", type=_positive, default=5.0,
                     help="the server under load: seconds of Poisson arrivals at each level (default 5)")  # fmt: skip
    cal.add_argument("--burst", type=_positive_int, default=6000,
                     help="requests of the closed-loop burst that finds the server's capacity")  # fmt: skip
    cal.add_argument(
        "--pod-image", default=POD_IMAGE, metavar="TAG", help="with a Docker engine: the server image to time as a pod"
    )
    cal.add_argument("--from-lambda-logs", type=Path, nargs="+", metavar="FILE",
                     help="CloudWatch Logs exports (text or JSON) with the function's REPORT lines")  # fmt: skip
    cal.add_argument(
        "--from-load-run", type=Path, metavar="DIR", help="a `compare load --out` run against a deployment"
    )
    cal.add_argument(
        "--entry-point", choices=["lambda", "server"], default="lambda", help="what --from-load-run measured"
    )
    cal.add_argument("--base", type=Path, help="with --from-...: a local calibration for what the source does not hold")

    _sweep_arguments(commands.add_parser("sweep", help="measure the handler at each Lambda memory size's CPU share"))

    _validate_arguments(commands.add_parser(
        "validate", help="a real server and Lambda pool under Poisson load against the simulation of the same"
    ))  # fmt: skip

    drive = commands.add_parser("load", help="send a profile to a URL, open loop, and record every request")
    drive.add_argument("--target", required=True, help="base URL, e.g. http://127.0.0.1:8000 or the stack's ApiUrl")
    _profile_arguments(drive)
    drive.add_argument("--max-requests", type=int, default=100_000, help="stop after this many requests")
    drive.add_argument("--max-seconds", type=float, default=600.0, help="stop scheduling after this long")
    drive.add_argument("--timeout", type=float, default=30.0, help="seconds each request may take")
    drive.add_argument("--max-in-flight", type=_positive_int, default=512, help="most requests in flight (beyond: lag)")
    drive.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="driver processes sharing the arrivals (one per core they may use)",
    )
    drive.add_argument(
        "--lag-threshold-ms",
        type=float,
        default=LAG_THRESHOLD_MS,
        help="schedule lag p99 above which the run is marked driver-bound",
    )
    drive.add_argument("--out", type=Path, default=Path("compare-runs/latest"), help="where to write the records")
    drive.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    """What `simulate` and `plans` both take: the profile, the measured times, both platforms, the prices."""
    _profile_arguments(parser)
    add = parser.add_argument
    add("--calibration", type=Path, help="calibration JSON from `compare calibrate`")
    add("--service", type=parse_distribution, help="warm service time, e.g. exp:0.005 (seconds)")
    add("--cold", type=parse_distribution, help="whole time of a cold request, e.g. exp:1.2")
    add("--keep-alive", type=float, default=600.0, help="seconds an idle Lambda environment lives")
    add("--memory", type=int, help="Lambda memory (MB); default 1024, or the sweep's chosen size")
    add("--sweep", type=Path, help="`compare sweep` JSON: Lambda times of its chosen size (or --memory)")
    add("--concurrency-limit", type=int, default=1000)
    add("--hpa", type=Path, default=DEFAULT_HPA, help="the HPA manifest to read")
    add("--deployment", type=Path, default=DEFAULT_DEPLOYMENT, help="Deployment manifest (pod requests)")
    add("--cpu-request", type=float, help="pod CPU request in cores (default: the Deployment's)")
    add(
        "--pod-start",
        type=parse_distribution,
        help="pod creation to ready, e.g. const:25 (default: --pod-scheduling-s + the calibration's slowest "
        "pod start; 20 s without a calibration)",
    )
    add("--pod-scheduling-s", type=float, default=10.0, help="scheduling + image pull before start")
    add("--node-provisioning-s", type=float, default=0.0, help="extra start time beyond the nodes' room")
    add("--pods-per-cluster", type=int, default=1_000_000, help="pods the existing nodes hold")
    add("--max-queue", type=int, help="requests a pod holds before refusing (503); default unbounded")
    add("--request-timeout", type=float, default=30.0, help="client/ingress timeout on Kubernetes (s)")
    add("--prices", type=Path, help="a TOML overriding compare/prices.toml")
    add("--knative", type=Path, default=DEFAULT_KNATIVE, help="the Knative Service manifest to read (KPA, pod)")
    add("--container-concurrency", type=int, help="Knative: requests a pod takes at once (default: the manifest's)")
    add("--target", type=float, help="Knative: the KPA's concurrency target per pod (default: the manifest's)")
    add("--stable-window", type=float, help="Knative: the KPA's stable window, seconds (default: the manifest's)")
    add("--scale-to-zero-grace", type=float, default=30.0, help="Knative: config-autoscaler's grace period (s)")


def _plan_arguments(parser: argparse.ArgumentParser, purpose: str = "") -> None:
    from .plan_types import (
        DEFAULT_COLD_START_BUDGET,
        DEFAULT_P99_TARGET_MS,
        DEFAULT_QUEUE_PER_POD,
        DEFAULT_SCHEDULE_MINUTES,
    )

    add = parser.add_argument
    add(
        "--p99-target-ms",
        type=float,
        default=DEFAULT_P99_TARGET_MS,
        help=f"the p99 a plan must meet{purpose} (default {DEFAULT_P99_TARGET_MS:g})",
    )
    add(
        "--cold-start-budget",
        type=float,
        default=DEFAULT_COLD_START_BUDGET,
        help="fraction of requests provisioned-concurrency plans may start cold "
        f"(default {DEFAULT_COLD_START_BUDGET:g})",
    )
    add(
        "--queue-per-pod",
        type=int,
        default=DEFAULT_QUEUE_PER_POD,
        help=f"hybrid: requests a pod holds before the next goes to Lambda (default {DEFAULT_QUEUE_PER_POD})",
    )
    add(
        "--schedule-minutes",
        type=int,
        default=DEFAULT_SCHEDULE_MINUTES,
        help="scheduled provisioned concurrency: one level per slot of this many minutes "
        f"(default {DEFAULT_SCHEDULE_MINUTES}: by hour)",
    )


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number") from exc
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of 1 or more")
    return value


def _validate_arguments(check: argparse.ArgumentParser) -> None:
    check.add_argument("--calibration", type=Path, default=Path("compare-runs/calibration.json"),
                       help="calibration JSON with the server-side figures (version 2, from `calibrate`)")  # fmt: skip
    check.add_argument("--short", action="store_true", help="a few seconds a level (about a minute in all)")
    check.add_argument("--lambda-pool", type=_positive_int, default=1,
                       help="awslambdaric processes in the pool (default 1)")  # fmt: skip
    check.add_argument("--model-dir", type=Path, help="artifact to serve (default: PREDICT_MODEL_DIR or the embedded)")
    check.add_argument("--json", action="store_true", help="print JSON instead of a table")
    check.add_argument("--report", type=Path, help="write the table into this report directory")


def _sizes(text: str) -> list[int]:
    try:
        return [int(size) for size in text.split(",") if size.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected memory sizes in MB, e.g. 128,512,1769") from exc


def _sweep_arguments(parser: argparse.ArgumentParser) -> None:
    from .sweep import DEFAULT_P99_TARGET_MS, DEFAULT_SIZES, STRATEGIES

    parser.add_argument("--sizes", type=_sizes, default=list(DEFAULT_SIZES), help="Lambda memory sizes (MB), e.g. "
                        + ",".join(map(str, DEFAULT_SIZES)) + " (the default)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=3, help="cold starts per size, each a fresh process")
    parser.add_argument("--warm", type=int, default=100, help="warm requests timed per size")
    parser.add_argument("--balanced-weight", type=float, default=0.5, help="0 = fastest .. 1 = cheapest (Power Tuning)")
    parser.add_argument("--choose", choices=STRATEGIES, default="p99",
                        help="the pick `simulate --sweep` and `plans --sweep` use (default p99: the cheapest size "
                        "whose warm p99 meets --p99-target-ms; the fastest when none does)")  # fmt: skip
    parser.add_argument("--p99-target-ms", type=float, default=DEFAULT_P99_TARGET_MS,
                        help="the warm p99 the p99 pick must meet (default "
                        f"{DEFAULT_P99_TARGET_MS:g}: half the plans' end-to-end target)")  # fmt: skip
    parser.add_argument("--estimate", action="store_true", help="no cgroup: measure once, scale by the CPU share")
    parser.add_argument("--model-dir", type=Path, help="artifact to serve (default: PREDICT_MODEL_DIR or the embedded)")
    parser.add_argument("--prices", type=Path, help="a TOML overriding compare/prices.toml")
    parser.add_argument("--out", type=Path, default=Path("compare-runs/sweep.json"))
    parser.add_argument("--chart", type=Path, default=Path("compare-runs/sweep.png"), help="the PNG chart")


def _profile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", choices=sorted(BUILT_IN), default="seed")
    parser.add_argument("--step-minutes", type=float, default=10.0, help="length of each step of the seed ramp")
    parser.add_argument("--trace", type=Path, help="per-minute invocation counts (CSV), instead of --profile")
    parser.add_argument("--arrivals", choices=["poisson"], help="scenario mode: Poisson at --rate for --duration")
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s for steady and poisson")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds, for steady and poisson")
    parser.add_argument("--peak", type=float, help="scale the profile to this peak rate (requests/s)")
    parser.add_argument("--scale", type=float, help="multiply the profile's rates by this")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the arrivals")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        commands = {"simulate": simulate, "calibrate": calibrate, "load": load, "report": report, "sweep": sweep,
                    "plans": plans, "validate": validate}  # fmt: skip
        result = commands[args.command](args)
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "sweep":
        print(result.pop("table"))
        print(json.dumps(result))
    elif args.command == "plans":
        table = result.pop("table")
        print(json.dumps(result, indent=2) if args.json else table)
        if "lambda_sweep" in result and not args.json:
            print(_sweep_line(result["lambda_sweep"]))
        if "report" in result and not args.json:
            print(f"report: {result['report']}")
    elif args.command == "validate":
        table = result.pop("table")
        print(json.dumps(result, indent=2) if args.json else table)
        if "report" in result and not args.json:
            print(f"report: {result['report']}")
    elif args.command != "simulate" or args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
