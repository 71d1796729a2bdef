"""The Open Inference Protocol (KServe V2) and KServe V1 endpoints, over the same model and checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.convertors import Convertor, register_url_convertor

from .. import __version__
from ..artifact import LoadedModel
from ..body import parse_json, read_body, validate_as
from ..errors import ModelNotFound
from ..oip import InferenceRequest, InferenceResponse, ModelMetadata, model_metadata, requested_outputs, response
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
    return {"name": "twinserve", "version": __version__, "extensions": []}


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


_INFER_BODY = {
    "required": True,
    "content": {"application/json": {"schema": inline_refs(InferenceRequest.model_json_schema())}},
}


@router.post("/v2/models/{name:model}/infer", response_model=InferenceResponse, responses=_ERRORS,
             openapi_extra={"requestBody": _INFER_BODY})  # fmt: skip
@router.post("/v2/models/{name:model}/versions/{version}/infer", response_model=InferenceResponse, responses=_ERRORS,
             openapi_extra={"requestBody": _INFER_BODY})  # fmt: skip
async def v2_infer(request: Request, model: NamedModel, settings: SettingsDep) -> InferenceResponse:
    infer = validate_as(InferenceRequest, parse_json(await read_body(request, settings.max_body_bytes)))
    names = requested_outputs(infer)
    rows = oip_rows(infer, model.n_features, settings.max_rows)
    prediction = await run_model(model, rows, probabilities="predict_proba" in names)
    return response(model, infer, names, prediction)


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
