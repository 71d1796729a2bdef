"""The measurements. One run: rounds of A B C (a fresh server each, warmed up, then measured), the
in-process and cold-start figures interleaved in the same rounds, then memory and sizes once.

Per round, for baseline, twinserve and ceiling in turn:
  1. throughput and 2. one-connection latency: a fresh server pinned to CPU 0 (its start is one
     cold-start sample), a warm-up load, then `wrk -t1 -c16` and `wrk -t1 -c1` pinned to CPU 1;
then, for the apps with a Lambda entry point (twinserve, ceiling):
  3. in-process Lambda invocations in a fresh process (pinned to CPU 0);
  4. cold starts: more fresh servers, and fresh awslambdaric processes against the local Runtime API;
and 6. twinserve's model on a 1,000-row batch, in a fresh process.
Once: 5. RSS of one fresh worker per app after 10,000 requests, and 7. what each deployment ships.
With a Docker engine, 8. (bench/containers.py): the images' sizes, and per round the server
container's cold start under the Deployment's contract.
"""

from __future__ import annotations

import json
import os
import shutil

# Only this project's interpreters, pip, SAM CLI and taskset, with fixed arguments.
import subprocess  # nosec B404
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compare.processes import REPO, pinned

from .apps import (
    LOAD_CPU,
    SERVER_CPU,
    App,
    Serving,
    lambda_cold_start,
    rss_mib,
    server_cold_start,
    server_info,
    serving,
)
from .loadgen import run_python_load, send_python
from .wrk import LoadResult, Sent, run_wrk, send_wrk

SAM = REPO / ".venv-sam" / "bin" / "sam"


@dataclass(frozen=True)
class Config:
    rounds: int = 3
    seconds: float = 8.0  # each measured load run
    warmup_s: float = 2.0  # the load before measuring, on every fresh server
    connections: int = 16
    cold_starts: int = 3  # per entry point and app, per round
    invoke_seconds: float = 3.0  # in-process Lambda invocations timed per round (after a warm-up)
    invoke_most: int = 3000
    batch_rows: int = 1000
    batch_repeats: int = 20
    memory_requests: int = 10_000
    memory_timeout_s: float = 420.0  # the most one app's memory load may take
    sizes: bool = True
    containers: bool = True  # with a Docker engine: figure 8 (the images, the server container's cold start)
    container_cold_starts: int = 1  # per round, beside the process's
    quick: bool = False


@dataclass(frozen=True)
class LoadGenerator:
    """wrk when there is one (pinned to LOAD_CPU), else the bounded Python generator."""

    wrk: str | None
    label: str

    def run(self, url: str, *, connections: int, seconds: float, body: bytes) -> LoadResult:
        if self.wrk is None:
            return run_python_load(url, connections=connections, seconds=seconds, body=body)
        cpu = LOAD_CPU if (os.cpu_count() or 1) > 1 else None
        return run_wrk(self.wrk, url, connections=connections, seconds=seconds, body=body, cpu=cpu)

    def send(self, url: str, *, requests: int, connections: int, body: bytes, timeout_s: float) -> Sent:
        """A fixed number of requests (unpinned: only what the server does with them counts)."""
        if self.wrk is None:
            return send_python(url, requests=requests, connections=connections, body=body, timeout_s=timeout_s)
        return send_wrk(self.wrk, url, requests=requests, connections=connections, body=body, timeout_s=timeout_s)


Progress = Callable[[str], None]


def _check(result: LoadResult, app: App, what: str, progress: Progress) -> None:
    if result.failed:
        progress(f"  WARNING {app.name} {what}: {result.non_2xx} non-2xx, {result.socket_errors} socket errors")


def _measured(
    load: LoadGenerator, url: str, app: App, *, connections: int, seconds: float, progress: Progress
) -> LoadResult:
    """One load run; once more, saying so, if not a single response came back (a stalled machine)."""
    result = load.run(url, connections=connections, seconds=seconds, body=app.body)
    if result.requests == 0:
        progress(f"  WARNING {app.name} -c{connections}: no response within {seconds:g} s; running it once more")
        result = load.run(url, connections=connections, seconds=seconds, body=app.body)
    _check(result, app, f"-c{connections}", progress)
    return result


