"""``tf.train``: optimizers, learning-rate schedules, gradient clipping, global step and Saver."""

from flowgraph.train.adagrad import AdagradOptimizer
from flowgraph.train.adam import AdamOptimizer
from flowgraph.train.gradient_descent import GradientDescentOptimizer
from flowgraph.train.momentum import MomentumOptimizer
from flowgraph.train.optimizer import Optimizer
from flowgraph.train.rmsprop import RMSPropOptimizer

__all__ = [
    "AdagradOptimizer",
    "AdamOptimizer",
    "GradientDescentOptimizer",
    "MomentumOptimizer",
    "Optimizer",
    "RMSPropOptimizer",
]
