"""The Open Inference Protocol (KServe V2) REST messages, and their translation to rows and back.

Clients written for KServe, MLServer or Triton send `inputs` as tensors: a name, a shape, a
datatype and the data, flat (row-major) or nested. One input tensor of shape [rows, features] is
accepted. Outputs are named as MLServer's scikit-learn runtime names them: `predict` (labels) and
`predict_proba` (class probabilities); without `outputs` the answer holds `predict`.

With the binary tensor data extension (`binary_tensors.py`) an input's values come as raw bytes
after the JSON (`parameters.binary_data_size`), and outputs asked for with `binary_data` (or the
request's `binary_data_output`) go back the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from . import binary_tensors
from .artifact import LoadedModel, Prediction
from .errors import InvalidInput, PayloadTooLarge

OUTPUT_LABELS, OUTPUT_PROBABILITIES = "predict", "predict_proba"
FLOAT32_MAX = float(np.finfo(np.float32).max)


class RequestInput(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    shape: list[int] = Field(min_length=1)
    datatype: str
    data: list[Any] | None = Field(
        None, description="The values, flat or nested; omitted when parameters.binary_data_size sends them as bytes"
    )
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


def _binary_data_size(tensor: RequestInput) -> int | None:
    """The input's byte count when its values come after the JSON, None when they are in it."""
    size = (tensor.parameters or {}).get("binary_data_size")
    if size is None:
        if tensor.data is None:
            raise InvalidInput(
                f"input {tensor.name!r} has no data: send 'data', or its bytes after the JSON header "
                "with parameters.binary_data_size"
            )
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInput(f"input {tensor.name!r}: parameters.binary_data_size must be a number of bytes")
    if tensor.data is not None:
        raise InvalidInput(f"input {tensor.name!r} has both 'data' and parameters.binary_data_size; send one")
    return size


def rows_from_request(
    request: InferenceRequest, n_features: int, max_rows: int, tensor_bytes: memoryview | None = None
) -> np.ndarray:
    """The one input tensor as rows, from its JSON data or from `tensor_bytes` (what followed the
    JSON header, with the binary tensor data extension)."""
    if len(request.inputs) != 1:
        raise InvalidInput(f"expected one input tensor of shape [rows, {n_features}], got {len(request.inputs)}")
    tensor = request.inputs[0]
    if tensor.datatype not in binary_tensors.DTYPES:
        raise InvalidInput(f"input datatype {tensor.datatype!r} is not supported; use FP32, FP64 or an INT type")
    shape = tensor.shape
    if len(shape) == 1 and shape[0] == n_features:
        shape = [1, n_features]  # one row sent as a vector
    if len(shape) != 2 or shape[1] != n_features or shape[0] < 1:
        raise InvalidInput(f"input shape {tensor.shape} does not fit the model: expected [rows, {n_features}]")
    if shape[0] > max_rows:
        raise PayloadTooLarge(f"too many rows: {shape[0]} sent, at most {max_rows} per request")
    (raw,) = binary_tensors.slices(tensor_bytes or memoryview(b""), [_binary_data_size(tensor)])
    if raw is not None:
        values = binary_tensors.decode(raw, tensor.datatype, tensor.shape).astype(np.float64)
    else:
        flat = _flatten(tensor.data or [])
        if len(flat) != shape[0] * shape[1]:
            raise InvalidInput(
                f"input data has {len(flat)} values but shape {tensor.shape} needs {shape[0] * shape[1]}"
            )
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in flat):
            raise InvalidInput(f"input data must be numbers for datatype {tensor.datatype}")
        values = np.asarray(flat, dtype=np.float64)
    rows = values.reshape(shape)
    # As /predict: beyond float32 (what tree ensembles compute in) is refused, NaN fails the comparison.
    if not (np.abs(rows) <= FLOAT32_MAX).all():
        raise InvalidInput(f"input data must be finite numbers of magnitude at most {FLOAT32_MAX:.4g} (float32)")
    return rows


def requested_outputs(request: InferenceRequest) -> list[str]:
    names = [o.name for o in request.outputs] if request.outputs else [OUTPUT_LABELS]
    unknown = [n for n in names if n not in (OUTPUT_LABELS, OUTPUT_PROBABILITIES)]
    if unknown:
        raise InvalidInput(
            f"unknown output {unknown[0]!r}; this model answers {OUTPUT_LABELS!r} and {OUTPUT_PROBABILITIES!r}"
        )
    return names


def _flag(parameters: dict[str, Any] | None, name: str, where: str, default: bool) -> bool:
    value = (parameters or {}).get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{where}.{name} must be true or false")
    return value


def binary_outputs(request: InferenceRequest, names: list[str]) -> set[str]:
    """The outputs to answer as binary tensor data: those whose `binary_data` says so, or, where
    an output does not say, all of them if the request's `binary_data_output` does."""
    default = _flag(request.parameters, "binary_data_output", "parameters", False)
    if not request.outputs:
        return set(names) if default else set()
    return {
        output.name
        for index, output in enumerate(request.outputs)
        if _flag(output.parameters, "binary_data", f"outputs.{index}.parameters", default)
    }


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
