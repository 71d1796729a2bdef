"""Measure the real handler on this machine: cold starts and warm request times of both entry points.

Lambda path: a fresh process running the real awslambdaric client with the handler, against the
local Runtime API; cold start is process start to the first invocation's response (Lambda's own
sandbox creation, not reproducible here, comes on top). Server path: a fresh `python -m predict
serve`; cold start is process start to the first correct answer on POST /predict. Warm times are
client-side round trips, one at a time, after a warm-up.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import httpx

from .events import load_event, make_event, reply_from_lambda
from .processes import lambda_runtime, uvicorn_server

IRIS_ROW = [5.1, 3.5, 1.4, 0.2]
WARM_UP = 20


def batch_body(rows: int) -> bytes:
    if rows == 1:
        return json.dumps({"features": IRIS_ROW}).encode()
    return json.dumps({"instances": [IRIS_ROW] * rows}).encode()


def _expected(rows: int) -> object:
    return {"prediction": 0} if rows == 1 else {"predictions": [0] * rows}


def _lambda_event(rows: int) -> dict[str, object]:
    headers = {"content-type": "application/json"}
    return make_event(load_event("predict-features-v2.json"), "POST", "/predict", batch_body(rows), headers)


def lambda_cold_start(env: Mapping[str, str]) -> float:
    """Seconds from starting the runtime process to the first correct response."""
    event = _lambda_event(1)
    started = time.perf_counter()
    with lambda_runtime(env, wait=False) as runtime:
        result = runtime.api.invoke(event, timeout_s=60)
        elapsed = time.perf_counter() - started
    reply = reply_from_lambda(result.payload) if result.ok else None
    if reply is None or reply.json() != _expected(1):
        raise RuntimeError(f"the Lambda entry point answered wrongly on its first invocation: {result.payload}")
    return elapsed


def server_cold_start(env: Mapping[str, str], timeout_s: float = 60.0) -> float:
    """Seconds from starting the server process to the first correct answer on POST /predict."""
    started = time.perf_counter()
    with uvicorn_server(env, wait=False) as server, httpx.Client(base_url=server.url, timeout=5.0) as client:
        while time.perf_counter() - started < timeout_s:
            if server.process.poll() is not None:
                raise RuntimeError(f"the server exited with {server.process.returncode} before answering")
            try:
                response = client.post("/predict", content=batch_body(1), headers={"content-type": "application/json"})
            except httpx.TransportError:
                time.sleep(0.002)
                continue
            if response.status_code == 200 and response.json() == _expected(1):
                return time.perf_counter() - started
            time.sleep(0.002)
    raise TimeoutError(f"the server did not answer correctly within {timeout_s} s")


def lambda_warm_times(env: Mapping[str, str], batches: list[int], requests: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    with lambda_runtime(env) as runtime:
        for rows in batches:
            event = _lambda_event(rows)
            for _ in range(WARM_UP):
                runtime.api.invoke(event)
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                result = runtime.api.invoke(event)
                samples.append(time.perf_counter() - started)
                if not result.ok or result.payload.get("statusCode") != 200:
                    raise RuntimeError(f"warm invocation failed: {result.payload}")
            times[str(rows)] = samples
    return times


def server_warm_times(env: Mapping[str, str], batches: list[int], requests: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    headers = {"content-type": "application/json"}
    with uvicorn_server(env) as server, httpx.Client(base_url=server.url) as client:
        for rows in batches:
            body = batch_body(rows)
            for _ in range(WARM_UP):
                client.post("/predict", content=body, headers=headers)
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.post("/predict", content=body, headers=headers)
                samples.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"warm request failed: {response.status_code} {response.text}")
            times[str(rows)] = samples
    return times
