"""API Gateway events for the Lambda entry point, and the HTTP reply inside a Lambda response.

Events start from ones `sam local generate-event` made (tests/events/): the request is put into
them the way API Gateway would, body base64-encoded as SAM does.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "tests" / "events"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def make_event(
    template: Mapping[str, Any], method: str, path: str, body: bytes | None, headers: Mapping[str, str]
) -> dict[str, Any]:
    """Put a request into a `sam local generate-event` event (v1 or v2)."""
    event = copy.deepcopy(dict(template))
    event["body"] = base64.b64encode(body).decode() if body else ""
    event["isBase64Encoded"] = bool(body)
    if event.get("version") == "2.0":
        event["rawPath"] = path
        event["rawQueryString"] = ""
        event.pop("queryStringParameters", None)
        event["requestContext"]["http"]["method"] = method
        event["requestContext"]["http"]["path"] = path
        event["routeKey"] = "$default"
        event["headers"] = {k.lower(): v for k, v in headers.items()}
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
