"""The commands behind `python -m compare`: each takes the parsed arguments and returns what to print."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .calibration import Calibration, EntryPointTimes, platform_view
from .hpa import HPAParams
from .knative_manifest import kpa_params, pod_resources, read_service, request_timeout_s
from .load import LoadPlan, drive_plan, read_run, summarize, write_run
from .manifests import pod_requests
from .plan_types import Targets
from .plans import evaluate_plans
from .platforms.base import Constant, Distribution, RunRecords
from .platforms.k8s import K8sConfig
from .platforms.knative import KnativeConfig
from .platforms.lambda_ import LambdaConfig
from .platforms.service import ServerService
from .prices import PodResources, PriceBook
from .profiles import BUILT_IN, Profile, read_trace_csv, seed_ramp, steady
from .recommendation import table as plan_table
from .report.costs import cost_figures
from .report.html import write_report
from .report.recommendation import recommendation_section
from .simulation import Scenario, run_k8s, run_knative, run_lambda, scenario_figures, service_model

REPO = Path(__file__).resolve().parents[1]
DEFAULT_HPA = REPO / "k8s" / "base" / "hpa.yaml"
DEFAULT_DEPLOYMENT = REPO / "k8s" / "base" / "deployment.yaml"
DEFAULT_KNATIVE = REPO / "k8s" / "knative" / "service.yaml"
PLATFORM_CHOICES = {"all": ("lambda", "k8s", "knative"), "both": ("lambda", "k8s")}


def _profile(args: argparse.Namespace) -> Profile:
    if args.trace:
        profile = read_trace_csv(args.trace)
    elif args.profile == "steady" or args.arrivals == "poisson":
        profile = steady(args.rate, args.duration)
    elif args.profile == "seed":
        profile = seed_ramp(args.step_minutes)
    else:
        profile = BUILT_IN[args.profile]()
    if args.peak:
        profile = profile.to_peak(args.peak)
    if args.scale:
        profile = profile.scaled(args.scale)
    return profile


def _hpa(args: argparse.Namespace) -> HPAParams:
    if args.hpa.exists():
        return HPAParams.from_manifest(args.hpa)
    if args.hpa != DEFAULT_HPA:
        raise ValueError(f"no HPA manifest at {args.hpa}")
    return HPAParams(min_replicas=2, max_replicas=20, target_utilization=0.7)


def _knative(args: argparse.Namespace, pod_start: Any) -> tuple[KnativeConfig, PodResources]:
    """The KPA and the pod from the Knative manifest; the scenario mode's flags override the manifest's values
    (--container-concurrency, --target, --stable-window) and Knative's cluster defaults (--scale-to-zero-grace)."""
    from dataclasses import replace

    service = read_service(args.knative)
    params = kpa_params(service, scale_to_zero_grace_s=args.scale_to_zero_grace)
    overrides: dict[str, Any] = {}
    if args.container_concurrency is not None:
        overrides["container_concurrency"] = args.container_concurrency
    if args.target is not None:
        overrides["target"] = args.target
    if args.stable_window is not None:
        overrides["stable_window_s"] = args.stable_window
    config = KnativeConfig(
        replace(params, **overrides), pod_start=pod_start, request_timeout_s=request_timeout_s(service)
    )
    return config, pod_resources(service)


