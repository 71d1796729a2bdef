"""The Open Inference Protocol (KServe V2) REST messages, and their translation to rows and back.

Clients written for KServe, MLServer or Triton send `inputs` as tensors: a name, a shape, a
datatype and the data, flat (row-major) or nested. One input tensor of shape [rows, features] is
accepted. Outputs are named as MLServer's scikit-learn runtime names them: `predict` (labels) and
`predict_proba` (class probabilities); without `outputs` the answer holds `predict`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .artifact import LoadedModel, Prediction
from .errors import InvalidInput, PayloadTooLarge

NUMERIC_DATATYPES = {
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
}  # fmt: skip
OUTPUT_LABELS, OUTPUT_PROBABILITIES = "predict", "predict_proba"


class RequestInput(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    shape: list[int] = Field(min_length=1)
    datatype: str
    data: list[Any]
    parameters: dict[str, Any] | None = None


class RequestOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    outputs: list[ResponseOutput]


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


def _flatten(data: list[Any]) -> list[Any]:
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def rows_from_request(request: InferenceRequest, n_features: int, max_rows: int) -> np.ndarray:
    if len(request.inputs) != 1:
        raise InvalidInput(f"expected one input tensor of shape [rows, {n_features}], got {len(request.inputs)}")
    tensor = request.inputs[0]
    dtype = NUMERIC_DATATYPES.get(tensor.datatype)
    if dtype is None:
        raise InvalidInput(f"input datatype {tensor.datatype!r} is not supported; use FP32, FP64 or an INT type")
    shape = tensor.shape
    if len(shape) == 1 and shape[0] == n_features:
        shape = [1, n_features]  # one row sent as a vector
    if len(shape) != 2 or shape[1] != n_features or shape[0] < 1:
        raise InvalidInput(f"input shape {tensor.shape} does not fit the model: expected [rows, {n_features}]")
    if shape[0] > max_rows:
        raise PayloadTooLarge(f"too many rows: {shape[0]} sent, at most {max_rows} per request")
    flat = _flatten(tensor.data)
    if len(flat) != shape[0] * shape[1]:
        raise InvalidInput(f"input data has {len(flat)} values but shape {tensor.shape} needs {shape[0] * shape[1]}")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in flat):
        raise InvalidInput(f"input data must be numbers for datatype {tensor.datatype}")
    rows = np.asarray(flat, dtype=np.float64).reshape(shape)
    if not np.isfinite(rows).all():
        raise InvalidInput("input data must be finite numbers")
    return rows


def requested_outputs(request: InferenceRequest) -> list[str]:
    names = [o.name for o in request.outputs] if request.outputs else [OUTPUT_LABELS]
    unknown = [n for n in names if n not in (OUTPUT_LABELS, OUTPUT_PROBABILITIES)]
    if unknown:
        raise InvalidInput(
            f"unknown output {unknown[0]!r}; this model answers {OUTPUT_LABELS!r} and {OUTPUT_PROBABILITIES!r}"
        )
    return names


def _labels_datatype(labels: list[Any] | None) -> str:
    if labels is None:  # a regressor
        return "FP64"
    if all(isinstance(v, int) for v in labels):
        return "INT64"
    if all(isinstance(v, int | float) for v in labels):
        return "FP64"
    return "BYTES"


def response(
    model: LoadedModel, request: InferenceRequest, names: list[str], prediction: Prediction
) -> InferenceResponse:
    outputs = []
    for name in names:
        if name == OUTPUT_LABELS:
            labels = prediction.labels
            outputs.append(
                ResponseOutput(name=name, shape=[len(labels)], datatype=_labels_datatype(labels), data=labels)
            )
        else:
            proba = prediction.probabilities or []
            width = len(proba[0]) if proba else 0
            outputs.append(ResponseOutput(name=name, shape=[len(proba), width], datatype="FP64", data=_flatten(proba)))
    return InferenceResponse(
        model_name=model.metadata.name, model_version=model.metadata.version, id=request.id, outputs=outputs
    )


def model_metadata(model: LoadedModel) -> ModelMetadata:
    meta = model.metadata
    outputs = [
        TensorMetadata(
            name=OUTPUT_LABELS,
            datatype="INT64"
            if meta.classes and all(isinstance(c, int) for c in meta.classes)
            else "BYTES"
            if meta.classes
            else "FP64",
            shape=[-1],
        )
    ]
    if model.has_proba and meta.classes:
        outputs.append(TensorMetadata(name=OUTPUT_PROBABILITIES, datatype="FP64", shape=[-1, len(meta.classes)]))
    return ModelMetadata(
        name=meta.name,
        versions=[meta.version],
        platform="sklearn",
        inputs=[TensorMetadata(name="input-0", datatype="FP64", shape=[-1, meta.n_features])],
        outputs=outputs,
    )
