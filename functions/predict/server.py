"""The always-on entry point: the shared app under uvicorn."""

from __future__ import annotations

from fastapi import FastAPI

from .app import create_app
from .settings import Settings


def app_factory() -> FastAPI:
    """Called by uvicorn in each worker process; the model loads in the app's lifespan."""
    return create_app(Settings(), server_metrics=True)


def serve(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "predict.server:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,  # the app writes its own structured line per request
        # Requests in flight get this long after SIGTERM; keep it inside the pod's grace period.
        timeout_graceful_shutdown=settings.graceful_shutdown_s,
        server_header=False,
    )
