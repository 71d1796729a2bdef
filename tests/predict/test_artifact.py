"""The artifact: written with its digest, refused when missing, tampered with or from another scikit-learn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from predict.artifact import METADATA_FILE, MODEL_FILE, load_artifact, read_metadata, sha256_hex
from predict.errors import ArtifactError, InvalidInput


@pytest.fixture
def artifact(artifact_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the session's trained artifact, free to damage."""
    return Path(shutil.copytree(artifact_dir, tmp_path / "artifact"))


def _edit_metadata(model_dir: Path, **changes: object) -> None:
    path = model_dir / METADATA_FILE
    metadata = json.loads(path.read_text())
    metadata.update(changes)
    path.write_text(json.dumps(metadata))


def test_train_writes_the_model_and_its_metadata(artifact_dir: Path) -> None:
    metadata = read_metadata(artifact_dir)
    assert metadata.sha256 == sha256_hex((artifact_dir / MODEL_FILE).read_bytes())
    assert metadata.sklearn_version == sklearn.__version__
    assert metadata.n_features == len(metadata.feature_names) == 4
    assert metadata.classes == [0, 1, 2]
    assert metadata.class_names == ["setosa", "versicolor", "virginica"]
    assert metadata.estimator == "RandomForestClassifier"
    assert metadata.accuracy is not None
    assert metadata.accuracy > 0.9


def test_loaded_model_answers_the_tutorial_row(artifact_dir: Path) -> None:
    model = load_artifact(artifact_dir)
    prediction = model.predict(np.array([[5.1, 3.5, 1.4, 0.2]]), probabilities=True)
    assert prediction.labels == [0]
    assert prediction.probabilities is not None
    assert prediction.probabilities[0][0] == max(prediction.probabilities[0])


def test_tampered_model_is_refused_before_unpickling(artifact: Path) -> None:
    model_path = artifact / MODEL_FILE
    model_path.write_bytes(model_path.read_bytes() + b"\x00")
    with pytest.raises(ArtifactError, match="digest mismatch"):
        load_artifact(artifact)


def test_a_malicious_pickle_with_a_wrong_digest_never_runs(artifact: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (marker.touch, ())  # type: ignore[return-value]

    joblib.dump(Exploit(), artifact / MODEL_FILE)
    with pytest.raises(ArtifactError, match="digest mismatch"):
        load_artifact(artifact)
    assert not marker.exists()


def test_pinned_digest_must_match_too(artifact: Path) -> None:
    with pytest.raises(ArtifactError, match="PREDICT_MODEL_SHA256"):
        load_artifact(artifact, pinned_sha256="0" * 64)
    pinned = read_metadata(artifact).sha256
    assert load_artifact(artifact, pinned_sha256=pinned).metadata.sha256 == pinned


def test_other_scikit_learn_version_is_refused(artifact: Path) -> None:
    _edit_metadata(artifact, sklearn_version="0.24.2")
    with pytest.raises(ArtifactError, match=r"scikit-learn 0\.24\.2 but .* is installed"):
        load_artifact(artifact, form="sklearn")
    # The compiled form does not depend on the scikit-learn installed where it serves.
    assert load_artifact(artifact).serving_form == "onnx"


@pytest.mark.parametrize("missing", [MODEL_FILE, METADATA_FILE])
def test_missing_file_is_named(artifact: Path, missing: str) -> None:
    (artifact / missing).unlink()
    with pytest.raises(ArtifactError, match=f"{missing} not found"):
        load_artifact(artifact)


def test_corrupt_metadata_is_refused(artifact: Path) -> None:
    (artifact / METADATA_FILE).write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid artifact metadata"):
        load_artifact(artifact)


def test_truncated_model_with_matching_digest_is_refused_cleanly(artifact: Path) -> None:
    model_path = artifact / MODEL_FILE
    truncated = model_path.read_bytes()[:100]
    model_path.write_bytes(truncated)
    _edit_metadata(artifact, sha256=sha256_hex(truncated))
    with pytest.raises(ArtifactError, match="could not be loaded"):
        load_artifact(artifact, form="sklearn")


def test_feature_count_mismatch_between_metadata_and_estimator(artifact: Path) -> None:
    _edit_metadata(artifact, n_features=5)
    with pytest.raises(ArtifactError, match="metadata says 5 features"):
        load_artifact(artifact)


def test_parallel_estimators_are_made_single_threaded(tmp_path: Path) -> None:
    from predict.package import package_model

    x = np.random.default_rng(0).normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    pipeline = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, n_jobs=4, random_state=0))
    pipeline.fit(x, y)
    joblib.dump(pipeline, tmp_path / "pipe.joblib")
    package_model(tmp_path / "pipe.joblib", tmp_path / "artifact")
    model = load_artifact(tmp_path / "artifact")
    assert model.runtime.estimator.get_params()["randomforestclassifier__n_jobs"] == 1  # type: ignore[attr-defined]


def test_probabilities_from_a_model_without_them_are_refused(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    from predict.package import package_model

    x = np.arange(20, dtype=float).reshape(10, 2)
    joblib.dump(LinearRegression().fit(x, x.sum(axis=1)), tmp_path / "reg.joblib")
    package_model(tmp_path / "reg.joblib", tmp_path / "artifact")
    model = load_artifact(tmp_path / "artifact")
    assert model.predict(np.array([[1.0, 2.0]])).labels == pytest.approx([3.0])
    with pytest.raises(InvalidInput, match="no class probabilities"):
        model.predict(np.array([[1.0, 2.0]]), probabilities=True)
