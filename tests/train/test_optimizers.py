"""Optimizers against NumPy re-implementations of TF1's update rules, step by step."""

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import errors, train
from flowgraph.ops.clip import clip_by_global_norm, clip_by_norm, global_norm

W0 = np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -0.75]])
C = np.array([[1.0, 2.0, 0.5], [3.0, 1.5, 0.2]])
B = np.array([[0.3, -0.2, 0.1], [-0.4, 0.6, 0.05]])
STEPS = 5


def f32(x):
    """A Python hyperparameter as TF1 sees it: a float32 constant, cast to the variable's dtype."""
    return float(np.float32(x))


def grad_of(w):
    return C * w + B


def build(make_opt, dtype=tf.float64, **minimize_kw):
    """Quadratic loss 0.5*sum(C*w^2) + sum(B*w), whose gradient C*w + B depends on w."""
    w = tf.Variable(W0.astype(dtype.np), name="w")
    loss = 0.5 * tf.reduce_sum(tf.constant(C.astype(dtype.np)) * w * w) + tf.reduce_sum(
        tf.constant(B.astype(dtype.np)) * w
    )
    opt = make_opt()
    train_op = opt.minimize(loss, **minimize_kw)
    return w, opt, train_op


def run_steps(w, train_op, steps=STEPS, feed=None):
    out = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            sess.run(train_op, feed)
            out.append(sess.run(w))
    return out


def check(got, want, rtol=1e-12):
    assert len(got) == len(want)
    for i, (g, r) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, r, rtol=rtol, atol=1e-14, err_msg=f"step {i + 1}")


def test_gradient_descent_matches_closed_form():
    lr = 0.1
    with tf.Graph().as_default():
        w, _, op = build(lambda: train.GradientDescentOptimizer(lr))
        got = run_steps(w, op)
    want, v = [], W0.copy()
    for _ in range(STEPS):
        v = v - f32(lr) * grad_of(v)
        want.append(v)
    check(got, want)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_matches_reference(nesterov):
    lr, mu = 0.05, 0.9
    with tf.Graph().as_default():
        w, opt, op = build(lambda: train.MomentumOptimizer(lr, mu, use_nesterov=nesterov))
        assert opt.get_slot_names() == ["momentum"]
        assert opt.get_slot(w, "momentum").op.name == "w/Momentum"
        got = run_steps(w, op)
    want, v, acc = [], W0.copy(), np.zeros_like(W0)
    lr, mu = f32(lr), f32(mu)
    for _ in range(STEPS):
        g = grad_of(v)
        acc = acc * mu + g
        v = v - (g * lr + acc * mu * lr) if nesterov else v - lr * acc
        want.append(v)
    check(got, want)


def test_adagrad_matches_reference():
    lr, init = 0.3, 0.2
    with tf.Graph().as_default():
        w, opt, op = build(lambda: train.AdagradOptimizer(lr, initial_accumulator_value=init))
        assert opt.get_slot(w, "accumulator").op.name == "w/Adagrad"
        got = run_steps(w, op)
    want, v, acc = [], W0.copy(), np.full_like(W0, init)
    for _ in range(STEPS):
        g = grad_of(v)
        acc = acc + g * g
        v = v - g * f32(lr) / np.sqrt(acc)
        want.append(v)
    check(got, want)


