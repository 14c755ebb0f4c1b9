"""flowgraph: a dataflow-graph engine that stands in for ``tensorflow.compat.v1`` (graph mode).

``import flowgraph as tf`` gives TF1's names; this module only re-exports, the code lives in the
modules named below.
"""

__version__ = "0.1.0"
VERSION = __version__

from flowgraph import app, dtypes, errors, flags, logging, summary  # noqa: E402
from flowgraph.io import gfile  # noqa: E402
from flowgraph.dtypes import (  # noqa: E402
    DType,
    as_dtype,
    bool,  # noqa: A004
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
    uint16,
)
from flowgraph.gradients import gradients  # noqa: E402
from flowgraph.graph import (  # noqa: E402
    Graph,
    GraphGrowthWarning,
    GraphKeys,
    Operation,
    Tensor,
    constant_value as get_static_value,
    convert_to_tensor,
    get_default_graph,
    reset_default_graph,
)
from flowgraph.ops.array import *  # noqa: E402, F403 - the module's __all__ is the public map
from flowgraph.ops.control import group, identity, no_op, tuple_ as tuple  # noqa: E402, A004
from flowgraph.ops.math import *  # noqa: E402, F403 - the module's __all__ is the public map
from flowgraph.ops.sources import constant, placeholder, placeholder_with_default  # noqa: E402
from flowgraph.ops.random import *  # noqa: E402, F403
from flowgraph.ops.nn import sigmoid_cross_entropy_with_logits  # noqa: E402, F401 - kept for TF1 scripts
from flowgraph.init_ops import *  # noqa: E402, F403
from flowgraph.init_ops import initializers  # noqa: E402
from flowgraph.ops.clip import *  # noqa: E402, F403
from flowgraph.random_seed import get_seed, set_random_seed  # noqa: E402
from flowgraph import (  # noqa: E402
    client,
    contrib,
    datasets,
    init_ops,
    keras,
    layers,
    losses,
    math,
    metrics,
    nn,
    random,
    regularizers,
    train,
)
from flowgraph.registry import NoGradient, NotDifferentiable, RegisterGradient  # noqa: E402
from flowgraph.session import (  # noqa: E402
    ConfigProto,
    GPUOptions,
    GraphOptions,
    InteractiveSession,
    RunMetadata,
    RunOptions,
    Session,
    get_default_session,
)
from flowgraph.shapes import Dimension, TensorShape, dimension_value  # noqa: E402
from flowgraph.variables import (  # noqa: E402
    AUTO_REUSE,
    Variable,
    VariableScope,
    all_variables,
    assign,
    assign_add,
    assign_sub,
    get_variable,
    get_variable_scope,
    global_variables,
    global_variables_initializer,
    initialize_all_variables,
    initialize_local_variables,
    initialize_variables,
    is_variable_initialized,
    local_variables,
    local_variables_initializer,
    model_variables,
    moving_average_variables,
    report_uninitialized_variables,
    trainable_variables,
    variable_scope,
    variables_initializer,
)


def name_scope(name, default_name=None, values=None):  # noqa: ANN001, ANN201
    """``tf.name_scope`` on the default graph (TF1's signature)."""
    return get_default_graph().name_scope(name if name is not None else default_name)


def control_dependencies(control_inputs):  # noqa: ANN001, ANN201
    return get_default_graph().control_dependencies(control_inputs)


def device(device_name):  # noqa: ANN001, ANN201
    return get_default_graph().device(device_name)


def add_to_collection(name, value):  # noqa: ANN001, ANN201
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value):  # noqa: ANN001, ANN201
    get_default_graph().add_to_collections(names, value)


def get_collection(key, scope=None):  # noqa: ANN001, ANN201
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key):  # noqa: ANN001, ANN201
    return get_default_graph().get_collection_ref(key)


def executing_eagerly():  # noqa: ANN201
    return False


def disable_eager_execution():  # noqa: ANN201
    """Accepted for TF1 scripts: flowgraph is always in graph mode."""


def disable_v2_behavior():  # noqa: ANN201
    """Accepted for TF1 scripts: flowgraph always behaves as TF1."""


def enable_eager_execution(*args, **kwargs):  # noqa: ANN002, ANN003, ANN201
    raise RuntimeError("flowgraph is graph-only (TF1 graph mode); eager execution is not available.")


newaxis = None


def __getattr__(name):  # noqa: ANN001, ANN202
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)


from flowgraph import compat, io  # noqa: E402
