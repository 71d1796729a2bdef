"""Measure the real handler on this machine: cold starts and warm request times of both entry points.

Lambda path: a fresh process running the real awslambdaric client with the handler, against the
local Runtime API; cold start is process start to the first invocation's response (Lambda's own
sandbox creation, not reproducible here, comes on top). Server path: a fresh `python -m predict
serve`; cold start is process start to the first correct answer on POST /predict. Warm times are
client-side round trips after a warm-up: the server's one at a time; Lambda's under light Poisson
load on a pool of one (as `compare validate` drives it), each also giving the handler's duration as
the Runtime API saw it (compare/runtime_api.py). What the server sees under
load is compare/server_calibration.py's. A new pod's start: where a Docker engine
answers, the server image (built; the layer cache makes a rebuild quick) run under the Deployment's
contract, `docker run` to the first correct answer; else the server process's cold start, labelled so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from . import docker
from .calibration import PodStartSource
from .events import load_event, make_event, reply_from_lambda
from .pod_contract import PodContract, pod_contract
from .processes import lambda_runtime, uvicorn_server

IRIS_ROW = [5.1, 3.5, 1.4, 0.2]
WARM_UP = 20
POD_IMAGE = "twinserve-predict:calibrate"  # the server image `calibrate` builds and times as a new pod


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


def lambda_warm_times(
    env: Mapping[str, str], batches: list[int], requests: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per batch size: the round trips, and the handler's durations of the same invocations (paired), measured
    as `compare validate` loads the function: a pool of one runtime pinned to its core, this process (the
    dispatcher and the Runtime API's threads) on the other, Poisson arrivals at a light share of the pool's
    capacity (compare/lambda_pool.py's pairs_under_load). A round trip ends as the response arrives (a callback
    in the Runtime API's thread), the instant compare/lambda_pool.py's callers are timed at."""
    from .lambda_pool import pairs_under_load, pool_capacity
    from .processes import lambda_pool
    from .server_calibration import cores, on_cpu

    runtime_cpu, driver_cpu = cores()
    times: dict[str, list[float]] = {}
    durations: dict[str, list[float]] = {}
    # This thread on the driver's core before the pool starts: the Runtime API's threads inherit it.
    with on_cpu(driver_cpu), lambda_pool(env, 1, cpu=runtime_cpu) as pool:
        for seed, rows in enumerate(batches):
            event = _lambda_event(rows)
            pool_capacity(pool.api, event, 1, WARM_UP)  # warm-up: the first invocations pay one-off costs
            times[str(rows)], durations[str(rows)] = pairs_under_load(pool.api, event, 1, requests, seed=seed)
    return times, durations


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


@dataclass(frozen=True)
class PodStart:
    """How a new pod's start is timed: the server container (`image` under `contract`), or the process."""

    source: PodStartSource
    why: str
    image: str | None = None
    contract: PodContract | None = None

    @classmethod
    def find(cls, image: str = POD_IMAGE, progress: Callable[[str], None] = print) -> PodStart:
        """The container where an engine answers and the image builds; else the process, saying why."""
        missing = docker.engine_missing()
        if missing is not None:
            return cls("process", f"{missing}: the server process's cold start stands in for a pod's start")
        progress(f"pod start: building {image} from {docker.SERVER_DOCKERFILE.name} (cached after the first time)")
        try:
            built_s = docker.build(docker.SERVER_DOCKERFILE, image)
        except docker.DockerError as exc:
            progress(f"WARNING: {image} did not build, so the process's cold start stands in for a pod's: {exc}")
            return cls("process", f"the server image did not build: {str(exc)[-500:]}")
        why = f"{image} (built in {built_s:.1f} s) under the Deployment's contract, docker run to the first answer"
        return cls("container", why, image, pod_contract())

    def measure(self) -> float:
        """One container start, in seconds; the process source has nothing to add to the server's cold starts."""
        if self.image is None or self.contract is None:
            raise ValueError("the process's pod start is the server's cold start: nothing more to measure")
        return docker.container_cold_start(self.image, self.contract)
