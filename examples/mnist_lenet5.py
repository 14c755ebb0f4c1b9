"""LeNet-5 on MNIST, written as a TF1 script (``import flowgraph as tf``).

conv 5x5x6 SAME + ReLU, 2x2 max pool, conv 5x5x16 VALID + ReLU, 2x2 max pool, fc 120, fc 84, fc 10;
NHWC float32 inputs in [0, 1], He initialisation, Adam (1e-3, x0.8 per epoch), batch 64, and
random shifts of up to 1 pixel. ``python examples/mnist_lenet5.py --help`` lists the options
(the training loop is the one in ``mnist_mlp.py``).

The one-epoch recipe of ``make demo`` (``ONE_EPOCH`` below) keeps the model and the shifts but
trains faster: Adam with its learning rate rising linearly to 8e-3 over the first 10% of the steps,
then falling to 0 along a cosine (``tf.train.cosine_decay``'s curve), computed per step.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mnist_mlp import parse_args, train

import flowgraph as tf

#: One epoch to >= 98.5% test accuracy (``examples/demo.py``; measurements in examples/README.md).
ONE_EPOCH = ["--epochs", "1", "--lr", "8e-3", "--lr-schedule", "cosine", "--warmup", "0.1", "--shift", "1"]


def lenet5(images: Any, training: Any = None) -> Any:
    """The classic LeNet-5 layout with ReLU and max pooling; returns the logits ``[batch, 10]``."""
    he = tf.variance_scaling_initializer(scale=2.0)
    net = tf.layers.conv2d(images, 6, 5, padding="same", activation=tf.nn.relu, kernel_initializer=he, name="conv1")
    net = tf.layers.max_pooling2d(net, 2, 2, name="pool1")
    net = tf.layers.conv2d(net, 16, 5, padding="valid", activation=tf.nn.relu, kernel_initializer=he, name="conv2")
    net = tf.layers.max_pooling2d(net, 2, 2, name="pool2")
    net = tf.layers.flatten(net)
    net = tf.layers.dense(net, 120, activation=tf.nn.relu, kernel_initializer=he, name="fc1")
    net = tf.layers.dense(net, 84, activation=tf.nn.relu, kernel_initializer=he, name="fc2")
    return tf.layers.dense(net, 10, kernel_initializer=he, name="logits")


def main(argv: Sequence[str] | None = None) -> float:
    """Parses ``argv`` (default: the command line), trains LeNet-5, returns its test accuracy."""
    args = parse_args(argv, __doc__.splitlines()[0], epochs=10, batch_size=64, lr=1e-3, lr_decay=0.8, shift=1)
    return train(lenet5, args, "mnist_lenet5")


if __name__ == "__main__":
    main()
