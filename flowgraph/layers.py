"""``tf.layers``: TF1's layer classes and their functional forms (``dense``, ``conv2d``, ...).

A layer owns a variable scope, captured on its first call (``dense``, ``dense_1``, ... or the
``name`` given); its variables are made there with ``get_variable``, so they carry TF1's names
(``dense/kernel``, ``conv2d/bias``, ``batch_normalization/moving_mean``) and obey ``reuse``. Later
calls of the same layer object re-enter that scope and share the variables. Regularizer losses go
to ``REGULARIZATION_LOSSES`` and batch-norm moving-average updates to ``UPDATE_OPS``, as in TF1.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph import init_ops
from flowgraph.graph import GraphKeys, Tensor, constant_value, convert_to_tensor, get_default_graph
from flowgraph.ops import array as array_ops
from flowgraph.ops import conv as conv_ops
from flowgraph.ops import math as math_ops
from flowgraph.ops import nn as nn_ops
from flowgraph.ops import random as random_ops
from flowgraph.ops.control import identity
from flowgraph.variables import Variable, VariableScope, get_variable, variable_scope


# ---------------------------------------------------------------------------------------------
# Argument normalisation (TF1's conv_utils rules and messages)
# ---------------------------------------------------------------------------------------------
def normalize_tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """An int or a length-``n`` sequence of ints as an ``n``-tuple."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        vals = tuple(value)
    except TypeError:
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received: {value!r}") from None
    if len(vals) != n or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in vals):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received: {value!r}")
    return tuple(int(v) for v in vals)


def normalize_padding(value: Any) -> str:
    padding = value.lower() if isinstance(value, str) else value
    if padding not in ("valid", "same"):
        raise ValueError(f'The `padding` argument must be one of "valid", "same". Received: {value!r}')
    return padding


def normalize_data_format(value: Any) -> str:
    data_format = "channels_last" if value is None else (value.lower() if isinstance(value, str) else value)
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            f'The `data_format` argument must be one of "channels_first", "channels_last". Received: {value!r}'
        )
    return data_format


def _nhwc(data_format: str) -> str:
    return "NHWC" if data_format == "channels_last" else "NCHW"


def _activation(activation: Any) -> Callable | None:
    """A callable, None, or a Keras-style name ("relu", "tanh", "softmax", "linear", ...)."""
    if activation is None or callable(activation):
        return activation
    if isinstance(activation, str):
        if activation == "linear":
            return None
        fn = getattr(nn_ops, activation, None) or getattr(math_ops, activation, None)
        if callable(fn):
            return fn
    raise ValueError(f"Unknown activation function: {activation!r}")


def _initializer(init: Any) -> Any:
    return init() if isinstance(init, type) else init


def _snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


# ---------------------------------------------------------------------------------------------
# Layer base
# ---------------------------------------------------------------------------------------------
class InputSpec:
    """Rank constraints a layer checks its input against (``ndim`` exact, ``min_ndim`` lower bound)."""

    def __init__(self, ndim: int | None = None, min_ndim: int | None = None) -> None:
        self.ndim = ndim
        self.min_ndim = min_ndim


