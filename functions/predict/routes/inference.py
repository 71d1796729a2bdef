"""Calling the model from a route, and answering with its result: the two costs a route adds to
the model's own."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..artifact import LoadedModel, Prediction
from ..binary_tensors import HEADER_LENGTH
from ..body import OCTET_STREAM

# Up to this many rows the compiled form answers in well under a millisecond: inline on the event
# loop, since a thread hand-off would cost more than the call. Larger batches, and scikit-learn
# (milliseconds per call), go to a worker thread so the loop keeps serving other connections.
INLINE_ROWS = 256


async def run_model(model: LoadedModel, rows: np.ndarray, *, probabilities: bool = False) -> Prediction:
    if model.serving_form == "onnx" and len(rows) <= INLINE_ROWS:
        return model.predict(rows, probabilities=probabilities)
    return await run_in_threadpool(model.predict, rows, probabilities=probabilities)


def json_response(body: dict[str, Any]) -> Response:
    """The body as JSON, serialised once by orjson: the route's `response_model` documents the
    shape, and FastAPI does not validate a Response it is handed a second time."""
    return Response(orjson.dumps(body), media_type="application/json")


def binary_tensor_response(body: bytes, header_length: int) -> Response:
    """A body of the binary tensor data extension: as Triton answers it, and as its client reads it."""
    return Response(body, media_type=OCTET_STREAM, headers={HEADER_LENGTH: str(header_length)})
