"""Lambda specifics of the handler: cold-start flag, request id, stage prefix, events that are not requests."""

from __future__ import annotations

import base64
import json
import struct
from types import ModuleType

import pytest

from predict.invoke import LocalContext
from tests.helpers import import_with_env, load_event, make_event, reply_from_lambda

TUTORIAL = json.dumps({"features": [5.1, 3.5, 1.4, 0.2]}).encode()


@pytest.fixture
def fresh_handler(predict_env: dict[str, str]) -> ModuleType:
    """A newly initialised execution environment: the module imported again."""
    return import_with_env("predict.lambda_handler", predict_env)


def test_cold_start_only_on_the_first_invocation(fresh_handler: ModuleType) -> None:
    event = load_event("predict-features-v2.json")
    flags = [fresh_handler.handler(event, LocalContext())["headers"]["x-cold-start"] for _ in range(3)]
    assert flags == ["true", "false", "false"]


@pytest.mark.parametrize("event_file", ["predict-features-v2.json", "predict-features-v1.json"])
def test_request_id_is_the_lambda_request_id(lambda_module: ModuleType, event_file: str) -> None:
    context = LocalContext()
    event = load_event(event_file)
    event["headers"]["x-request-id"] = "from-the-caller"
    reply = reply_from_lambda(lambda_module.handler(event, context))
    assert reply.status == 200
    assert reply.headers["x-request-id"] == context.aws_request_id


def test_stage_prefix_is_stripped_when_configured(predict_env: dict[str, str]) -> None:
    module = import_with_env("predict.lambda_handler", {**predict_env, "PREDICT_BASE_PATH": "/prod"})
    event = make_event(load_event("predict-features-v2.json"), "POST", "/prod/predict", TUTORIAL, {})
    reply = reply_from_lambda(module.handler(event, LocalContext()))
    assert (reply.status, reply.json()) == (200, {"prediction": 0})
    unprefixed = make_event(load_event("predict-features-v2.json"), "POST", "/predict", TUTORIAL, {})
    assert reply_from_lambda(module.handler(unprefixed, LocalContext())).status == 200


def test_text_body_that_is_not_base64_encoded(lambda_module: ModuleType) -> None:
    event = load_event("predict-features-v2.json")
    event["body"], event["isBase64Encoded"] = TUTORIAL.decode(), False
    assert reply_from_lambda(lambda_module.handler(event, LocalContext())).json() == {"prediction": 0}


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda e: e.update(body="%%% not base64 %%%"), "not valid base64"),
        (lambda e: e.pop("requestContext"), "not an API Gateway"),
        (lambda e: e.clear(), "not an API Gateway"),
        (lambda e: e["requestContext"].pop("http"), "not an API Gateway"),
        (lambda e: e["headers"].update(host="a:b:c"), "malformed"),
    ],
    ids=["base64-garbage", "no-request-context", "empty-event", "no-http-block", "bad-host-header"],
)
def test_events_that_are_not_requests_get_a_400(lambda_module: ModuleType, mutate: object, words: str) -> None:
    event = load_event("predict-features-v2.json")
    mutate(event)  # type: ignore[operator]
    context = LocalContext()
    response = lambda_module.handler(event, context)
    reply = reply_from_lambda(response)
    assert reply.status == 400
    assert words in reply.json()["error"]
    assert reply.headers["x-request-id"] == context.aws_request_id


def test_binary_body_in_v2_event_is_decoded(lambda_module: ModuleType) -> None:
    event = load_event("predict-input-v2.json")
    assert event["isBase64Encoded"] is True  # as `sam local generate-event` makes it
    assert json.loads(base64.b64decode(event["body"])) == {"input": [5.1, 3.5, 1.4, 0.2]}
    assert reply_from_lambda(lambda_module.handler(event, LocalContext())).json() == {"prediction": [0]}


def test_still_answers_after_something_else_ran_an_event_loop(lambda_module: ModuleType) -> None:
    import asyncio

    async def elsewhere() -> None:
        """asyncio.run leaves the thread with no current loop when it ends."""

    asyncio.run(elsewhere())
    event = load_event("predict-features-v2.json")
    assert reply_from_lambda(lambda_module.handler(event, LocalContext())).json() == {"prediction": 0}


BINARY_HEADER = json.dumps(
    {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "parameters": {"binary_data_size": 32}}]}
).encode()
BINARY_REQUEST = BINARY_HEADER + struct.pack("<4d", 5.1, 3.5, 1.4, 0.2)


@pytest.mark.parametrize("event_file", ["predict-features-v2.json", "predict-features-v1.json"])
@pytest.mark.parametrize("binary_out", [True, False], ids=["binary-out", "json-out"])
def test_binary_tensors_travel_base64_both_ways(lambda_module: ModuleType, event_file: str, binary_out: bool) -> None:
    """The HTTP API hands a binary body over base64-encoded; Mangum base64-encodes an answer whose
    content type is not text (application/octet-stream), and leaves a JSON one as text."""
    header = json.loads(BINARY_HEADER)
    header["parameters"] = {"binary_data_output": binary_out}
    json_header = json.dumps(header).encode()
    body = json_header + BINARY_REQUEST[len(BINARY_HEADER) :]
    headers = {"Inference-Header-Content-Length": str(len(json_header)), "Content-Type": "application/octet-stream"}
    event = make_event(load_event(event_file), "POST", "/v2/models/iris-random-forest/infer", body, headers)
    assert event["isBase64Encoded"] is True
    response = lambda_module.handler(event, LocalContext())
    assert response["statusCode"] == 200, response
    assert response["isBase64Encoded"] is binary_out
    reply = reply_from_lambda(response)
    if binary_out:
        assert reply.headers["content-type"] == "application/octet-stream"
        length = int(reply.headers["inference-header-content-length"])
        answer = json.loads(reply.body[:length])
        assert answer["outputs"][0]["parameters"] == {"binary_data_size": 8}
        assert struct.unpack("<q", reply.body[length:]) == (0,)
    else:
        assert "inference-header-content-length" not in reply.headers
        assert reply.json()["outputs"][0]["data"] == [0]


@pytest.mark.parametrize(
    "declared", ["\u00b2", "9" * 5000, "0" * 30 + "1"], ids=["unicode-digit", "5000-digits", "leading-zeros"]
)
def test_a_content_length_int_cannot_read_is_not_a_500(lambda_module: ModuleType, declared: str) -> None:
    """Only the Lambda path sees such a header: uvicorn's parser refuses it before the app."""
    event = make_event(
        load_event("predict-features-v2.json"), "POST", "/predict", TUTORIAL, {"content-length": declared}
    )
    reply = reply_from_lambda(lambda_module.handler(event, LocalContext()))
    assert reply.status in (200, 413), reply.body