def _scenario(args: argparse.Namespace, profile: Profile) -> Scenario:
    lambda_overhead: Distribution | None = None
    if args.calibration:
        calibration = Calibration.read(args.calibration)
        # What the platforms see where the record has it (compare/platforms/service.py), else the round trips.
        lambda_warm = calibration.warm("lambda")
        server_warm: Distribution = calibration.server_service() or calibration.warm("server")
        if (handler := calibration.lambda_handler()) is not None:
            lambda_warm, lambda_overhead = handler
        cold_extra = calibration.cold_extra("lambda")
        # A new pod: scheduling and pull, then its start (the container's where calibrate timed one).
        pod_start = args.pod_start or Constant(args.pod_scheduling_s + max(calibration.pod_start_s()))
    elif args.service and args.cold:
        lambda_warm = server_warm = args.service
        cold_extra = args.cold
        pod_start = args.pod_start or Constant(20.0)
    else:
        raise ValueError("give --calibration FILE, or --service and --cold (e.g. exp:0.005 and const:1.2)")
    memory = args.memory
    if args.sweep:  # the Lambda side from a memory sweep: its chosen size, or --memory's
        from .sweep import Sweep

        memory, lambda_warm, cold_extra = Sweep.read(args.sweep).simulation_inputs(args.memory)
        lambda_overhead = None  # the sweep's warm times are round trips: the overhead is in them
    hpa = _hpa(args)
    pod = pod_requests(args.deployment) if args.deployment.exists() else PodResources(cpu=0.5, memory_gib=0.25)
    cpu_request = args.cpu_request or pod.cpu
    # Knative's cold start is a pod's start: --cold in the scenario mode, else the pod start the HPA path uses.
    # Read whenever the manifest is there (plans include Knative); a run of Knative needs it.
    wanted = getattr(args, "platform", None) in ("knative", "all") or args.knative.exists()
    knative, knative_pod = (
        _knative(args, args.cold if args.service and args.cold and not args.calibration else pod_start)
        if wanted else (None, None)
    )  # fmt: skip
    return Scenario(
        arrivals=profile.arrivals(args.seed),
        duration_s=profile.duration_s,
        lambda_warm=lambda_warm,
        lambda_cold_extra=cold_extra,
        server_warm=server_warm,
        lambda_config=LambdaConfig(
            memory_mb=memory or 1024,
            keep_alive_s=args.keep_alive,
            concurrency_limit=args.concurrency_limit,
            provisioned=args.provisioned,
        ),
        k8s_config=K8sConfig(
            hpa=hpa,
            cpu_request=cpu_request,
            pod_start=pod_start,
            node_provisioning_s=args.node_provisioning_s,
            pods_without_new_node=args.pods_per_cluster,
            max_queue=args.max_queue,
            request_timeout_s=args.request_timeout,
            idle_cpu_cores=server_warm.idle_cpu_cores if isinstance(server_warm, ServerService) else 0.005,
        ),
        pod_memory_gib=pod.memory_gib,
        seed=args.seed,
        knative_config=knative,
        knative_pod=knative_pod,
        lambda_overhead=lambda_overhead,
    )


def simulate(args: argparse.Namespace) -> dict[str, Any]:
    profile = _profile(args)
    scenario = _scenario(args, profile)
    book = PriceBook.load(args.prices)
    result: dict[str, Any] = {
        "profile": {"name": profile.name, "duration_s": profile.duration_s, "requests": int(scenario.arrivals.size)},
        "prices_checked": book.checked,
        "service_model": service_model(scenario),
    }
    if args.sweep:
        result["lambda_sweep"] = _sweep_note(args.sweep, scenario.lambda_config.memory_mb)
    runners = {"lambda": run_lambda, "k8s": run_k8s, "knative": run_knative}
    runs = []
    for name in PLATFORM_CHOICES.get(args.platform, (args.platform,)):
        started = time.perf_counter()
        run, cost = runners[name](scenario, book)
        runs.append(run)
        summary = run.summary()
        result[name] = {
            **{k: round(v, 6) for k, v in summary.items()},
            **{k: round(v, 6) for k, v in scenario_figures(run, summary).items()},
            "cost_usd": {k: round(v, 6) for k, v in cost.items()},
            "simulated_in_s": round(time.perf_counter() - started, 3),
        }
    if args.report:
        result["report"] = str(_report(args, scenario, book, runs, result))
    return result


def _targets(args: argparse.Namespace) -> Targets:
    return Targets(
        p99_ms=args.p99_target_ms,
        cold_start_budget=args.cold_start_budget,
        queue_per_pod=args.queue_per_pod,
        schedule_minutes=args.schedule_minutes,
    )


