"""The Lambda entry point: the shared app behind Mangum.

Everything here runs once per execution environment, in Lambda's init phase: settings, the
verified model, the app and the adapter. A bad artifact raises here, so Lambda reports an
init error whose message names the problem instead of serving a half-working function.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import os
import time
from typing import Any

import orjson
from aws_lambda_powertools import Metrics
from mangum import Mangum

from .access_log import lean_log_records
from .app import create_app
from .emf import InvocationMetrics
from .fast_predict import PredictFastPath
from .lambda_dispatch import Dispatcher
from .settings import Settings
from .source import load_model

logger = logging.getLogger("predict.lambda")

# Mangum runs each invocation on the current event loop; give it one up front instead of
# letting it fall back on asyncio.get_event_loop(), deprecated without a running loop.
event_loop = asyncio.new_event_loop()
asyncio.set_event_loop(event_loop)


class _ExecutionEnvironment:
    """Whether the invocation being served is the first of this execution environment."""

    def __init__(self) -> None:
        self.invocations = 0

    def cold(self) -> bool:
        return self.invocations <= 1


environment = _ExecutionEnvironment()
lean_log_records()
settings = Settings()
model = load_model(settings)
# lifespan="off": Mangum would otherwise run the ASGI lifespan on every invocation.
# Bodies: the HTTP API base64-encodes a request body that is not text (binary tensor data) and
# Mangum decodes it; Mangum base64-encodes an answer whose content type is not one of its text
# types (text/*, JSON, XML...), so binary tensor answers (application/octet-stream) go back
# base64-encoded, which the HTTP API decodes for the client.
# inline_model: one invocation at a time per environment, so the model never needs a worker thread.
app = create_app(settings, model, cold_start=environment.cold, inline_model=True)
adapter = Mangum(app, lifespan="off", api_gateway_base_path=settings.base_path)
dispatch = Dispatcher(adapter, event_loop, PredictFastPath.takes)
# CloudWatch metrics in embedded metric format, written to the function's log: no API calls.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "twinserve"), service="predict")
invocation_metrics = InvocationMetrics(metrics)


def _bad_event(message: str) -> dict[str, Any]:
    return {
        "statusCode": 400,
        "headers": {"content-type": "application/json"},
        "body": orjson.dumps({"error": message}).decode(),
        "isBase64Encoded": False,
    }


def _malformed(event: Any) -> str | None:
    """What Mangum would pass on unchecked into the request: method, path, headers, body must be text."""
    if not isinstance(event, dict):
        return "the event is not a JSON object"
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) and event.get("version") == "2.0" else None
    fields = (
        {"method": http.get("method"), "path": http.get("path")}
        if isinstance(http, dict)
        else {"httpMethod": event.get("httpMethod"), "path": event.get("path")}
    )
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            return f"{name} must be a string"
    headers = event.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        return "headers must map names to strings"
    if not isinstance(event.get("body") or "", str):
        return "body must be a string"
    return None


def _respond(event: dict[str, Any], context: Any) -> dict[str, Any]:
    problem = _malformed(event)
    if problem is not None:
        logger.warning("malformed event: %s", problem)
        return _bad_event(f"malformed API Gateway event: {problem}")
    # Mangum runs on the thread's current event loop: make it ours again, whatever else in the
    # process (asyncio.run, a test client) set or cleared since.
    asyncio.set_event_loop(event_loop)
    try:
        response = dispatch(event, context)
    # Errors inside the app become responses in Mangum; what escapes is about the event itself.
    except binascii.Error:
        logger.warning("event body marked base64 is not base64")
        return _bad_event("request body is not valid base64")
    except (KeyError, TypeError, AttributeError, RuntimeError, ValueError) as exc:
        logger.warning("malformed or unsupported event: %s", type(exc).__name__)
        return _bad_event("not an API Gateway HTTP event (payload 1.0 or 2.0 expected), or a malformed one")
    return response


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    environment.invocations += 1
    started = time.perf_counter()
    if environment.cold():
        # Our own flag, the one x-cold-start and the access log report, not Powertools' process-wide one.
        metrics.provider.add_cold_start_metric(context)
    response = _respond(event, context)
    latency_ms = (time.perf_counter() - started) * 1000
    headers = response.get("headers") or {}
    headers["x-cold-start"] = "true" if environment.cold() else "false"
    headers.setdefault("x-request-id", str(getattr(context, "aws_request_id", "")))
    response["headers"] = headers
    # Requests and Latency by status_class, as Powertools' log_metrics wrote them after the handler.
    invocation_metrics.write(f"{response['statusCode'] // 100}xx", latency_ms)
    return response
