"""Turn a user's own fitted estimator or Pipeline (a joblib file) into a servable artifact."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.exceptions import InconsistentVersionWarning

from .artifact import ArtifactMetadata, LoadedModel, sha256_hex, write_artifact
from .errors import ArtifactError


def _feature_names(estimator: Any, given: Sequence[str] | None) -> list[str]:
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is None:
        raise ArtifactError("the estimator is not fitted (it has no n_features_in_); fit it before packaging")
    if given:
        if len(given) != n_features:
            raise ArtifactError(f"--features names {len(given)} features but the estimator expects {n_features}")
        return list(given)
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None:
        return [str(name) for name in fitted_names]
    return [f"x{i}" for i in range(int(n_features))]


def _classes(estimator: Any, class_names: Sequence[str] | None) -> tuple[list[Any] | None, list[str] | None]:
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        if class_names:
            raise ArtifactError("--class-names given, but the estimator has no classes (is it a regressor?)")
        return None, None
    values = [c.item() if hasattr(c, "item") else c for c in classes]
    if any(not isinstance(v, int | str) for v in values):
        raise ArtifactError("only integer or string class labels are supported")
    if class_names:
        if len(class_names) != len(values):
            raise ArtifactError(f"--class-names names {len(class_names)} classes but the estimator has {len(values)}")
        return values, list(class_names)
    return values, [str(v) for v in values]


def package_model(
    model_path: Path,
    out_dir: Path,
    *,
    name: str | None = None,
    version: str = "1",
    features: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> ArtifactMetadata:
    """Package the user's own file. Loading it here is the user vouching for it; from then on
    the recorded digest guards every load."""
    try:
        model_bytes = model_path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read {model_path}: {exc.strerror}") from exc
    try:
        with warnings.catch_warnings():
            # Pickles do not travel across scikit-learn versions; refuse rather than serve drift.
            warnings.simplefilter("error", InconsistentVersionWarning)
            estimator = joblib.load(model_path)
    except InconsistentVersionWarning as exc:
        raise ArtifactError(
            f"{model_path} was pickled with scikit-learn {exc.original_sklearn_version}, "
            f"but {sklearn.__version__} is installed; re-fit or re-save it with {sklearn.__version__}"
        ) from exc
    except Exception as exc:
        raise ArtifactError(f"{model_path} is not a joblib/pickle file of an estimator: {exc}") from exc
    if not callable(getattr(estimator, "predict", None)):
        raise ArtifactError(f"{type(estimator).__name__} has no predict method")
    feature_names = _feature_names(estimator, features)
    classes, names = _classes(estimator, class_names)
    metadata = ArtifactMetadata(
        name=name or model_path.stem,
        version=version,
        sha256=sha256_hex(model_bytes),
        sklearn_version=sklearn.__version__,
        estimator=type(estimator).__name__,
        n_features=len(feature_names),
        feature_names=feature_names,
        classes=classes,
        class_names=names,
        trained_at=datetime.fromtimestamp(model_path.stat().st_mtime, UTC).isoformat(timespec="seconds"),
    )
    LoadedModel(estimator, metadata)  # the same checks the server makes, before anything is written
    write_artifact(out_dir, model_bytes, metadata)
    return metadata
