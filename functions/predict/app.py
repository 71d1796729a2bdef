"""`create_app`: the FastAPI app shared by both entry points. No Lambda or uvicorn imports here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .access_log import access_logger
from .artifact import LoadedModel
from .errors import ArtifactError, PredictError
from .middleware import REQUEST_ID_HEADER, InFlight, Observer, RequestContextMiddleware, request_id_of
from .routes import meta, oip, predict
from .settings import Settings
from .source import load_model
from .state import ModelState

logger = logging.getLogger("predict")


def create_app(
    settings: Settings,
    model: LoadedModel | None = None,
    *,
    cold_start: Callable[[], bool] | None = None,
    server_metrics: bool = False,
) -> FastAPI:
    """Build the app. Given a model (Lambda: loaded at import), serve it; otherwise load it
    in the lifespan (server), where a bad artifact stops start-up with the reason logged.
    `cold_start` tells the access log whether this invocation started its environment (Lambda);
    `server_metrics` adds Prometheus /metrics (server only: Lambda reports through CloudWatch)."""
    state = ModelState()
    if model is not None:
        state.loaded(model)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.model is None:
            try:
                loaded = load_model(settings)
            except ArtifactError as exc:
                state.failed(str(exc))
                logger.error("refusing to start: %s", exc)
                raise
            state.loaded(loaded)
            logger.info("model %s %s loaded", loaded.metadata.name, loaded.metadata.version)
        yield
        state.draining = True

    app = FastAPI(
        title="twinserve predict",
        version=__version__,
        summary="One scikit-learn model, the same API on AWS Lambda and on Kubernetes.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.model_state = state
    app.include_router(predict.router)
    app.include_router(meta.router)
    app.include_router(oip.router)
    _add_error_handlers(app)
    in_flight = InFlight()
    observers: list[Observer] = []
    if settings.access_log:
        observers.append(access_logger(state, cold_start))
    if server_metrics:
        from .metrics import ServerMetrics

        metrics = ServerMetrics(state, in_flight)
        observers.append(metrics.observe)
        app.include_router(metrics.router())
    app.add_middleware(RequestContextMiddleware, observers=observers, in_flight=in_flight)
    return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PredictError)
    async def predict_error(request: Request, exc: PredictError) -> JSONResponse:
        if exc.status_code == 500:  # an inference failure: log it with its cause, show only the id
            return await unexpected(request, exc)
        return _error(exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()[:5]]
        return _error(422, "invalid request: " + "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see /docs for the API"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"method {request.method} not allowed on {request.url.path}; allowed: {allowed}"
        else:
            message = str(exc.detail)
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette answers this outside the middleware stack, so the id header is set here.
        request_id = request_id_of(request.scope) or "unknown"
        logger.error("request %s failed: %s", request_id, type(exc).__name__, exc_info=exc)
        return JSONResponse(
            {"error": "internal error", "request_id": request_id},
            status_code=500,
            headers={REQUEST_ID_HEADER: request_id},
        )
