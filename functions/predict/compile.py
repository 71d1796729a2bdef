"""Make the compiled serving form when an artifact is packaged: the fitted estimator converted to
ONNX (skl2onnx), then run by ONNX Runtime on held-out rows and kept only if it agrees with
scikit-learn: identical labels, probabilities (or regression values) within 1e-5. Otherwise the
reason is given and the artifact serves through scikit-learn unchanged."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .artifact import CompiledForm, sha256_hex
from .errors import ArtifactError, InferenceFailed
from .onnx_runtime import OnnxRuntime
from .skl2onnx_fixes import fixed_converters, float64_thresholds

TOLERANCE = 1e-5
PERTURBED_COPIES = 1_000  # rows near the held-out ones, where a decision boundary can hide
# A reason is printed as one line: skl2onnx's messages can carry every attribute of a node (647 KB
# of arrays for a HistGradientBoostingRegressor), which says nothing more than their first words.
REASON_LIMIT = 240


def one_line(text: str, limit: int = REASON_LIMIT) -> str:
    """The first line of a message, whitespace collapsed, cut to `limit` characters."""
    lines = text.strip().splitlines()
    first = " ".join(lines[0].split()) if lines else ""
    return first if len(first) <= limit else first[: limit - 3].rstrip() + "..."


def describe(exc: BaseException) -> str:
    """An exception as one bounded line, with the root cause (skl2onnx wraps the real error in
    "Unable to create node ... attributes={...}", whose useful part is the cause)."""
    cause = exc.__cause__
    if cause is None:
        return one_line(str(exc) or type(exc).__name__)
    head = one_line(str(exc), REASON_LIMIT // 2)
    head = head.split(" with name=", 1)[0]  # skl2onnx's node dump starts there
    return one_line(f"{head}: {one_line(str(cause)) or type(cause).__name__}")


class CompileRefused(Exception):
    """No compiled form: the estimator cannot be converted, or the conversion disagrees with it.
    Its message is always one line of at most REASON_LIMIT characters."""

    def __init__(self, reason: str) -> None:
        super().__init__(one_line(reason))


@dataclass(frozen=True)
class Compiled:
    onnx_bytes: bytes
    form: CompiledForm


def verification_rows(holdout: np.ndarray, seed: int = 0) -> np.ndarray:
    """The held-out rows and perturbed copies of them (a tenth of each feature's spread)."""
    rng = np.random.default_rng(seed)
    picks = holdout[rng.integers(0, len(holdout), PERTURBED_COPIES)]
    spread = holdout.std(axis=0) + 1e-12
    return np.vstack([holdout, picks + rng.normal(0.0, 0.1, picks.shape) * spread])


def to_onnx_bytes(estimator: Any, n_features: int) -> bytes:
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError as exc:
        raise CompileRefused("skl2onnx is not installed (install twinserve[package])") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # converter chatter; the verification below is what counts
            onnx_model = convert_sklearn(
                estimator,
                initial_types=[("rows", FloatTensorType([None, n_features]))],
                # Labels and a plain probability matrix, not a list of dicts per row.
                options={"zipmap": False} if hasattr(estimator, "predict_proba") else None,
                custom_conversion_functions=fixed_converters(),
            )
    except Exception as exc:
        raise CompileRefused(f"skl2onnx cannot convert {type(estimator).__name__}: {describe(exc)}") from exc
    if not hasattr(estimator, "predict_proba") and len(onnx_model.graph.output) == 2:
        # A classifier without predict_proba (an SVC, say) converts to labels and decision scores:
        # the scores are no probabilities, so only the labels are kept (and served).
        onnx_model.graph.output.pop()
    float64_thresholds(onnx_model, estimator)
    return bytes(onnx_model.SerializeToString())


def _same_labels(labels: list[Any], expected: np.ndarray) -> None:
    differing = sum(a != b for a, b in zip(labels, expected.tolist(), strict=True))
    if differing:
        raise CompileRefused(f"the ONNX form gives other labels than scikit-learn on {differing} of {len(labels)} rows")


def compile_onnx(estimator: Any, n_features: int, holdout: np.ndarray, classes: list[Any] | None) -> Compiled:
    """The checked ONNX form of a fitted estimator, or CompileRefused saying why not. It is checked
    through the very runtime that will serve it, with the classes the metadata records."""
    rows = np.asarray(holdout, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != n_features or len(rows) == 0:
        raise CompileRefused(f"held-out rows must be a non-empty table of {n_features} columns, got shape {rows.shape}")
    if not np.isfinite(rows).all():
        raise CompileRefused("held-out rows must be finite numbers (no NaN or infinity)")
    onnx_bytes = to_onnx_bytes(estimator, n_features)
    try:
        runtime = OnnxRuntime(onnx_bytes, classes)
    except ArtifactError as exc:  # converted, but ONNX Runtime cannot run it
        raise CompileRefused(f"ONNX Runtime cannot load the ONNX form: {describe(exc)}") from exc
    if runtime.has_proba != hasattr(estimator, "predict_proba"):
        # Never serve other outputs as probabilities (to_onnx_bytes keeps an SVC's labels only).
        raise CompileRefused(f"the ONNX form of {type(estimator).__name__} answers other outputs than it does")
    rows = verification_rows(rows)
    try:
        expected = estimator.predict(rows)
    except Exception as exc:
        raise CompileRefused(f"scikit-learn itself cannot predict the held-out rows: {describe(exc)}") from exc
    try:
        labels, proba = runtime.predict(rows, probabilities=runtime.has_proba)
    except InferenceFailed as exc:
        raise CompileRefused(f"ONNX Runtime fails on the held-out rows: {describe(exc.__cause__ or exc)}") from exc
    max_difference: float | None = None
    if runtime.has_proba:
        _same_labels(labels, expected)
        max_difference = float(np.max(np.abs(np.asarray(proba) - estimator.predict_proba(rows))))
        if max_difference > TOLERANCE:
            raise CompileRefused(
                f"the ONNX form's probabilities differ from scikit-learn's by up to {max_difference:.2e} "
                f"(> {TOLERANCE})"
            )
    elif expected.dtype.kind not in "fc":  # labels of a classifier without probabilities
        _same_labels(labels, expected)
    else:
        values = np.asarray(labels, dtype=np.float64).reshape(expected.shape)
        if not np.allclose(values, expected, rtol=TOLERANCE, atol=TOLERANCE):
            worst = float(np.max(np.abs(values - expected)))
            raise CompileRefused(f"the ONNX form's values differ from scikit-learn's by up to {worst:.2e}")
    form = CompiledForm(
        sha256=sha256_hex(onnx_bytes), verified_rows=len(rows), max_probability_difference=max_difference
    )
    return Compiled(onnx_bytes, form)
