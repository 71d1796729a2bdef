"""`package`: a user's own fitted estimator or Pipeline becomes an artifact the app serves."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from predict.app import create_app
from predict.errors import ArtifactError
from predict.package import package_model
from predict.settings import Settings


@pytest.fixture
def user_model(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(80, 3))
    y = np.where(x[:, 0] + x[:, 1] > 0, "leave", "stay")
    path = tmp_path / "churn.joblib"
    joblib.dump(make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), path)
    return path


def test_packaged_pipeline_is_served_with_its_names(user_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "artifact"
    metadata = package_model(
        user_model,
        out,
        name="churn",
        version="3",
        features=["tenure", "spend", "visits"],
        class_names=["L", "S"],
    ).metadata
    assert metadata.classes == ["leave", "stay"]
    assert json.loads((out / "metadata.json").read_text())["feature_names"] == ["tenure", "spend", "visits"]
    with TestClient(create_app(Settings(model_dir=out))) as client:
        assert client.get("/model").json()["name"] == "churn"
        body = client.post("/predict", json={"instances": [[3.0, 3.0, 0.0], [-3.0, -3.0, 0.0]]}).json()
        assert body == {"predictions": ["leave", "stay"]}
        short = client.post("/predict", json={"features": [1.0, 2.0]})
        assert short.status_code == 422
        assert "expected 3, got 2" in short.json()["error"]


def test_default_names_come_from_the_estimator(user_model: Path, tmp_path: Path) -> None:
    metadata = package_model(user_model, tmp_path / "artifact").metadata
    assert metadata.name == "churn"
    assert metadata.feature_names == ["x0", "x1", "x2"]
    assert metadata.class_names == ["leave", "stay"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": ["a", "b"]}, "names 2 features but the estimator expects 3"),
        ({"class_names": ["a", "b", "c"]}, "names 3 classes but the estimator has 2"),
    ],
)
def test_names_that_do_not_fit_are_refused(
    user_model: Path, tmp_path: Path, kwargs: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(ArtifactError, match=message):
        package_model(user_model, tmp_path / "artifact", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "artifact").exists()


def test_unfitted_or_non_estimators_are_refused(tmp_path: Path) -> None:
    joblib.dump(LogisticRegression(), tmp_path / "unfitted.joblib")
    with pytest.raises(ArtifactError, match="not fitted"):
        package_model(tmp_path / "unfitted.joblib", tmp_path / "a")
    joblib.dump({"not": "a model"}, tmp_path / "dict.joblib")
    with pytest.raises(ArtifactError, match="no predict method"):
        package_model(tmp_path / "dict.joblib", tmp_path / "b")
    (tmp_path / "garbage.joblib").write_bytes(b"not a pickle")
    with pytest.raises(ArtifactError, match="not a joblib/pickle file"):
        package_model(tmp_path / "garbage.joblib", tmp_path / "c")
    with pytest.raises(ArtifactError, match="cannot read"):
        package_model(tmp_path / "missing.joblib", tmp_path / "d")