class Layer:
    """TF1's graph-mode ``tf.layers.Layer``: a variable scope, weights, losses and updates.

    Subclasses implement ``build(input_shape)`` (create weights with ``add_weight``) and
    ``call(inputs, **kwargs)``; ``__call__`` (alias ``apply``) opens the scope, builds once and
    calls.
    """

    def __init__(
        self,
        trainable: bool = True,
        name: str | None = None,
        dtype: Any = None,
        activity_regularizer: Callable | None = None,
        _scope: Any = None,
        _reuse: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"Keyword argument not understood: {min(kwargs)!r}")
        self.trainable = bool(trainable)
        self._base_name = _snake_case(type(self).__name__)
        self.name = name or self._base_name
        self.dtype = None if dtype is None else _dtypes.as_dtype(dtype)
        self.activity_regularizer = activity_regularizer
        self._scope_arg = _scope if _scope is not None else name
        self._reuse = _reuse
        self._scope: VariableScope | None = None
        self.built = False
        self.input_spec: InputSpec | None = None
        self._trainable_weights: list[Variable] = []
        self._non_trainable_weights: list[Variable] = []
        self._losses: list[Tensor] = []
        self._updates: list[Any] = []

    # -- properties ---------------------------------------------------------------------------
    @property
    def scope_name(self) -> str:
        if self._scope is None:
            raise ValueError(
                f"No name available for layer scope because the layer {self.name!r} has not been used yet."
            )
        return self._scope.name

    @property
    def trainable_weights(self) -> list[Variable]:
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[Variable]:
        if self.trainable:
            return list(self._non_trainable_weights)
        return self._trainable_weights + self._non_trainable_weights

    @property
    def weights(self) -> list[Variable]:
        return self.trainable_weights + self.non_trainable_weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    @property
    def losses(self) -> list[Tensor]:
        return list(self._losses)

    @property
    def updates(self) -> list[Any]:
        return list(self._updates)

    # -- weights, losses, updates -------------------------------------------------------------
    def add_weight(
        self,
        name: str,
        shape: Any,
        dtype: Any = None,
        initializer: Any = None,
        regularizer: Callable | None = None,
        trainable: bool = True,
        constraint: Callable | None = None,
    ) -> Variable:
        """Creates (or, under reuse, fetches) ``<scope>/<name>`` and records it on the layer."""
        dt = _dtypes.as_dtype(dtype) if dtype is not None else (self.dtype or _dtypes.float32)
        g = get_default_graph()
        before = len(g.get_collection(GraphKeys.REGULARIZATION_LOSSES))
        var = get_variable(
            name,
            shape=shape,
            dtype=dt,
            initializer=_initializer(initializer),
            regularizer=regularizer,
            trainable=trainable and self.trainable,
            constraint=constraint,
        )
        self._losses.extend(g.get_collection(GraphKeys.REGULARIZATION_LOSSES)[before:])
        if trainable and self.trainable:
            self._trainable_weights.append(var)
        else:
            self._non_trainable_weights.append(var)
        return var

    def add_loss(self, losses: Any, inputs: Any = None) -> None:
        """Records losses on the layer and in REGULARIZATION_LOSSES (TF1's legacy behaviour)."""
        items = losses if isinstance(losses, list | tuple) else [losses]
        g = get_default_graph()
        for loss in items:
            if loss is None:
                continue
            self._losses.append(loss)
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)

    def add_update(self, updates: Any, inputs: Any = None) -> None:
        """Records updates on the layer and in UPDATE_OPS, so ``train_op`` can depend on them."""
        items = updates if isinstance(updates, list | tuple) else [updates]
        g = get_default_graph()
        for u in items:
            self._updates.append(u)
            g.add_to_collection(GraphKeys.UPDATE_OPS, u)

    # -- calling -------------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        self.built = True

    def call(self, inputs: Tensor, **kwargs: Any) -> Any:
        return inputs

    def _check_input(self, x: Tensor) -> None:
        spec = self.input_spec
        rank = x.shape.ndims
        if spec is None or rank is None:
            return
        if spec.ndim is not None and rank != spec.ndim:
            raise ValueError(
                f"Input 0 of layer {self.name} is incompatible with the layer: expected ndim={spec.ndim}, "
                f"found ndim={rank}. Full shape received: {x.shape.as_list()}"
            )
        if spec.min_ndim is not None and rank < spec.min_ndim:
            raise ValueError(
                f"Input 0 of layer {self.name} is incompatible with the layer: expected min_ndim={spec.min_ndim}, "
                f"found ndim={rank}. Full shape received: {x.shape.as_list()}"
            )

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        g = get_default_graph()
        if self._scope is None:
            scope_cm = variable_scope(self._scope_arg, default_name=self._base_name, reuse=self._reuse)
            reenter = None
        else:
            scope_cm = variable_scope(self._scope, reuse=True, auxiliary_name_scope=False)
            reenter = self._scope.original_name_scope
        with scope_cm as scope:
            if self._scope is None:
                self._scope = scope
                self.name = scope.name.rsplit("/", 1)[-1]
            if reenter is not None:
                with g.name_scope(reenter):
                    return self._build_and_call(inputs, args, kwargs)
            return self._build_and_call(inputs, args, kwargs)

    def _build_and_call(self, inputs: Any, args: tuple, kwargs: dict) -> Any:
        x = convert_to_tensor(inputs)
        if self.dtype is None:
            self.dtype = x.dtype
        self._check_input(x)
        if not self.built:
            self.build(x.shape)
            self.built = True
        outputs = self.call(x, *args, **kwargs)
        if self.activity_regularizer is not None:
            with get_default_graph().name_scope("ActivityRegularizer"):
                loss = self.activity_regularizer(outputs)
                if loss is not None:
                    batch = math_ops.cast(array_ops.shape(outputs)[0], loss.dtype)
                    self.add_loss(math_ops.divide(loss, batch))
        return outputs

    apply = __call__

    def _float_dtype(self) -> _dtypes.DType:
        dt = self.dtype or _dtypes.float32
        if not dt.is_floating:
            raise TypeError(f"Unable to build `{type(self).__name__}` layer with non-floating point dtype {dt.name}")
        return dt


