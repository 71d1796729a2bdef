"""Dependencies shared by the routes: the app's settings and model state, set by `create_app`.

All `async def`: FastAPI runs a plain `def` dependency in a worker thread, a hand-off that costs
more than everything else a request does once the model is compiled. The prediction routes call
`served` directly instead: resolving a chain of dependencies costs them more than the model."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..artifact import LoadedModel
from ..settings import Settings
from ..state import ModelState


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _model_state(request: Request) -> ModelState:
    state: ModelState = request.app.state.model_state
    return state


async def _ready_model(state: Annotated[ModelState, Depends(_model_state)]) -> LoadedModel:
    return state.require_model()


def served(request: Request) -> tuple[LoadedModel, Settings]:
    """The model (or ModelNotReady) and the settings, straight from the app's state."""
    state: ModelState = request.app.state.model_state
    settings: Settings = request.app.state.settings
    return state.require_model(), settings


SettingsDep = Annotated[Settings, Depends(_settings)]
ModelStateDep = Annotated[ModelState, Depends(_model_state)]
ModelDep = Annotated[LoadedModel, Depends(_ready_model)]
