"""TF1's "MNIST for beginners": softmax regression trained with plain gradient descent.

Written as the TensorFlow 1.x tutorial wrote it; only the import line names flowgraph.
"""

import argparse
import sys

import numpy as np

import flowgraph as tf
from flowgraph.datasets import mnist

FLAGS = None


def main(_):
    tf.logging.set_verbosity(tf.logging.INFO)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(FLAGS.data_dir or None)
    x_train = x_train.reshape(-1, 784).astype(np.float32) / 255.0
    x_test = x_test.reshape(-1, 784).astype(np.float32) / 255.0

    # Create the model
    x = tf.placeholder(tf.float32, [None, 784])
    W = tf.Variable(tf.zeros([784, 10]))
    b = tf.Variable(tf.zeros([10]))
    y = tf.matmul(x, W) + b

    # Define loss and optimizer
    y_ = tf.placeholder(tf.int64, [None])
    cross_entropy = tf.losses.sparse_softmax_cross_entropy(labels=y_, logits=y)
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)

    sess = tf.InteractiveSession()
    tf.global_variables_initializer().run()
    rng = np.random.RandomState(0)
    for step in range(FLAGS.steps):
        idx = rng.randint(0, len(x_train), 100)
        sess.run(train_step, feed_dict={x: x_train[idx], y_: y_train[idx]})
        if step % 100 == 0:
            tf.logging.info("step %d", step)

    # Test trained model
    correct_prediction = tf.equal(tf.argmax(y, 1), y_)
    accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
    acc = accuracy.eval(feed_dict={x: x_test, y_: y_test})
    print("test accuracy %.4f" % acc)
    sess.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", type=str, default="", help="Directory for input data")
    parser.add_argument("--steps", type=int, default=1000)
    FLAGS, unparsed = parser.parse_known_args()
    tf.app.run(main=main, argv=[sys.argv[0]] + unparsed)
