"""Lambda specifics of the handler: cold-start flag, request id, stage prefix, events that are not requests."""

from __future__ import annotations

import base64
import json
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