def _report_notes(scenario: Scenario, book: PriceBook) -> tuple[dict[str, Any], list[str]]:
    """The cost-per-million curves and the notes every report of a scenario carries."""
    hpa = scenario.k8s_config.hpa
    costs = cost_figures(
        book,
        scenario.server_warm.mean,
        scenario.lambda_config.memory_mb,
        PodResources(cpu=scenario.k8s_config.cpu_request, memory_gib=scenario.pod_memory_gib),
        target=hpa.target_utilization,
        min_replicas=hpa.min_replicas,
        knative=scenario.knative_config.kpa if scenario.knative_config else None,
        knative_pod=scenario.knative_pod,
    )
    notes = [
        f"Prices: {book.raw['book']['region']}, checked {book.checked} (compare/prices.toml).",
        f"Kubernetes: HPA {hpa.min_replicas}-{hpa.max_replicas} replicas at {hpa.target_utilization:.0%} CPU, "
        f"pod CPU request {scenario.k8s_config.cpu_request} cores. Lambda: {scenario.lambda_config.memory_mb} MB, "
        f"keep-alive {scenario.lambda_config.keep_alive_s:.0f} s, provisioned {scenario.lambda_config.provisioned}.",
    ]
    if scenario.knative_config is not None:
        kpa = scenario.knative_config.kpa
        notes.append(
            f"Knative: KPA {kpa.min_scale}-{kpa.max_scale or 'unbounded'} pods at {kpa.target_value:g} requests in "
            f"flight a pod (target {kpa.target:g} x {kpa.target_utilization:.0%}), containerConcurrency "
            f"{kpa.container_concurrency}; pods priced for the seconds they exist, the cluster's fees for the whole "
            "run. On the cost curve a steady rate keeps ceil(rate x service time / target) pods: scale to zero saves "
            "only in a profile's idle stretches, which the plans simulate."
        )
    return costs, notes


def _report(
    args: argparse.Namespace, scenario: Scenario, book: PriceBook, runs: list[RunRecords], result: dict[str, Any]
) -> Path:
    """simulate --report: the plans' recommendation first, then both platforms (and a measured run)."""
    summaries = {
        name: {**result[key], "cost_usd": result[key]["cost_usd"]["total"]}
        for key, name in (("lambda", "lambda"), ("k8s", "kubernetes"), ("knative", "knative"))
        if key in result
    }
    if args.measured:
        measured = read_run(args.measured)
        runs = [*runs, measured]
        summaries["measured"] = {**measured.summary(), "cost_usd": float("nan")}
    found = evaluate_plans(scenario, book, _targets(args), result["profile"]["name"])
    result["recommendation"] = found.recommendation.to_json()
    costs, notes = _report_notes(scenario, book)
    title = f"twinserve: {result['profile']['name']} profile, {result['profile']['requests']:,} requests"
    top = recommendation_section(found, args.report)
    return write_report(args.report, title, runs, summaries=summaries, costs=costs, notes=notes, top=top,
                        extra_summary={"plans": found.to_json()})  # fmt: skip


def plans(args: argparse.Namespace) -> dict[str, Any]:
    """Provisioned concurrency (constant and scheduled), the hybrid, and both platforms: the cheapest within a p99."""
    profile = _profile(args)
    scenario = _scenario(args, profile)
    book = PriceBook.load(args.prices)
    found = evaluate_plans(scenario, book, _targets(args), profile.name)
    result = found.to_json()
    if args.sweep:
        result["lambda_sweep"] = _sweep_note(args.sweep, scenario.lambda_config.memory_mb)
    if args.report:
        shown = [plan for plan in found.plans if plan.run is not None and plan.same_as is None]
        summaries = {plan.name: {**plan.run.summary(), "cost_usd": plan.cost["total"]} for plan in shown if plan.run}
        costs, notes = _report_notes(scenario, book)
        title = f"twinserve: plans for the {profile.name} profile, {found.requests:,} requests"
        page = write_report(args.report, title, [plan.run for plan in shown if plan.run], summaries=summaries,
                            costs=costs, notes=notes, top=recommendation_section(found, args.report),
                            extra_summary={"plans": result})  # fmt: skip
        result["report"] = str(page)
    result["table"] = plan_table(found)
    return result


# --- the memory sweep (compare/sweep.py) -------------------------------------------------------


def _sweep_note(path: Path, memory_mb: int) -> dict[str, Any]:
    from .sweep import Sweep

    swept = Sweep.read(path)
    picked = [name for name, mb in swept.picks.items() if mb == memory_mb]
    return {
        "file": str(path),
        "memory_mb": memory_mb,
        "pick": picked,
        # What chose this size: the sweep's chosen pick, or --memory naming it.
        "used": swept.pick_text if memory_mb == swept.chosen_mb else "--memory",
        "p99_target_ms": swept.p99_target_ms,
        "warm_p99_ms": swept.size(memory_mb).warm_p99_ms,
        "method": swept.method,
        "estimate": swept.size(memory_mb).estimate,
    }


