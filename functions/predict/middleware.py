"""One pure-ASGI middleware for what every request needs: an id, a timing, and who to tell.

x-request-id goes on every response (request_ids.py says which id). When the response starts,
each observer (the access log, and Prometheus metrics on the server) is told the request id,
route, status and latency. POST /predict does the same in fast_predict.py, through `Observers`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .request_ids import request_id

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_HEADER_RAW = REQUEST_ID_HEADER.encode()


class RequestDone(NamedTuple):
    """A NamedTuple, not a frozen dataclass: one is made per request, and a tuple is made in one step."""

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


class Observers:
    """Who is told of every answered request, and the in-flight count both dispatchers keep."""

    def __init__(self, observers: Sequence[Observer] = (), in_flight: InFlight | None = None) -> None:
        self.observers = list(observers)
        self.in_flight = in_flight or InFlight()

    def add(self, observer: Observer) -> None:
        self.observers.append(observer)

    def replace(self, old: Observer, new: Observer) -> None:
        self.observers[self.observers.index(old)] = new

    def tell(self, request_id: str, method: str, route: str, status: int, started: float) -> None:
        done = RequestDone(request_id, method, route, status, time.perf_counter() - started)
        for observe in self.observers:
            observe(done)


def scope_request_id(scope: Scope) -> str:
    """The id for this request (request_ids.request_id), from the scope's Lambda context and headers."""
    for name, value in scope.get("headers", ()):
        if name == _REQUEST_ID_HEADER_RAW:
            return request_id(scope.get("aws.context"), value)
    return request_id(scope.get("aws.context"), None)


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None)  # the template without convertors: {name}, not {name:model}
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, observers: Observers) -> None:
        self.app = app
        self.observers = observers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = scope_request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        observers = self.observers

        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal responded
            if message["type"] == "http.response.start":
                responded = True
                headers = MutableHeaders(scope=message)
                if REQUEST_ID_HEADER not in headers:
                    headers.append(REQUEST_ID_HEADER, request_id)
                observers.tell(request_id, scope["method"], route_of(scope), message["status"], started)
            await send(message)

        observers.in_flight.count += 1
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # The 500 is sent by Starlette's outermost error middleware, past this one: count it here.
            if not responded:
                observers.tell(request_id, scope["method"], route_of(scope), 500, started)
            raise
        finally:
            observers.in_flight.count -= 1
