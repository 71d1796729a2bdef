"""The per-request fast paths (issue 16) say exactly what the paths they shortcut said.

POST /predict's ASGI handler against FastAPI's router, the Lambda dispatcher against Mangum's own
call, the direct access-log line against logging's, the EMF line against Powertools', the cached
Prometheus children, the request ids, and the routes added on first use.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from predict import request_ids
from predict.access_log import access_logger
from predict.app import create_app
from predict.artifact import LoadedModel, read_metadata
from predict.errors import InferenceFailed
from predict.fast_predict import PredictFastPath
from predict.invoke import LocalContext
from predict.middleware import InFlight, RequestDone
from predict.settings import Settings
from predict.state import ModelState
from tests.cases import CASES, Case
from tests.helpers import child_env, load_event, make_event

IGNORED_HEADERS = {"date", "x-request-id"}  # the only headers that differ between two sends of a request


def _settings(predict_env: dict[str, str]) -> Settings:
    return Settings(
        model_dir=Path(predict_env["PREDICT_MODEL_DIR"]),
        max_body_bytes=int(predict_env["PREDICT_MAX_BODY_BYTES"]),
        max_rows=int(predict_env["PREDICT_MAX_ROWS"]),
    )


def _exchange(client: TestClient, case: Case) -> tuple[int, list[tuple[str, str]], bytes, str]:
    reply = client.request(case.method, case.path, content=case.body, headers={**case.headers, "x-request-id": "id-1"})
    headers = [(k, v) for k, v in reply.headers.multi_items() if k not in IGNORED_HEADERS]
    return reply.status_code, headers, reply.content, reply.headers["x-request-id"]


@pytest.fixture(scope="module")
def observed(predict_env: dict[str, str]) -> Iterator[tuple[TestClient, list[RequestDone]]]:
    app = create_app(_settings(predict_env))
    seen: list[RequestDone] = []
    app.state.observers.add(seen.append)
    with TestClient(app) as client:
        yield client, seen


def test_the_fast_path_and_the_router_answer_every_case_alike(
    observed: tuple[TestClient, list[RequestDone]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, seen = observed
    taken: list[str] = []
    takes = PredictFastPath.takes

    def counted(scope: Any) -> bool:
        if takes(scope):
            taken.append(scope["path"])
            return True
        return False

    monkeypatch.setattr(PredictFastPath, "takes", staticmethod(counted))
    fast = []
    for case in CASES:
        fast.append((_exchange(client, case), seen[-1][:4]))
    # the first pass really went through the fast path: every POST /predict of the table, nothing else
    assert len(taken) == sum(case.method == "POST" and case.path == "/predict" for case in CASES) >= 10
    monkeypatch.setattr(PredictFastPath, "takes", staticmethod(lambda scope: False))
    for case, (answer, told) in zip(CASES, fast, strict=True):
        routed = _exchange(client, case)
        assert routed == answer, case.id  # status, every header but the date, the body's bytes, the echoed id
        assert seen[-1][:4] == told, case.id  # the access log and metrics hear the same id, method, route, status


@pytest.mark.parametrize("failure", [InferenceFailed("the model failed on this input"), RuntimeError("/secret/x.py")])
def test_a_model_failure_answers_alike_on_both_paths(
    artifact_dir: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    class Failing:
        form, n_features, has_proba = "onnx", 4, True

        def predict(self, rows: Any, probabilities: bool) -> Any:
            raise failure

    app = create_app(Settings(model_dir=artifact_dir), LoadedModel(Failing(), read_metadata(artifact_dir)))
    told: list[RequestDone] = []
    app.state.observers.add(told.append)
    request = {"json": {"features": [5.1, 3.5, 1.4, 0.2]}, "headers": {"x-request-id": "fails-1"}}
    with TestClient(app, raise_server_exceptions=False) as client:
        fast = client.post("/predict", **request)  # type: ignore[arg-type]
        monkeypatch.setattr(PredictFastPath, "takes", staticmethod(lambda scope: False))
        routed = client.post("/predict", **request)  # type: ignore[arg-type]
    assert fast.status_code == routed.status_code == 500
    assert fast.json() == routed.json() == {"error": "internal error", "request_id": "fails-1"}
    assert fast.headers["x-request-id"] == routed.headers["x-request-id"] == "fails-1"
    assert [done[1:4] for done in told] == [("POST", "/predict", 500)] * 2


def test_the_lambda_dispatcher_answers_every_case_as_mangum_does(
    lambda_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = lambda_module.event_loop
    asyncio.set_event_loop(loop)  # as the handler does before either
    turns: list[str] = []
    run_until_complete = loop.run_until_complete
    monkeypatch.setattr(loop, "run_until_complete", lambda future: turns.append("turn") or run_until_complete(future))
    direct = 0
    for template in ("predict-features-v2.json", "predict-features-v1.json"):
        for case in CASES:
            event = make_event(load_event(template), case.method, case.path, case.body, case.headers)
            context = LocalContext()
            turns.clear()
            ours = lambda_module.dispatch(json.loads(json.dumps(event)), context)
            if case.path == "/predict" and case.method == "POST":
                assert turns == [], case.id  # answered without a task or a turn of the event loop
                direct += 1
            mangum = lambda_module.adapter(json.loads(json.dumps(event)), context)
            assert ours == mangum, case.id
    assert direct >= 20


def test_the_dispatcher_finishes_on_the_loop_an_app_that_waits(lambda_module: ModuleType) -> None:
    from mangum import Mangum

    from predict.lambda_dispatch import Dispatcher

    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="caller's")

    async def waits(scope: Any, receive: Any, send: Any) -> None:
        marker.set("app's")
        await receive()
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(future.set_result, b"waited")
        body = await future
        await asyncio.sleep(0)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body + marker.get().encode()})

    dispatch = Dispatcher(Mangum(waits, lifespan="off"), lambda_module.event_loop, lambda scope: True)
    response = dispatch(load_event("predict-features-v2.json"), LocalContext())
    assert (response["statusCode"], response["body"]) == (200, "waitedapp's")
    assert marker.get() == "caller's"  # the app ran in its own context, as in a task


def test_the_emf_line_is_powertools_own() -> None:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    from predict.emf import InvocationMetrics

    metrics = Metrics(namespace="twinserve", service="predict")
    now = int(time.time() * 1000)
    metrics.set_timestamp(now)
    metrics.add_dimension(name="status_class", value="4xx")
    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=0.4321)
    theirs = json.dumps(metrics.serialize_metric_set(), separators=(",", ":"))
    metrics.clear_metrics()
    ours = InvocationMetrics(metrics).document("4xx", 0.4321, now)
    assert json.dumps(ours, separators=(",", ":")) == theirs


def test_request_ids_are_unique_and_safe_across_many_requests_and_threads() -> None:
    ids: list[str] = []

    def draw() -> None:
        ids.extend(request_ids.new_request_id() for _ in range(5_000))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == len(ids) == 20_000
    assert all(request_ids.SAFE_REQUEST_ID.fullmatch(i) and len(i) == 32 for i in ids)
    assert request_ids.request_id(None, b"caller-7") == "caller-7"
    assert request_ids.request_id(None, b"bad id") != "bad id"


_FORK_PROBE = """
import os
from predict.request_ids import new_request_id
read, write = os.pipe()
before = new_request_id()
pid = os.fork()
if pid == 0:
    os.write(write, new_request_id().encode())
    os._exit(0)
