"""`create_app`: the FastAPI app shared by both entry points. No Lambda or uvicorn imports here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from . import __version__
from .access_log import access_logger
from .artifact import LoadedModel
from .error_responses import error_response, internal_error
from .error_responses import predict_error as predict_error_response
from .errors import ArtifactError, PredictError
from .fast_predict import PredictFastPath
from .lazy_routes import LazyRoutes
from .middleware import InFlight, Observers, RequestContextMiddleware, request_id_of
from .routes import meta, predict
from .settings import Settings
from .source import load_model
from .state import ModelState

logger = logging.getLogger("predict")


class TwinserveApp(FastAPI):
    """FastAPI with one more layer at the head of its middleware stack (`front`): POST /predict's
    fast path, and the routes added on first use. Starlette builds the stack on the first request."""

    front: Callable[[ASGIApp], ASGIApp] | None = None
    lazy_routes: LazyRoutes | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return self.front(stack) if self.front is not None else stack

    def openapi(self) -> dict[str, Any]:
        if self.lazy_routes is not None:  # the description covers every route, added or not yet
            self.lazy_routes.install()
        return super().openapi()


def create_app(
    settings: Settings,
    model: LoadedModel | None = None,
    *,
    cold_start: Callable[[], bool] | None = None,
    server_metrics: bool = False,
    inline_model: bool = False,
) -> FastAPI:
    """Build the app. Given a model (Lambda: loaded at import), serve it; otherwise load it
    in the lifespan (server), where a bad artifact stops start-up with the reason logged.
    `cold_start` tells the access log whether this invocation started its environment (Lambda);
    `server_metrics` adds Prometheus /metrics (server only: Lambda reports through CloudWatch);
    `inline_model` runs POST /predict's model on the event loop's thread whatever the batch (Lambda)."""
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

    app = TwinserveApp(
        title="twinserve predict",
        version=__version__,
        summary="One scikit-learn model, the same API on AWS Lambda and on Kubernetes.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.model_state = state
    app.include_router(predict.router)
    app.include_router(meta.router)
    _add_error_handlers(app)
    app.state.observers = observers = Observers(in_flight=InFlight())
    if settings.access_log:
        observers.add(access_logger(state, cold_start))
    app.lazy_routes = lazy = LazyRoutes(app, state, observers, server_metrics=server_metrics)
    # The route object the router puts in scope["route"] for POST /predict: the APIRouter's own.
    predict_route = next(route for route in predict.router.routes if getattr(route, "path", None) == predict.PATH)

    def front(stack: ASGIApp) -> ASGIApp:
        inner = lazy.wrap(stack)
        return PredictFastPath(
            inner, route=predict_route, state=state, settings=settings, observers=observers, inline_model=inline_model
        )

    app.front = front
    app.add_middleware(RequestContextMiddleware, observers=observers)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PredictError)
    async def predict_error(request: Request, exc: PredictError) -> JSONResponse:
        return predict_error_response(request_id_of(request.scope) or "unknown", exc)

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()[:5]]
        return error_response(422, "invalid request: " + "; ".join(parts))

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
        return internal_error(request_id_of(request.scope) or "unknown", exc)
