"""A tf.layers CNN on MNIST with dropout driven by a training flag and a streaming accuracy metric.

The structure of TF1's layers tutorial (cnn_mnist), with Session.run instead of an Estimator.
"""

import numpy as np

import flowgraph as tf
from flowgraph.datasets import mnist

tf.app.flags.DEFINE_integer("train_images", 2000, "How many training images to use.")
tf.app.flags.DEFINE_integer("steps", 150, "Training steps.")
FLAGS = tf.app.flags.FLAGS


def cnn_model(features, training):
    input_layer = tf.reshape(features, [-1, 28, 28, 1])
    conv1 = tf.layers.conv2d(inputs=input_layer, filters=8, kernel_size=[5, 5], padding="same", activation=tf.nn.relu)
    pool1 = tf.layers.max_pooling2d(inputs=conv1, pool_size=[2, 2], strides=2)
    conv2 = tf.layers.conv2d(inputs=pool1, filters=16, kernel_size=[5, 5], padding="same", activation=tf.nn.relu)
    pool2 = tf.layers.max_pooling2d(inputs=conv2, pool_size=[2, 2], strides=2)
    pool2_flat = tf.reshape(pool2, [-1, 7 * 7 * 16])
    dense = tf.layers.dense(inputs=pool2_flat, units=64, activation=tf.nn.relu)
    dropout = tf.layers.dropout(inputs=dense, rate=0.3, training=training)
    return tf.layers.dense(inputs=dropout, units=10)


def main(_):
    tf.set_random_seed(1)
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train = x_train[: FLAGS.train_images].astype(np.float32) / 255.0
    y_train = y_train[: FLAGS.train_images].astype(np.int32)
    x_test, y_test = x_test[:1000].astype(np.float32) / 255.0, y_test[:1000].astype(np.int32)

    features = tf.placeholder(tf.float32, [None, 28, 28], name="features")
    labels = tf.placeholder(tf.int32, [None], name="labels")
    training = tf.placeholder_with_default(False, shape=(), name="training")
    logits = cnn_model(features, training)
    loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    train_op = tf.train.AdamOptimizer(1e-3).minimize(loss, global_step=tf.train.get_or_create_global_step())
    predictions = tf.argmax(logits, axis=1)
    accuracy, update_op = tf.metrics.accuracy(labels=labels, predictions=predictions)

    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        rng = np.random.RandomState(0)
        for step in range(FLAGS.steps):
            idx = rng.randint(0, len(x_train), 64)
            _, l = sess.run([train_op, loss], {features: x_train[idx], labels: y_train[idx], training: True})
            if step % 50 == 0:
                print("step %d loss %.3f" % (step, l))
        sess.run(tf.local_variables_initializer())
        for i in range(0, len(x_test), 250):
            sess.run(update_op, {features: x_test[i : i + 250], labels: y_test[i : i + 250]})
        print("global step %d" % tf.train.global_step(sess, tf.train.get_global_step()))
        print("eval accuracy %.4f" % sess.run(accuracy))


if __name__ == "__main__":
    tf.app.run()
