"""The Open Inference Protocol (KServe V2) and KServe V1 endpoints, over the same model and checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from starlette.convertors import Convertor, register_url_convertor

from .. import __version__, binary_tensors
from ..artifact import LoadedModel
from ..body import OCTET_STREAM, parse_json, read_body, validate_as
from ..errors import ModelNotFound
from ..oip import (
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    binary_outputs,
    model_metadata,
    requested_outputs,
    response,
)
from ..oip import rows_from_request as oip_rows
from ..schemas import ErrorResponse, V1Request, inline_refs
from .deps import ModelDep, ModelStateDep, SettingsDep
from .inference import run_model


class _ModelName(Convertor[str]):
    """A model name never holds ':' or '/', so /v1/models/{name} cannot swallow /v1/models/x:predict."""

    regex = "[^/:]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("model", _ModelName())


def binary_tensor_response(body: bytes, header_length: int) -> Response:
    """A body of the binary tensor data extension: as Triton answers it, and as its client reads it."""
    return Response(body, media_type=OCTET_STREAM, headers={binary_tensors.HEADER_LENGTH: str(header_length)})


router = APIRouter(tags=["open inference protocol"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 404, 413, 415, 422, 503)
}


async def _named_model(model: ModelDep, name: str, version: str | None = None) -> LoadedModel:
    if name != model.metadata.name:
        raise ModelNotFound(f"model {name!r} not found; this server serves {model.metadata.name!r}")
    if version is not None and version != model.metadata.version:
        raise ModelNotFound(f"version {version!r} of model {name!r} not found; served: {model.metadata.version!r}")
    return model


NamedModel = Annotated[LoadedModel, Depends(_named_model)]


@router.get("/v2", summary="Server metadata")
async def server_metadata() -> dict[str, Any]:
    return {"name": "twinserve", "version": __version__, "extensions": [binary_tensors.EXTENSION]}


@router.get("/v2/health/live", summary="Liveness (Open Inference Protocol)")
async def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/v2/health/ready", summary="Readiness (Open Inference Protocol)", responses={503: {}})
async def server_ready(state: ModelStateDep) -> JSONResponse:
    return JSONResponse({"ready": state.ready}, status_code=200 if state.ready else 503)


@router.get("/v2/models/{name:model}", response_model=ModelMetadata, responses=_ERRORS)
@router.get("/v2/models/{name:model}/versions/{version}", response_model=ModelMetadata, responses=_ERRORS)
async def v2_model_metadata(model: NamedModel) -> ModelMetadata:
    return model_metadata(model)


@router.get("/v2/models/{name:model}/ready", responses=_ERRORS)
@router.get("/v2/models/{name:model}/versions/{version}/ready", responses=_ERRORS)
async def v2_model_ready(model: NamedModel, state: ModelStateDep) -> JSONResponse:
    return JSONResponse({"name": model.metadata.name, "ready": state.ready}, status_code=200 if state.ready else 503)


_BINARY_FORM = (
    "The binary tensor data extension (Triton's client sends it by default): the JSON request of "
    f"{binary_tensors.HEADER_LENGTH} bytes, then each input's raw values (parameters.binary_data_size bytes), "
    "little-endian, row-major."
)
_INFER_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": inline_refs(InferenceRequest.model_json_schema())},
        OCTET_STREAM: {"schema": {"type": "string", "format": "binary", "description": _BINARY_FORM}},
    },
}
_INFER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The outputs; those asked for as binary (parameters.binary_data on an output, or "
        f"binary_data_output on the request) follow the JSON response of {binary_tensors.HEADER_LENGTH} bytes",
        "content": {OCTET_STREAM: {"schema": {"type": "string", "format": "binary"}}},
    },
    **_ERRORS,
}
HeaderLength = Annotated[
    str | None,
    Header(
        alias=binary_tensors.HEADER_LENGTH,
        description="With binary tensor data: the length in bytes of the JSON request that starts the body",
    ),
]


@router.post("/v2/models/{name:model}/infer", response_model=InferenceResponse, responses=_INFER_RESPONSES,
             openapi_extra={"requestBody": _INFER_BODY})  # fmt: skip
@router.post("/v2/models/{name:model}/versions/{version}/infer", response_model=InferenceResponse,
             responses=_INFER_RESPONSES, openapi_extra={"requestBody": _INFER_BODY})  # fmt: skip
async def v2_infer(
    request: Request, model: NamedModel, settings: SettingsDep, header_length: HeaderLength = None
) -> InferenceResponse | Response:
    body = await read_body(request, settings.max_body_bytes, binary=True)
    header, tensor_bytes = binary_tensors.split(body, header_length)
    where = f" in the inference header (the first {len(header)} bytes)" if header_length is not None else ""
    infer = validate_as(InferenceRequest, parse_json(header, where))
    names = requested_outputs(infer)
    binary = binary_outputs(infer, names)
    rows = oip_rows(infer, model.n_features, settings.max_rows, tensor_bytes)
    prediction = await run_model(model, rows, probabilities="predict_proba" in names)
    answer = response(model, infer, names, prediction)
    if not binary:
        return answer
    return binary_tensor_response(*binary_tensors.join(answer.model_dump(), binary))


_V1_BODY = {"required": True, "content": {"application/json": {"schema": V1Request.model_json_schema()}}}


@router.get("/v1/models/{name:model}", tags=["kserve v1"], responses=_ERRORS)
async def v1_model(model: NamedModel, state: ModelStateDep) -> dict[str, Any]:
    return {"name": model.metadata.name, "ready": state.ready}


@router.post(
    "/v1/models/{name:model}:predict", tags=["kserve v1"], responses=_ERRORS, openapi_extra={"requestBody": _V1_BODY}
)
async def v1_predict(request: Request, model: NamedModel, settings: SettingsDep) -> dict[str, Any]:
    v1 = validate_as(V1Request, parse_json(await read_body(request, settings.max_body_bytes)))
    rows = v1.to_rows(model.n_features, settings.max_rows)
    return {"predictions": (await run_model(model, rows)).labels}
