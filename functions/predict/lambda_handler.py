"""The Lambda entry point: the shared app behind Mangum.

Everything here runs once per execution environment, in Lambda's init phase: settings, the
verified model, the app and the adapter. A bad artifact raises here, so Lambda reports an
init error whose message names the problem instead of serving a half-working function.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
from typing import Any

import orjson
from mangum import Mangum

from .app import create_app
from .artifact import load_artifact
from .settings import Settings

logger = logging.getLogger("predict.lambda")

# Mangum runs each invocation on the current event loop; give it one up front instead of
# letting it fall back on asyncio.get_event_loop(), deprecated without a running loop.
event_loop = asyncio.new_event_loop()
asyncio.set_event_loop(event_loop)

settings = Settings()
model = load_artifact(settings.model_dir, settings.model_sha256)
# lifespan="off": Mangum would otherwise run the ASGI lifespan on every invocation.
adapter = Mangum(create_app(settings, model), lifespan="off", api_gateway_base_path=settings.base_path)

_cold_start = True


def _bad_event(message: str) -> dict[str, Any]:
    return {
        "statusCode": 400,
        "headers": {"content-type": "application/json"},
        "body": orjson.dumps({"error": message}).decode(),
        "isBase64Encoded": False,
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _cold_start
    cold_start, _cold_start = _cold_start, False
    try:
        response = adapter(event, context)
    # Errors inside the app become responses in Mangum; what escapes is about the event itself.
    except binascii.Error:
        logger.warning("event body marked base64 is not base64")
        response = _bad_event("request body is not valid base64")
    except (KeyError, TypeError, AttributeError, RuntimeError, ValueError) as exc:
        logger.warning("malformed or unsupported event: %s", type(exc).__name__)
        response = _bad_event("not an API Gateway HTTP event (payload 1.0 or 2.0 expected), or a malformed one")
    headers = response.get("headers") or {}
    headers["x-cold-start"] = "true" if cold_start else "false"
    headers.setdefault("x-request-id", str(getattr(context, "aws_request_id", "")))
    response["headers"] = headers
    return response
