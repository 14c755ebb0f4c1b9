"""A small MLP learns XOR with Adam; the model is saved, restored into a new graph, and checked.

Exercises tf.logging, tf.gfile for the checkpoint folder, Saver save/restore and variable_scope.
"""

import os
import tempfile

import numpy as np

import flowgraph as tf

flags = tf.app.flags
flags.DEFINE_string("ckpt_dir", "", "Checkpoint folder (default: a new temporary folder).")
flags.DEFINE_integer("steps", 1500, "Training steps.")
FLAGS = flags.FLAGS

X_DATA = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y_DATA = np.array([[0], [1], [1], [0]], dtype=np.float32)


def build():
    x = tf.placeholder(tf.float32, [4, 2], name="x")
    with tf.variable_scope("mlp"):
        w1 = tf.get_variable("w1", [2, 8], initializer=tf.random_normal_initializer(stddev=1.0, seed=3))
        b1 = tf.get_variable("b1", [8], initializer=tf.zeros_initializer())
        w2 = tf.get_variable("w2", [8, 1], initializer=tf.random_normal_initializer(stddev=1.0, seed=4))
        b2 = tf.get_variable("b2", [1], initializer=tf.zeros_initializer())
    h = tf.tanh(tf.matmul(x, w1) + b1)
    logits = tf.matmul(h, w2) + b2
    return x, logits


def main(_):
    tf.logging.set_verbosity(tf.logging.INFO)
    ckpt_dir = FLAGS.ckpt_dir or tempfile.mkdtemp(prefix="xor_")
    tf.gfile.MakeDirs(ckpt_dir)
    with tf.Graph().as_default():
        x, logits = build()
        y = tf.placeholder(tf.float32, [4, 1], name="y")
        loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
        train = tf.train.AdamOptimizer(0.05).minimize(loss)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for step in range(FLAGS.steps):
                _, l = sess.run([train, loss], {x: X_DATA, y: Y_DATA})
                tf.logging.log_every_n(tf.logging.INFO, "step %d loss %.4f", 500, step, l)
            before = sess.run(tf.sigmoid(logits), {x: X_DATA})
            path = saver.save(sess, os.path.join(ckpt_dir, "xor"), global_step=FLAGS.steps)
    with tf.Graph().as_default():
        x, logits = build()
        probs = tf.sigmoid(logits)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            saver.restore(sess, tf.train.latest_checkpoint(ckpt_dir))
            after = sess.run(probs, {x: X_DATA})
    assert path.endswith("xor-%d" % FLAGS.steps), path
    print("restored equal:", bool(np.allclose(before, after)))
    print("predictions:", " ".join("%d" % round(float(p)) for p in after.ravel()))


if __name__ == "__main__":
    tf.app.run(main)