def _apply_layer(layer_cls: type[Layer], args: dict[str, Any], **call_kwargs: Any) -> Tensor:
    """Build ``layer_cls`` from a functional wrapper's ``locals()`` and apply it to ``inputs``.

    ``inputs`` and ``reuse`` (and any ``call_kwargs`` such as ``training``) are taken out; ``name``
    also names the layer's scope.
    """
    kwargs = {k: v for k, v in args.items() if k not in ("inputs", "reuse", *call_kwargs)}
    layer = layer_cls(**kwargs, _scope=args["name"], _reuse=args["reuse"])
    return layer.apply(args["inputs"], **call_kwargs)


# ---------------------------------------------------------------------------------------------
# Dense
# ---------------------------------------------------------------------------------------------
class _KernelBiasLayer(Layer):
    """Shared state of layers with an optional-bias ``kernel``: Dense and Conv2D."""

    def _init_kernel_bias(
        self,
        activation: Any,
        use_bias: bool,
        kernel_initializer: Any,
        bias_initializer: Any,
        kernel_regularizer: Callable | None,
        bias_regularizer: Callable | None,
        kernel_constraint: Callable | None,
        bias_constraint: Callable | None,
    ) -> None:
        self.activation = _activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer if bias_initializer is not None else init_ops.zeros_initializer()
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint

    def _build_kernel_bias(self, dt: Any, kernel_shape: list[int], units: int) -> None:
        """Add ``kernel`` (``kernel_shape``) and, with ``use_bias``, ``bias`` (``[units]``); mark built."""
        self.kernel = self.add_weight(
            "kernel", kernel_shape, dt, self.kernel_initializer, self.kernel_regularizer, True, self.kernel_constraint
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", [units], dt, self.bias_initializer, self.bias_regularizer, True, self.bias_constraint
            )
        self.built = True

    def _bias_and_activation(self, outputs: Tensor, **bias_kwargs: Any) -> Tensor:
        if self.bias is not None:
            outputs = nn_ops.bias_add(outputs, self.bias, **bias_kwargs)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


