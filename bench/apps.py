"""The three apps and how each starts: the tutorials' app (baseline), twinserve, and the ceiling.

Processes are compare.processes' (its Server, stop, free_port, LAMBDA_ENV, and the local Runtime
API that the real awslambdaric talks to), generalised here to any command and handler: pinned to
one CPU with `taskset`, ready when they first answer POST /predict correctly, which is also when
their cold start ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

# Only interpreters of this project (the venvs and awslambdaric) and taskset, with fixed arguments.
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from compare.events import load_event, reply_from_lambda
from compare.measure import IRIS_ROW
from compare.processes import LAMBDA_ENV, REPO, LambdaRuntime, Server, free_port, pinned, stop
from compare.runtime_api import LocalRuntimeAPI

BENCH = Path(__file__).resolve().parent
BASELINE_DIR = BENCH / "baseline"
BASELINE_VENV = BENCH / ".venv-baseline"
MODEL_DIR = "functions/predict/model"  # as `make run` has it, relative to the repository
LAMBDA_EVENT = "predict-features-v2.json"  # tests/events/: one row, {"features": [5.1, 3.5, 1.4, 0.2]}
SERVER_CPU, LOAD_CPU = 0, 1  # the server under test on one core, the load generator on the other

FEATURES_BODY = json.dumps({"features": IRIS_ROW}).encode()  # twinserve's (and the ceiling's) request
TUTORIAL_BODY = json.dumps({"input": IRIS_ROW}).encode()  # the tutorial app's own request (seed 002)


@dataclass(frozen=True)
class App:
    """One app under test: how to start its server, what to send, and what a correct answer is."""

    name: str
    description: str
    argv: tuple[str, ...]  # "{port}" stands for the port
    cwd: Path
    env: Mapping[str, str] = field(repr=False)
    body: bytes
    answer: Any
    handler: str | None = None  # the Lambda handler (module.attribute) for awslambdaric, if it has one
    info_path: str | None = None  # GET this once per server for the record (twinserve: /model, its serving form)

    def command(self, port: int) -> list[str]:
        return [part.replace("{port}", str(port)) for part in self.argv]


def caller_predict_env() -> dict[str, str]:
    """The caller's PREDICT_* variables, passed through to twinserve (e.g. PREDICT_SERVING_FORM)."""
    return {k: v for k, v in os.environ.items() if k.startswith("PREDICT_")}


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PREDICT_", "BENCH_"))}


def build_apps(baseline_python: Path) -> list[App]:
    """Baseline, twinserve, ceiling: the order of every round."""
    host = ("--host", "127.0.0.1", "--port", "{port}")
    uvicorn_script = baseline_python.with_name("uvicorn")
    return [
        App(
            name="baseline",
            description="seed 002's FastAPI app, plain pip install (no uvloop, no httptools), `uvicorn app:app`",
            argv=(str(uvicorn_script), "app:app", *host),
            cwd=BASELINE_DIR,
            env=_plain_env(),
            body=TUTORIAL_BODY,
            answer={"prediction": [0]},
        ),
        App(
            name="twinserve",
            description="`python -m predict serve` as `make run` starts it; Lambda: predict.lambda_handler.handler",
            argv=(sys.executable, "-m", "predict", "serve", *host),
            cwd=REPO,
            env={**_plain_env(), "PREDICT_MODEL_DIR": MODEL_DIR, **caller_predict_env()},
            body=FEATURES_BODY,
            answer={"prediction": 0},
            handler="predict.lambda_handler.handler",
            info_path="/model",
        ),
        App(
            name="ceiling",
            description="bench/ceiling.py: constant answer on twinserve's uvicorn stack; Lambda: bench.ceiling.handler",
            argv=(sys.executable, "-m", "bench.ceiling", *host),
            cwd=REPO,
            env=_plain_env(),
            body=FEATURES_BODY,
            answer={"prediction": 0},
            handler="bench.ceiling.handler",
        ),
    ]


# The baseline's own venv, installed as the tutorials install it.


def _run(command: list[str], cwd: Path, timeout_s: float) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)  # noqa: S603  # nosec B603
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr[-2000:]}")


def _baseline_stamp() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "train.py"):
        digest.update((BASELINE_DIR / name).read_bytes())
    return digest.hexdigest()


def ensure_baseline() -> dict[str, Any]:
    """bench/.venv-baseline with bench/baseline/requirements.txt (made again when it changes), and model.pkl.

    Returns what its server stack is, checked: the tutorial's plain install has neither uvloop nor httptools.
    """
    python = BASELINE_VENV / "bin" / "python"
    stamp = BASELINE_VENV / ".installed"
    if not stamp.exists() or stamp.read_text().strip() != _baseline_stamp():
        print(f"installing the baseline into {BASELINE_VENV.relative_to(REPO)} (pip install -r requirements.txt)")
        shutil.rmtree(BASELINE_VENV, ignore_errors=True)
        base_python = getattr(sys, "_base_executable", sys.executable)  # the interpreter .venv was made from
        _run([base_python, "-m", "venv", str(BASELINE_VENV)], REPO, 120)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*pip, "-r", str(BASELINE_DIR / "requirements.txt")], REPO, 900)
        (BASELINE_DIR / "model.pkl").unlink(missing_ok=True)
        stamp.write_text(_baseline_stamp() + "\n")
    if not (BASELINE_DIR / "model.pkl").exists():
        _run([str(python), "train.py"], BASELINE_DIR, 300)  # the tutorial's way: writes ./model.pkl
    probe = (
        "import importlib.metadata as m, importlib.util as u, json, sys; print(json.dumps({"
        "'python': sys.version.split()[0], 'uvicorn': m.version('uvicorn'), 'fastapi': m.version('fastapi'), "
        "'scikit-learn': m.version('scikit-learn'), 'uvloop': u.find_spec('uvloop') is not None, "
        "'httptools': u.find_spec('httptools') is not None}))"
    )
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=True)  # noqa: S603  # nosec B603
    stack: dict[str, Any] = json.loads(result.stdout)
    if stack["uvloop"] or stack["httptools"]:
        raise RuntimeError(f"the baseline venv has uvloop or httptools, unlike the tutorials' install: {stack}")
    return stack


