"""Whether the app can answer predictions: the loaded model, or the reason there is none."""

from __future__ import annotations

from dataclasses import dataclass

from .artifact import LoadedModel
from .errors import ModelNotReady


@dataclass
class ModelState:
    model: LoadedModel | None = None
    reason: str = "model not loaded yet"
    draining: bool = False

    def loaded(self, model: LoadedModel) -> None:
        self.model, self.reason = model, ""

    def failed(self, reason: str) -> None:
        self.model, self.reason = None, reason

    @property
    def ready(self) -> bool:
        return self.model is not None and not self.draining

    def require_model(self) -> LoadedModel:
        if self.model is None:
            raise ModelNotReady(f"model not ready: {self.reason}")
        return self.model
