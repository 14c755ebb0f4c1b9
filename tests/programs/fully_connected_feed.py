"""TF1's fully_connected_feed tutorial: two hidden layers, summaries, checkpoints, evaluation.

Flags through tf.app.flags, log folder through tf.gfile, fixed-size placeholders, a Saver and a
FileWriter, evaluation with tf.nn.in_top_k: the structure of the official tutorial.
"""

import math
import os
import time

import numpy as np

import flowgraph as tf
from flowgraph.datasets import mnist

flags = tf.app.flags
FLAGS = flags.FLAGS
flags.DEFINE_float("learning_rate", 0.01, "Initial learning rate.")
flags.DEFINE_integer("max_steps", 600, "Number of steps to run trainer.")
flags.DEFINE_integer("hidden1", 128, "Number of units in hidden layer 1.")
flags.DEFINE_integer("hidden2", 32, "Number of units in hidden layer 2.")
flags.DEFINE_integer("batch_size", 100, "Batch size. Must divide evenly into the dataset sizes.")
flags.DEFINE_string("log_dir", "/tmp/flowgraph_fcf_logs", "Directory to put the log data.")

NUM_CLASSES = 10
IMAGE_PIXELS = 784


def inference(images, hidden1_units, hidden2_units):
    with tf.name_scope("hidden1"):
        weights = tf.Variable(tf.truncated_normal([IMAGE_PIXELS, hidden1_units], stddev=1.0 / math.sqrt(float(IMAGE_PIXELS)), seed=1), name="weights")
        biases = tf.Variable(tf.zeros([hidden1_units]), name="biases")
        hidden1 = tf.nn.relu(tf.matmul(images, weights) + biases)
    with tf.name_scope("hidden2"):
        weights = tf.Variable(tf.truncated_normal([hidden1_units, hidden2_units], stddev=1.0 / math.sqrt(float(hidden1_units)), seed=2), name="weights")
        biases = tf.Variable(tf.zeros([hidden2_units]), name="biases")
        hidden2 = tf.nn.relu(tf.matmul(hidden1, weights) + biases)
    with tf.name_scope("softmax_linear"):
        weights = tf.Variable(tf.truncated_normal([hidden2_units, NUM_CLASSES], stddev=1.0 / math.sqrt(float(hidden2_units)), seed=3), name="weights")
        biases = tf.Variable(tf.zeros([NUM_CLASSES]), name="biases")
        logits = tf.matmul(hidden2, weights) + biases
    return logits


def loss(logits, labels):
    labels = tf.to_int64(labels) if hasattr(tf, "to_int64") else tf.cast(labels, tf.int64)
    return tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)


def training(loss_value, learning_rate):
    tf.summary.scalar("loss", loss_value)
    optimizer = tf.train.GradientDescentOptimizer(learning_rate)
    global_step = tf.Variable(0, name="global_step", trainable=False)
    return optimizer.minimize(loss_value, global_step=global_step)


def evaluation(logits, labels):
    correct = tf.nn.in_top_k(logits, labels, 1)
    return tf.reduce_sum(tf.cast(correct, tf.int32))


def do_eval(sess, eval_correct, images_placeholder, labels_placeholder, images, labels):
    true_count = 0
    steps_per_epoch = len(images) // FLAGS.batch_size
    num_examples = steps_per_epoch * FLAGS.batch_size
    for step in range(steps_per_epoch):
        sl = slice(step * FLAGS.batch_size, (step + 1) * FLAGS.batch_size)
        true_count += sess.run(eval_correct, feed_dict={images_placeholder: images[sl], labels_placeholder: labels[sl]})
    precision = float(true_count) / num_examples
    print("Num examples: %d  Num correct: %d  Precision @ 1: %0.04f" % (num_examples, true_count, precision))
    return precision


def run_training():
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    x_train = x_train.reshape(-1, IMAGE_PIXELS).astype(np.float32) / 255.0
    x_test = x_test[:2000].reshape(-1, IMAGE_PIXELS).astype(np.float32) / 255.0
    y_train, y_test = y_train.astype(np.int32), y_test[:2000].astype(np.int32)
    with tf.Graph().as_default():
        images_placeholder = tf.placeholder(tf.float32, shape=(FLAGS.batch_size, IMAGE_PIXELS))
        labels_placeholder = tf.placeholder(tf.int32, shape=(FLAGS.batch_size,))
        logits = inference(images_placeholder, FLAGS.hidden1, FLAGS.hidden2)
        loss_value = loss(logits, labels_placeholder)
        train_op = training(loss_value, FLAGS.learning_rate)
        eval_correct = evaluation(logits, labels_placeholder)
        summary = tf.summary.merge_all()
        init = tf.global_variables_initializer()
        saver = tf.train.Saver()
        sess = tf.Session()
        summary_writer = tf.summary.FileWriter(FLAGS.log_dir, sess.graph)
        sess.run(init)
        rng = np.random.RandomState(0)
        for step in range(FLAGS.max_steps):
            start_time = time.time()
            idx = rng.randint(0, len(x_train), FLAGS.batch_size)
            feed_dict = {images_placeholder: x_train[idx], labels_placeholder: y_train[idx]}
            _, loss_v = sess.run([train_op, loss_value], feed_dict=feed_dict)
            duration = time.time() - start_time
            if step % 100 == 0:
                print("Step %d: loss = %.2f (%.3f sec)" % (step, loss_v, duration))
                summary_str = sess.run(summary, feed_dict=feed_dict)
                summary_writer.add_summary(summary_str, step)
                summary_writer.flush()
            if (step + 1) % 300 == 0 or (step + 1) == FLAGS.max_steps:
                checkpoint_file = os.path.join(FLAGS.log_dir, "model.ckpt")
                saver.save(sess, checkpoint_file, global_step=step)
                print("Test Data Eval:")
                do_eval(sess, eval_correct, images_placeholder, labels_placeholder, x_test, y_test)
        summary_writer.close()
        print("checkpoint:", tf.train.latest_checkpoint(FLAGS.log_dir))


def main(_):
    if tf.gfile.Exists(FLAGS.log_dir):
        tf.gfile.DeleteRecursively(FLAGS.log_dir)
    tf.gfile.MakeDirs(FLAGS.log_dir)
    run_training()


if __name__ == "__main__":
    tf.app.run(main=main)
