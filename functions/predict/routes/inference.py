"""Calling the model from a route, and answering with its result: the two costs a route adds to
the model's own. (The binary tensor answer is routes/oip.py's: binary_tensors loads with it.)"""

from __future__ import annotations

import numpy as np
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..artifact import LoadedModel, Prediction

# Up to this many rows the compiled form answers in well under a millisecond: inline on the event
# loop, since a thread hand-off would cost more than the call. Larger batches, and scikit-learn
# (milliseconds per call), go to a worker thread so the loop keeps serving other connections.
INLINE_ROWS = 256


async def run_model(
    model: LoadedModel, rows: np.ndarray, *, probabilities: bool = False, inline: bool = False
) -> Prediction:
    """`inline`: always on the calling thread, where nothing else waits for the loop (Lambda: one
    request at a time per environment, so a thread hand-off would only add its cost)."""
    if inline or (model.serving_form == "onnx" and len(rows) <= INLINE_ROWS):
        return model.predict(rows, probabilities=probabilities)
    return await run_in_threadpool(model.predict, rows, probabilities=probabilities)


def json_response(body: bytes) -> Response:
    """A JSON body serialised once, by orjson: the route's `response_model` documents the shape,
    and FastAPI does not validate a Response it is handed a second time."""
    return Response(body, media_type="application/json")
