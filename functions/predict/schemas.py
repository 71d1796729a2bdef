"""Request and response models for POST /predict, and the checks that turn a request into rows.

Three request forms, all from the tutorials or the KServe V1 convention:
  {"features": [..]}         -> {"prediction": label}
  {"input": [..]}            -> {"prediction": [label]}
  {"instances": [[..], ..]}  -> {"predictions": [label, ..]}
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from .artifact import Prediction
from .errors import InvalidInput, PayloadTooLarge

# Strict: "5.1" and true are refused rather than coerced; NaN and infinities are refused.
FiniteNumber = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Row = Annotated[list[FiniteNumber], Field(min_length=1)]

IRIS_ROW: list[JsonValue] = [5.1, 3.5, 1.4, 0.2]


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"features": IRIS_ROW},
                {"input": IRIS_ROW},
                {"instances": [IRIS_ROW, [6.7, 3.0, 5.2, 2.3]], "probabilities": True},
            ]
        },
    )

    features: Row | None = Field(None, description="One row; answered with a single label")
    input: Row | None = Field(None, description="One row; answered with a list of one label")
    instances: Annotated[list[Row], Field(min_length=1)] | None = Field(
        None, description="A batch of rows; answered with one label per row"
    )
    probabilities: bool = Field(
        False, strict=True, description="Also return class probabilities, in the order of /model's classes"
    )

    @model_validator(mode="after")
    def _exactly_one_form(self) -> PredictRequest:
        given = [name for name in ("features", "input", "instances") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("send exactly one of 'features', 'input' or 'instances'")
        return self

    def to_rows(self, n_features: int, max_rows: int) -> np.ndarray:
        """The request as a 2-D float array, checked against the model's feature count."""
        if self.instances is None:
            row = self.features if self.features is not None else (self.input or [])
            if len(row) != n_features:
                raise InvalidInput(f"wrong number of features: expected {n_features}, got {len(row)}")
            return np.array([row], dtype=np.float64)
        if len(self.instances) > max_rows:
            raise PayloadTooLarge(f"too many rows: {len(self.instances)} sent, at most {max_rows} per request")
        for index, row in enumerate(self.instances):
            if len(row) != n_features:
                raise InvalidInput(
                    f"wrong number of features in instances[{index}]: expected {n_features}, got {len(row)}"
                )
        return np.array(self.instances, dtype=np.float64)

    def response(self, prediction: Prediction) -> dict[str, Any]:
        """Shape the answer like the request: scalar for features, list for input, batch for instances."""
        body: dict[str, Any]
        if self.features is not None:
            body = {"prediction": prediction.labels[0]}
            proba: Any = prediction.probabilities[0] if prediction.probabilities else None
        elif self.input is not None:
            body = {"prediction": prediction.labels}
            proba = prediction.probabilities
        else:
            body = {"predictions": prediction.labels}
            proba = prediction.probabilities
        if proba is not None:
            body["probabilities"] = proba
        return body


class V1Request(BaseModel):
    """KServe V1: {"instances": [[...], ...]}, answered with {"predictions": [...]}."""

    model_config = ConfigDict(extra="forbid")
    instances: Annotated[list[Row], Field(min_length=1)]

    def to_rows(self, n_features: int, max_rows: int) -> np.ndarray:
        return PredictRequest(instances=self.instances).to_rows(n_features, max_rows)


Label = int | float | str


class PredictResponse(BaseModel):
    """Documentation of the answer's shape (the route returns exactly one of the two label keys)."""

    prediction: Label | list[Label] | None = None
    predictions: list[Label] | None = None
    probabilities: list[float] | list[list[float]] | None = None


class ErrorResponse(BaseModel):
    error: str
    request_id: str | None = Field(None, description="Only on 500: quote it when reporting the failure")


class ReadyResponse(BaseModel):
    status: str
    model: str | None = None
    reason: str | None = None
