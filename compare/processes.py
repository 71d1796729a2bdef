"""Real processes of both entry points on 127.0.0.1: a uvicorn server, and awslambdaric against
a local Lambda Runtime API. Used by `calibrate`, the benchmark and the tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket

# Only this interpreter is started, on our own modules or awslambdaric, with fixed arguments.
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from .runtime_api import LocalRuntimeAPI

REPO = Path(__file__).resolve().parents[1]
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "twinserve-predict",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_REGION": "us-east-1",
}


def pinned(command: list[str], cpu: int | None) -> list[str]:
    """`taskset -c CPU command` (taskset execs: the same PID, so /proc/PID is the server's), or the command
    alone without a CPU, taskset or a second core."""
    taskset = shutil.which("taskset")
    if cpu is None or taskset is None or (os.cpu_count() or 1) < 2:
        return command
    return [taskset, "-c", str(cpu), *command]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process (all its threads) has used: /proc/PID/stat's utime and stime."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: the 14th and 15th fields of the line
    return ticks / os.sysconf("SC_CLK_TCK")


def involuntary_switches(pid: int) -> int:
    """Times the process was preempted (another task took its CPU): /proc/PID/status's nonvoluntary count."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("nonvoluntary_ctxt_switches:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: IO[bytes]  # the server's stderr: a file, so a chatty server never blocks on a full pipe

    def log_text(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


@contextmanager
def uvicorn_server(
    env: Mapping[str, str], timeout_s: float = 60.0, *, wait: bool = True, cpu: int | None = None
) -> Iterator[Server]:
    """A real `python -m predict serve` process on a free 127.0.0.1 port, ready when yielded (with `wait`);
    pinned to `cpu` when given."""
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(  # noqa: S603  # nosec B603
        pinned([sys.executable, "-m", "predict", "serve", "--host", "127.0.0.1", "--port", str(port)], cpu),
        env=dict(env),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        server = Server(process, url, log)
        if wait:
            wait_ready(server, timeout_s)
        yield server
    finally:
        stop(process)
        log.close()


def wait_ready(server: Server, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}: {server.log_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/ready", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"server at {server.url} not ready within {timeout_s} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


@dataclass
class LambdaRuntime:
    api: LocalRuntimeAPI
    process: subprocess.Popen[bytes]


@contextmanager
def lambda_runtime(env: Mapping[str, str], *, wait: bool = True, cpu: int | None = None) -> Iterator[LambdaRuntime]:
    """The real awslambdaric client running the handler in its own process, against a local Runtime API
    (pinned to `cpu` when given)."""
    with LocalRuntimeAPI() as api:
        process = subprocess.Popen(  # noqa: S603  # nosec B603
            pinned([sys.executable, "-m", "awslambdaric", "predict.lambda_handler.handler"], cpu),
            env={**LAMBDA_ENV, **env, "AWS_LAMBDA_RUNTIME_API": api.address},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if wait:
                api.wait_ready(timeout_s=60)
            yield LambdaRuntime(api, process)
        finally:
            stop(process)


@dataclass
class LambdaPool:
    """A fixed pool of runtime processes taking invocations from one local Runtime API (concurrency = size)."""

    api: LocalRuntimeAPI
    processes: list[subprocess.Popen[bytes]]


@contextmanager
def lambda_pool(env: Mapping[str, str], size: int, cpu: int | None = None) -> Iterator[LambdaPool]:
    """`size` awslambdaric processes of the handler against one local Runtime API, all polling when yielded."""
    if size < 1:
        raise ValueError(f"a Lambda pool needs at least one runtime process, not {size}")
    with LocalRuntimeAPI() as api:
        processes: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(size):
                processes.append(
                    subprocess.Popen(  # noqa: S603  # nosec B603
                        pinned([sys.executable, "-m", "awslambdaric", "predict.lambda_handler.handler"], cpu),
                        env={**LAMBDA_ENV, **env, "AWS_LAMBDA_RUNTIME_API": api.address},
                        cwd=REPO,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            api.wait_polling(size, timeout_s=60)
            yield LambdaPool(api, processes)
        finally:
            for process in processes:
                stop(process)
