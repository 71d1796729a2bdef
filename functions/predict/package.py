"""Turn a user's own fitted estimator or Pipeline (a joblib or skops file) into a servable artifact:
the model file (joblib, or skops for users who can adopt the safer format), and, given held-out
rows, the compiled form checked against it."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
import sklearn
from sklearn.exceptions import InconsistentVersionWarning

from .artifact import ArtifactMetadata, LoadedModel, sha256_hex, write_artifact
from .compile import CompileRefused, compile_onnx, describe
from .errors import ArtifactError
from .sklearn_runtime import SklearnRuntime
from .train import dump_bytes


@dataclass(frozen=True)
class Packaged:
    metadata: ArtifactMetadata
    compile_note: str  # what became of the compiled form, for the user
    untrusted_types: list[str]  # skops: the types the server must be told to trust


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


def read_holdout(path: Path) -> np.ndarray:
    """Held-out feature rows: a .npy array, or a CSV of numbers (a header line is skipped)."""
    try:
        if path.suffix == ".npy":
            return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
        with path.open() as handle:
            first = handle.readline()
        header = any(c.isalpha() and c not in "eE" for c in first)
        return np.atleast_2d(np.loadtxt(path, delimiter=",", skiprows=int(header), dtype=np.float64))
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read held-out rows from {path}: {exc}") from exc


def _load_estimator(model_path: Path) -> Any:
    """The user's own file. Loading it here is the user vouching for it; from then on the
    recorded digest guards every load."""
    if model_path.suffix == ".skops":
        import skops.io as sio

        try:
            return sio.load(model_path, trusted=sio.get_untrusted_types(file=model_path))
        except Exception as exc:
            raise ArtifactError(f"{model_path} is not a skops file of an estimator: {exc}") from exc
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
    return estimator


def _serialize(estimator: Any, model_path: Path, model_format: Literal["joblib", "skops"]) -> tuple[bytes, list[str]]:
    """The model file's bytes; a joblib file is kept as given, so its digest is the user's own."""
    if model_format == "joblib":
        return (dump_bytes(estimator) if model_path.suffix == ".skops" else model_path.read_bytes()), []
    import skops.io as sio

    data = sio.dumps(estimator)
    return data, sorted(sio.get_untrusted_types(data=data))


def package_model(
    model_path: Path,
    out_dir: Path,
    *,
    name: str | None = None,
    version: str = "1",
    features: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    holdout: Path | None = None,
    model_format: Literal["joblib", "skops"] = "joblib",
) -> Packaged:
    if not model_path.is_file():
        raise ArtifactError(f"cannot read {model_path}: no such file")
    estimator = _load_estimator(model_path)
    if not callable(getattr(estimator, "predict", None)):
        raise ArtifactError(f"{type(estimator).__name__} has no predict method")
    feature_names = _feature_names(estimator, features)
    classes, names = _classes(estimator, class_names)
    runtime = SklearnRuntime(estimator)  # the server's checks (predict, single-threaded), before anything is written
    model_bytes, untrusted = _serialize(estimator, model_path, model_format)
    compiled = None
    if holdout is None:
        note = "no compiled form: give --holdout rows to make and verify one (it serves faster)"
    else:
        rows = read_holdout(holdout)  # an unreadable file is the user's to fix: refused, nothing written
        try:
            compiled = compile_onnx(estimator, len(feature_names), rows, classes)
            note = f"compiled form model.onnx, verified on {compiled.form.verified_rows} rows"
        except CompileRefused as exc:
            note = f"no compiled form: {exc}; the model serves through scikit-learn"
        except Exception as exc:  # a converter's own bug: the scikit-learn form is still sound, so package that
            note = f"no compiled form: compiling failed ({describe(exc)}); the model serves through scikit-learn"
    metadata = ArtifactMetadata(
        name=name or model_path.stem,
        version=version,
        sha256=sha256_hex(model_bytes),
        format=model_format,
        sklearn_version=sklearn.__version__,
        estimator=type(estimator).__name__,
        n_features=len(feature_names),
        feature_names=feature_names,
        classes=classes,
        class_names=names,
        trained_at=datetime.fromtimestamp(model_path.stat().st_mtime, UTC).isoformat(timespec="seconds"),
        compiled=compiled.form if compiled else None,
    )
    LoadedModel(runtime, metadata)  # the feature count the server checks
    write_artifact(out_dir, model_bytes, metadata, compiled.onnx_bytes if compiled else None)
    return Packaged(metadata, note, untrusted)