os.waitpid(pid, 0)
print(before, os.read(read, 64).decode(), new_request_id())
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_process_draws_its_own_request_ids() -> None:
    result = subprocess.run([sys.executable, "-c", _FORK_PROBE], capture_output=True, text=True, timeout=60, check=True)
    before, child, after = result.stdout.split()
    assert before[:16] == after[:16] != child[:16]  # the child's own prefix: it never repeats the parent's ids
    assert int(after[16:], 16) == int(before[16:], 16) + 1


def test_new_request_ids_on_the_wire_are_unique(observed: tuple[TestClient, list[RequestDone]]) -> None:
    client, _ = observed
    seen = {
        client.post("/predict", json={"features": [5.1, 3.5, 1.4, 0.2]}).headers["x-request-id"] for _ in range(200)
    }
    seen |= {client.get("/health").headers["x-request-id"] for _ in range(50)}
    assert len(seen) == 250
    assert all(request_ids.SAFE_REQUEST_ID.fullmatch(i) for i in seen)


@contextmanager
def plain_root() -> Iterator[tuple[io.StringIO, logging.StreamHandler[io.StringIO]]]:
    """The root logger as `logging.basicConfig` in `python -m predict` leaves it, writing to a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root, access = logging.getLogger(), logging.getLogger("predict.access")
    saved = root.handlers[:], root.level, access.level
    root.handlers[:] = [handler]  # pytest's own capture handlers are off the root while this lasts
    root.setLevel(logging.INFO)
    access.setLevel(logging.NOTSET)
    try:
        yield stream, handler
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        access.setLevel(saved[2])


def _done() -> RequestDone:
    return RequestDone("abc", "POST", "/predict", 200, 0.0004567)


def test_the_access_line_is_written_as_logging_would_without_a_record(monkeypatch: pytest.MonkeyPatch) -> None:
    handled: list[logging.LogRecord] = []
    log = access_logger(ModelState(), lambda: False)
    expected = {"request_id": "abc", "method": "POST", "route": "/predict", "status": 200, "latency_ms": 0.457,
                "cold_start": False, "model": None, "model_version": None}  # fmt: skip
    with plain_root() as (stream, _):
        logging.getLogger("predict.access").info(orjson.dumps(expected).decode())  # logging's own line
        monkeypatch.setattr(logging.Logger, "handle", lambda self, record: handled.append(record))
        log(_done())
    by_logging, direct = stream.getvalue().splitlines(keepends=True)
    assert direct == by_logging == f"INFO predict.access: {orjson.dumps(expected).decode()}\n"
    assert handled == []  # no LogRecord went through logging


def test_the_access_line_goes_through_logging_when_the_setup_is_not_plain() -> None:
    log = access_logger(ModelState())
    with plain_root() as (stream, handler):
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))  # a time in the format: logging's job
        log(_done())
        assert stream.getvalue().count('"request_id":"abc"') == 1
        assert not stream.getvalue().startswith("INFO")
        records: list[logging.LogRecord] = []
        second = logging.Handler()
        second.emit = records.append  # type: ignore[method-assign]
        logging.getLogger().addHandler(second)  # a second handler (pytest's, say): logging's job too
        log(_done())
    assert [json.loads(r.getMessage())["request_id"] for r in records] == ["abc"]
    assert stream.getvalue().count('"request_id":"abc"') == 2


def test_prometheus_children_are_made_once_per_route_and_status(monkeypatch: pytest.MonkeyPatch) -> None:
    from predict.metrics import ServerMetrics

    metrics = ServerMetrics(ModelState(), InFlight())
    made: list[tuple[str, ...]] = []
    labels = metrics.requests.labels
    monkeypatch.setattr(metrics.requests, "labels", lambda *values: made.append(values) or labels(*values))
    for status in (200, 200, 422, 200):
        metrics.observe(RequestDone("id", "POST", "/predict", status, 0.001))
    assert made == [("POST", "/predict", "200"), ("POST", "/predict", "422")]
    sample = metrics.registry.get_sample_value
    assert sample("twinserve_requests_total", {"method": "POST", "route": "/predict", "status": "200"}) == 3
    assert (
        sample("twinserve_request_duration_seconds_count", {"method": "POST", "route": "/predict", "status": "422"})
        == 1
    )


LAZY = ("predict.routes.oip", "predict.oip", "predict.binary_tensors", "predict.metrics", "prometheus_client")
_PROBE = """
import json, sys
from fastapi.testclient import TestClient
from predict.app import create_app
from predict.artifact import LoadedModel, read_metadata
from predict.errors import InferenceFailed
from predict.settings import Settings
lazy = {lazy!r}
app = create_app(Settings(), server_metrics={server!r})
out = {{}}
with TestClient(app) as client:
    out["at_start"] = [m for m in lazy if m in sys.modules]
    out["first"] = client.post("/predict", json={{"features": [5.1, 3.5, 1.4, 0.2]}}).json()
    out["after_first"] = [m for m in lazy if m in sys.modules]
    out["v2"] = client.get("/v2/models/iris-random-forest").status_code
    out["metrics"] = client.get("/metrics").text if {server!r} else ""
    out["paths"] = list(client.get("/openapi.json").json()["paths"])
print(json.dumps(out))
"""


@pytest.mark.parametrize("server", [True, False], ids=["server", "lambda"])
def test_what_the_first_predict_never_needs_loads_later_and_works(predict_env: dict[str, str], server: bool) -> None:
    probe = _PROBE.format(lazy=LAZY, server=server)
    env = child_env(**predict_env)
    command = [sys.executable, "-c", probe]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=True)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["at_start"] == []  # model loaded, app up, and none of them imported
    assert out["first"] == {"prediction": 0}
    if not server:
        assert out["after_first"] == []  # Lambda: only on first use
    assert out["v2"] == 200
    eager = create_app(_settings(predict_env), server_metrics=server)
    eager.openapi()  # adds them now, before any request
    assert out["paths"] == list(eager.openapi()["paths"])  # the same routes, in the same order
    assert out["paths"][0] == "/predict"
    assert "/v2/models/{name}/infer" in out["paths"]
    if server:
        assert out["paths"][-1] == "/metrics"
        # The first /predict was answered before Prometheus was imported, and is counted all the same.
        assert 'twinserve_requests_total{method="POST",route="/predict",status="200"} 1.0' in out["metrics"]
