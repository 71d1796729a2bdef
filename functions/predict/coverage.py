"""Which models serve in their compiled form: each is fitted on a small data set, saved with joblib
as a user would save it, and packaged through `package_model` (the path `python -m predict package
--holdout` takes); the table says whether the compiled form was kept, on how many rows it was
verified, and what one row costs in each form, timed through the loaded artifact.

    python -m predict.coverage                 # print the table
    python -m predict.coverage --write-readme  # and write it into README.md between the markers

tests/predict/test_coverage.py packages the same models again and fails when the README's
"serves compiled" and "verified on" columns no longer say what packaging does; the latency
columns are measurements and are not compared."""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from .artifact import LoadedModel, load_artifact
from .package import package_model

START_MARKER = "<!-- coverage:start -->"
END_MARKER = "<!-- coverage:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"
COMPARED_COLUMNS = 3  # model, serves compiled, verified on: what packaging decides (latency is measured)
SEED = 0

Data = tuple[np.ndarray, np.ndarray, np.ndarray]  # training rows, their targets, held-out rows


def _split(x: np.ndarray, y: np.ndarray) -> Data:
    x_train, x_test, y_train, _ = train_test_split(x, y, test_size=0.2, random_state=SEED)
    return x_train, y_train, x_test


def _iris() -> Data:
    x, y = load_iris(return_X_y=True)
    return _split(x, y)


def _breast_cancer() -> Data:
    x, y = load_breast_cancer(return_X_y=True)
    return _split(x, y)


def _diabetes() -> Data:
    x, y = load_diabetes(return_X_y=True)
    return _split(x, y)


def _mixed() -> Data:
    """Three numeric columns and two categories coded as numbers (the API takes rows of numbers)."""
    rng = np.random.default_rng(SEED)
    n = 400
    numeric = rng.normal(size=(n, 3))
    plan = rng.integers(0, 4, n)
    region = rng.integers(0, 3, n)
    score = numeric[:, 0] - 0.5 * numeric[:, 1] + (plan == 2) - 0.8 * (region == 0) + rng.normal(0, 0.5, n)
    x = np.column_stack([numeric, plan, region]).astype(np.float64)
    return _split(x, (score > 0).astype(int))


def _one_hot_pipeline() -> Any:
    columns = ColumnTransformer(
        [
            ("numeric", StandardScaler(), [0, 1, 2]),
            ("categories", OneHotEncoder(handle_unknown="ignore"), [3, 4]),
        ]
    )
    return make_pipeline(columns, LogisticRegression(max_iter=1_000))


@dataclass(frozen=True)
class Case:
    name: str
    data: Callable[[], Data]
    estimator: Callable[[], Any]
    remark: str = ""  # printed under the table: why a row reads as it does


# Small data sets and few trees, so that the test that packages them all stays within seconds.
CASES: tuple[Case, ...] = (
    Case(
        "StandardScaler + LogisticRegression (breast cancer)",
        _breast_cancer,
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000)),
    ),
    Case("RandomForestClassifier (iris)", _iris, lambda: RandomForestClassifier(n_estimators=50, random_state=SEED)),
    Case("ExtraTreesClassifier (iris)", _iris, lambda: ExtraTreesClassifier(n_estimators=50, random_state=SEED)),
    Case(
        "GradientBoostingClassifier (breast cancer)",
        _breast_cancer,
        lambda: GradientBoostingClassifier(n_estimators=50, random_state=SEED),
    ),
    Case(
        "HistGradientBoostingClassifier (breast cancer)",
        _breast_cancer,
        lambda: HistGradientBoostingClassifier(max_iter=50, random_state=SEED),
    ),
    Case(
        "HistGradientBoostingRegressor (diabetes)",
        _diabetes,
        lambda: HistGradientBoostingRegressor(max_iter=50, random_state=SEED),
        remark=(
            "skl2onnx 1.20.0 alone cannot make its node under protobuf 7 (a bool among the ints of "
            "`nodes_missing_value_tracks_true`), and would compare features in float32 where "
            "scikit-learn compares float64 (this data set has values that only float64 tells apart). "
            "`package` gives skl2onnx a converter that writes ints, and keeps the thresholds in float64 "
            "(ai.onnx.ml opset 3 `nodes_values_as_tensor`): see functions/predict/compile.py. Both "
            "HistGradientBoosting rows take that path."
        ),
    ),
    Case(
        "SVC (iris), no probabilities",
        _iris,
        lambda: SVC(random_state=SEED),
        remark=(
            "its ONNX form also gives decision scores, which are not probabilities: only the labels are "
            'kept, and `"probabilities": true` is refused as it is by scikit-learn\'s form.'
        ),
    ),
    Case("KNeighborsClassifier (iris)", _iris, KNeighborsClassifier),
    Case(
        "ColumnTransformer: StandardScaler + OneHotEncoder over numeric-coded categories, LogisticRegression",
        _mixed,
        _one_hot_pipeline,
        remark=(
            "The API takes rows of numbers, so the categories are sent as numeric codes. The rows that "
            "disagree are perturbed copies whose codes are no longer whole numbers: scikit-learn's "
            '`OneHotEncoder(handle_unknown="ignore")` encodes such a code as no category, ONNX\'s '
            "casts it to an integer first, i.e. to a known category. On the held-out rows themselves the "
            "two agree; the compiled form is refused because a client could send such a code."
        ),
    ),
)


