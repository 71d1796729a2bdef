"""POST /predict: JSON body in, validated rows, model, answer shaped like the request.

The route is what OpenAPI describes and what answers when the fast path (fast_predict.py) steps
aside; both run `check_headers` and `answer`, so both say the same to every request."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..artifact import LoadedModel
from ..body import parse_json, read_body, validate_as
from ..schemas import ErrorResponse, PredictRequest, PredictResponse
from ..settings import Settings
from .deps import served
from .inference import json_response, run_model

PATH = "/predict"

router = APIRouter(tags=["predict"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Malformed or empty JSON",
        413: "Body or batch over the configured limit",
        415: "Content type other than JSON",
        422: "Valid JSON but not a valid request (feature count, non-numeric or non-finite values...)",
        503: "Model not loaded",
    }.items()
}

_ROW, _OTHER_ROW = [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]
_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": PredictRequest.model_json_schema(),
            "examples": {
                "tutorial": {"value": {"features": _ROW}},
                "tutorial-input": {"value": {"input": _ROW}},
                "batch": {"value": {"instances": [_ROW, _OTHER_ROW], "probabilities": True}},
            },
        }
    },
}


async def answer(model: LoadedModel, settings: Settings, body: bytes, *, inline: bool = False) -> bytes:
    """The JSON answer to a body that passed `check_headers` (or the PredictError saying why not);
    `inline` as for `run_model`."""
    predict_request = validate_as(PredictRequest, parse_json(body))
    rows = predict_request.to_rows(model.n_features, settings.max_rows)
    prediction = await run_model(model, rows, probabilities=predict_request.probabilities, inline=inline)
    return orjson.dumps(predict_request.response(prediction))


@router.post(
    PATH,
    response_model=PredictResponse,
    response_model_exclude_none=True,
    responses=_ERRORS,
    openapi_extra={"requestBody": _REQUEST_BODY},
    summary="Predict labels (and optionally class probabilities) for one row or a batch",
)
async def predict(request: Request) -> Response:
    model, settings = served(request)
    body = await read_body(request, settings.max_body_bytes)
    return json_response(await answer(model, settings, body))
