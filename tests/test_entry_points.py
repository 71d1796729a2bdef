"""One table of cases through every entry point: the same status and the same body everywhere.

Paths: the ASGI app in-process; the Mangum handler with SAM-generated v2 and v1 events; a real
uvicorn process; the real awslambdaric runtime client in its own process against a local
Lambda Runtime API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from fastapi.testclient import TestClient

from predict.app import create_app
from predict.invoke import LocalContext
from predict.settings import Settings
from tests.cases import CASES, HEADER_LENGTH, MODEL, SETOSA, VIRGINICA, Case
from tests.helpers import (
    Reply,
    child_env,
    lambda_runtime,
    load_event,
    make_event,
    reply_from_lambda,
    uvicorn_server,
)

Send = Callable[[Case], Reply]
PATHS = ["asgi", "mangum-v2", "mangum-v1", "uvicorn", "awslambdaric"]


@pytest.fixture(scope="module")
def asgi_client(predict_env: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(
        model_dir=Path(predict_env["PREDICT_MODEL_DIR"]),
        max_body_bytes=int(predict_env["PREDICT_MAX_BODY_BYTES"]),
        max_rows=int(predict_env["PREDICT_MAX_ROWS"]),
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _asgi_send(client: TestClient) -> Send:
    def send(case: Case) -> Reply:
        response = client.request(case.method, case.path, content=case.body, headers=case.headers)
        return Reply(response.status_code, dict(response.headers), response.content)

    return send


@pytest.fixture(scope="module", params=PATHS)
def send(
    request: pytest.FixtureRequest,
    asgi_client: TestClient,
    lambda_module: ModuleType,
    predict_env: dict[str, str],
) -> Iterator[Send]:
    path = request.param
    if path == "asgi":
        yield _asgi_send(asgi_client)
    elif path.startswith("mangum"):
        template = load_event("predict-features-v2.json" if path == "mangum-v2" else "predict-features-v1.json")

        def send_event(case: Case) -> Reply:
            event = make_event(template, case.method, case.path, case.body, case.headers)
            return reply_from_lambda(lambda_module.handler(event, LocalContext()))

        yield send_event
    elif path == "uvicorn":
        with uvicorn_server(child_env(**predict_env)) as server, httpx.Client(base_url=server.url) as http:

            def send_http(case: Case) -> Reply:
                response = http.request(case.method, case.path, content=case.body, headers=case.headers)
                return Reply(response.status_code, dict(response.headers), response.content)

            yield send_http
    else:
        template = load_event("predict-features-v2.json")
        with lambda_runtime(child_env(**predict_env)) as runtime:

            def send_runtime(case: Case) -> Reply:
                event = make_event(template, case.method, case.path, case.body, case.headers)
                result = runtime.api.invoke(event)
                assert result.ok, f"the function raised instead of answering: {result.payload}"
                return reply_from_lambda(result.payload)

            yield send_runtime


_reference: dict[str, Reply] = {}


@pytest.fixture
def reference(asgi_client: TestClient) -> Callable[[Case], Reply]:
    """The in-process ASGI app's answer to a case: every other path must answer the same."""

    def answer(case: Case) -> Reply:
        if case.id not in _reference:
            _reference[case.id] = _asgi_send(asgi_client)(case)
        return _reference[case.id]

    return answer


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_answer_on_every_path(case: Case, send: Send, reference: Callable[[Case], Reply]) -> None:
    reply = send(case)
    assert reply.status == case.status, reply.body
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.headers.get("x-request-id")
    body = reply.json()
    if case.expect is not None:
        assert body == case.expect
    if case.error_words:
        assert set(body) == {"error"}
        for word in case.error_words:
            assert word in body["error"]
    assert body == reference(case).json()


def test_probabilities_match_the_labels(send: Send) -> None:
    case = next(c for c in CASES if c.id == "batch-probabilities")
    body = send(case).json()
    assert len(body["probabilities"]) == len(body["predictions"]) == 2
    for label, row in zip(body["predictions"], body["probabilities"], strict=True):
        assert sum(row) == pytest.approx(1.0)
        assert row.index(max(row)) == label  # Iris classes are 0, 1, 2 in order


def test_model_endpoint_serves_the_artifact_metadata(send: Send, predict_env: dict[str, str]) -> None:
    case = next(c for c in CASES if c.id == "model")
    metadata = json.loads((Path(predict_env["PREDICT_MODEL_DIR"]) / "metadata.json").read_text())
    served = {key: metadata[key] for key in metadata if key not in ("sklearn_version", "format", "compiled")}
    assert send(case).json() == {**served, "serving_form": "onnx"}


def _as_tritons_client_sends(binary_input: bool, outputs: list[triton.InferRequestedOutput] | None) -> Case:
    """The tutorial's two rows as Triton's client sends them: the body its own `generate_request_body`
    makes, the header length beside it, and no content type (its synchronous client sets none)."""
    rows = np.array([SETOSA, VIRGINICA], dtype=np.float32)
    tensor = triton.InferInput("input-0", list(rows.shape), "FP32")
    if binary_input:
        tensor.set_data_from_numpy(rows)  # the client's default: binary_data=True
    else:
        tensor.set_data_from_numpy(rows, binary_data=False)
    body, json_size = triton.InferenceServerClient.generate_request_body([tensor], outputs=outputs)
    headers = {} if json_size is None else {HEADER_LENGTH: str(json_size)}
    return Case("triton", "POST", f"/v2/models/{MODEL}/infer", body, 200, headers=headers)


@pytest.mark.parametrize(
    ("binary_input", "outputs"),
    [
        (True, None),
        (True, ["predict"]),
        (True, ["predict", "predict_proba"]),
        (False, None),
    ],
    ids=["defaults", "requested-output", "both-outputs", "json-in-binary-out"],
)
def test_tritons_client_with_its_defaults_gets_binary_answers(
    send: Send, binary_input: bool, outputs: list[str] | None
) -> None:
    requested = None if outputs is None else [triton.InferRequestedOutput(name) for name in outputs]
    reply = send(_as_tritons_client_sends(binary_input, requested))
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "application/octet-stream"
    assert reply.headers.get("x-request-id")
    result = triton.InferenceServerClient.parse_response_body(reply.body, header_length=reply.headers[HEADER_LENGTH])
    assert result.as_numpy("predict").tolist() == [0, 2]
    if outputs is not None and "predict_proba" in outputs:
        proba = result.as_numpy("predict_proba")
        assert proba.shape == (2, 3)
        assert np.allclose(proba.sum(axis=1), 1.0)
        assert proba.argmax(axis=1).tolist() == [0, 2]
    assert all("data" not in output for output in result.get_response()["outputs"])
