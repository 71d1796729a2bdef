"""One pure-ASGI middleware for what every request needs: an id, a timing, and who to tell.

x-request-id goes on every response: the Lambda request id on Lambda, else the caller's (when
short and plain), else a new one. When the response starts, each observer (the access log, and
Prometheus metrics on the server) is told the request id, route, status and latency.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
# A caller's id is echoed only if it is short and plain, so it cannot inject into logs or headers.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


@dataclass(frozen=True)
class RequestDone:
    request_id: str
    method: str
    route: str  # the route's template (/v2/models/{name}/infer), not the raw path
    status: int
    latency_s: float


Observer = Callable[[RequestDone], None]


class InFlight:
    """Requests between arrival and response; read by the server's metrics."""

    def __init__(self) -> None:
        self.count = 0


def _request_id(scope: Scope) -> str:
    context: Any = scope.get("aws.context")
    lambda_id = getattr(context, "aws_request_id", None)
    if isinstance(lambda_id, str) and lambda_id:
        return lambda_id
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None)  # the template without convertors: {name}, not {name:model}
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, observers: Sequence[Observer] = (), in_flight: InFlight | None = None) -> None:
        self.app = app
        self.observers = tuple(observers)
        self.in_flight = in_flight or InFlight()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id

        responded = False

        def tell(status: int) -> None:
            done = RequestDone(request_id, scope["method"], route_of(scope), status, time.perf_counter() - started)
            for observe in self.observers:
                observe(done)

        async def send_with_id(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
                headers = MutableHeaders(scope=message)
                if REQUEST_ID_HEADER not in headers:
                    headers.append(REQUEST_ID_HEADER, request_id)
                tell(message["status"])
            await send(message)

        self.in_flight.count += 1
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # The 500 is sent by Starlette's outermost error middleware, past this one: count it here.
            if not responded:
                tell(500)
            raise
        finally:
            self.in_flight.count -= 1
