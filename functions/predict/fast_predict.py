"""POST /predict as a plain ASGI handler, in front of Starlette's middleware and FastAPI's router.

The busiest request skips what the other routes go through: the error, telemetry and body-limit
middleware, the request-context middleware's wrapped `send`, the router's walk over every route,
and FastAPI's request handler. Inside the app (app.py puts it at the head of the middleware
stack), so uvicorn and Mangum both reach it. It does what that chain did for this route, in the
same order and with the same answers: the request id, the route in the scope, the observers told
at response start, the model's readiness (503), then the body's checks (415, 413), its JSON (400),
validation (422), the model, and errors answered by error_responses.py. Any other request, and
POST /predict under a root path (which the router resolves), goes down the chain unchanged.
"""

from __future__ import annotations

import time

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .body import check_headers, receive_body
from .error_responses import internal_error, predict_error
from .errors import PredictError
from .middleware import Observers
from .request_ids import request_id as choose_request_id
from .routes.predict import PATH, answer
from .settings import Settings
from .state import ModelState

_JSON = b"application/json"


class PredictFastPath:
    def __init__(
        self,
        app: ASGIApp,
        *,
        route: BaseRoute,
        state: ModelState,
        settings: Settings,
        observers: Observers,
        inline_model: bool = False,
    ) -> None:
        self.app = app
        # Lambda: the model on the calling thread whatever the batch, so an invocation never waits
        # on the event loop (lambda_dispatch.py then runs it without one).
        self.inline_model = inline_model
        self.route = route  # scope["route"], as the router sets it: the access log and metrics read its template
        self.state = state
        self.settings = settings
        self.observers = observers

    @staticmethod
    def takes(scope: Scope) -> bool:
        """Whether this handler answers the request (the router does under a root path)."""
        return (
            scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == "POST"
            and not scope.get("root_path")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.takes(scope):
            await self.predict(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def predict(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        content_type = declared = caller_id = None
        # One pass over the headers for all three (the middleware and the route each made their own).
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value if content_type is None else content_type
            elif name == b"content-length":
                declared = value if declared is None else declared
            elif name == b"x-request-id":
                caller_id = value if caller_id is None else caller_id
        request_id = choose_request_id(scope.get("aws.context"), caller_id)
        scope.setdefault("state", {})["request_id"] = request_id
        scope["route"] = self.route
        observers = self.observers
        told = started_answer = False  # as the request-context and the server-error middleware track them
        observers.in_flight.count += 1
        try:
            try:
                model = self.state.require_model()
                limit = self.settings.max_body_bytes
                check_headers(
                    content_type.decode("latin-1") if content_type is not None else None,
                    declared.decode("latin-1") if declared is not None else None,
                    limit,
                )
                body = await receive_body(receive, limit)
                body = await answer(model, self.settings, body, inline=self.inline_model)
            except PredictError as exc:
                response = predict_error(request_id, exc)
                headers = response.raw_headers
                if not any(name == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode("latin-1")))
                status, body = response.status_code, bytes(response.body)
            else:
                status = 200
                headers = [(b"content-length", str(len(body)).encode()), (b"content-type", _JSON),
                           (b"x-request-id", request_id.encode("latin-1"))]  # fmt: skip
            told = True
            observers.tell(request_id, "POST", PATH, status, started)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            started_answer = True
            await send({"type": "http.response.body", "body": body})
        except Exception as exc:
            # What the request-context and server-error middleware do with an unexpected exception:
            # count a 500, answer it with the request id (unless an answer started), and raise on.
            if not told:
                observers.tell(request_id, "POST", PATH, 500, started)
            failed = internal_error(request_id, exc)
            if not started_answer:
                await failed(scope, receive, send)
            raise
        finally:
            observers.in_flight.count -= 1
