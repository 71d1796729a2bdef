"""Serving forms: the compiled (ONNX) form made and verified when packaging, chosen when it may be
trusted, answering as scikit-learn does; the skops format loading only trusted types."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from predict.app import create_app
from predict.artifact import ONNX_FILE, SKOPS_FILE, load_artifact, read_metadata
from predict.compile import CompileRefused, compile_onnx
from predict.errors import ArtifactError
from predict.onnx_runtime import OnnxRuntime
from predict.package import package_model
from predict.settings import Settings
from tests.helpers import REPO


class Doubler(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """An estimator of the user's own that no converter knows."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> Doubler:
        self.n_features_in_ = x.shape[1]
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x).sum(axis=1) * 2


CHURN: list[int | str] = ["leave", "stay"]


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 3))
    return x, np.where(x[:, 0] + x[:, 1] > 0, "leave", "stay")


def _package(tmp_path: Path, estimator: object, holdout: np.ndarray | None, **kwargs: object) -> Path:
    joblib.dump(estimator, tmp_path / "user.joblib")
    holdout_path = None
    if holdout is not None:
        holdout_path = tmp_path / "holdout.csv"
        np.savetxt(holdout_path, holdout, delimiter=",", header="a,b,c", comments="")
    out = tmp_path / "artifact"
    package_model(tmp_path / "user.joblib", out, holdout=holdout_path, **kwargs)  # type: ignore[arg-type]
    return out


def _answers(model_dir: Path, form: str, body: dict[str, object]) -> tuple[str, object]:
    with TestClient(create_app(Settings(model_dir=model_dir, serving_form=form))) as client:  # type: ignore[arg-type]
        return client.get("/model").json()["serving_form"], client.post("/predict", json=body).json()


@pytest.mark.parametrize(
    "make",
    [
        lambda: make_pipeline(StandardScaler(), LogisticRegression()),
        lambda: RandomForestClassifier(n_estimators=20, random_state=0),
    ],
    ids=["scaled-logistic-pipeline", "forest"],
)
def test_compiled_form_answers_as_scikit_learn_does(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray], make: object
) -> None:
    x, y = data
    estimator = make().fit(x[:150], y[:150])  # type: ignore[operator]
    out = _package(tmp_path, estimator, x[150:])
    compiled = read_metadata(out).compiled
    assert compiled is not None
    assert compiled.verified_rows == 50 + 1_000
    assert compiled.max_probability_difference is not None
    assert compiled.max_probability_difference <= 1e-5
    body = {"instances": x[150:].tolist(), "probabilities": True}
    form_onnx, onnx_answer = _answers(out, "auto", body)
    form_sklearn, sklearn_answer = _answers(out, "sklearn", body)
    assert (form_onnx, form_sklearn) == ("onnx", "sklearn")
    assert onnx_answer["predictions"] == sklearn_answer["predictions"] == estimator.predict(x[150:]).tolist()  # type: ignore[index]
    np.testing.assert_allclose(onnx_answer["probabilities"], sklearn_answer["probabilities"], atol=1e-5)  # type: ignore[index]