def test_adagrad_rejects_non_positive_accumulator():
    with pytest.raises(ValueError, match="initial_accumulator_value must be positive"):
        train.AdagradOptimizer(0.1, initial_accumulator_value=0.0)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_rmsprop_matches_reference(centered, momentum):
    lr, rho, eps = 0.01, 0.9, 1e-6
    with tf.Graph().as_default():
        w, opt, op = build(
            lambda: train.RMSPropOptimizer(lr, decay=rho, momentum=momentum, epsilon=eps, centered=centered)
        )
        names = {s: opt.get_slot(w, s).op.name for s in opt.get_slot_names()}
        if centered:
            assert names == {"rms": "w/RMSProp", "mg": "w/RMSProp_1", "momentum": "w/RMSProp_2"}
        else:
            assert names == {"rms": "w/RMSProp", "momentum": "w/RMSProp_1"}
        got = run_steps(w, op)
    lr, rho, mu, eps = f32(lr), f32(rho), f32(momentum), f32(eps)
    want, v = [], W0.copy()
    ms, mg, mom = np.ones_like(W0), np.zeros_like(W0), np.zeros_like(W0)  # TF1 starts rms at 1
    for _ in range(STEPS):
        g = grad_of(v)
        ms = rho * ms + (1 - rho) * g * g
        if centered:
            mg = rho * mg + (1 - rho) * g
            mom = mu * mom + lr * g / np.sqrt(ms - mg * mg + eps)
        else:
            mom = mu * mom + lr * g / np.sqrt(ms + eps)
        v = v - mom
        want.append(v)
    check(got, want, rtol=1e-10)


def test_adam_matches_reference_and_tracks_beta_powers():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    with tf.Graph().as_default():
        w, opt, op = build(lambda: train.AdamOptimizer(lr, b1, b2, eps))
        assert opt.get_slot_names() == ["m", "v"]
        assert opt.get_slot(w, "m").op.name == "w/Adam"
        assert opt.get_slot(w, "v").op.name == "w/Adam_1"
        assert [v.op.name for v in opt.variables()] == ["beta1_power", "beta2_power", "w/Adam", "w/Adam_1"]
        b1p, b2p = opt._get_beta_accumulators()
        got, powers = [], []
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(STEPS):
                sess.run(op)
                got.append(sess.run(w))
                powers.append(sess.run([b1p, b2p]))
    lr, b1, b2, eps = f32(lr), f32(b1), f32(b2), f32(eps)
    want, v, m, s = [], W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for t in range(1, STEPS + 1):
        g = grad_of(v)
        lr_t = lr * np.sqrt(1 - np.float32(b2) ** t) / (1 - np.float32(b1) ** t)
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        v = v - lr_t * m / (np.sqrt(s) + eps)
        want.append(v)
    check(got, want, rtol=1e-6)  # beta powers live in float32, as in TF1
    for t, (p1, p2) in enumerate(powers, 1):
        np.testing.assert_allclose([p1, p2], [0.9 ** (t + 1), 0.999 ** (t + 1)], rtol=1e-6)


def test_adam_float32_matches_float32_reference():
    with tf.Graph().as_default():
        w, _, op = build(lambda: train.AdamOptimizer(0.05), dtype=tf.float32)
        got = run_steps(w, op)
    f = np.float32
    v, m, s = W0.astype(f), np.zeros(W0.shape, f), np.zeros(W0.shape, f)
    b1p, b2p = f(0.9), f(0.999)
    for i in range(STEPS):
        g = C.astype(f) * v + B.astype(f)
        alpha = f(0.05) * np.sqrt(f(1) - b2p) / (f(1) - b1p)
        m = m + (g - m) * (f(1) - f(0.9))
        s = s + (g * g - s) * (f(1) - f(0.999))
        v = v - (m * alpha) / (np.sqrt(s) + f(1e-8))
        b1p, b2p = b1p * f(0.9), b2p * f(0.999)
        assert got[i].dtype == np.float32
        np.testing.assert_allclose(got[i], v, rtol=1e-6, atol=1e-7)


def test_second_adam_gets_its_own_beta_powers_and_slots():
    with tf.Graph().as_default():
        w = tf.Variable([1.0, 2.0], name="w")
        loss = tf.reduce_sum(w * w)
        a1, a2 = train.AdamOptimizer(), train.AdamOptimizer()
        a1.minimize(loss)
        a2.minimize(loss)
        assert [v.op.name for v in a2.variables()] == ["beta1_power_1", "beta2_power_1", "w/Adam_2", "w/Adam_3"]
        assert tf.get_default_graph().get_operation_by_name("Adam_1").type == "NoOp"


