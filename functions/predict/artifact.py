"""The model artifact: a joblib file plus metadata.json, verified before anything is unpickled."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ArtifactError, InferenceFailed, InvalidInput

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"


class ArtifactMetadata(BaseModel):
    """What `train` and `package` record beside the joblib file; `/model` serves it."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    name: str
    version: str
    sha256: str
    sklearn_version: str
    estimator: str
    n_features: int
    feature_names: list[str]
    classes: list[int | str] | None
    class_names: list[str] | None
    trained_at: str
    accuracy: float | None = None


@dataclass(frozen=True)
class Prediction:
    labels: list[Any]
    probabilities: list[list[float]] | None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_artifact(out_dir: Path, model_bytes: bytes, metadata: ArtifactMetadata) -> Path:
    """Write model.joblib and metadata.json; the digest must describe exactly these bytes."""
    if metadata.sha256 != sha256_hex(model_bytes):
        raise ArtifactError("metadata digest does not match the model bytes being written")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MODEL_FILE).write_bytes(model_bytes)
    (out_dir / METADATA_FILE).write_text(metadata.model_dump_json(indent=2) + "\n")
    return out_dir


def read_metadata(model_dir: Path) -> ArtifactMetadata:
    path = model_dir / METADATA_FILE
    try:
        return ArtifactMetadata.model_validate(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"no model artifact: {METADATA_FILE} not found in the model directory "
            "(train the default with `python -m predict train` or set PREDICT_MODEL_DIR)"
        ) from exc
    except (json.JSONDecodeError, ValidationError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{METADATA_FILE} is not valid artifact metadata: {exc}") from exc


def _same_minor(a: str, b: str) -> bool:
    return a.split(".")[:2] == b.split(".")[:2]


def _single_threaded(estimator: Any) -> None:
    """Predict without joblib's parallel dispatch: it costs more than one row's work,
    and Lambda has no /dev/shm for process pools."""
    if hasattr(estimator, "get_params") and hasattr(estimator, "set_params"):
        params = estimator.get_params(deep=True)
        single = {key: 1 for key in params if key == "n_jobs" or key.endswith("__n_jobs")}
        if single:
            estimator.set_params(**single)


def load_artifact(model_dir: Path, pinned_sha256: str | None = None) -> LoadedModel:
    """Verify the artifact's digest (and an optional pinned one), its scikit-learn version,
    then unpickle the very bytes that were hashed."""
    metadata = read_metadata(model_dir)
    try:
        model_bytes = (model_dir / MODEL_FILE).read_bytes()
    except FileNotFoundError as exc:
        raise ArtifactError(f"no model artifact: {MODEL_FILE} not found beside {METADATA_FILE}") from exc
    digest = sha256_hex(model_bytes)
    if digest != metadata.sha256:
        raise ArtifactError(
            f"{MODEL_FILE} digest mismatch: metadata says {metadata.sha256[:12]}..., "
            f"file is {digest[:12]}...; refusing to unpickle it"
        )
    if pinned_sha256 is not None and digest != pinned_sha256:
        raise ArtifactError(
            f"{MODEL_FILE} digest {digest[:12]}... differs from the pinned PREDICT_MODEL_SHA256 "
            f"{pinned_sha256[:12]}...; refusing to unpickle it"
        )
    if not _same_minor(metadata.sklearn_version, sklearn.__version__):
        raise ArtifactError(
            f"artifact was built with scikit-learn {metadata.sklearn_version} but {sklearn.__version__} "
            "is installed; re-package the model with this version (python -m predict package)"
        )
    try:
        estimator = joblib.load(io.BytesIO(model_bytes))
    except Exception as exc:
        raise ArtifactError(f"{MODEL_FILE} could not be loaded: {type(exc).__name__}") from exc
    return LoadedModel(estimator, metadata)


class LoadedModel:
    """A verified estimator and its metadata; knows nothing of HTTP."""

    def __init__(self, estimator: Any, metadata: ArtifactMetadata) -> None:
        if not callable(getattr(estimator, "predict", None)):
            raise ArtifactError(f"{metadata.estimator} has no predict method")
        fitted_features = getattr(estimator, "n_features_in_", metadata.n_features)
        if fitted_features != metadata.n_features:
            raise ArtifactError(
                f"metadata says {metadata.n_features} features, the estimator was fitted on {fitted_features}"
            )
        _single_threaded(estimator)
        self.estimator = estimator
        self.metadata = metadata
        self.has_proba = callable(getattr(estimator, "predict_proba", None))

    @property
    def n_features(self) -> int:
        return self.metadata.n_features

    def predict(self, rows: np.ndarray, *, probabilities: bool = False) -> Prediction:
        if probabilities and not self.has_proba:
            raise InvalidInput(f"model {self.metadata.name} ({self.metadata.estimator}) has no class probabilities")
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
        return Prediction(labels=labels, probabilities=proba)