class Dense(_KernelBiasLayer):
    """``outputs = activation(inputs @ kernel + bias)``; inputs of rank > 2 act on the last axis."""

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = None,
        bias_initializer: Any = None,
        kernel_regularizer: Callable | None = None,
        bias_regularizer: Callable | None = None,
        activity_regularizer: Callable | None = None,
        kernel_constraint: Callable | None = None,
        bias_constraint: Callable | None = None,
        trainable: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"`units` must be a positive integer, got {units!r}.")
        self.units = int(units)
        self._init_kernel_bias(
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            kernel_constraint,
            bias_constraint,
        )
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape: Any) -> None:
        dt = self._float_dtype()
        last = input_shape[-1].value if hasattr(input_shape[-1], "value") else input_shape[-1]
        if last is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. Found `None`.")
        self._build_kernel_bias(dt, [int(last), self.units], self.units)

    def call(self, inputs: Tensor) -> Tensor:
        dims = inputs._dims
        if dims is not None and len(dims) > 2:
            flat = array_ops.reshape(inputs, [-1, dims[-1]])
            out = math_ops.matmul(flat, self.kernel)
            lead = list(dims[:-1])
            if lead.count(None) <= 1:
                target = [-1 if d is None else d for d in lead] + [self.units]
            else:
                target = array_ops.concat([array_ops.shape(inputs)[:-1], [self.units]], 0)
            outputs = array_ops.reshape(out, target)
        else:
            outputs = math_ops.matmul(inputs, self.kernel)
        return self._bias_and_activation(outputs)


def dense(
    inputs: Any,
    units: int,
    activation: Any = None,
    use_bias: bool = True,
    kernel_initializer: Any = None,
    bias_initializer: Any = None,
    kernel_regularizer: Callable | None = None,
    bias_regularizer: Callable | None = None,
    activity_regularizer: Callable | None = None,
    kernel_constraint: Callable | None = None,
    bias_constraint: Callable | None = None,
    trainable: bool = True,
    name: str | None = None,
    reuse: Any = None,
) -> Tensor:
    """``tf.layers.dense``: a fully connected layer (variables ``<name>/kernel``, ``<name>/bias``)."""
    return _apply_layer(Dense, locals())


# ---------------------------------------------------------------------------------------------
# Conv2D
# ---------------------------------------------------------------------------------------------
class Conv2D(_KernelBiasLayer):
    """2-D convolution (a cross-correlation, as in TF) plus bias and activation."""

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str = "channels_last",
        dilation_rate: Any = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = None,
        bias_initializer: Any = None,
        kernel_regularizer: Callable | None = None,
        bias_regularizer: Callable | None = None,
        activity_regularizer: Callable | None = None,
        kernel_constraint: Callable | None = None,
        bias_constraint: Callable | None = None,
        trainable: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(filters, numbers.Integral) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"`filters` must be a positive integer, got {filters!r}.")
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with `dilation_rate > 1`.")
        self._init_kernel_bias(
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            kernel_constraint,
            bias_constraint,
        )
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape: Any) -> None:
        dt = self._float_dtype()
        axis = -1 if self.data_format == "channels_last" else 1
        channels = input_shape.as_list()[axis]
        if channels is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        shape = [*self.kernel_size, int(channels), self.filters]
        self._build_kernel_bias(dt, shape, self.filters)

    def call(self, inputs: Tensor) -> Tensor:
        fmt = _nhwc(self.data_format)
        sh, sw = self.strides
        dh, dw = self.dilation_rate
        if fmt == "NHWC":
            strides, dilations = [1, sh, sw, 1], [1, dh, dw, 1]
        else:
            strides, dilations = [1, 1, sh, sw], [1, 1, dh, dw]
        outputs = conv_ops.conv2d(
            inputs, self.kernel, strides=strides, padding=self.padding.upper(), data_format=fmt, dilations=dilations
        )
        return self._bias_and_activation(outputs, data_format=fmt)


def conv2d(
    inputs: Any,
    filters: int,
    kernel_size: Any,
    strides: Any = (1, 1),
    padding: str = "valid",
    data_format: str = "channels_last",
    dilation_rate: Any = (1, 1),
    activation: Any = None,
    use_bias: bool = True,
    kernel_initializer: Any = None,
    bias_initializer: Any = None,
    kernel_regularizer: Callable | None = None,
    bias_regularizer: Callable | None = None,
    activity_regularizer: Callable | None = None,
    kernel_constraint: Callable | None = None,
    bias_constraint: Callable | None = None,
    trainable: bool = True,
    name: str | None = None,
    reuse: Any = None,
) -> Tensor:
    """``tf.layers.conv2d``: kernel of shape ``kernel_size + (in_channels, filters)``."""
    return _apply_layer(Conv2D, locals())


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------
class _Pooling2D(Layer):
    _pool: Callable

    def __init__(
        self,
        pool_size: Any,
        strides: Any,
        padding: str = "valid",
        data_format: str = "channels_last",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs: Tensor) -> Tensor:
        fmt = _nhwc(self.data_format)
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        if fmt == "NHWC":
            ksize, strides = [1, ph, pw, 1], [1, sh, sw, 1]
        else:
            ksize, strides = [1, 1, ph, pw], [1, 1, sh, sw]
        return type(self)._pool(inputs, ksize=ksize, strides=strides, padding=self.padding.upper(), data_format=fmt)