def test_a_regressor_compiles_and_its_values_agree(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = data
    estimator = RandomForestRegressor(n_estimators=10, random_state=0).fit(x[:150], x[:150, 0] * 3)
    out = _package(tmp_path, estimator, x[150:])
    assert read_metadata(out).compiled is not None
    _, onnx_answer = _answers(out, "onnx", {"instances": x[150:].tolist()})
    np.testing.assert_allclose(onnx_answer["predictions"], estimator.predict(x[150:]), rtol=1e-5)  # type: ignore[index]


def test_an_estimator_no_converter_knows_serves_through_scikit_learn(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = data
    with pytest.raises(CompileRefused, match="skl2onnx cannot convert Doubler"):
        compile_onnx(Doubler().fit(x, x[:, 0]), 3, x, None)
    out = _package(tmp_path, Doubler().fit(x, x[:, 0]), x[150:])
    assert read_metadata(out).compiled is None
    assert not (out / ONNX_FILE).exists()
    form, answer = _answers(out, "auto", {"features": [1.0, 2.0, 3.0]})
    assert (form, answer) == ("sklearn", {"prediction": 12.0})
    with pytest.raises(ArtifactError, match="PREDICT_SERVING_FORM=onnx, but the artifact has no compiled form"):
        load_artifact(out, form="onnx")


def test_held_out_rows_that_cannot_verify_are_refused(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    with pytest.raises(CompileRefused, match="non-empty table of 3 columns"):
        compile_onnx(forest, 3, x[:, :2], CHURN)
    with pytest.raises(CompileRefused, match="finite numbers"):
        compile_onnx(forest, 3, np.where(x > 1, np.nan, x), CHURN)


def test_an_svc_without_probabilities_compiles_to_its_labels_only(data: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.svm import SVC

    x, y = data
    # It converts to labels and decision scores; the scores are never served as probabilities.
    svc = SVC().fit(x, y)
    compiled = compile_onnx(svc, 3, x, CHURN)
    runtime = OnnxRuntime(compiled.onnx_bytes, CHURN)
    assert not runtime.has_proba
    assert compiled.form.max_probability_difference is None
    assert runtime.predict(x, probabilities=False)[0] == svc.predict(x).tolist()


def test_a_conversion_that_disagrees_is_refused(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    other = RandomForestClassifier(n_estimators=5, random_state=1).fit(x, y[::-1])
    # The ONNX of one forest checked against another: what a converter bug would look like.
    from predict import compile as compile_module

    real = compile_module.to_onnx_bytes
    compile_module.to_onnx_bytes = lambda estimator, n: real(other, n)  # type: ignore[assignment]
    try:
        with pytest.raises(CompileRefused, match=r"other labels than scikit-learn on \d+ of 1200 rows"):
            compile_onnx(forest, 3, x, CHURN)
    finally:
        compile_module.to_onnx_bytes = real


def test_a_tampered_compiled_form_is_refused(artifact_dir: Path, tmp_path: Path) -> None:
    artifact = Path(shutil.copytree(artifact_dir, tmp_path / "artifact"))
    (artifact / ONNX_FILE).write_bytes((artifact / ONNX_FILE).read_bytes()[:-1])
    with pytest.raises(ArtifactError, match=f"{ONNX_FILE} digest mismatch"):
        load_artifact(artifact)
    with pytest.raises(ArtifactError, match="PREDICT_MODEL_ONNX_SHA256"):
        load_artifact(artifact_dir, form="onnx", pinned_onnx_sha256="0" * 64)


def test_a_pinned_model_serves_its_compiled_form_only_when_that_is_pinned_too(artifact_dir: Path) -> None:
    metadata = read_metadata(artifact_dir)
    assert metadata.compiled is not None
    assert load_artifact(artifact_dir, metadata.sha256).serving_form == "sklearn"
    pinned = load_artifact(artifact_dir, metadata.sha256, pinned_onnx_sha256=metadata.compiled.sha256)
    assert pinned.serving_form == "onnx"


def test_serving_the_compiled_form_never_imports_scikit_learn(artifact_dir: Path) -> None:
    probe = (
        "import sys, numpy as np\n"
        "from predict.artifact import load_artifact\n"
        f"model = load_artifact(__import__('pathlib').Path({str(artifact_dir)!r}))\n"
        "assert model.predict(np.array([[5.1, 3.5, 1.4, 0.2]])).labels == [0]\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy', 'joblib'))\n"
        "print(model.serving_form, heavy)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "functions")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "onnx []"


def test_skops_loads_only_trusted_types(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    out = _package(
        tmp_path, RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y), None, model_format="skops"
    )
    metadata = read_metadata(out)
    assert metadata.format == "skops"
    assert (out / SKOPS_FILE).exists()
    assert not (out / "model.joblib").exists()
    # A forest holds scikit-learn's Tree, which skops does not trust by default.
    with pytest.raises(ArtifactError, match=r"types nobody has trusted: sklearn\.tree\._tree\.Tree"):
        load_artifact(out)
    model = load_artifact(out, skops_trusted=["sklearn.tree._tree.Tree"])
    assert model.serving_form == "sklearn"
    assert model.predict(np.array([[3.0, 3.0, 0.0]])).labels == ["leave"]
    settings = Settings(model_dir=out, skops_trusted="sklearn.tree._tree.Tree")
    with TestClient(create_app(settings)) as client:
        assert client.post("/predict", json={"features": [-3.0, -3.0, 0.0]}).json() == {"prediction": "stay"}


def test_the_tutorial_batch_reads_the_same_in_both_forms(artifact_dir: Path) -> None:
    body = {"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], "probabilities": True}
    answers = {form: _answers(artifact_dir, form, body) for form in ("onnx", "sklearn")}
    assert answers["onnx"][0] == "onnx"
    # Not 0.99999934 or 0.9599994: float32 sums over 100 trees, rounded back to what they are.
    assert (
        answers["onnx"][1]
        == answers["sklearn"][1]
        == {
            "predictions": [0, 2],
            "probabilities": [[1.0, 0.0, 0.0], [0.0, 0.04, 0.96]],
        }
    )


def test_the_model_endpoint_names_no_library_versions(artifact_dir: Path) -> None:
    with TestClient(create_app(Settings(model_dir=artifact_dir))) as client:
        served = client.get("/model").json()
    assert served["serving_form"] == "onnx"
    assert not {"sklearn_version", "compiled", "format"} & set(served)
    assert "1.9" not in json.dumps(served)
