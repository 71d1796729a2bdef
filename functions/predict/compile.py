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
from .onnx_runtime import OnnxRuntime

TOLERANCE = 1e-5
PERTURBED_COPIES = 1_000  # rows near the held-out ones, where a decision boundary can hide


class CompileRefused(Exception):
    """No compiled form: the estimator cannot be converted, or the conversion disagrees with it."""


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
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType
    except ImportError as exc:
        raise CompileRefused("skl2onnx is not installed (install twinserve[package])") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # converter chatter; the verification below is what counts
            onnx_model = to_onnx(
                estimator,
                initial_types=[("rows", FloatTensorType([None, n_features]))],
                # Labels and a plain probability matrix, not a list of dicts per row.
                options={"zipmap": False} if hasattr(estimator, "predict_proba") else None,
            )
    except Exception as exc:
        raise CompileRefused(f"skl2onnx cannot convert {type(estimator).__name__}: {exc}") from exc
    return bytes(onnx_model.SerializeToString())


def compile_onnx(estimator: Any, n_features: int, holdout: np.ndarray, classes: list[Any] | None) -> Compiled:
    """The checked ONNX form of a fitted estimator, or CompileRefused saying why not. It is checked
    through the very runtime that will serve it, with the classes the metadata records."""
    rows = np.asarray(holdout, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != n_features or len(rows) == 0:
        raise CompileRefused(f"held-out rows must be a non-empty table of {n_features} columns, got shape {rows.shape}")
    if not np.isfinite(rows).all():
        raise CompileRefused("held-out rows must be finite numbers (no NaN or infinity)")
    onnx_bytes = to_onnx_bytes(estimator, n_features)
    runtime = OnnxRuntime(onnx_bytes, classes)
    if runtime.has_proba != hasattr(estimator, "predict_proba"):
        # Two outputs without predict_proba are decision scores (an SVC, say), not probabilities.
        raise CompileRefused(f"the ONNX form of {type(estimator).__name__} answers other outputs than it does")
    rows = verification_rows(rows)
    try:
        expected = estimator.predict(rows)
    except Exception as exc:
        raise CompileRefused(f"scikit-learn itself cannot predict the held-out rows: {exc}") from exc
    labels, proba = runtime.predict(rows, probabilities=runtime.has_proba)
    max_difference: float | None = None
    if runtime.has_proba:
        differing = sum(a != b for a, b in zip(labels, expected.tolist(), strict=True))
        if differing:
            raise CompileRefused(
                f"the ONNX form gives other labels than scikit-learn on {differing} of {len(rows)} rows"
            )
        max_difference = float(np.max(np.abs(np.asarray(proba) - estimator.predict_proba(rows))))
        if max_difference > TOLERANCE:
            raise CompileRefused(
                f"the ONNX form's probabilities differ from scikit-learn's by up to {max_difference:.2e} "
                f"(> {TOLERANCE})"
            )
    else:
        values = np.asarray(labels, dtype=np.float64).reshape(expected.shape)
        if not np.allclose(values, expected, rtol=TOLERANCE, atol=TOLERANCE):
            worst = float(np.max(np.abs(values - expected)))
            raise CompileRefused(f"the ONNX form's values differ from scikit-learn's by up to {worst:.2e}")
    form = CompiledForm(
        sha256=sha256_hex(onnx_bytes), verified_rows=len(rows), max_probability_difference=max_difference
    )
    return Compiled(onnx_bytes, form)
