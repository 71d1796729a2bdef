"""The model artifact: metadata.json beside the model file (joblib or skops) and, when it could be
made, a compiled form (model.onnx). Every file's digest is checked before anything is loaded, and
a pickle is only unpickled from the very bytes that were hashed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from . import onnx_runtime, sklearn_runtime
from .errors import ArtifactError, InvalidInput

MODEL_FILE = "model.joblib"
SKOPS_FILE = "model.skops"
ONNX_FILE = "model.onnx"
METADATA_FILE = "metadata.json"
MODEL_FILES = {"joblib": MODEL_FILE, "skops": SKOPS_FILE}

ServingForm = Literal["auto", "onnx", "sklearn"]


class CompiledForm(BaseModel):
    """The ONNX file `package` made, and how it was checked against scikit-learn."""

    model_config = ConfigDict(frozen=True)

    # Always model.onnx: a file name taken from metadata.json could point outside the artifact.
    sha256: str
    verified_rows: int
    max_probability_difference: float | None = None


class ModelDescription(BaseModel):
    """What a client may know of the model (`GET /model` serves it): no library versions, which
    would only help an attacker."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    name: str
    version: str
    sha256: str
    estimator: str
    n_features: int
    feature_names: list[str]
    classes: list[int | str] | None
    class_names: list[str] | None
    trained_at: str
    accuracy: float | None = None


class ArtifactMetadata(ModelDescription):
    """What `train` and `package` record beside the model file: the description, and how to load it."""

    format: Literal["joblib", "skops"] = "joblib"
    sklearn_version: str
    compiled: CompiledForm | None = None

    @property
    def model_file(self) -> str:
        return MODEL_FILES[self.format]


@dataclass(frozen=True)
class Prediction:
    labels: list[Any]
    probabilities: list[list[float]] | None


class Runtime(Protocol):
    """What serves predictions: scikit-learn itself, or the compiled form."""

    form: str
    n_features: int | None
    has_proba: bool

    def predict(self, rows: np.ndarray, probabilities: bool) -> tuple[list[Any], list[list[float]] | None]: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_artifact(
    out_dir: Path, model_bytes: bytes, metadata: ArtifactMetadata, onnx_bytes: bytes | None = None
) -> Path:
    """Write the model file, the compiled form if any, and metadata.json; every digest must
    describe exactly the bytes written."""
    if metadata.sha256 != sha256_hex(model_bytes):
        raise ArtifactError("metadata digest does not match the model bytes being written")
    written_onnx = sha256_hex(onnx_bytes) if onnx_bytes is not None else None
    if written_onnx != (metadata.compiled.sha256 if metadata.compiled else None):
        raise ArtifactError("metadata does not describe the compiled form being written")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (*MODEL_FILES.values(), ONNX_FILE):  # a re-package must not leave an old form beside the new
        (out_dir / stale).unlink(missing_ok=True)
    (out_dir / metadata.model_file).write_bytes(model_bytes)
    if onnx_bytes is not None:
        (out_dir / ONNX_FILE).write_bytes(onnx_bytes)
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


def verified_bytes(model_dir: Path, name: str, expected: str, pinned: str | None, pin_variable: str) -> bytes:
    """A file's bytes, only if they hash to what the metadata (and the pin, if any) says."""
    try:
        data = (model_dir / name).read_bytes()
    except FileNotFoundError as exc:
        raise ArtifactError(f"no model artifact: {name} not found beside {METADATA_FILE}") from exc
    digest = sha256_hex(data)
    if digest != expected:
        raise ArtifactError(
            f"{name} digest mismatch: metadata says {expected[:12]}..., file is {digest[:12]}...; refusing to load it"
        )
    if pinned is not None and digest != pinned:
        raise ArtifactError(
            f"{name} digest {digest[:12]}... differs from the pinned {pin_variable} {pinned[:12]}...; "
            "refusing to load it"
        )
    return data


def choose_form(metadata: ArtifactMetadata, form: ServingForm, pinned: str | None, pinned_onnx: str | None) -> str:
    """The compiled form when there is one and it may be trusted, else scikit-learn."""
    if form == "sklearn":
        return "sklearn"
    reason = None
    if metadata.compiled is None:
        reason = "the artifact has no compiled form (package it with held-out rows to make one)"
    elif not onnx_runtime.available():
        reason = "onnxruntime is not installed"
    elif pinned is not None and pinned_onnx is None:
        # A pin guards the pickle; the compiled file needs its own, or whoever wrote it could swap it.
        reason = "the model digest is pinned but the compiled form's is not (set PREDICT_MODEL_ONNX_SHA256)"
    if reason is None:
        return "onnx"
    if form == "onnx":
        raise ArtifactError(f"PREDICT_SERVING_FORM=onnx, but {reason}")
    return "sklearn"


def load_artifact(
    model_dir: Path,
    pinned_sha256: str | None = None,
    *,
    form: ServingForm = "auto",
    pinned_onnx_sha256: str | None = None,
    skops_trusted: list[str] | None = None,
) -> LoadedModel:
    """Verify every file of the artifact, then load the serving form: the compiled one when it
    exists (nothing unpickled at all), else the estimator from the checked bytes."""
    metadata = read_metadata(model_dir)
    model_bytes = verified_bytes(model_dir, metadata.model_file, metadata.sha256, pinned_sha256, "PREDICT_MODEL_SHA256")
    chosen = choose_form(metadata, form, pinned_sha256, pinned_onnx_sha256)
    runtime: Runtime
    if chosen == "onnx" and metadata.compiled is not None:
        onnx_bytes = verified_bytes(
            model_dir, ONNX_FILE, metadata.compiled.sha256, pinned_onnx_sha256, "PREDICT_MODEL_ONNX_SHA256"
        )
        runtime = onnx_runtime.OnnxRuntime(onnx_bytes, metadata.classes)
    else:
        sklearn_runtime.check_sklearn_version(metadata.sklearn_version)
        if metadata.format == "skops":
            estimator = sklearn_runtime.load_skops(model_bytes, skops_trusted or [])
        else:
            estimator = sklearn_runtime.load_joblib(model_bytes)
        runtime = sklearn_runtime.SklearnRuntime(estimator)
    return LoadedModel(runtime, metadata)


class LoadedModel:
    """A verified model in one serving form, and its metadata; knows nothing of HTTP."""

    def __init__(self, runtime: Runtime, metadata: ArtifactMetadata) -> None:
        fitted_features = runtime.n_features if runtime.n_features is not None else metadata.n_features
        if fitted_features != metadata.n_features:
            raise ArtifactError(
                f"metadata says {metadata.n_features} features, the model was fitted on {fitted_features}"
            )
        self.runtime = runtime
        self.metadata = metadata
        self.has_proba = runtime.has_proba

    @property
    def n_features(self) -> int:
        return self.metadata.n_features

    @property
    def serving_form(self) -> str:
        return self.runtime.form

    def predict(self, rows: np.ndarray, *, probabilities: bool = False) -> Prediction:
        if probabilities and not self.has_proba:
            raise InvalidInput(f"model {self.metadata.name} ({self.metadata.estimator}) has no class probabilities")
        labels, proba = self.runtime.predict(rows, probabilities)
        return Prediction(labels=labels, probabilities=proba)