def sweep(args: argparse.Namespace) -> dict[str, Any]:
    """Measure the handler at each Lambda memory size's CPU share; price each; pick as Power Tuning does, and the
    cheapest size within a warm p99 target."""
    import os

    from . import sweep as sweeping
    from .report.sweep_chart import sweep_chart

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDICT_")}
    if args.model_dir:
        env["PREDICT_MODEL_DIR"] = str(args.model_dir)
    controller, note = sweeping.find_controller(estimate=args.estimate)  # the note ends the table
    result = sweeping.run_sweep(
        args.sizes,
        sweeping.measurer(env, sweeping.predict_handler(), runs=args.runs, warm=args.warm),
        PriceBook.load(args.prices),
        controller=controller,
        note=note,
        balanced_weight=args.balanced_weight,
        chosen=args.choose,
        p99_target_ms=args.p99_target_ms,
        progress=lambda line: print(line, file=sys.stderr),
    )
    result.write(args.out)
    chart = sweep_chart(result, args.chart) if args.chart else None
    return {"out": str(args.out), "chart": str(chart) if chart else None, "table": sweeping.table(result)}


# --- end of the memory sweep -----------------------------------------------------------------


def calibrate_from_lambda_logs(args: argparse.Namespace) -> dict[str, Any]:
    """The Lambda part from real REPORT lines; the server part from a local calibration (--base)."""
    from .lambda_logs import lambda_times, read_reports

    if args.base is None:
        raise ValueError("--from-lambda-logs needs --base CALIBRATION (a local one) for the server's times")
    reports = read_reports(args.from_lambda_logs)
    base = Calibration.read(args.base)
    calibration = base.model_copy(update={"source": "lambda-logs", "lambda_": lambda_times(reports)})
    calibration.write(args.out)
    return {
        "out": str(args.out),
        "warm_reports": len(reports.warm_ms),
        "cold_reports": len(reports.cold_ms),
        "unreadable_lines": reports.unreadable,
        "memory_mb": calibration.lambda_.memory_mb,
        "lambda_cold_start_ms": round(statistics.median(reports.cold_ms), 2),
        "lambda_warm_1_row_ms": round(statistics.median(reports.warm_ms), 2),
    }


def calibrate_from_load_run(args: argparse.Namespace) -> dict[str, Any]:
    """One entry point's times from `compare load` against a real deployment, split by x-cold-start."""
    if args.base is None:
        raise ValueError("--from-load-run needs --base CALIBRATION for the entry point it does not measure")
    run = read_run(args.from_load_run)
    if run.summary().get("driver_bound") == 1.0:
        raise ValueError(
            f"{args.from_load_run}: the load driver fell behind its schedule in this run (driver-bound), so its "
            "latencies are the client's, not the deployment's: run it again at a lower rate or with more --workers"
        )
    answered = ~np.isnan(run.latency_s)
    warm, cold = run.latency_s[answered & ~run.cold], run.latency_s[answered & run.cold]
    if warm.size == 0:
        raise ValueError(f"{args.from_load_run}: no answered warm request in the run")
    base = Calibration.read(args.base)
    previous = base.times(args.entry_point)
    # A Kubernetes pod answers no request cold: its start is measured locally, so keep the base's (and its pod start).
    warm_s = {**previous.warm_s, "1": warm.tolist()}
    times = previous.model_copy(update={"cold_start_s": cold.tolist() or previous.cold_start_s, "warm_s": warm_s})
    # The deployment's round trips replace the local ones: the local view of the same entry point goes with them.
    times = times.model_copy(update={"handler_s": None, "load": None})
    key = "lambda_" if args.entry_point == "lambda" else "server"
    base.model_copy(update={"source": "load-run", key: times}).write(args.out)
    return {
        "out": str(args.out),
        "entry_point": args.entry_point,
        "warm_requests": int(warm.size),
        "cold_requests": int(cold.size),
        "warm_p50_ms": round(float(np.median(warm)) * 1000, 2),
    }


