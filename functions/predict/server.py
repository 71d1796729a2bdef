"""The always-on entry point: the shared app under uvicorn, draining before it stops.

On SIGTERM (what Kubernetes sends) the server first drains: /ready answers 503 at once, so the
load balancer stops sending, while every request, on new connections too, is still served for
PREDICT_DRAIN_S seconds; then uvicorn's graceful shutdown lets requests in flight finish within
PREDICT_GRACEFUL_SHUTDOWN_S. SIGINT (Ctrl-C) skips the drain.
"""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType

import uvicorn
from fastapi import FastAPI

from .access_log import lean_log_records
from .app import create_app
from .settings import Settings
from .state import ModelState

STARTUP_FAILURE = 3  # uvicorn's exit status when the app's start-up fails


def app_factory() -> FastAPI:
    """Called by uvicorn in each worker process when there are several; the model loads in the lifespan."""
    return create_app(Settings(), server_metrics=True)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: ModelState, drain_s: float) -> None:
        super().__init__(config)
        self.state = state
        self.drain_s = drain_s
        self.drain_until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.drain_s > 0 and self.drain_until is None:
            self.state.draining = True
            self.drain_until = time.monotonic() + self.drain_s
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            self.should_exit = True
        return await super().on_tick(counter)


def serve(settings: Settings) -> None:
    lean_log_records()
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,  # the app writes its own structured line per request
        # Requests in flight get this long after the drain; keep both inside the pod's grace period.
        "timeout_graceful_shutdown": settings.graceful_shutdown_s,
        "server_header": False,
    }
    if settings.workers > 1:  # uvicorn's process manager; each worker builds its app
        uvicorn.run("predict.server:app_factory", factory=True, workers=settings.workers, **options)  # type: ignore[arg-type]
        return
    app = create_app(settings, server_metrics=True)
    server = DrainingServer(uvicorn.Config(app, **options), app.state.model_state, settings.drain_s)  # type: ignore[arg-type]
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
