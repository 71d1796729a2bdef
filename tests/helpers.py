"""Shared by the tests: free ports, a real uvicorn server, a real awslambdaric runtime, SAM events."""

from __future__ import annotations

import base64
import copy
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from compare.runtime_api import LocalRuntimeAPI

REPO = Path(__file__).resolve().parents[1]
EVENTS = REPO / "tests" / "events"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREDICT_")}
    env.update(overrides)
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str


@contextmanager
def uvicorn_server(env: Mapping[str, str], timeout_s: float = 60.0) -> Iterator[Server]:
    """A real `python -m predict serve` process on a free 127.0.0.1 port, ready when yielded."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "predict", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=dict(env),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, url, timeout_s)
        yield Server(process, url)
    finally:
        stop(process)


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"server exited with {process.returncode}: {stderr[-2000:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"server at {url} not ready within {timeout_s} s")


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
def lambda_runtime(env: Mapping[str, str], *, wait: bool = True) -> Iterator[LambdaRuntime]:
    """The real awslambdaric client running the handler in its own process, against a local Runtime API."""
    with LocalRuntimeAPI() as api:
        process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", "predict.lambda_handler.handler"],
            env={
                **env,
                "AWS_LAMBDA_RUNTIME_API": api.address,
                "AWS_LAMBDA_FUNCTION_NAME": "twinserve-predict",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_REGION": "us-east-1",
            },
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


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def make_event(
    template: Mapping[str, Any], method: str, path: str, body: bytes | None, headers: Mapping[str, str]
) -> dict[str, Any]:
    """Put a request into a `sam local generate-event` event (v1 or v2), body base64-encoded as SAM does."""
    event = copy.deepcopy(dict(template))
    encoded = base64.b64encode(body).decode() if body else ""
    event["body"] = encoded
    event["isBase64Encoded"] = bool(body)
    if event.get("version") == "2.0":
        event["rawPath"] = path
        event["rawQueryString"] = ""
        event.pop("queryStringParameters", None)
        event["requestContext"]["http"]["method"] = method
        event["requestContext"]["http"]["path"] = path
        event["routeKey"] = "$default"
        event["headers"] = {**{k.lower(): v for k, v in headers.items()}}
    else:
        event["httpMethod"] = method
        event["path"] = path
        event["requestContext"]["httpMethod"] = method
        event["queryStringParameters"] = None
        event["multiValueQueryStringParameters"] = None
        event["headers"] = dict(headers)
        event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    return event


def reply_from_lambda(response: Mapping[str, Any]) -> Reply:
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    return Reply(int(response["statusCode"]), headers, raw)


def import_with_env(module: str, env: dict[str, str]) -> ModuleType:
    """(Re)import a module whose import-time code reads PREDICT_* settings, under `env`."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        if module in sys.modules:
            # A new execution environment: close what the previous import opened.
            previous_loop = getattr(sys.modules[module], "event_loop", None)
            if previous_loop is not None:
                previous_loop.close()
            return importlib.reload(sys.modules[module])
        return importlib.import_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