class MaxPooling2D(_Pooling2D):
    """Max over ``pool_size`` windows moved by ``strides``."""

    _pool = staticmethod(conv_ops.max_pool)


class AveragePooling2D(_Pooling2D):
    """Mean over ``pool_size`` windows (SAME padding averages only the in-bounds values, as in TF)."""

    _pool = staticmethod(conv_ops.avg_pool)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


def max_pooling2d(
    inputs: Any,
    pool_size: Any,
    strides: Any,
    padding: str = "valid",
    data_format: str = "channels_last",
    name: str | None = None,
) -> Tensor:
    """``tf.layers.max_pooling2d``."""
    return MaxPooling2D(pool_size, strides, padding=padding, data_format=data_format, name=name).apply(inputs)


def average_pooling2d(
    inputs: Any,
    pool_size: Any,
    strides: Any,
    padding: str = "valid",
    data_format: str = "channels_last",
    name: str | None = None,
) -> Tensor:
    """``tf.layers.average_pooling2d``."""
    return AveragePooling2D(pool_size, strides, padding=padding, data_format=data_format, name=name).apply(inputs)


# ---------------------------------------------------------------------------------------------
# Flatten
# ---------------------------------------------------------------------------------------------
class Flatten(Layer):
    """Keeps the batch axis and flattens the rest (channels_first input is moved to NHWC order first)."""

    def __init__(self, data_format: str = "channels_last", name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.data_format = normalize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs: Tensor) -> Tensor:
        dims = inputs._dims
        if self.data_format == "channels_first" and dims is not None and len(dims) >= 3:
            perm = [0, *range(2, len(dims)), 1]
            inputs = array_ops.transpose(inputs, perm)
            dims = inputs._dims
        if dims is not None and all(d is not None for d in dims[1:]):
            inner = 1
            for d in dims[1:]:
                inner *= d
            if dims[0] is not None:
                return array_ops.reshape(inputs, [dims[0], inner])
            return array_ops.reshape(inputs, [-1, inner])
        batch = array_ops.shape(inputs)[0]
        return array_ops.reshape(inputs, array_ops.stack([batch, -1]))


def flatten(inputs: Any, name: str | None = None, data_format: str = "channels_last") -> Tensor:
    """``tf.layers.flatten``: ``[N, d1, d2, ...] -> [N, d1 * d2 * ...]``."""
    return Flatten(data_format=data_format, name=name).apply(inputs)


# ---------------------------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------------------------
def _training_flag(training: Any) -> Any:
    """``training`` as True/False when known at graph construction, else as a scalar bool tensor."""
    if isinstance(training, Variable):
        training = training.value()
    if not isinstance(training, Tensor):
        return bool(training)
    if training.dtype is not _dtypes.bool:
        raise TypeError(
            f"`training` must be a Python bool or a bool tensor, got {training.dtype.name} tensor {training.name}."
        )
    static = constant_value(training)
    return training if static is None else bool(static)


def _check_rate(rate: Any) -> None:
    if isinstance(rate, numbers.Real) and not 0 <= rate < 1:
        raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), got {rate:g}")


