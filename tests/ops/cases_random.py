"""Cases for the random ops, built so the answer is exact: zero spread, permutation-invariant sums,
one certain class. Statistics and seeding are tested in tests/ops/test_random.py."""

import numpy as np
from op_case import OpCase, randn

import flowgraph as tf
from flowgraph.ops import random as rnd

CASES = [
    OpCase("random_normal_zero_stddev",
           lambda m: rnd.random_normal([3, 4], mean=m, stddev=0.0, dtype=tf.float64, seed=1),
           [randn(4)], lambda m: np.broadcast_to(m, (3, 4))),
    OpCase("random_normal_times_zero", lambda x: rnd.random_normal([3, 4], seed=1, dtype=tf.float64) * 0.0 + x,
           [randn(3, 4)], lambda x: x),
    OpCase("truncated_normal_zero_stddev",
           lambda m: rnd.truncated_normal([2, 3], mean=m, stddev=0.0, dtype=tf.float64, seed=2),
           [randn(3)], lambda m: np.broadcast_to(m, (2, 3))),
    OpCase("random_uniform_empty_range",
           lambda lo: rnd.random_uniform([2, 5], minval=lo, maxval=lo, dtype=tf.float64, seed=3),
           [np.array(1.5)], lambda lo: np.full((2, 5), 1.5)),
    OpCase("random_uniform_int_one_value",
           lambda lo: rnd.random_uniform([4, 2], minval=lo, maxval=lo + 1, dtype=tf.int32),
           [np.array(7, np.int32)], lambda lo: np.full((4, 2), 7, np.int32), grad=False),
    OpCase("random_shuffle_column_sums", lambda x: tf.reduce_sum(rnd.random_shuffle(x, seed=4), axis=0),
           [randn(5, 3)], lambda x: x.sum(0), grad=False),
    OpCase("multinomial_certain_class",
           lambda lg: rnd.multinomial(lg, 6, seed=5),
           [np.array([[0.0, -1e9, -1e9], [-1e9, -1e9, 0.0]])],
           lambda lg: np.array([[0] * 6, [2] * 6], np.int64), grad=False),
]
