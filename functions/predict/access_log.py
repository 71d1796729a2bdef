"""One structured JSON log line per request: ids, route, status, latency, cold start, model. No bodies."""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson

from .middleware import RequestDone
from .state import ModelState

logger = logging.getLogger("predict.access")


def access_logger(state: ModelState, cold_start: Callable[[], bool] | None = None) -> Callable[[RequestDone], None]:
    def log(done: RequestDone) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        model = state.model.metadata if state.model is not None else None
        record = {
            "request_id": done.request_id,
            "method": done.method,
            "route": done.route,
            "status": done.status,
            "latency_ms": round(done.latency_s * 1000, 3),
            "cold_start": cold_start() if cold_start is not None else None,
            "model": model.name if model else None,
            "model_version": model.version if model else None,
        }
        logger.info(orjson.dumps(record).decode())

    return log
