"""The routes the first answer never needs, added to the app when first used instead of at start.

The Open Inference Protocol and KServe V1 routes (their modules build a dozen pydantic models and
routes), and on the server Prometheus' /metrics, cost a cold start tens of milliseconds before
the first POST /predict could be answered. They are added, in the order they always had (so the
routes and /openapi.json are what they were), the first time a request other than POST /predict's
fast path arrives (a readiness probe, /docs, an OIP client), when OpenAPI is asked for in code,
or, on the server, right after the first answer. Until Prometheus is there, the requests answered
are kept and counted once it is, so /metrics misses none.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from .middleware import Observers, RequestDone
from .state import ModelState

if TYPE_CHECKING:
    from .metrics import ServerMetrics

# More answered requests than any server gives before its first event-loop turn after an answer.
MOST_PENDING = 10_000


class LazyRoutes:
    def __init__(self, app: FastAPI, state: ModelState, observers: Observers, *, server_metrics: bool) -> None:
        self.app = app
        self.state = state
        self.observers = observers
        self.server_metrics = server_metrics
        self.installed = False
        self._lock = threading.Lock()
        self.metrics: ServerMetrics | None = None
        self.pending: list[RequestDone] = []
        if server_metrics:
            observers.add(self._observe_until_installed)

    def install(self) -> None:
        """Add the routes (once). On the event loop it runs without a pause, so no request sees half
        of them; the lock is for a caller on another thread (app.openapi() beside a test client's loop)."""
        with self._lock:
            if self.installed:
                return
            from .routes import oip

            self.app.include_router(oip.router)
            if self.server_metrics:
                from .metrics import ServerMetrics

                self.metrics = metrics = ServerMetrics(self.state, self.observers.in_flight)
                for done in self.pending:
                    metrics.observe(done)
                self.pending.clear()
                self.observers.replace(self._observe_until_installed, metrics.observe)
                self.app.include_router(metrics.router())
            self.installed = True

    def _observe_until_installed(self, done: RequestDone) -> None:
        if self.metrics is not None:
            self.metrics.observe(done)
            return
        if len(self.pending) < MOST_PENDING:
            self.pending.append(done)
        if len(self.pending) == 1:
            # The answer is being sent: add the routes on the loop's next turn, not before the answer.
            asyncio.get_running_loop().call_soon(self.install)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """`app` behind a check that the routes are there: every request but the fast path's goes through it."""

        async def installing(scope: Scope, receive: Receive, send: Send) -> None:
            if not self.installed and scope["type"] != "lifespan":
                self.install()
            await app(scope, receive, send)

        return installing