def test_slots_are_global_not_trainable_and_one_apply_op_per_variable():
    with tf.Graph().as_default():
        w = tf.Variable(np.ones((3, 4), np.float32), name="w")
        b = tf.Variable(np.zeros(4, np.float32), name="b")
        loss = tf.reduce_sum(tf.matmul(tf.ones((2, 3)), w) + b)
        opt = train.AdamOptimizer()
        opt.minimize(loss)
        trainable = {v.op.name for v in tf.trainable_variables()}
        assert trainable == {"w", "b"}
        assert {v.op.name for v in tf.global_variables()} >= {"w/Adam", "w/Adam_1", "b/Adam", "b/Adam_1", "beta1_power"}
        types = [op.type for op in tf.get_default_graph().get_operations()]
        assert types.count("ApplyAdam") == 2
        assert opt.get_slot(w, "m").shape.as_list() == [3, 4]
        assert opt.get_slot(w, "nope") is None and opt.get_slot(w, "m") is not opt.get_slot(b, "m")


def test_global_step_increments_after_updates():
    with tf.Graph().as_default():
        gs = train.get_or_create_global_step()
        _, _, op = build(lambda: train.GradientDescentOptimizer(0.1), global_step=gs, name="train")
        assert op.name == "train" and op.type == "AssignAdd"
        assert [c.name for c in op.control_inputs] == ["train/update"]
        assert op in tf.get_collection(tf.GraphKeys.TRAIN_OP)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for i in range(3):
                sess.run(op)
                assert train.global_step(sess, gs) == i + 1


def test_train_op_without_global_step_is_a_noop_named_like_the_optimizer():
    with tf.Graph().as_default():
        _, _, op = build(lambda: train.MomentumOptimizer(0.1, 0.9))
        assert (op.name, op.type) == ("Momentum", "NoOp")
        assert tf.get_default_graph().get_operation_by_name("Momentum/update_w/ApplyMomentum").type == "ApplyMomentum"


def test_learning_rate_as_fed_tensor():
    with tf.Graph().as_default():
        lr = tf.placeholder(tf.float64, [])
        w, _, op = build(lambda: train.GradientDescentOptimizer(lr))
        rates = [0.1, 0.0, 0.3]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            v = W0.copy()
            for r in rates:
                sess.run(op, {lr: r})
                v = v - r * grad_of(v)
                np.testing.assert_allclose(sess.run(w), v, rtol=1e-13)


