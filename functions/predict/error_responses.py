"""The answers to errors, in one place: FastAPI's exception handlers (app.py) and the POST /predict
fast path (fast_predict.py) both answer with these, so both send the same bytes."""

from __future__ import annotations

import logging

from fastapi.responses import JSONResponse

from .errors import PredictError
from .middleware import REQUEST_ID_HEADER

logger = logging.getLogger("predict")


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def internal_error(request_id: str, exc: BaseException) -> JSONResponse:
    """Log the failure with its cause; show the client only the request id to quote."""
    logger.error("request %s failed: %s", request_id, type(exc).__name__, exc_info=exc)
    return JSONResponse(
        {"error": "internal error", "request_id": request_id},
        status_code=500,
        headers={REQUEST_ID_HEADER: request_id},
    )


def predict_error(request_id: str, exc: PredictError) -> JSONResponse:
    if exc.status_code == 500:  # an inference failure: log it with its cause, show only the id
        return internal_error(request_id, exc)
    return error_response(exc.status_code, exc.message)
