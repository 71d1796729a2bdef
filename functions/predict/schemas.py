"""Request and response models for POST /predict, and the checks that turn a request into rows.

Three request forms, all from the tutorials or the KServe V1 convention:
  {"features": [..]}         -> {"prediction": label}
  {"input": [..]}            -> {"prediction": [label]}
  {"instances": [[..], ..]}  -> {"predictions": [label, ..]}
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .artifact import ModelDescription, Prediction
from .errors import InvalidInput, PayloadTooLarge

# Strict: "5.1" and true are refused rather than coerced; NaN, infinities and values beyond
# float32 (which tree ensembles compute in) are refused.
FLOAT32_MAX = float(np.finfo(np.float32).max)
FiniteNumber = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
FORMS = ("features", "input", "instances")


def _one_form_schema(schema: dict[str, Any]) -> None:
    """Document what the validator enforces: exactly one form, each an array (never null)."""
    for name in FORMS:
        prop = schema["properties"][name]
        prop.update(next(s for s in prop.pop("anyOf") if s.get("type") != "null"))
        prop.pop("default", None)
    schema["oneOf"] = [{"required": [name]} for name in FORMS]


Row = Annotated[list[FiniteNumber], Field(min_length=1)]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_form_schema)

    features: Row | None = Field(None, description="One row; answered with a single label")
    input: Row | None = Field(None, description="One row; answered with a list of one label")
    instances: Annotated[list[Row], Field(min_length=1)] | None = Field(
        None, description="A batch of rows; answered with one label per row"
    )
    probabilities: bool = Field(
        False, strict=True, description="Also return class probabilities, in the order of /model's classes"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in FORMS:
                if name in data and data[name] is None:
                    raise ValueError(f"'{name}' must be an array of numbers, not null")
        return data

    @model_validator(mode="after")
    def _exactly_one_form(self) -> PredictRequest:
        given = [name for name in FORMS if getattr(self, name) is not None]
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


class ModelInfo(ModelDescription):
    """`GET /model`: the model's description and the form it is served in."""

    serving_form: str


class ReadyResponse(BaseModel):
    status: str
    model: str | None = None
    reason: str | None = None


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its local `$defs` inlined, to embed in OpenAPI where `#/$defs` does not resolve."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