def server_round(app: App, load: LoadGenerator, config: Config, progress: Progress) -> dict[str, Any]:
    """Figures 1 and 2 on one fresh server: warm-up, then -cN and -c1 runs."""
    with serving(app, SERVER_CPU) as running:
        url = running.server.url
        warm = load.run(url, connections=config.connections, seconds=config.warmup_s, body=app.body)
        many = _measured(load, url, app, connections=config.connections, seconds=config.seconds, progress=progress)
        one = _measured(load, url, app, connections=1, seconds=config.seconds, progress=progress)
        rss = rss_mib(running.pid)
        info = server_info(running)
    progress(
        f"  {app.name:<9} started in {running.cold_start_s:.2f} s; -c{config.connections}: "
        f"{many.requests_per_s:,.0f} req/s p50 {many.p50_ms:.2f} ms p99 {many.p99_ms:.2f} ms; "
        f"-c1: p50 {one.p50_ms:.2f} ms p99 {one.p99_ms:.2f} ms"
    )
    return {
        "cold_start_s": running.cold_start_s,
        "warmup": warm.to_json(),
        "throughput": many.to_json(),
        "one_connection": one.to_json(),
        "rss_after_round": rss,
        "info": info,
    }


def _worker(args: list[str], env: dict[str, str], timeout_s: float) -> dict[str, Any]:
    """`python -m bench.inprocess ...` in a fresh process pinned to SERVER_CPU; its JSON result."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = pinned([sys.executable, "-m", "bench.inprocess", *args, "--out", str(out)], SERVER_CPU)
        result = subprocess.run(  # noqa: S603  # nosec B603
            command, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"bench.inprocess {args[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
        loaded: dict[str, Any] = json.loads(out.read_text())
        return loaded


def lambda_invoke(app: App, config: Config) -> dict[str, Any]:
    """Figure 3: the Mangum handler called in-process with the v2 one-row event."""
    if app.handler is None:
        raise ValueError(f"{app.name} has no Lambda entry point")
    args = ["invoke", "--handler", app.handler, "--answer", json.dumps(app.answer)]
    args += ["--seconds", str(config.invoke_seconds), "--most", str(config.invoke_most)]
    return _worker(args, dict(app.env), timeout_s=config.invoke_seconds + 120)


def batch(app: App, config: Config) -> dict[str, Any]:
    """Figure 6: twinserve's model on a batch, in-process (and the same batch through its handler)."""
    args = ["batch", "--rows", str(config.batch_rows), "--repeats", str(config.batch_repeats)]
    return _worker(args, dict(app.env), timeout_s=300)


def cold_starts(apps: list[App], servers: int, runtimes: int, progress: Progress) -> dict[str, dict[str, list[float]]]:
    """Figure 4: fresh servers (`servers` each: the caller adds each round's own start) and fresh Lambda
    runtimes (`runtimes` each, for the apps with a handler), timed to their first correct answer."""
    samples: dict[str, dict[str, list[float]]] = {app.name: {"server": [], "lambda": []} for app in apps}
    for app in apps:
        for _ in range(servers):
            samples[app.name]["server"].append(server_cold_start(app))
        for _ in range(runtimes if app.handler is not None else 0):
            samples[app.name]["lambda"].append(lambda_cold_start(app))
    shown = {
        name: ", ".join(f"{kind} " + " ".join(f"{s:.2f}" for s in values) for kind, values in kinds.items() if values)
        for name, kinds in samples.items()
    }
    progress("  cold starts (s): " + "; ".join(f"{name} {text}" for name, text in shown.items() if text))
    return samples


def prime(apps: list[App], progress: Progress) -> None:
    """One discarded start of each entry point: bytecode compiled and files in the page cache before round 1."""
    for app in apps:
        server_cold_start(app)
        if app.handler is not None:
            lambda_cold_start(app)
    progress("  primed: one discarded start of each server and Lambda entry point")


def memory(apps: list[App], load: LoadGenerator, config: Config, progress: Progress) -> dict[str, Any]:
    """Figure 5: VmRSS of one fresh worker per app after `memory_requests` requests at -cN.

    RSS does not depend on timing, so the apps run at the same time (twinserve on CPU 0, the baseline
    on CPU 1, the ceiling on CPU 0), which keeps the slow apps' 10,000 requests within the run's budget.
    """
    cpus = {"baseline": LOAD_CPU, "twinserve": SERVER_CPU, "ceiling": SERVER_CPU}

    def one(running: Serving) -> dict[str, Any]:
        idle = rss_mib(running.pid)
        result = load.send(
            running.server.url,
            requests=config.memory_requests,
            connections=config.connections,
            body=running.app.body,
            timeout_s=config.memory_timeout_s,
        )
        after = rss_mib(running.pid)
        if result.requests < config.memory_requests:
            progress(
                f"  WARNING {running.app.name}: only {result.requests} requests within {config.memory_timeout_s} s"
            )
        return {"requests": result.requests, "failed": result.failed, "idle": idle, "after": after}

    with ExitStack() as stack:
        running = [stack.enter_context(serving(app, cpus.get(app.name, SERVER_CPU))) for app in apps]
        with ThreadPoolExecutor(max_workers=len(running)) as pool:
            results = dict(zip((r.app.name for r in running), pool.map(one, running), strict=True))
    progress(
        f"  RSS after {config.memory_requests:,} requests: "
        + ", ".join(f"{name} {r['after']['rss_mib']:.1f} MiB" for name, r in results.items())
    )
    return results


