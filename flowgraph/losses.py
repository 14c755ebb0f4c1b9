"""``tf.losses``: weighted, reduced losses that register themselves in the LOSSES collection.

As in TF1, every loss is computed in float32 (inputs are cast), weighted element-wise, reduced
according to a :class:`Reduction` (default: sum divided by the number of non-zero weights), cast
back to the input dtype, and added to ``loss_collection``.
"""

from __future__ import annotations

from typing import Any

from flowgraph import dtypes as _dtypes
from flowgraph.graph import GraphKeys, Tensor, convert_to_tensor, get_default_graph
from flowgraph.ops import array as _array_ops
from flowgraph.ops import math as _math_ops
from flowgraph.ops import nn as _nn
from flowgraph.ops.array import shape, stop_gradient
from flowgraph.ops.math import add_n, cast, multiply, ones_like, reduce_sum, subtract, zeros_like
from flowgraph.ops.sources import constant


class Reduction:
    """How ``compute_weighted_loss`` reduces the weighted element losses (TF1's key strings)."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_OVER_NONZERO_WEIGHTS,
                cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key: str) -> None:
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}.")


# ---------------------------------------------------------------------------------------------
# Collections
# ---------------------------------------------------------------------------------------------
def add_loss(loss: Any, loss_collection: str | None = GraphKeys.LOSSES) -> None:
    """Adds ``loss`` to ``loss_collection`` (nothing when the collection is None or empty)."""
    if loss_collection:
        get_default_graph().add_to_collection(loss_collection, loss)


def get_losses(scope: str | None = None, loss_collection: str = GraphKeys.LOSSES) -> list:
    """The losses in ``loss_collection`` whose names match ``scope``."""
    return get_default_graph().get_collection(loss_collection, scope)


def get_regularization_losses(scope: str | None = None) -> list:
    """The tensors in ``GraphKeys.REGULARIZATION_LOSSES`` whose names match ``scope``."""
    return get_default_graph().get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope: str | None = None, name: str = "total_regularization_loss") -> Tensor:
    """The sum of the regularization losses, or a 0.0 constant when there are none."""
    losses = get_regularization_losses(scope)
    if losses:
        return add_n(losses, name=name)
    return constant(0.0)


def get_total_loss(add_regularization_losses: bool = True, name: str = "total_loss",
                   scope: str | None = None) -> Tensor:
    """The sum of the LOSSES collection, plus the regularization losses by default."""
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses += get_regularization_losses(scope=scope)
    return add_n(losses, name=name)


# ---------------------------------------------------------------------------------------------
# Weighting and reduction
# ---------------------------------------------------------------------------------------------
def _assert_broadcastable(weights: Tensor, values: Tensor) -> None:
    """TF1's rule: weights are a scalar or have the values' rank with each dim 1 or equal."""
    wd, vd = weights._dims, values._dims
    if wd is None or vd is None or len(wd) == 0:
        return
    if len(wd) != len(vd) or any(w is not None and v is not None and w not in (1, v) for w, v in zip(wd, vd)):
        raise ValueError(
            f"weights can not be broadcast to values. values.rank={len(vd)}. weights.rank={len(wd)}. "
            f"values.shape={values.shape}. weights.shape={weights.shape}."
        )


def _safe_mean(losses: Tensor, num_present: Tensor) -> Tensor:
    return _math_ops.div_no_nan(reduce_sum(losses), num_present, name="value")


def _num_present(losses: Tensor, weights: Tensor) -> Tensor:
    """How many loss elements carry a non-zero weight (weights broadcast over the losses)."""
    g = get_default_graph()
    with g.name_scope("num_present") as scope:
        weights = cast(weights, _dtypes.float32)
        present = _math_ops.where(_math_ops.equal(weights, 0.0), zeros_like(weights), ones_like(weights))
        if present._dims is None or present._dims != losses._dims or None in present._dims:
            present = multiply(present, ones_like(losses))
        return reduce_sum(present, name=scope)


def _num_elements(losses: Tensor) -> Tensor:
    g = get_default_graph()
    with g.name_scope("num_elements") as scope:
        return cast(_array_ops.size(losses, name=scope), losses.dtype)


def compute_weighted_loss(losses: Any, weights: Any = 1.0, scope: str | None = None,
                          loss_collection: str | None = GraphKeys.LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weights ``losses`` element-wise and reduces them; the result is added to ``loss_collection``."""
    Reduction.validate(reduction)
    g = get_default_graph()
    with g.name_scope(scope or "weighted_loss"):
        losses = convert_to_tensor(losses)
        input_dtype = losses.dtype
        losses = cast(losses, _dtypes.float32)
        weights = cast(weights, _dtypes.float32)
        _assert_broadcastable(weights, losses)
        weighted = multiply(losses, weights)
        if reduction == Reduction.NONE:
            loss = weighted
        else:
            loss = reduce_sum(weighted)
            if reduction == Reduction.MEAN:
                loss = _safe_mean(loss, reduce_sum(multiply(ones_like(losses), weights)))
            elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
                loss = _safe_mean(loss, _num_present(losses, weights))
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = _safe_mean(loss, _num_elements(losses))
        loss = cast(loss, input_dtype)
        add_loss(loss, loss_collection)
        return loss


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------
def _check_not_none(**kwargs: Any) -> None:
    for k, v in kwargs.items():
        if v is None:
            raise ValueError(f"{k} must not be None.")