def project_stack() -> dict[str, Any]:
    """What twinserve and the ceiling run on: this interpreter's uvicorn, uvloop, httptools."""
    from importlib.metadata import PackageNotFoundError, version

    stack: dict[str, Any] = {"python": sys.version.split()[0]}
    for name in ("uvicorn", "uvloop", "httptools", "fastapi", "mangum", "awslambdaric", "scikit-learn", "onnxruntime"):
        try:
            stack[name] = version(name)
        except PackageNotFoundError:
            stack[name] = None
    return stack


# Servers.


@dataclass
class Serving:
    app: App
    server: Server
    cold_start_s: float  # process start to the first correct answer on POST /predict

    @property
    def pid(self) -> int:
        return self.server.process.pid


def _first_answer(server: Server, app: App, started: float, timeout_s: float) -> float:
    """Poll POST /predict (as compare.measure.server_cold_start does) until the correct answer."""
    headers = {"content-type": "application/json"}
    with httpx.Client(base_url=server.url, timeout=5.0) as client:
        while time.perf_counter() - started < timeout_s:
            if server.process.poll() is not None:
                raise RuntimeError(f"{app.name} exited with {server.process.returncode}: {server.log_text()[-2000:]}")
            try:
                response = client.post("/predict", content=app.body, headers=headers)
            except httpx.TransportError:
                time.sleep(0.002)
                continue
            if response.status_code == 200 and response.json() == app.answer:
                return time.perf_counter() - started
            if response.status_code not in (503,):  # 503: model not loaded yet; anything else is wrong
                raise RuntimeError(f"{app.name} answered {response.status_code} {response.text[:300]!r}")
            time.sleep(0.002)
    raise TimeoutError(f"{app.name} did not answer POST /predict correctly within {timeout_s} s")


@contextmanager
def serving(app: App, cpu: int | None = SERVER_CPU, timeout_s: float = 60.0) -> Iterator[Serving]:
    """A fresh server of `app` on a free 127.0.0.1 port, pinned to `cpu`, yielded once it answers correctly."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603  # nosec B603
        pinned(app.command(port), cpu),
        env=dict(app.env),
        cwd=app.cwd,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        server = Server(process, f"http://127.0.0.1:{port}", log)
        yield Serving(app, server, _first_answer(server, app, started, timeout_s))
    finally:
        stop(process)
        log.close()


def server_info(running: Serving) -> Any:
    """The app's GET info_path as JSON (None without one, or when it does not answer 200)."""
    if running.app.info_path is None:
        return None
    response = httpx.get(running.server.url + running.app.info_path, timeout=5.0)
    return response.json() if response.status_code == 200 else None


def server_cold_start(app: App, cpu: int | None = SERVER_CPU) -> float:
    with serving(app, cpu) as running:
        return running.cold_start_s


# The Lambda entry point under the real awslambdaric.


@contextmanager
def lambda_runtime(app: App, cpu: int | None = SERVER_CPU) -> Iterator[LambdaRuntime]:
    """compare.processes.lambda_runtime for any handler: awslambdaric in its own process, on a local Runtime API."""
    if app.handler is None:
        raise ValueError(f"{app.name} has no Lambda entry point")
    with LocalRuntimeAPI() as api:
        process = subprocess.Popen(  # noqa: S603  # nosec B603
            pinned([sys.executable, "-m", "awslambdaric", app.handler], cpu),
            env={**LAMBDA_ENV, **app.env, "AWS_LAMBDA_RUNTIME_API": api.address},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield LambdaRuntime(api, process)
        finally:
            stop(process)


def lambda_cold_start(app: App, cpu: int | None = SERVER_CPU) -> float:
    """Seconds from starting the runtime process to the first correct response (compare.measure's way)."""
    event = load_event(LAMBDA_EVENT)
    started = time.perf_counter()
    with lambda_runtime(app, cpu) as runtime:
        result = runtime.api.invoke(event, timeout_s=60)
        elapsed = time.perf_counter() - started
    reply = reply_from_lambda(result.payload) if result.ok else None
    if reply is None or reply.status != 200 or reply.json() != app.answer:
        raise RuntimeError(f"{app.name}'s Lambda entry point answered wrongly on its first invocation: {result}")
    return elapsed


def rss_mib(pid: int) -> dict[str, float]:
    """VmRSS (and the peak, VmHWM) of a process, in MiB, from /proc/PID/status, split into its
    anonymous part (the heap: what each worker costs on its own) and its file-backed part (mapped
    shared libraries: held once in the page cache for every process that maps the same files, and
    counted in RSS only as far as the pages were already cached when touched, so it moves with
    the page cache's state: a fresh clone's just-written libraries count more)."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)  # kB
    return {
        "rss_mib": values["VmRSS"],
        "hwm_mib": values["VmHWM"],
        "anon_mib": values.get("RssAnon", 0.0),
        "file_mib": values.get("RssFile", 0.0),
    }
