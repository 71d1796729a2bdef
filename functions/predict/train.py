"""Train the embedded default model (the tutorials' Iris RandomForest) and write its artifact."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import joblib
import sklearn
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from .artifact import ArtifactMetadata, sha256_hex, write_artifact
from .compile import CompileRefused, compile_onnx

DEFAULT_NAME = "iris-random-forest"
logger = logging.getLogger(__name__)


def dump_bytes(estimator: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


def train_default(out_dir: Path, version: str = "1") -> ArtifactMetadata:
    iris = load_iris()
    # The tutorials' split and forest, so their example requests get their answers.
    x_train, x_test, y_train, y_test = train_test_split(iris.data, iris.target, test_size=0.2, random_state=42)
    model = RandomForestClassifier(n_estimators=100, random_state=42, n_jobs=1)
    model.fit(x_train, y_train)
    model_bytes = dump_bytes(model)
    classes: list[int | str] = [int(c) for c in model.classes_]
    try:
        compiled = compile_onnx(model, int(model.n_features_in_), x_test, classes)
    except CompileRefused as exc:  # serve through scikit-learn, as any artifact without one
        logger.warning("no compiled form: %s", exc)
        compiled = None
    metadata = ArtifactMetadata(
        name=DEFAULT_NAME,
        version=version,
        sha256=sha256_hex(model_bytes),
        sklearn_version=sklearn.__version__,
        estimator=type(model).__name__,
        n_features=int(model.n_features_in_),
        feature_names=[str(name) for name in iris.feature_names],
        classes=classes,
        class_names=[str(name) for name in iris.target_names],
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        accuracy=round(float(model.score(x_test, y_test)), 4),
        compiled=compiled.form if compiled else None,
    )
    write_artifact(out_dir, model_bytes, metadata, compiled.onnx_bytes if compiled else None)
    return metadata
