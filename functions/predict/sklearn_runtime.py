"""The scikit-learn serving form: an estimator unpickled from digest-checked bytes (joblib) or
read from a skops file, which loads only the types it trusts and never runs pickled code."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from .errors import ArtifactError, InferenceFailed, InvalidInput


def _require_sklearn(what: str) -> Any:
    """scikit-learn, imported only on this path: where the compiled form serves it is never loaded
    (and the lean deployments do not install it)."""
    try:
        import sklearn
    except ImportError as exc:
        raise ArtifactError(
            f"{what} needs scikit-learn, which is not installed here: serve the artifact's compiled form "
            "(package it with `python -m predict package --holdout ...`) or install twinserve[sklearn]"
        ) from exc
    return sklearn


def _same_minor(a: str, b: str) -> bool:
    return a.split(".")[:2] == b.split(".")[:2]


def check_sklearn_version(built_with: str) -> None:
    installed = _require_sklearn("this artifact").__version__
    if not _same_minor(built_with, installed):
        raise ArtifactError(
            f"artifact was built with scikit-learn {built_with} but {installed} "
            "is installed; re-package the model with this version (python -m predict package)"
        )


def load_joblib(model_bytes: bytes) -> Any:
    """Unpickle bytes whose digest the caller has already checked."""
    _require_sklearn("model.joblib")
    import joblib

    try:
        return joblib.load(io.BytesIO(model_bytes))
    except Exception as exc:
        raise ArtifactError(f"model.joblib could not be loaded: {type(exc).__name__}") from exc


def load_skops(model_bytes: bytes, trusted: list[str]) -> Any:
    """Load a skops file, refusing any type that neither skops nor the operator trusts."""
    _require_sklearn("model.skops")
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ArtifactError("model.skops needs the skops package: install twinserve[sklearn]") from exc
    try:
        untrusted = [name for name in sio.get_untrusted_types(data=model_bytes) if name not in trusted]
        if untrusted:
            raise ArtifactError(
                f"model.skops holds types nobody has trusted: {', '.join(sorted(untrusted))}; "
                "review them and list them in PREDICT_SKOPS_TRUSTED to load it"
            )
        return sio.loads(model_bytes, trusted=trusted or None)
    except ArtifactError:
        raise
    except Exception as exc:
        raise ArtifactError(f"model.skops could not be loaded: {type(exc).__name__}") from exc


def single_threaded(estimator: Any) -> None:
    """Predict without joblib's parallel dispatch: it costs more than one row's work,
    and Lambda has no /dev/shm for process pools."""
    if hasattr(estimator, "get_params") and hasattr(estimator, "set_params"):
        params = estimator.get_params(deep=True)
        single = {key: 1 for key in params if key == "n_jobs" or key.endswith("__n_jobs")}
        if single:
            estimator.set_params(**single)


class SklearnRuntime:
    """Calls the estimator itself; scikit-learn's own input checks become 422s."""

    form = "sklearn"

    def __init__(self, estimator: Any) -> None:
        if not callable(getattr(estimator, "predict", None)):
            raise ArtifactError(f"{type(estimator).__name__} has no predict method")
        single_threaded(estimator)
        self.estimator = estimator
        self.n_features: int | None = getattr(estimator, "n_features_in_", None)
        self.has_proba = callable(getattr(estimator, "predict_proba", None))

    def predict(self, rows: np.ndarray, probabilities: bool) -> tuple[list[Any], list[list[float]] | None]:
        try:
            # A value beyond float32 overflows in scikit-learn's cast; its check then says so (ValueError).
            with np.errstate(over="ignore", invalid="ignore"):
                labels = self.estimator.predict(rows).tolist()
                proba = self.estimator.predict_proba(rows).tolist() if probabilities else None
        except ValueError as exc:
            # scikit-learn's own input checks refused the rows: the client's fault, said as such.
            raise InvalidInput(f"the model cannot take this input: {exc}") from exc
        except Exception as exc:
            raise InferenceFailed("the model failed on this input") from exc
        return labels, proba
