"""The compiled serving form: the estimator converted to ONNX when it was packaged, checked there
against scikit-learn on held-out rows, and run here by ONNX Runtime. Serving it imports neither
scikit-learn nor SciPy, and one row costs microseconds instead of milliseconds."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ArtifactError, InferenceFailed

try:
    import onnxruntime

    # Nothing leaves the process: no telemetry from a Lambda environment or a pod.
    onnxruntime.disable_telemetry_events()
except ImportError:  # pragma: no cover - onnxruntime is a runtime requirement; kept optional for lean installs
    onnxruntime = None


TIE_TOLERANCE = 1e-5  # float32 rounding over a few hundred trees stays well below this
# Probabilities summed over many trees in float32 drift in the sixth decimal (0.99999934 for 1.0);
# five decimals give back scikit-learn's figures and stay within the 1e-5 the form was checked to.
PROBABILITY_DECIMALS = 5


def available() -> bool:
    return onnxruntime is not None


def float32_values(values: np.ndarray) -> list[float]:
    """A regressor's float32 values as the shortest decimals that read back to the same float32
    (0.99, not 0.9900000095367432)."""
    return [float(str(value)) for value in values]


class OnnxRuntime:
    """One single-threaded ONNX Runtime session; a request's rows go through it in one call."""

    form = "onnx"

    def __init__(self, model_bytes: bytes, classes: list[Any] | None = None) -> None:
        if onnxruntime is None:
            raise ArtifactError("model.onnx needs onnxruntime, which is not installed here")
        options = onnxruntime.SessionOptions()
        # One request at a time per worker or Lambda environment: threads would only contend.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ArtifactError(f"model.onnx could not be loaded: {type(exc).__name__}") from exc
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 2:
            raise ArtifactError("model.onnx must take one 2-D float input (rows x features)")
        self.input_name = inputs[0].name
        # float32 rows, as skl2onnx makes most forms; float64 where the form compares in float64
        # (HistGradientBoosting's thresholds, see compile.py).
        self.input_dtype = np.float64 if inputs[0].type == "tensor(double)" else np.float32
        width = inputs[0].shape[1]
        self.n_features: int | None = width if isinstance(width, int) else None
        self.outputs = [output.name for output in self.session.get_outputs()]
        # Classifiers converted without ZipMap give labels and a probability matrix; regressors one value column.
        self.has_proba = len(self.outputs) == 2
        self.classes = np.asarray(classes, dtype=object) if classes and self.has_proba else None

    def predict(self, rows: np.ndarray, probabilities: bool) -> tuple[list[Any], list[list[float]] | None]:
        try:
            results = self.session.run(None, {self.input_name: rows.astype(self.input_dtype, copy=False)})
        except Exception as exc:
            raise InferenceFailed("the model failed on this input") from exc
        first = results[0]
        if self.classes is not None:
            # The first most probable class, as scikit-learn's argmax picks it. Summed in float32, a
            # tie (0.5 / 0.5) comes out as 0.49999994 / 0.50000006, so near-equal counts as equal.
            proba_matrix = results[1]
            top = proba_matrix >= proba_matrix.max(axis=1, keepdims=True) - TIE_TOLERANCE
            labels = self.classes[top.argmax(axis=1)].tolist()
        elif first.dtype.kind in "iuUSO":
            labels = first.tolist()
        else:
            labels = float32_values(first.reshape(-1))
        proba = None
        if probabilities and self.has_proba:
            proba = np.round(results[1].astype(np.float64), PROBABILITY_DECIMALS).tolist()
        return labels, proba
