"""``tf.metrics``: streaming metrics, each a ``(value, update_op)`` pair over local variables.

A metric keeps running sums (``total``/``count``, or one ``count`` per confusion cell) in
variables of the LOCAL_VARIABLES and METRIC_VARIABLES collections, under the metric's variable
scope (``accuracy/total``, ``precision/true_positives/count``). Run
``tf.local_variables_initializer()`` to start (or restart) the accumulation, ``update_op`` once per
batch (it returns the metric including that batch), and ``value`` to read the metric alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph.graph import GraphKeys, Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops import array as array_ops
from flowgraph.ops import math as math_ops
from flowgraph.ops.control import identity
from flowgraph.variables import Variable, variable_scope


def metric_variable(shape: Any, dtype: Any, validate_shape: bool = True, name: str | None = None) -> Variable:
    """A zero-initialised, non-trainable variable in LOCAL_VARIABLES and METRIC_VARIABLES."""
    dt = _dtypes.as_dtype(dtype)
    return Variable(
        np.zeros(shape, dtype=dt.np),
        trainable=False,
        collections=[GraphKeys.LOCAL_VARIABLES, GraphKeys.METRIC_VARIABLES],
        validate_shape=validate_shape,
        name=name,
    )


def _add_to(collections: Any, value: Any) -> None:
    if collections:
        get_default_graph().add_to_collections(collections, value)


def _squeeze_last(t: Tensor) -> Tensor:
    return array_ops.squeeze(t, [-1])


def _remove_squeezable_dimensions(predictions: Any, labels: Any = None, weights: Any = None) -> tuple:
    """Drops a trailing size-1 axis from whichever of labels/predictions (and weights) has one extra.

    So ``labels`` of shape ``[N, 1]`` meet ``predictions`` of shape ``[N]``, as TF1 allows.
    """
    predictions = convert_to_tensor(predictions)
    if labels is not None:
        labels = convert_to_tensor(labels)
        rp, rl = predictions.shape.ndims, labels.shape.ndims
        if rp is not None and rl is not None:
            if rl == rp + 1 and labels._dims[-1] == 1:
                labels = _squeeze_last(labels)
            elif rp == rl + 1 and predictions._dims[-1] == 1:
                predictions = _squeeze_last(predictions)
    if weights is not None:
        weights = convert_to_tensor(weights)
        rp, rw = predictions.shape.ndims, weights.shape.ndims
        if rp is not None and rw is not None and rw == rp + 1 and weights._dims[-1] == 1:
            weights = _squeeze_last(weights)
    return predictions, labels, weights


def _check_compatible(predictions: Tensor, labels: Tensor) -> None:
    if not predictions.shape.is_compatible_with(labels.shape):
        raise ValueError(f"Shapes {predictions.shape} and {labels.shape} are incompatible")


def _broadcast_weights(weights: Tensor, values: Tensor) -> Tensor:
    """``weights`` (float32) broadcast to the shape of ``values``; incompatible shapes raise ValueError."""
    w = math_ops.cast(weights, _dtypes.float32) if weights.dtype is not _dtypes.float32 else weights
    wd, vd = w._dims, values._dims
    if wd is not None and vd is not None:
        if len(wd) > len(vd) or any(
            a is not None and b is not None and a not in (1, b) for a, b in zip(wd[::-1], vd[::-1])
        ):
            raise ValueError(
                f"weights can not be broadcast to values. values.shape={values.shape}, weights.shape={w.shape}."
            )
        if wd == vd and None not in wd:
            return w
    return math_ops.multiply(w, math_ops.ones_like(values))


def _safe_div(numerator: Tensor, denominator: Tensor, name: str) -> Tensor:
    """``numerator / denominator``, or 0 where the denominator is 0 (TF1's ``div_no_nan``)."""
    return math_ops.div_no_nan(numerator, denominator, name=name)


# ---------------------------------------------------------------------------------------------
# Means
# ---------------------------------------------------------------------------------------------
def mean(
    values: Any,
    weights: Any = None,
    metrics_collections: Any = None,
    updates_collections: Any = None,
    name: str | None = None,
) -> tuple[Tensor, Tensor]:
    """``tf.metrics.mean``: the (weighted) mean of every value seen, as float32."""
    with variable_scope(name, "mean"):
        values = math_ops.cast(convert_to_tensor(values), _dtypes.float32)
        total = metric_variable([], _dtypes.float32, name="total")
        count = metric_variable([], _dtypes.float32, name="count")
        if weights is None:
            num_values = math_ops.cast(array_ops.size(values), _dtypes.float32)
        else:
            values, _, weights = _remove_squeezable_dimensions(values, None, weights)
            weights = _broadcast_weights(weights, values)
            values = math_ops.multiply(values, weights)
            num_values = math_ops.reduce_sum(weights)
        update_total = total.assign_add(math_ops.reduce_sum(values))
        with get_default_graph().control_dependencies([values]):
            update_count = count.assign_add(num_values)
        value = _safe_div(total.value(), math_ops.maximum(count.value(), 0.0), name="value")
        update_op = _safe_div(update_total, math_ops.maximum(update_count, 0.0), name="update_op")
    _add_to(metrics_collections, value)
    _add_to(updates_collections, update_op)
    return value, update_op


def _pointwise_mean(kind: str, per_element: Callable[[Tensor, Tensor], Tensor], doc: str):
    """A ``tf.metrics`` function: the running mean of ``per_element(labels, predictions)``."""

    def metric(
        labels: Any,
        predictions: Any,
        weights: Any = None,
        metrics_collections: Any = None,
        updates_collections: Any = None,
        name: str | None = None,
    ) -> tuple[Tensor, Tensor]:
        predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
        _check_compatible(predictions, labels)
        values = per_element(labels, predictions)
        return mean(values, weights, metrics_collections, updates_collections, name or kind)

    metric.__name__ = metric.__qualname__ = kind
    metric.__doc__ = doc
    return metric


def _is_correct(labels: Tensor, predictions: Tensor) -> Tensor:
    if predictions.dtype is not labels.dtype:
        predictions = math_ops.cast(predictions, labels.dtype)
    return math_ops.cast(math_ops.equal(predictions, labels), _dtypes.float32)


accuracy = _pointwise_mean(
    "accuracy", _is_correct, "``tf.metrics.accuracy``: how often ``predictions`` equals ``labels`` (weighted)."
)
mean_absolute_error = _pointwise_mean(
    "mean_absolute_error",
    lambda labels, predictions: math_ops.abs(math_ops.subtract(predictions, labels)),
    "``tf.metrics.mean_absolute_error``: running mean of ``|predictions - labels|``.",
)
mean_squared_error = _pointwise_mean(
    "mean_squared_error",
    lambda labels, predictions: math_ops.squared_difference(labels, predictions),
    "``tf.metrics.mean_squared_error``: running mean of ``(predictions - labels)**2``.",
)


def root_mean_squared_error(
    labels: Any,
    predictions: Any,
    weights: Any = None,
    metrics_collections: Any = None,
    updates_collections: Any = None,
    name: str | None = None,
) -> tuple[Tensor, Tensor]:
    """``tf.metrics.root_mean_squared_error``: the square root of the running mean squared error."""
    mse, update_mse = mean_squared_error(labels, predictions, weights, None, None, name or "root_mean_squared_error")
    rmse = math_ops.sqrt(mse)
    update_op = math_ops.sqrt(update_mse)
    _add_to(metrics_collections, rmse)
    _add_to(updates_collections, update_op)
    return rmse, update_op


# ---------------------------------------------------------------------------------------------
# Confusion counts, precision, recall
# ---------------------------------------------------------------------------------------------
def _count_condition(
    values: Tensor, weights: Any, metrics_collections: Any, updates_collections: Any
) -> tuple[Tensor, Tensor]:
    """Running (weighted) count of the true entries of the bool tensor ``values``."""
    count = metric_variable([], _dtypes.float32, name="count")
    values = math_ops.cast(values, _dtypes.float32)
    if weights is not None:
        values = math_ops.multiply(values, _broadcast_weights(convert_to_tensor(weights), values))
    value = identity(count.value())
    update_op = count.assign_add(math_ops.reduce_sum(values))
    _add_to(metrics_collections, value)
    _add_to(updates_collections, update_op)
    return value, update_op


def _as_bool(t: Any) -> Tensor:
    t = convert_to_tensor(t)
    return t if t.dtype is _dtypes.bool else math_ops.cast(t, _dtypes.bool)


def _confusion_count(kind: str, want_label: bool, want_prediction: bool):
    def metric(
        labels: Any,
        predictions: Any,
        weights: Any = None,
        metrics_collections: Any = None,
        updates_collections: Any = None,
        name: str | None = None,
    ) -> tuple[Tensor, Tensor]:
        with variable_scope(name, kind):
            predictions, labels, weights = _remove_squeezable_dimensions(
                _as_bool(predictions), _as_bool(labels), weights
            )
            _check_compatible(predictions, labels)
            lab = labels if want_label else math_ops.logical_not(labels)
            pred = predictions if want_prediction else math_ops.logical_not(predictions)
            hits = math_ops.logical_and(lab, pred)
            return _count_condition(hits, weights, metrics_collections, updates_collections)

    metric.__name__ = kind
    metric.__doc__ = f"``tf.metrics.{kind}``: running (weighted) count of {kind.replace('_', ' ')}."
    return metric


true_positives = _confusion_count("true_positives", True, True)
false_positives = _confusion_count("false_positives", False, True)
false_negatives = _confusion_count("false_negatives", True, False)
true_negatives = _confusion_count("true_negatives", False, False)


def _ratio(
    kind: str,
    other,
    labels: Any,
    predictions: Any,
    weights: Any,
    metrics_collections: Any,
    updates_collections: Any,
    name: str | None,
) -> tuple[Tensor, Tensor]:
    """``tp / (tp + other)``, 0 while the denominator is 0 (precision: other = fp; recall: fn)."""
    with variable_scope(name, kind):
        predictions, labels, weights = _remove_squeezable_dimensions(_as_bool(predictions), _as_bool(labels), weights)
        tp, tp_update = true_positives(labels, predictions, weights)
        o, o_update = other(labels, predictions, weights)

        def compute(a: Tensor, b: Tensor, op_name: str) -> Tensor:
            return _safe_div(a, math_ops.add(a, b), name=op_name)

        value = compute(tp, o, "value")
        update_op = compute(tp_update, o_update, "update_op")
    _add_to(metrics_collections, value)
    _add_to(updates_collections, update_op)
    return value, update_op


def _ratio_metric(kind: str, other, doc: str):
    """A ``tf.metrics`` function computing ``_ratio(kind, other, ...)``."""

    def metric(
        labels: Any,
        predictions: Any,
        weights: Any = None,
        metrics_collections: Any = None,
        updates_collections: Any = None,
        name: str | None = None,
    ) -> tuple[Tensor, Tensor]:
        return _ratio(kind, other, labels, predictions, weights, metrics_collections, updates_collections, name)

    metric.__name__ = metric.__qualname__ = kind
    metric.__doc__ = doc
    return metric


precision = _ratio_metric(
    "precision", false_positives, "``tf.metrics.precision``: ``tp / (tp + fp)`` over bool-cast labels and predictions."
)
recall = _ratio_metric(
    "recall", false_negatives, "``tf.metrics.recall``: ``tp / (tp + fn)`` over bool-cast labels and predictions."
)


__all__ = [
    "accuracy",
    "false_negatives",
    "false_positives",
    "mean",
    "mean_absolute_error",
    "mean_squared_error",
    "metric_variable",
    "precision",
    "recall",
    "root_mean_squared_error",
    "true_negatives",
    "true_positives",
]