# Figure 7: what each deployment ships.


def _megabytes(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6, 1)


@contextmanager
def _all_cpus() -> Iterator[None]:
    """Builds and installs may use every CPU, whatever this process is pinned to."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _pip_target(requirement_args: list[str], target: Path) -> float:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    result = subprocess.run(  # noqa: S603  # nosec B603
        [*command, "--target", str(target), *requirement_args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pip install --target failed: {result.stderr[-2000:]}")
    return _megabytes(target)


def _server_source(into: Path) -> Path:
    """What container/server.Dockerfile copies before `pip install ".[server]"`: built outside the work tree."""
    ignore = shutil.ignore_patterns("__pycache__", "model", "*.pyc")
    into.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, into / name)
    shutil.copytree(REPO / "functions" / "predict", into / "functions" / "predict", ignore=ignore)
    shutil.copytree(REPO / "compare", into / "compare", ignore=ignore)
    return into


def zip_variant() -> dict[str, Any]:
    """`sam build PredictZipFunction` (PackageVariant=zip) into a temporary dir: the function and its layers."""
    if not SAM.exists():
        return {"skipped": ".venv-sam is missing (make test installs SAM CLI into it)"}
    with tempfile.TemporaryDirectory(prefix="bench-sam-") as tmp:
        build = Path(tmp) / "build"
        env = {
            **os.environ,
            "SAM_CLI_TELEMETRY": "0",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        command = [str(SAM), "build", "PredictZipFunction", "--parameter-overrides", "PackageVariant=zip"]
        result = subprocess.run(  # noqa: S603  # nosec B603
            [*command, "--build-dir", str(build)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        if result.returncode != 0:
            return {"error": f"sam build failed ({result.returncode}): {(result.stdout + result.stderr)[-1500:]}"}
        parts = {part.name: _megabytes(part) for part in sorted(build.iterdir()) if part.is_dir()}
        return {"mb": round(sum(parts.values()), 1), "parts_mb": parts}


def _packages_mb(result: dict[str, Any], key: str, requirement: Callable[[], list[str]], target: Path) -> None:
    try:
        result[key] = _pip_target(requirement(), target)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        result[key] = None
        result.setdefault("errors", {})[key] = str(exc)[-1000:]


def sizes(baseline_venv: Path, progress: Progress) -> dict[str, Any]:
    """Figure 7. A failed install or build is reported in the figure, not raised: the run's other figures stand."""
    result: dict[str, Any] = {}
    with _all_cpus(), tempfile.TemporaryDirectory(prefix="bench-sizes-") as tmp:
        root = Path(tmp)

        def lambda_image() -> list[str]:
            return ["-r", str(REPO / "functions" / "predict" / "requirements.txt")]

        def server_image() -> list[str]:
            return [f"{_server_source(root / 'src')}[server]"]

        _packages_mb(result, "lambda_image_packages_mb", lambda_image, root / "lambda")
        _packages_mb(result, "server_image_packages_mb", server_image, root / "server")
        try:
            result["zip_variant"] = zip_variant()
        except (OSError, subprocess.TimeoutExpired) as exc:
            result["zip_variant"] = {"error": str(exc)[-1000:]}
    site = next((baseline_venv / "lib").glob("python*/site-packages"), None)
    result["baseline_venv_packages_mb"] = _megabytes(site) if site else None
    zipped = result["zip_variant"]
    progress(
        f"  sizes: zip variant {zipped.get('mb', zipped.get('skipped') or zipped.get('error'))} MB; "
        f"Lambda image packages {result['lambda_image_packages_mb']} MB; "
        f"server image packages {result['server_image_packages_mb']} MB"
    )
    return result
