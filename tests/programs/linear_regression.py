"""The classic TF1 linear regression: y = W x + b fitted by gradient descent, then evaluated.

Uses Tensor.eval and Operation.run inside a default session, as TF1 introductions do.
"""

import numpy as np

import flowgraph as tf

flags = tf.app.flags
flags.DEFINE_integer("epochs", 200, "Training epochs.")
flags.DEFINE_float("learning_rate", 0.5, "Learning rate.")
FLAGS = flags.FLAGS


def main(argv):
    rng = np.random.RandomState(42)
    train_x = rng.rand(100).astype(np.float32)
    train_y = 3.0 * train_x + 2.0 + rng.normal(0, 0.01, 100).astype(np.float32)

    X = tf.placeholder(tf.float32, name="X")
    Y = tf.placeholder(tf.float32, name="Y")
    W = tf.Variable(rng.randn(), name="weight", dtype=tf.float32)
    b = tf.Variable(rng.randn(), name="bias", dtype=tf.float32)
    pred = tf.add(tf.multiply(X, W), b)
    cost = tf.reduce_sum(tf.pow(pred - Y, 2)) / (2 * len(train_x))
    optimizer = tf.train.GradientDescentOptimizer(FLAGS.learning_rate).minimize(cost)
    init = tf.global_variables_initializer()

    with tf.Session() as sess:
        init.run()
        for epoch in range(FLAGS.epochs):
            optimizer.run(feed_dict={X: train_x, Y: train_y})
        training_cost = cost.eval(feed_dict={X: train_x, Y: train_y})
        print("cost=%.6f W=%.4f b=%.4f" % (training_cost, W.eval(), b.eval()))
        print("extra args:", argv[1:])


if __name__ == "__main__":
    tf.app.run()