class Dropout(Layer):
    """Zeros a fraction ``rate`` of the inputs and scales the rest by ``1 / (1 - rate)`` while training.

    ``training`` may be a Python bool (the graph holds only one branch) or a scalar bool tensor;
    then the effective rate is ``rate * cast(training)``, so a False feed gives exactly the input.
    """

    def __init__(
        self,
        rate: float = 0.5,
        noise_shape: Any = None,
        seed: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        _check_rate(rate)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed

    def _noise_shape(self, inputs: Tensor) -> Any:
        if self.noise_shape is None:
            return None
        ns = list(self.noise_shape)
        if any(d is None for d in ns):  # TF1: a None entry takes the input's dimension
            dims = inputs._dims
            if dims is not None and all(dims[i] is not None for i, d in enumerate(ns) if d is None):
                return [dims[i] if d is None else d for i, d in enumerate(ns)]
            dyn = array_ops.shape(inputs)
            return array_ops.stack([dyn[i] if d is None else d for i, d in enumerate(ns)])
        return ns

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        flag = _training_flag(training)
        if flag is False:
            return identity(inputs)
        if flag is True:
            return nn_ops.dropout(inputs, noise_shape=self._noise_shape(inputs), seed=self.seed, rate=self.rate)
        with get_default_graph().name_scope("dropout"):
            x = inputs
            rate = math_ops.multiply(
                convert_to_tensor(self.rate, dtype=x.dtype), math_ops.cast(flag, x.dtype), name="rate"
            )
            shape = self._noise_shape(x)
            if shape is None:
                shape = array_ops.shape(x)
            u = random_ops.random_uniform(shape, dtype=x.dtype, seed=self.seed)
            keep = math_ops.cast(math_ops.greater_equal(u, rate), x.dtype)
            scale = math_ops.divide(convert_to_tensor(1.0, dtype=x.dtype), math_ops.subtract(1.0, rate))
            return math_ops.multiply(math_ops.multiply(x, scale), keep)


def dropout(
    inputs: Any,
    rate: float = 0.5,
    noise_shape: Any = None,
    seed: int | None = None,
    training: Any = False,
    name: str | None = None,
) -> Tensor:
    """``tf.layers.dropout``: identity unless ``training`` (a bool or a bool tensor) is true."""
    return Dropout(rate, noise_shape=noise_shape, seed=seed, name=name).apply(inputs, training=training)


# ---------------------------------------------------------------------------------------------
# BatchNormalization
# ---------------------------------------------------------------------------------------------
class BatchNormalization(Layer):
    """Normalises over every axis but ``axis`` with batch statistics (training) or moving averages.

    Training adds ``moving = moving - (moving - batch) * (1 - momentum)`` updates to UPDATE_OPS;
    run them with the train op (``tf.control_dependencies(tf.get_collection(UPDATE_OPS))``). As in
    TF1, the fused form (4-D input, channel axis, ``fused`` not False) feeds the moving variance
    the Bessel-corrected batch variance ``n / (n - 1) * var``; the general form uses ``var``.
    """

    def __init__(
        self,
        axis: Any = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = None,
        gamma_initializer: Any = None,
        moving_mean_initializer: Any = None,
        moving_variance_initializer: Any = None,
        beta_regularizer: Callable | None = None,
        gamma_regularizer: Callable | None = None,
        beta_constraint: Callable | None = None,
        gamma_constraint: Callable | None = None,
        renorm: bool = False,
        renorm_clipping: Any = None,
        renorm_momentum: float = 0.99,
        fused: bool | None = None,
        trainable: bool = True,
        virtual_batch_size: int | None = None,
        adjustment: Callable | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        if renorm or renorm_clipping is not None or virtual_batch_size is not None or adjustment is not None:
            raise ValueError(
                "flowgraph's batch_normalization supports neither renorm, virtual_batch_size nor adjustment."
            )
        self.axis = list(axis) if isinstance(axis, list | tuple) else axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = beta_initializer if beta_initializer is not None else init_ops.zeros_initializer()
        self.gamma_initializer = gamma_initializer if gamma_initializer is not None else init_ops.ones_initializer()
        self.moving_mean_initializer = (
            moving_mean_initializer if moving_mean_initializer is not None else init_ops.zeros_initializer()
        )
        self.moving_variance_initializer = (
            moving_variance_initializer if moving_variance_initializer is not None else init_ops.ones_initializer()
        )
        self.beta_regularizer = beta_regularizer
        self.gamma_regularizer = gamma_regularizer
        self.beta_constraint = beta_constraint
        self.gamma_constraint = gamma_constraint
        self.fused = fused

    def build(self, input_shape: Any) -> None:
        dt = self._float_dtype()
        dims = input_shape.as_list() if input_shape.ndims is not None else None
        if dims is None:
            raise ValueError(f"Input has undefined rank: {input_shape}")
        rank = len(dims)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        norm = []
        for a in axes:
            if not isinstance(a, numbers.Integral) or not -rank <= a < rank:
                raise ValueError(f"Invalid axis: {a!r}")
            norm.append(int(a) % rank)
        if len(set(norm)) != len(norm):
            raise ValueError(f"Duplicate axis: {self.axis}")
        for a in norm:
            if dims[a] is None:
                raise ValueError(f"Input has undefined `axis` dimension. Input shape: {input_shape}")
        self._axes = sorted(norm)
        self._rank = rank
        param_shape = [dims[a] for a in self._axes]
        if len(param_shape) == 1:
            param_shape = param_shape[0:1]
        self._fused = self.fused is not False and rank == 4 and self._axes in ([3], [1])
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(
                "gamma", param_shape, dt, self.gamma_initializer, self.gamma_regularizer, True, self.gamma_constraint
            )
        if self.center:
            self.beta = self.add_weight(
                "beta", param_shape, dt, self.beta_initializer, self.beta_regularizer, True, self.beta_constraint
            )
        self.moving_mean = self.add_weight(
            "moving_mean", param_shape, dt, self.moving_mean_initializer, trainable=False
        )
        self.moving_variance = self.add_weight(
            "moving_variance", param_shape, dt, self.moving_variance_initializer, trainable=False
        )
        self.built = True

    def _broadcast(self, t: Any) -> Any:
        """Reshapes a parameter to broadcast against the input (needed unless ``axis`` is the last)."""
        if t is None or self._axes == [self._rank - 1]:
            return t
        shape = [1] * self._rank
        for a, d in zip(self._axes, self.moving_mean.shape.as_list()):
            shape[a] = d
        return array_ops.reshape(t, shape)

    def _bessel_factor(self, inputs: Tensor, reduce_axes: list[int]) -> Tensor:
        """``n / (n - 1)`` for the ``n`` values each channel's statistics are taken over."""
        dt = inputs.dtype
        dims = [inputs._dims[a] for a in reduce_axes]
        if None not in dims:
            n = 1
            for d in dims:
                n *= d
            return convert_to_tensor(n / max(n - 1, 1), dtype=dt)
        channels = 1
        for d in self.moving_mean.shape.as_list():
            channels *= d
        n = math_ops.divide(math_ops.cast(array_ops.size(inputs), dt), convert_to_tensor(float(channels), dtype=dt))
        return math_ops.divide(n, math_ops.maximum(math_ops.subtract(n, 1.0), convert_to_tensor(1.0, dtype=dt)))

    def _moving_update(self, var: Variable, value: Tensor, decay: Tensor) -> Tensor:
        with get_default_graph().name_scope("AssignMovingAvg"):
            delta = math_ops.multiply(math_ops.subtract(var.value(), value), decay)
            return var.assign_sub(delta)

    def _fused_call(self, inputs: Tensor, training: bool) -> Tensor:
        """One FusedBatchNormV3 op; its training variance output is already Bessel-corrected."""
        dt = inputs.dtype
        channels = self.moving_mean.shape.as_list()
        gamma = self.gamma.value() if self.gamma is not None else convert_to_tensor(np.ones(channels, dt.np))
        beta = self.beta.value() if self.beta is not None else convert_to_tensor(np.zeros(channels, dt.np))
        fmt = "NHWC" if self._axes == [3] else "NCHW"
        if not training:
            y, _, _ = nn_ops.fused_batch_norm(
                inputs,
                gamma,
                beta,
                self.moving_mean.value(),
                self.moving_variance.value(),
                epsilon=self.epsilon,
                data_format=fmt,
                is_training=False,
            )
            return y
        y, mean, var = nn_ops.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, data_format=fmt, is_training=True
        )
        decay = convert_to_tensor(1.0 - self.momentum, dtype=dt)
        self.add_update(self._moving_update(self.moving_mean, mean, decay))
        self.add_update(self._moving_update(self.moving_variance, var, decay))
        return y

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        dt = inputs.dtype
        flag = _training_flag(training)
        if self._fused and isinstance(flag, bool):
            return self._fused_call(inputs, flag)
        moving_mean = self._broadcast(self.moving_mean.value())
        moving_var = self._broadcast(self.moving_variance.value())
        gamma = self._broadcast(self.gamma.value()) if self.gamma is not None else None
        beta = self._broadcast(self.beta.value()) if self.beta is not None else None
        if flag is False:
            return nn_ops.batch_normalization(inputs, moving_mean, moving_var, beta, gamma, self.epsilon)

        # Batch statistics; with a bool tensor flag, on * batch + (1 - on) * moving picks one exactly.
        reduce_axes = [a for a in range(self._rank) if a not in self._axes]
        keep = self._axes != [self._rank - 1]
        batch_mean, batch_var = nn_ops.moments(inputs, reduce_axes, keep_dims=keep)
        if flag is True:
            mean, var = batch_mean, batch_var
            decay = convert_to_tensor(1.0 - self.momentum, dtype=dt)
        else:
            on = math_ops.cast(flag, dt)
            off = math_ops.subtract(convert_to_tensor(1.0, dtype=dt), on)
            mean = math_ops.add(math_ops.multiply(on, batch_mean), math_ops.multiply(off, moving_mean))
            var = math_ops.add(math_ops.multiply(on, batch_var), math_ops.multiply(off, moving_var))
            decay = math_ops.multiply(convert_to_tensor(1.0 - self.momentum, dtype=dt), on)
        outputs = nn_ops.batch_normalization(inputs, mean, var, beta, gamma, self.epsilon)

        flat_shape = self.moving_mean.shape.as_list()
        update_mean = array_ops.reshape(batch_mean, flat_shape) if keep else batch_mean
        update_var = array_ops.reshape(batch_var, flat_shape) if keep else batch_var
        if self._fused:
            update_var = math_ops.multiply(update_var, self._bessel_factor(inputs, reduce_axes))
        self.add_update(self._moving_update(self.moving_mean, update_mean, decay))
        self.add_update(self._moving_update(self.moving_variance, update_var, decay))
        return outputs


BatchNorm = BatchNormalization


def batch_normalization(
    inputs: Any,
    axis: Any = -1,
    momentum: float = 0.99,
    epsilon: float = 1e-3,
    center: bool = True,
    scale: bool = True,
    beta_initializer: Any = None,
    gamma_initializer: Any = None,
    moving_mean_initializer: Any = None,
    moving_variance_initializer: Any = None,
    beta_regularizer: Callable | None = None,
    gamma_regularizer: Callable | None = None,
    beta_constraint: Callable | None = None,
    gamma_constraint: Callable | None = None,
    training: Any = False,
    trainable: bool = True,
    name: str | None = None,
    reuse: Any = None,
    renorm: bool = False,
    renorm_clipping: Any = None,
    renorm_momentum: float = 0.99,
    fused: bool | None = None,
    virtual_batch_size: int | None = None,
    adjustment: Callable | None = None,
) -> Tensor:
    """``tf.layers.batch_normalization``; moving-average updates land in ``UPDATE_OPS``."""
    return _apply_layer(BatchNormalization, locals(), training=training)


__all__ = [
    "AveragePooling2D",
    "AvgPool2D",
    "BatchNorm",
    "BatchNormalization",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "InputSpec",
    "Layer",
    "MaxPool2D",
    "MaxPooling2D",
    "average_pooling2d",
    "batch_normalization",
    "conv2d",
    "dense",
    "dropout",
    "flatten",
    "max_pooling2d",
]
