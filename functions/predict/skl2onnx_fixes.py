"""Where skl2onnx 1.20.0's HistGradientBoosting conversion falls short of scikit-learn, and the
smallest repair of each: passed to one conversion (compile.to_onnx_bytes), never registered globally."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _ints_not_bools(converter: Callable[..., Any]) -> Callable[..., Any]:
    """skl2onnx's converter with every bool in a list attribute written as the int ONNX expects.

    Why: skl2onnx 1.20.0 (the newest release) writes a HistGradientBoosting leaf's
    `nodes_missing_value_tracks_true` as Python `False` beside the branches' np.uint8 values
    (skl2onnx/common/tree_ensemble.py, add_tree_to_attribute_pairs_hist_gradient_boosting).
    protobuf 7.34 and later refuse a bool in a repeated int field ("Field onnx.AttributeProto.ints:
    Expected an int, got a boolean"; 6.x only warned), so the node cannot be made. No converter
    option or target_opset avoids that attribute, and pinning protobuf below 7.34 would split the
    packaging environment from the serving one (functions/predict/requirements.txt pins 7.36.2).
    The values are kept as they are: False is 0, so NaN routing is unchanged, and the verification
    against scikit-learn below still decides whether the result is kept."""

    def convert(scope: Any, operator: Any, container: Any) -> Any:
        add_node = container.add_node

        def add_node_with_ints(*args: Any, **attrs: Any) -> Any:
            for key, value in attrs.items():
                if isinstance(value, list) and any(isinstance(item, bool) for item in value):
                    attrs[key] = [int(item) for item in value]
            return add_node(*args, **attrs)

        container.add_node = add_node_with_ints  # for this one operator only
        try:
            return converter(scope, operator, container)
        finally:
            del container.add_node

    return convert


def fixed_converters() -> dict[type, Callable[..., Any]]:
    """Converters passed to this conversion only (skl2onnx's own registry is left as it is)."""
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    return {
        model: _ints_not_bools(get_converter(sklearn_operator_name_map[model]))
        for model in (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
    }


TREE_ENSEMBLES = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")


def float64_thresholds(onnx_model: Any, estimator: Any) -> None:
    """A bare HistGradientBoosting model, made to compare float64 features with float64 thresholds
    as scikit-learn does (its other trees compare float32 ones, which skl2onnx matches exactly).

    Why: skl2onnx writes thresholds as float32 `nodes_values` and takes float32 rows, so two feature
    values that differ only beyond float32's precision fall on the same side (the diabetes data
    has such values: 0.06345271983825305 against a threshold of 0.06345271983825301 sent one
    held-out row to another leaf, 4.8 off). ai.onnx.ml opset 3 added `nodes_values_as_tensor` for
    exactly this (onnx/onnx#3897); skl2onnx 1.20.0 does not use it (onnx/sklearn-onnx#1192 is
    open). Changed only when the graph is what skl2onnx makes of one such estimator (one tree
    node reading the rows, float32 values equal to the estimator's thresholds); otherwise the
    float32 form stays, and the verification decides either way."""
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if not isinstance(estimator, HistGradientBoostingClassifier | HistGradientBoostingRegressor):
        return
    graph = onnx_model.graph
    if len(graph.input) != 1:
        return
    readers = [node for node in graph.node if graph.input[0].name in node.input]
    if len(readers) != 1 or readers[0].op_type not in TREE_ENSEMBLES:
        return
    trees = readers[0]
    # skl2onnx adds every predictor's nodes in this order (tree id = iteration x trees per iteration + class).
    thresholds = np.array(
        [
            0.0 if node["is_leaf"] else node["num_threshold"]
            for predictors in estimator._predictors
            for predictor in predictors
            for node in predictor.nodes
        ],
        dtype=np.float64,
    )
    values = [attribute for attribute in trees.attribute if attribute.name == "nodes_values"]
    if len(values) != 1 or not np.array_equal(np.asarray(values[0].floats, np.float32), thresholds.astype(np.float32)):
        return
    trees.attribute.remove(values[0])
    trees.attribute.append(helper.make_attribute("nodes_values_as_tensor", numpy_helper.from_array(thresholds)))
    for opset in onnx_model.opset_import:
        if opset.domain == "ai.onnx.ml":
            opset.version = max(opset.version, 3)
    graph.input[0].type.tensor_type.elem_type = TensorProto.DOUBLE
