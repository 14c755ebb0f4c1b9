"""The TensorFlow introduction's first graph, a = (b + c) * (c + 2), on flowgraph.

d = b + c and e = c + 2 do not depend on each other, so the Session may run them at once;
the step stats printed at the end show when each node ran and on which thread.
"""

import flowgraph as tf


def main() -> None:
    # 1. With constants.
    b = tf.constant(2.0, name="b")
    c = tf.constant(1.0, name="c")
    d = tf.add(b, c, name="d")
    e = tf.add(c, 2.0, name="e")
    a = tf.multiply(d, e, name="a")
    with tf.Session() as sess:
        print(f"a = (b + c) * (c + 2) with b=2, c=1: a = {sess.run(a)}")

    # 2. With placeholders fed per run.
    tf.reset_default_graph()
    b = tf.placeholder(tf.float32, shape=[None], name="b")
    c = tf.placeholder(tf.float32, shape=[None], name="c")
    d = tf.add(b, c, name="d")
    e = tf.add(c, 2.0, name="e")
    a = tf.multiply(d, e, name="a")
    with tf.Session() as sess:
        for bv, cv in [([2.0], [1.0]), ([-1.0, 0.0, 1.0, 2.0], [1.0, 1.0, 1.0, 1.0])]:
            print(f"b={bv}, c={cv}: a = {sess.run(a, feed_dict={b: bv, c: cv})}")

        # 3. Step stats: when each node ran, and on which thread.
        options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
        metadata = tf.RunMetadata()
        sess.run(a, feed_dict={b: [2.0], c: [1.0]}, options=options, run_metadata=metadata)
        stats = metadata.step_stats.dev_stats[0].node_stats
        t0 = min(s.start_ns for s in stats)
        print("step stats (start and end in microseconds from the first node):")
        for s in stats:
            print(f"  {s.node_name:>3}  {(s.start_ns - t0) / 1e3:7.1f} .. {(s.end_ns - t0) / 1e3:7.1f}   thread {s.thread_id}")
        print("d and e depend only on the feeds, so either may run first (or both at once on big inputs).")


if __name__ == "__main__":
    main()
