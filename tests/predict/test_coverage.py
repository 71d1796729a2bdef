"""The README's table of which models serve compiled, checked against packaging them again; and the
one-line reason `package` gives when a model does not compile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor

from predict.artifact import ONNX_FILE, load_artifact, read_metadata
from predict.compile import REASON_LIMIT, CompileRefused, compile_onnx
from predict.coverage import (
    CASES,
    END_MARKER,
    README,
    START_MARKER,
    build,
    compared_cells,
    readme_table,
    render,
    with_table,
)
from predict.onnx_runtime import OnnxRuntime
from predict.package import package_model
from tests.helpers import REPO


def test_the_readme_table_says_what_packaging_does() -> None:
    generated = compared_cells(render(build(timed=False)))
    assert len(generated) == len(CASES)
    assert compared_cells(readme_table(README.read_text())) == generated, (
        "README.md's coverage table is out of date: run `python -m predict.coverage --write-readme`"
    )


def test_the_table_is_written_between_the_markers_only() -> None:
    readme = f"before\n{START_MARKER}\nold table\n{END_MARKER}\nafter\n"
    table = "| model | serves compiled | verified on (rows) |\n| --- | --- | --- |\n| m | yes | 1,030 |\n"
    written = with_table(readme, table)
    assert written.startswith("before\n")
    assert written.endswith(f"{END_MARKER}\nafter\n")
    assert "old table" not in written
    assert compared_cells(readme_table(written)) == [("m", "yes", "1,030")]
    with pytest.raises(ValueError, match="no <!-- coverage:start -->"):
        readme_table("no markers here")


@pytest.fixture
def diabetes_model(tmp_path: Path) -> tuple[Path, Path, HistGradientBoostingRegressor, np.ndarray]:
    """The issue's model: a HistGradientBoostingRegressor on the diabetes data, saved as a user does."""
    x, y = load_diabetes(return_X_y=True)
    model = HistGradientBoostingRegressor(max_iter=50, random_state=0).fit(x[:350], y[:350])
    joblib.dump(model, tmp_path / "hgb.joblib")
    np.save(tmp_path / "holdout.npy", x[350:])
    return tmp_path / "hgb.joblib", tmp_path / "holdout.npy", model, x[350:]


def test_a_hist_gradient_boosting_regressor_packages_and_serves_compiled(
    diabetes_model: tuple[Path, Path, HistGradientBoostingRegressor, np.ndarray], tmp_path: Path
) -> None:
    model_path, holdout_path, model, holdout = diabetes_model
    out = tmp_path / "artifact"
    result = subprocess.run(  # as a user runs it
        [
            sys.executable,
            "-m",
            "predict",
            "package",
            "--model",
            str(model_path),
            "--holdout",
            str(holdout_path),
            "--out",
            str(out),
        ],
        cwd=REPO / "functions",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert f"compiled form model.onnx, verified on {len(holdout) + 1_000} rows" in result.stdout
    served = load_artifact(out, form="onnx")
    assert served.serving_form == "onnx"
    np.testing.assert_allclose(served.predict(holdout).labels, model.predict(holdout), rtol=1e-5)


def test_its_thresholds_are_compared_in_float64() -> None:
    # Two values of the diabetes data's s5 column that float32 cannot tell apart, and a split
    # between them: the compiled form must send them to different leaves, as scikit-learn does.
    x, y = load_diabetes(return_X_y=True)
    model = HistGradientBoostingRegressor(max_iter=50, random_state=0).fit(x[:350], y[:350])
    node = next(n for p in model._predictors for n in p[0].nodes if not n["is_leaf"])
    feature, threshold = int(node["feature_idx"]), float(node["num_threshold"])
    below, above = x[:1].copy(), x[:1].copy()
    below[0, feature] = threshold
    above[0, feature] = np.nextafter(threshold, np.inf)
    assert np.float32(below[0, feature]) == np.float32(above[0, feature])  # the same to float32
    rows = np.vstack([below, above])
    assert model.predict(rows)[0] != model.predict(rows)[1]  # scikit-learn sends them to different leaves
    served = OnnxRuntime(compile_onnx(model, 10, x[350:], None).onnx_bytes)
    np.testing.assert_allclose(served.predict(rows, False)[0], model.predict(rows), rtol=1e-5)


def test_a_conversion_failure_is_one_line_and_the_model_still_packages(
    diabetes_model: tuple[Path, Path, HistGradientBoostingRegressor, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """skl2onnx's message for a node it cannot make carries every attribute (647 KB of arrays for
    the issue's model): the reason given is one bounded line with the root cause, and the
    scikit-learn form is packaged all the same."""
    import skl2onnx

    model_path, holdout_path, _, _ = diabetes_model
    dump = "Unable to create node 'TreeEnsembleRegressor' with name='T' and attributes={'a': [\n" + " 1,\n" * 200_000

    def convert_sklearn(*args: object, **kwargs: object) -> None:
        try:
            raise TypeError("Field onnx.AttributeProto.ints: Expected an int, got a boolean.")
        except TypeError as cause:
            raise ValueError(dump) from cause

    monkeypatch.setattr(skl2onnx, "convert_sklearn", convert_sklearn)
    out = tmp_path / "artifact"
    packaged = package_model(model_path, out, holdout=holdout_path)
    assert "\n" not in packaged.compile_note
    assert len(packaged.compile_note) < REASON_LIMIT + 100
    assert packaged.compile_note.startswith("no compiled form: skl2onnx cannot convert HistGradientBoostingRegressor")
    assert "Expected an int, got a boolean" in packaged.compile_note  # the cause, not the dump
    assert read_metadata(out).compiled is None
    assert not (out / ONNX_FILE).exists()
    assert load_artifact(out).serving_form == "sklearn"


def test_an_unexpected_failure_while_compiling_still_packages_the_model(
    diabetes_model: tuple[Path, Path, HistGradientBoostingRegressor, np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from predict import package as package_module

    def broken(*args: object) -> None:
        raise RuntimeError("a converter bug\n" + "detail\n" * 10_000)

    monkeypatch.setattr(package_module, "compile_onnx", broken)
    model_path, holdout_path, _, _ = diabetes_model
    packaged = package_model(model_path, tmp_path / "artifact", holdout=holdout_path)
    assert packaged.compile_note == (
        "no compiled form: compiling failed (a converter bug); the model serves through scikit-learn"
    )
    assert load_artifact(tmp_path / "artifact").serving_form == "sklearn"


def test_any_refusal_reason_is_bounded() -> None:
    assert str(CompileRefused("x" * 10_000 + "\nsecond line")).count("\n") == 0
    assert len(str(CompileRefused("x" * 10_000))) == REASON_LIMIT