def calibrate(args: argparse.Namespace) -> dict[str, Any]:
    if args.from_lambda_logs:
        return calibrate_from_lambda_logs(args)
    if args.from_load_run:
        return calibrate_from_load_run(args)
    import os
    from importlib.metadata import version

    from . import measure
    from .calibration import machine_facts
    from .server_calibration import measure_server_load

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDICT_")}
    if args.model_dir:
        env["PREDICT_MODEL_DIR"] = str(args.model_dir)
    pod = measure.PodStart.find(args.pod_image, progress=lambda line: print(line, file=sys.stderr))
    print(f"pod start: {pod.source}: {pod.why}", file=sys.stderr)
    lambda_cold, server_cold, container_cold = [], [], []
    for run in range(args.runs):  # interleaved, so drift on the machine touches all alike
        print(f"cold starts: run {run + 1} of {args.runs}", file=sys.stderr)
        lambda_cold.append(measure.lambda_cold_start(env))
        server_cold.append(measure.server_cold_start(env))
        if pod.source == "container":
            container_cold.append(pod.measure())
    print("warm requests", file=sys.stderr)
    lambda_warm, lambda_handler = measure.lambda_warm_times(env, args.batches, args.requests)
    server_warm = measure.server_warm_times(env, args.batches, args.requests)
    print(f"server under load: capacity, then {args.load_seconds:g} s at each level", file=sys.stderr)
    load = measure_server_load(env, seconds=args.load_seconds, burst=args.burst)
    calibration = Calibration(
        source="local",
        machine=machine_facts(),
        versions={name: version(name) for name in ("scikit-learn", "fastapi", "mangum", "uvicorn", "awslambdaric")},
        lambda_=EntryPointTimes(cold_start_s=lambda_cold, warm_s=lambda_warm, handler_s=lambda_handler),
        server=EntryPointTimes(
            cold_start_s=server_cold,
            warm_s=server_warm,
            pod_start_s=container_cold if pod.source == "container" else list(server_cold),
            pod_start_source=pod.source,
            load=load,
        ),
    )
    calibration.write(args.out)
    medians = {
        f"{entry}_{what}_ms": round(statistics.median(samples) * 1000, 2)
        for entry, times in (("lambda", calibration.lambda_), ("server", calibration.server))
        for what, samples in (("cold_start", times.cold_start_s), ("warm_1_row", times.warm_s["1"]))
    }
    pod_start_ms = round(statistics.median(calibration.pod_start_s()) * 1000, 2)
    return {"out": str(args.out), **medians, "server_pod_start_ms": pod_start_ms, "pod_start_source": pod.source,
            "pod_start": pod.why, **platform_view(calibration)}  # fmt: skip


def report(args: argparse.Namespace) -> dict[str, Any]:
    """A report of measured runs alone (`compare load` directories), each named by its folder."""
    runs = []
    for directory in args.measured:
        run = read_run(directory)
        run.platform = directory.name
        runs.append(run)
    summaries = {run.platform: {**run.summary(), "cost_usd": float("nan")} for run in runs}
    title = "twinserve: measured runs " + ", ".join(summaries)
    page = write_report(args.out, title, runs, summaries=summaries, costs=None)
    return {"report": str(page), "runs": list(summaries)}


def load(args: argparse.Namespace) -> dict[str, Any]:
    profile = _profile(args)
    plan = LoadPlan(
        url=args.target.rstrip("/"),
        arrivals=profile.arrivals(args.seed),
        max_requests=args.max_requests,
        max_seconds=args.max_seconds,
        timeout_s=args.timeout,
        max_connections=args.max_in_flight,
        workers=args.workers,
    )
    run = drive_plan(plan, progress=not args.quiet)
    meta = {"target": plan.url, "profile": profile.name, "scheduled": int(plan.arrivals.size), "workers": plan.workers,
            "max_in_flight": plan.max_connections, "held_by_cap": run.held_by_cap}  # fmt: skip
    out = write_run(run.records, args.out, meta, args.lag_threshold_ms, unsent=run.unsent)
    return {**meta, "out": str(out), **summarize(run.records, args.lag_threshold_ms, unsent=run.unsent)}