@dataclass(frozen=True)
class Coverage:
    name: str
    compiled: bool
    verified_rows: int | None
    note: str  # what `package` printed about the compiled form
    remark: str = ""
    onnx_us: float | None = None
    sklearn_us: float | None = None

    @property
    def serves(self) -> str:
        if self.compiled:
            return "yes"
        reason = self.note.removeprefix("no compiled form: ").removesuffix("; the model serves through scikit-learn")
        return f"no: {reason}".replace("|", "/")  # a pipe would split the table's cell


def package_case(case: Case, work: Path) -> tuple[Coverage, Path]:
    """Fit the case's model, save it and its held-out rows as files, and package them as a user does."""
    x_train, y_train, holdout = case.data()
    estimator = case.estimator().fit(x_train, y_train)
    model_path = work / "model.joblib"
    holdout_path = work / "holdout.npy"
    joblib.dump(estimator, model_path)
    np.save(holdout_path, holdout)
    out = work / "artifact"
    packaged = package_model(model_path, out, name="coverage", holdout=holdout_path)
    compiled = packaged.metadata.compiled
    coverage = Coverage(
        name=case.name,
        compiled=compiled is not None,
        verified_rows=compiled.verified_rows if compiled else None,
        note=packaged.compile_note,
        remark=case.remark,
    )
    return coverage, out


def one_row_us(model: LoadedModel, row: np.ndarray, calls: int = 2_000) -> float:
    """The median time of one single-row prediction through the served model object, in µs."""
    for _ in range(50):  # warm-up: first calls allocate
        model.predict(row)
    timings = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        model.predict(row)
        timings.append(time.perf_counter_ns() - start)
    return statistics.median(timings) / 1_000


def measure(case: Case, work: Path) -> Coverage:
    coverage, out = package_case(case, work)
    row = np.asarray(case.data()[2][:1], dtype=np.float64)
    sklearn_us = one_row_us(load_artifact(out, form="sklearn"), row)
    onnx_us = one_row_us(load_artifact(out, form="onnx"), row) if coverage.compiled else None
    return dataclasses.replace(coverage, onnx_us=onnx_us, sklearn_us=sklearn_us)


def build(cases: Sequence[Case] = CASES, *, timed: bool = True) -> list[Coverage]:
    results = []
    for case in cases:
        with tempfile.TemporaryDirectory() as work:
            if timed:
                results.append(measure(case, Path(work)))
            else:
                results.append(package_case(case, Path(work))[0])
    return results


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


INTRO = (
    "**Which models serve compiled.** Each model below is fitted on a small data set, saved with joblib "
    'and packaged with `--holdout` as above; "verified on" counts the held-out rows and their 1,000 '
    "perturbed copies. The latencies are the median of 2,000 one-row predictions through the loaded "
    "artifact in each form (`PREDICT_SERVING_FORM=onnx` / `sklearn`), on the machine that wrote this "
    "table with `python -m predict.coverage --write-readme`; `tests/predict/test_coverage.py` packages "
    "the models again and fails when the first three columns no longer hold."
)


def render(results: Sequence[Coverage]) -> str:
    lines = [
        textwrap.fill(INTRO, width=100, break_on_hyphens=False),
        "",
        "| model | serves compiled | verified on (rows) | one row, compiled (µs) | one row, scikit-learn (µs) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for item in results:
        verified = "-" if item.verified_rows is None else f"{item.verified_rows:,}"
        lines.append(f"| {item.name} | {item.serves} | {verified} | {_us(item.onnx_us)} | {_us(item.sklearn_us)} |")
    remarks = [
        textwrap.fill(f"- {item.name}: {item.remark}", width=100, subsequent_indent="  ", break_on_hyphens=False)
        for item in results
        if item.remark
    ]
    return "\n".join([*lines, "", *remarks] if remarks else lines) + "\n"


def compared_cells(section: str) -> list[tuple[str, ...]]:
    """Each table row's model, serves-compiled and verified-on cells (not the header, not the latency)."""
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [tuple(cell.strip() for cell in row.strip("|").split("|")[:COMPARED_COLUMNS]) for row in rows]


def readme_table(readme: str) -> str:
    start, end = readme.find(START_MARKER), readme.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {START_MARKER} ... {END_MARKER} section")
    return readme[start + len(START_MARKER) : end]


def with_table(readme: str, table: str) -> str:
    old = readme_table(readme)
    return readme.replace(START_MARKER + old + END_MARKER, f"{START_MARKER}\n{table}{END_MARKER}", 1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m predict.coverage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-readme", action="store_true", help=f"write the table into {README.name}")
    args = parser.parse_args(argv)
    table = render(build())
    print(table, end="")
    if args.write_readme:
        README.write_text(with_table(README.read_text(), table))
        print(f"written to {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
