"""Reading a JSON request body: content type, size limit, parsing, validation into a model.

Done by hand rather than by FastAPI's body parameter so every refusal gets its own status
(415, 413, 400, 422) and a message that says what was wrong, on both entry points alike.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from .errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_REPORTED_ERRORS = 5


def is_json_content_type(value: str | None) -> bool:
    # No content type is taken as JSON: API Gateway events made by `sam local generate-event`
    # carry none, and neither do many hand-written clients.
    if value is None or not value.strip():
        return True
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


async def read_body(request: Request, limit: int) -> bytes:
    content_type = request.headers.get("content-type")
    if not is_json_content_type(content_type):
        raise UnsupportedMediaType(f"content type {content_type!r} is not supported; send application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
    return bytes(body)


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequest('empty request body; send a JSON object such as {"features": [5.1, 3.5, 1.4, 0.2]}')
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc}") from exc


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:MAX_REPORTED_ERRORS]:
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    more = len(exc.errors()) - MAX_REPORTED_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "invalid request: " + "; ".join(parts)


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(value), "null")


def validate_as(model: type[ModelT], data: Any) -> ModelT:
    if not isinstance(data, dict):
        raise InvalidInput(f"invalid request: expected a JSON object, got {_json_type(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from exc