def _as_float32_pair(labels: Any, predictions: Any) -> tuple[Tensor, Tensor]:
    predictions = cast(predictions, _dtypes.float32)
    labels = cast(labels, _dtypes.float32)
    predictions.shape.assert_is_compatible_with(labels.shape)
    return labels, predictions


def mean_squared_error(labels: Any, predictions: Any, weights: Any = 1.0, scope: str | None = None,
                       loss_collection: str | None = GraphKeys.LOSSES,
                       reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted (predictions - labels) ** 2."""
    _check_not_none(labels=labels, predictions=predictions)
    with get_default_graph().name_scope(scope or "mean_squared_error") as sc:
        labels, predictions = _as_float32_pair(labels, predictions)
        losses = _math_ops.squared_difference(predictions, labels)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def absolute_difference(labels: Any, predictions: Any, weights: Any = 1.0, scope: str | None = None,
                        loss_collection: str | None = GraphKeys.LOSSES,
                        reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted |predictions - labels|."""
    _check_not_none(labels=labels, predictions=predictions)
    with get_default_graph().name_scope(scope or "absolute_difference") as sc:
        labels, predictions = _as_float32_pair(labels, predictions)
        losses = _math_ops.abs(subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def huber_loss(labels: Any, predictions: Any, weights: Any = 1.0, delta: float = 1.0, scope: str | None = None,
               loss_collection: str | None = GraphKeys.LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """0.5 * e ** 2 where |e| <= delta, else delta * (|e| - 0.5 * delta), with e = predictions - labels."""
    _check_not_none(labels=labels, predictions=predictions)
    with get_default_graph().name_scope(scope or "huber_loss") as sc:
        labels, predictions = _as_float32_pair(labels, predictions)
        abs_error = _math_ops.abs(subtract(predictions, labels))
        quadratic = _math_ops.minimum(abs_error, delta)
        linear = subtract(abs_error, quadratic)
        losses = _math_ops.add(multiply(convert_to_tensor(0.5, dtype=quadratic.dtype), multiply(quadratic, quadratic)),
                               multiply(delta, linear))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def log_loss(labels: Any, predictions: Any, weights: Any = 1.0, epsilon: float = 1e-7, scope: str | None = None,
             loss_collection: str | None = GraphKeys.LOSSES,
             reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted -labels * log(p + eps) - (1 - labels) * log(1 - p + eps)."""
    _check_not_none(labels=labels, predictions=predictions)
    with get_default_graph().name_scope(scope or "log_loss") as sc:
        labels, predictions = _as_float32_pair(labels, predictions)
        log = _math_ops.log
        losses = subtract(-multiply(labels, log(predictions + epsilon)),
                          multiply(1 - labels, log(1 - predictions + epsilon)))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def hinge_loss(labels: Any, logits: Any, weights: Any = 1.0, scope: str | None = None,
               loss_collection: str | None = GraphKeys.LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted max(0, 1 - y * logits) with labels in {0, 1} mapped to y in {-1, 1}."""
    _check_not_none(labels=labels, logits=logits)
    with get_default_graph().name_scope(scope or "hinge_loss") as sc:
        labels, logits = _as_float32_pair(labels, logits)
        all_ones = ones_like(labels)
        signs = subtract(2 * labels, all_ones)
        losses = _nn.relu(subtract(all_ones, multiply(signs, logits)))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def cosine_distance(labels: Any, predictions: Any, axis: int | None = None, weights: Any = 1.0,
                    scope: str | None = None, loss_collection: str | None = GraphKeys.LOSSES,
                    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS, dim: int | None = None) -> Tensor:
    """Weighted 1 - sum(labels * predictions, axis) for unit-normalized inputs."""
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'.")
        axis = dim
    if axis is None:
        raise ValueError("You must specify 'axis'.")
    _check_not_none(labels=labels, predictions=predictions)
    with get_default_graph().name_scope(scope or "cosine_distance_loss") as sc:
        labels, predictions = _as_float32_pair(labels, predictions)
        losses = 1 - reduce_sum(multiply(predictions, labels), axis=(axis,), keepdims=True)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def sigmoid_cross_entropy(multi_class_labels: Any, logits: Any, weights: Any = 1.0, label_smoothing: float = 0,
                          scope: str | None = None, loss_collection: str | None = GraphKeys.LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted sigmoid cross-entropy; labels are smoothed toward 1/2 by ``label_smoothing``."""
    _check_not_none(multi_class_labels=multi_class_labels, logits=logits)
    with get_default_graph().name_scope(scope or "sigmoid_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        labels = cast(multi_class_labels, logits.dtype)
        logits.shape.assert_is_compatible_with(labels.shape)
        if label_smoothing > 0:
            labels = labels * (1 - label_smoothing) + 0.5 * label_smoothing
        losses = _nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def softmax_cross_entropy(onehot_labels: Any, logits: Any, weights: Any = 1.0, label_smoothing: float = 0,
                          scope: str | None = None, loss_collection: str | None = GraphKeys.LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted softmax cross-entropy per example (``weights`` has shape [batch] or is a scalar).

    ``label_smoothing`` moves the labels toward uniform: z * (1 - s) + s / num_classes. No
    gradient flows into the labels.
    """
    _check_not_none(onehot_labels=onehot_labels, logits=logits)
    with get_default_graph().name_scope(scope or "softmax_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        labels = cast(onehot_labels, logits.dtype)
        logits.shape.assert_is_compatible_with(labels.shape)
        if label_smoothing > 0:
            n = labels._dims[-1] if labels._dims else None
            num_classes = convert_to_tensor(float(n), dtype=logits.dtype) if n is not None \
                else cast(shape(labels)[-1], logits.dtype)
            labels = labels * (1.0 - label_smoothing) + label_smoothing / num_classes
        labels = stop_gradient(labels, name="labels_stop_gradient")
        losses = _nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def _remove_squeezable_dimensions(labels: Tensor, predictions: Tensor, weights: Any,
                                  expected_rank_diff: int) -> tuple[Tensor, Tensor, Any]:
    """TF1's static squeeze of a trailing size-1 dim so labels, logits and weights line up."""
    rl, rp = labels.shape.ndims, predictions.shape.ndims
    if rl is not None and rp is not None:
        diff = rp - rl
        if diff == expected_rank_diff + 1 and predictions._dims[-1] in (None, 1):
            predictions = _array_ops.squeeze(predictions, [-1])
        elif diff == expected_rank_diff - 1 and labels._dims[-1] in (None, 1):
            labels = _array_ops.squeeze(labels, [-1])
    weights = convert_to_tensor(weights)
    rl, rw = labels.shape.ndims, weights.shape.ndims
    if rl is not None and rw is not None and rw - rl == 1:
        weights = _array_ops.squeeze(weights, [-1])
    return labels, predictions, weights


def sparse_softmax_cross_entropy(labels: Any, logits: Any, weights: Any = 1.0, scope: str | None = None,
                                 loss_collection: str | None = GraphKeys.LOSSES,
                                 reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weighted softmax cross-entropy with class-id labels (``[batch]`` or ``[batch, 1]``)."""
    _check_not_none(labels=labels, logits=logits)
    with get_default_graph().name_scope(scope or "sparse_softmax_cross_entropy_loss") as sc:
        labels = convert_to_tensor(labels)
        logits = convert_to_tensor(logits)
        labels, logits, weights = _remove_squeezable_dimensions(labels, logits, weights, expected_rank_diff=1)
        losses = _nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


__all__ = [
    "Reduction",
    "absolute_difference",
    "add_loss",
    "compute_weighted_loss",
    "cosine_distance",
    "get_losses",
    "get_regularization_loss",
    "get_regularization_losses",
    "get_total_loss",
    "hinge_loss",
    "huber_loss",
    "log_loss",
    "mean_squared_error",
    "sigmoid_cross_entropy",
    "softmax_cross_entropy",
    "sparse_softmax_cross_entropy",
]


def __getattr__(name: str):  # noqa: ANN202 - a clear word for TF1 names flowgraph lacks
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)