def test_learning_rate_from_exponential_decay():
    with tf.Graph().as_default():
        gs = train.get_or_create_global_step()
        lr = train.exponential_decay(0.5, gs, decay_steps=2, decay_rate=0.5, staircase=True)
        w, _, op = build(lambda: train.GradientDescentOptimizer(lr), global_step=gs)
        got = run_steps(w, op, steps=4)
    v, want = W0.copy(), []
    for step in range(4):
        rate = float(np.float32(0.5) * np.float32(0.5) ** np.float32(step // 2))
        v = v - rate * grad_of(v)
        want.append(v)
    check(got, want)


def test_callable_hyperparameters_are_called():
    with tf.Graph().as_default():
        w, _, op = build(lambda: train.GradientDescentOptimizer(lambda: 0.25))
        got = run_steps(w, op, steps=1)
    check(got, [W0 - f32(0.25) * grad_of(W0)])


def test_no_gradient_errors_name_the_variables():
    with tf.Graph().as_default():
        w = tf.Variable([1.0, 2.0], name="w")
        unrelated = tf.Variable([3.0], name="unrelated")
        loss = tf.reduce_sum(unrelated * 2.0)
        opt = train.GradientDescentOptimizer(0.1)
        with pytest.raises(ValueError, match=r"No gradients provided for any variable.*'w:0'"):
            opt.minimize(loss, var_list=[w])
        with pytest.raises(ValueError, match=r"No gradients provided for any variable: \[.*'w:0'"):
            opt.apply_gradients([(None, w)])
        with pytest.raises(ValueError, match="No variables provided"):
            opt.apply_gradients([])
        gv = opt.compute_gradients(loss)
        assert [(g is None, v.op.name) for g, v in gv] == [(True, "w"), (False, "unrelated")]


def test_compute_gradients_rejects_bad_arguments():
    with tf.Graph().as_default():
        w = tf.Variable([1, 2], name="iw")
        opt = train.GradientDescentOptimizer(0.1)
        with pytest.raises(ValueError, match="Invalid type"):
            opt.compute_gradients(tf.reduce_sum(w))
        with pytest.raises(ValueError, match="gate_gradients"):
            opt.compute_gradients(tf.constant(1.0), gate_gradients=7)
        with pytest.raises(ValueError, match="No variables to optimize"):
            opt.compute_gradients(tf.constant(1.0), var_list=[])
    with pytest.raises(ValueError, match="Must specify the optimizer name"):
        train.GradientDescentOptimizer(0.1, name="")


def test_gate_graph_and_grad_loss():
    with tf.Graph().as_default():
        w = tf.Variable([1.0, 2.0], name="w")
        loss = w * w
        opt = train.GradientDescentOptimizer(1.0)
        gv = opt.compute_gradients(loss, gate_gradients=train.Optimizer.GATE_GRAPH, grad_loss=tf.constant([1.0, 0.5]))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            np.testing.assert_allclose(sess.run(gv[0][0]), [2.0, 2.0])


def test_var_list_restricts_updates():
    with tf.Graph().as_default():
        a = tf.Variable(1.0, dtype=tf.float64, name="a")
        b = tf.Variable(1.0, dtype=tf.float64, name="b")
        op = train.GradientDescentOptimizer(0.5).minimize(a * a + b * b, var_list=[a])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(op)
            assert sess.run([a, b]) == [pytest.approx(0.0), 1.0]


def test_gradient_shape_and_dtype_mismatch_raise_at_construction():
    with tf.Graph().as_default():
        w = tf.Variable(np.zeros(3), name="w")
        opt = train.GradientDescentOptimizer(0.1)
        with pytest.raises(ValueError, match="same shape"):
            opt.apply_gradients([(tf.constant(np.zeros(4)), w)])
        with pytest.raises(TypeError, match="dtype"):
            opt.apply_gradients([(tf.constant(np.zeros(3, np.float32)), w)])


def test_uninitialized_slot_fails_and_leaves_the_variable_untouched():
    with tf.Graph().as_default():
        w = tf.Variable(np.array([1.0, 2.0]), name="w")
        opt = train.MomentumOptimizer(0.1, 0.9)
        op = opt.minimize(tf.reduce_sum(w * w))
        with tf.Session() as sess:
            sess.run(w.initializer)
            with pytest.raises(errors.FailedPreconditionError, match="w/Momentum"):
                sess.run(op)
            np.testing.assert_array_equal(sess.run(w), [1.0, 2.0])


def test_fetched_values_are_not_changed_by_later_steps():
    with tf.Graph().as_default():
        w, opt, op = build(lambda: train.AdamOptimizer(0.1))
        m = opt.get_slot(w, "m")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(op)
            w1, m1 = sess.run([w, m])
            w1_copy, m1_copy = w1.copy(), m1.copy()
            sess.run(op)
            np.testing.assert_array_equal(w1, w1_copy)
            np.testing.assert_array_equal(m1, m1_copy)


def test_constraint_is_applied_after_the_update():
    with tf.Graph().as_default():
        w = tf.Variable(np.array([1.0, -1.0]), name="w", constraint=lambda t: tf.clip_by_value(t, -0.5, 0.5))
        op = train.GradientDescentOptimizer(1.0).minimize(tf.reduce_sum(w * tf.constant([-1.0, 1.0], tf.float64)))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(op)
            np.testing.assert_allclose(sess.run(w), [0.5, -0.5])


def test_scalar_variable_stays_an_ndarray():
    with tf.Graph().as_default():
        s = tf.Variable(3.0, dtype=tf.float64, name="s")
        op = train.AdamOptimizer(0.1).minimize(s * s)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(op)
            assert isinstance(sess._rt.variables[s.op], np.ndarray)
            assert sess.run(s) == pytest.approx(2.9)


# -- clipping -----------------------------------------------------------------------------------
def test_clip_by_norm_rescales_only_large_tensors():
    x = np.array([[3.0, 4.0], [0.3, 0.4]])
    with tf.Graph().as_default():
        t = tf.constant(x)
        whole = clip_by_norm(t, 1.0)
        rows = clip_by_norm(t, 1.0, axes=[1])
        zero = clip_by_norm(tf.zeros([2]), 1.0)
        with tf.Session() as sess:
            w, r, z = sess.run([whole, rows, zero])
    np.testing.assert_allclose(w, x / np.linalg.norm(x))
    np.testing.assert_allclose(r, [[0.6, 0.8], [0.3, 0.4]])
    np.testing.assert_array_equal(z, [0.0, 0.0])


def test_clip_by_global_norm_passes_none_through():
    a, b = np.array([3.0, 0.0]), np.array([[4.0]])
    with tf.Graph().as_default():
        ts = [tf.constant(a), None, tf.constant(b)]
        clipped, norm = clip_by_global_norm(ts, 2.5)
        assert clipped[1] is None
        assert clipped[0].op.name == "clip_by_global_norm/clip_by_global_norm/_0"
        unclipped, _ = clip_by_global_norm(ts, 10.0)
        with tf.Session() as sess:
            c0, c2, n, u0 = sess.run([clipped[0], clipped[2], norm, unclipped[0]])
            assert sess.run(global_norm(ts)) == pytest.approx(5.0)
    assert n == pytest.approx(5.0)
    np.testing.assert_allclose(c0, a / 2)
    np.testing.assert_allclose(c2, b / 2)
    np.testing.assert_allclose(u0, a)


def test_clip_by_global_norm_inf_gives_nan_and_use_norm():
    with tf.Graph().as_default():
        clipped, _ = clip_by_global_norm([tf.constant([np.inf, 1.0])], 1.0)
        fixed, _ = clip_by_global_norm([tf.constant([3.0, 4.0])], 1.0, use_norm=tf.constant(10.0))
        with tf.Session() as sess:
            with np.errstate(invalid="ignore"):
                assert np.isnan(sess.run(clipped[0])).all()
            np.testing.assert_allclose(sess.run(fixed[0]), [0.3, 0.4], rtol=1e-6)
    with pytest.raises(TypeError, match="t_list should be a sequence"):
        clip_by_global_norm(tf.constant(1.0), 1.0)


def test_clipped_gradients_train():
    with tf.Graph().as_default():
        w = tf.Variable(np.array([3.0, 4.0]), name="w")
        opt = train.GradientDescentOptimizer(1.0)
        grads, variables = zip(*opt.compute_gradients(tf.reduce_sum(w * w) / 2.0))
        clipped, _ = clip_by_global_norm(list(grads), 1.0)
        op = opt.apply_gradients(zip(clipped, variables))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(op)
            np.testing.assert_allclose(sess.run(w), [3.0 - 0.6, 4.0 - 0.8])


@pytest.mark.parametrize(
    "make",
    [
        lambda: train.GradientDescentOptimizer(0.1),
        lambda: train.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
        lambda: train.AdagradOptimizer(0.1),
        lambda: train.RMSPropOptimizer(0.1, momentum=0.5, centered=True),
        lambda: train.RMSPropOptimizer(0.1),
        lambda: train.AdamOptimizer(0.1),
    ],
)
def test_every_optimizer_updates_scalar_variables(make):
    with tf.Graph().as_default():
        s = tf.Variable(3.0, dtype=tf.float64, name="s")
        opt = make()
        op = opt.minimize(s * s)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(op)
            sess.run(op)
            value = sess._rt.variables[s.op]
            assert isinstance(value, np.ndarray) and value.shape == () and value < 3.0
            for name in opt.get_slot_names():
                assert sess.run(opt.get_slot(s, name)).shape == ()
