"""Liveness, readiness and the model's metadata."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..artifact import ModelDescription
from ..schemas import ErrorResponse, ModelInfo, ReadyResponse
from .deps import ModelDep, ModelStateDep

router = APIRouter(tags=["meta"])


@router.get("/health", summary="Liveness: the process answers (does not depend on the model)")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=ReadyResponse,
    response_model_exclude_none=True,
    responses={503: {"model": ReadyResponse, "description": "Model not loaded, or draining"}},
    summary="Readiness: 200 once the model is loaded, 503 before that or while draining",
)
async def ready(state: ModelStateDep) -> ReadyResponse | JSONResponse:
    if state.ready and state.model is not None:
        return ReadyResponse(status="ready", model=state.model.metadata.name)
    reason = "shutting down" if state.draining else state.reason
    return JSONResponse(ReadyResponse(status="not ready", reason=reason).model_dump(exclude_none=True), 503)


@router.get(
    "/model",
    response_model=ModelInfo,
    responses={503: {"model": ErrorResponse, "description": "Model not loaded"}},
    summary="The served model's metadata: name, version, digest, serving form, features, classes",
)
async def model_metadata(model: ModelDep) -> ModelInfo:
    description = model.metadata.model_dump(include=set(ModelDescription.model_fields))
    return ModelInfo(**description, serving_form=model.serving_form)
