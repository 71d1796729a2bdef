"""Reading a JSON request body: content type, size limit, parsing, validation into a model.

Done by hand rather than by FastAPI's body parameter so every refusal gets its own status
(415, 413, 400, 422) and a message that says what was wrong, on both entry points alike.
A route that serves the binary tensor data extension also takes application/octet-stream: the
body is then a JSON header and raw tensors, which `binary_tensors` splits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

from .errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_REPORTED_ERRORS = 5
OCTET_STREAM = "application/octet-stream"


def is_json_content_type(value: str | None) -> bool:
    # No content type is taken as JSON: API Gateway events made by `sam local generate-event`
    # carry none, and neither do many hand-written clients.
    if value is None or not value.strip():
        return True
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def is_octet_stream(value: str | None) -> bool:
    return value is not None and value.split(";", 1)[0].strip().lower() == OCTET_STREAM


def check_headers(content_type: str | None, declared: str | None, limit: int, *, binary: bool = False) -> None:
    """Refuse a body by its headers, before reading it: its content type (415), its declared length (413)."""
    if not is_json_content_type(content_type) and not (binary and is_octet_stream(content_type)):
        also = f", or {OCTET_STREAM} for binary tensor data" if binary else ""
        raise UnsupportedMediaType(f"content type {content_type!r} is not supported; send application/json{also}")
    declared = declared or ""
    # ASCII digits only, and few enough for int() (Unicode digits and 5,000-digit numbers make it raise).
    if declared.isascii() and declared.isdigit() and (len(declared.lstrip("0")) > 18 or int(declared) > limit):
        raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body from its chunks, refused (413) as soon as it passes `limit` bytes."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
    return bytes(body)


async def receive_body(receive: Receive, limit: int) -> bytes:
    """`read_limited` straight from the ASGI messages, without a Request: the POST /predict fast path."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()  # as Request.stream() raises it
        body += message.get("body", b"")
        if len(body) > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        if not message.get("more_body", False):
            return bytes(body)


async def read_body(request: Request, limit: int, *, binary: bool = False) -> bytes:
    """The whole body, at most `limit` bytes; JSON, or also application/octet-stream with `binary`."""
    headers = request.headers
    check_headers(headers.get("content-type"), headers.get("content-length"), limit, binary=binary)
    return await read_limited(request.stream(), limit)


def parse_json(body: bytes, where: str = "") -> Any:
    """`where` names the part of the body that was JSON, when it was not all of it."""
    if not body.strip():
        if where:
            raise BadRequest(f"no JSON{where}")
        raise BadRequest('empty request body; send a JSON object such as {"features": [5.1, 3.5, 1.4, 0.2]}')
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON{where}: {exc}") from exc


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
