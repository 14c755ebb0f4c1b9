"""Devices on the CPU: device strings, list_devices, placement (soft and hard), placement logs, copies.

GPU placement logic is tested here with a fake GPU backend (NumPy arrays of a marked subclass), so
the copies the plan inserts between devices are checked without CUDA; real CuPy runs are in
``tests/gpu/test_gpu_ops.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as tf
import flowgraph.session as session_mod
from flowgraph import backend, config, errors


@pytest.fixture(autouse=True)
def fresh_graph():
    with tf.Graph().as_default() as g:
        yield g


# -- device strings --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", (None, None)),
        (None, (None, None)),
        ("/gpu:0", ("GPU", 0)),
        ("/GPU:0", ("GPU", 0)),
        ("/device:GPU:0", ("GPU", 0)),
        ("/device:gpu:1", ("GPU", 1)),
        ("gpu:2", ("GPU", 2)),
        ("/gpu", ("GPU", None)),
        ("/device:GPU:*", ("GPU", None)),
        ("/cpu:0", ("CPU", 0)),
        ("/CPU:0", ("CPU", 0)),
        ("/job:localhost/replica:0/task:0/device:CPU:0", ("CPU", 0)),
        ("/job:localhost/replica:0/task:0/device:GPU:3", ("GPU", 3)),
        ("/job:localhost", (None, None)),
    ],
)
def test_parse_device(spec, expected):
    assert config.parse_device(spec) == expected


@pytest.mark.parametrize("spec", ["/tpu:0", "/gpu:x", "//gpu:0", "/device:GPU:0/device:CPU:0", "banana"])
def test_parse_device_rejects_malformed_strings(spec):
    with pytest.raises(ValueError, match="Invalid device string"):
        config.parse_device(spec)


def test_canonical_device():
    assert config.canonical_device("/gpu:0") == "/device:GPU:0"
    assert config.canonical_device("/job:localhost/replica:0/task:0/device:CPU:0") == "/device:CPU:0"
    assert config.canonical_device("") == ""


# -- list_devices ------------------------------------------------------------------------------------
def test_list_devices_has_the_cpu_and_one_entry_per_gpu():
    devices = config.list_devices()
    assert devices[0].name == "/device:CPU:0"
    assert devices[0].device_type == "CPU"
    gpus = [d for d in devices if d.device_type == "GPU"]
    assert [d.name for d in gpus] == [f"/device:GPU:{i}" for i in range(config.gpu_count())]
    assert config.list_devices("cpu") == devices[:1]
    with tf.Session() as sess:
        assert sess.list_devices() == devices


def test_unavailable_reason_matches_the_cupy_check():
    if backend.cupy_module() is None:
        assert config.gpu_count() == 0
        assert config.list_devices("GPU") == []
        assert config.gpu_unavailable_reason() in ("no CuPy installed: pip install 'flowgraph[gpu]'", "no CUDA device")
    else:
        assert config.gpu_unavailable_reason() is None


# -- placement without a GPU -----------------------------------------------------------------------
@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(session_mod, "gpu_count", lambda: 0)
    monkeypatch.setattr(session_mod, "gpu_unavailable_reason", lambda: "no CUDA device")


def test_default_device_is_the_cpu_without_a_gpu(no_gpu):
    with tf.Session() as sess:
        assert sess._rt.device == "/device:CPU:0"
        assert sess._rt.backend.name == "cpu"


def test_soft_placement_falls_back_to_the_cpu(no_gpu):
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    with tf.device("/gpu:0"):
        y = tf.matmul(x, tf.ones([3, 4]), name="mm")
    cfg = tf.ConfigProto(allow_soft_placement=True)
    with tf.Session(config=cfg) as sess:
        out = sess.run(y, {x: np.ones((2, 3), np.float32)})
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, np.full((2, 4), 3.0))


def test_hard_placement_on_a_missing_gpu_names_op_device_and_reason(no_gpu):
    one = tf.constant(1.0)
    with tf.device("/device:GPU:0"):
        y = tf.add(one, 2.0, name="pinned_add")
    with tf.Session() as sess, pytest.raises(errors.InvalidArgumentError) as ei:
        sess.run(y)
    msg = str(ei.value)
    assert "pinned_add" in msg
    assert "/device:GPU:0" in msg
    assert "no CUDA device" in msg
    assert "allow_soft_placement" in msg


def test_hard_placement_error_without_cupy_says_how_to_install(monkeypatch):
    monkeypatch.setattr(session_mod, "gpu_count", lambda: 0)
    monkeypatch.setattr(session_mod, "gpu_unavailable_reason", lambda: "no CuPy installed: pip install 'flowgraph[gpu]'")
    one = tf.constant(1.0)
    with tf.device("/gpu:0"):
        y = tf.identity(one, name="idn")
    with tf.Session() as sess, pytest.raises(errors.InvalidArgumentError, match=r"pip install 'flowgraph\[gpu\]'"):
        sess.run(y)


def test_device_count_zero_disables_gpus():
    one = tf.constant(1.0)
    with tf.device("/gpu:0"):
        y = tf.identity(one, name="idn")
    cfg = tf.ConfigProto(device_count={"GPU": 0})
    with tf.Session(config=cfg) as sess:
        assert sess._rt.device == "/device:CPU:0"
        with pytest.raises(errors.InvalidArgumentError, match="idn"):
            sess.run(y)


def test_cpu_index_other_than_zero_is_an_error_unless_soft():
    with tf.device("/cpu:1"):
        y = tf.identity(tf.constant(1.0), name="idn")
    with tf.Session() as sess, pytest.raises(errors.InvalidArgumentError, match="only /device:CPU:0 exists"):
        sess.run(y)
    with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        assert sess.run(y) == 1.0


def test_malformed_device_of_an_op_is_reported_at_plan_build():
    one = tf.constant(1.0)
    with tf.device("/tpu:0"):
        y = tf.identity(one, name="weird")
    with tf.Session() as sess, pytest.raises(errors.InvalidArgumentError, match="weird"):
        sess.run(y)


def test_log_device_placement_prints_once_per_plan(no_gpu, capsys):
    x = tf.placeholder(tf.float32, [], name="x")
    with tf.device("/job:localhost/replica:0/task:0/device:CPU:0"):
        y = tf.multiply(x, 2.0, name="double")
    cfg = tf.ConfigProto(log_device_placement=True)
    with tf.Session(config=cfg) as sess:
        assert sess.run(y, {x: 1.5}) == 3.0
        assert sess.run(y, {x: 2.5}) == 5.0
    out = capsys.readouterr().out
    assert out.count("double: (Mul): /device:CPU:0") == 1
    assert out.count("double/y: (Const): /device:CPU:0") == 1


def test_variables_and_fetches_on_the_cpu_are_numpy(no_gpu):
    with tf.device("/cpu:0"):
        v = tf.Variable(np.arange(6.0).reshape(2, 3), name="v")
    inc = tf.assign_add(v, tf.ones([2, 3], tf.float64))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a, b = sess.run([inc, tf.reduce_sum(v)])
    assert type(a) is np.ndarray
    assert isinstance(b, np.floating)


def test_cpu_only_plans_wrap_no_kernel(no_gpu):
    x = tf.placeholder(tf.float32, [3], name="x")
    y = tf.nn.relu(x * 2.0 + 1.0)
    with tf.Session() as sess:
        sess.run(y, {x: np.zeros(3, np.float32)})
        (compiled,) = sess._plans.values()
    assert not compiled.plan.host_copy
    assert not any(getattr(st.kernel, "__name__", "") in ("copy_one", "copy_some") for st in compiled.plan.steps)


# -- CUDA out of memory --------------------------------------------------------------------------------
def test_cuda_out_of_memory_is_resource_exhausted_naming_op_and_bytes(monkeypatch):
    oom = type("OutOfMemoryError", (MemoryError,), {"__module__": "cupy.cuda.memory"})
    x = tf.placeholder(tf.float32, [2], name="x")
    y = tf.square(x, name="big_square")
    with tf.Session() as sess:
        sess.run(y, {x: np.ones(2, np.float32)})
        (compiled,) = sess._plans.values()
        step = next(st for st in compiled.plan.steps if st.op.name == "big_square")

        def boom(*args):
            raise oom("Out of memory allocating 1,073,741,824 bytes (allocated so far: 512 bytes).")

        step.kernel = boom
        compiled.fn, compiled.line_step = session_mod.compile_serial(compiled.plan)
        sess._signatures.clear()
        with pytest.raises(errors.ResourceExhaustedError) as ei:
            sess.run(y, {x: np.ones(2, np.float32)})
    msg = str(ei.value)
    assert "big_square" in msg
    assert "1073741824 bytes" in msg


# -- placement across devices, with a fake GPU -----------------------------------------------------
class FakeGpuArray(np.ndarray):
    """Stands for a CuPy array: what ``backend.to_host`` recognises, kept by NumPy's ufuncs."""

    @property
    def __cuda_array_interface__(self):  # only its presence matters
        return {}

    def get(self):
        return np.asarray(self).copy()


class FakeGpuBackend(backend.Backend):
    name = "gpu"
    xp = np

    def __init__(self, device_id: int = 0) -> None:
        self.device_id = 0  # no CUDA device context to enter
        self._device = None

    def to_device(self, value):
        if isinstance(value, np.ndarray | np.generic) and np.asarray(value).dtype != object:
            return np.array(value).view(FakeGpuArray)
        return value

    def to_host(self, value):
        return backend.to_host(value)


@pytest.fixture
def fake_gpu(monkeypatch):
    monkeypatch.setattr(session_mod, "gpu_count", lambda: 1)
    monkeypatch.setattr(session_mod, "gpu_unavailable_reason", lambda: None)
    monkeypatch.setattr(session_mod, "CupyBackend", FakeGpuBackend)
    monkeypatch.setattr(session_mod, "default_backend", FakeGpuBackend)


def test_default_device_is_the_gpu_when_present(fake_gpu, capsys):
    x = tf.placeholder(tf.float32, [2], name="x")
    y = tf.add(x, 1.0, name="add")
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        assert sess._rt.device == "/device:GPU:0"
        out = sess.run(y, {x: [1.0, 2.0]})
    assert type(out) is np.ndarray  # copied back to the host
    np.testing.assert_allclose(out, [2.0, 3.0])
    assert "add: (AddV2): /device:GPU:0" in capsys.readouterr().out


def test_mixed_placement_copies_between_devices(fake_gpu):
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    with tf.device("/gpu:0"):
        h = tf.matmul(x, tf.ones([3, 4]), name="on_gpu")
    with tf.device("/cpu:0"):
        z = tf.reduce_sum(h * 2.0, name="on_cpu")
    with tf.device("/gpu:0"):
        w = tf.add(z, 1.0, name="back_on_gpu")
    with tf.Session() as sess:
        hv, zv, wv = sess.run([h, z, w], {x: np.ones((2, 3), np.float32)})
        (compiled,) = sess._plans.values()
    assert all(type(v) in (np.ndarray, np.float32) for v in (hv, zv, wv))
    np.testing.assert_allclose(hv, np.full((2, 4), 3.0))
    assert zv == 48.0 and wv == 49.0
    by_name = {st.op.name: st for st in compiled.plan.steps}
    assert by_name["mul"].kernel.__name__ == "copy_one"  # the CPU multiply reads the GPU matmul
    assert by_name["on_gpu"].kernel.__name__ == "copy_one"  # the GPU matmul reads the fed x
    assert by_name["back_on_gpu"].kernel.__name__ == "copy_one"
    assert compiled.plan.host_copy


def test_const_is_copied_once_per_device_not_per_run(fake_gpu):
    k = tf.constant(np.arange(3.0), name="k")
    with tf.device("/cpu:0"):
        a = tf.multiply(k, 2.0, name="a_cpu")
    b = tf.multiply(k, 3.0, name="b_gpu")
    with tf.Session() as sess:
        av, bv = sess.run([a, b])
        (compiled,) = sess._plans.values()
    np.testing.assert_allclose(av, [0.0, 2.0, 4.0])
    np.testing.assert_allclose(bv, [0.0, 3.0, 6.0])
    assert not any(getattr(st.kernel, "__name__", "") == "copy_one" for st in compiled.plan.steps)
    kinds = {type(v) for v in compiled.plan.const_slots.values() if isinstance(v, np.ndarray)}
    assert kinds == {np.ndarray, FakeGpuArray}


def test_variables_live_on_their_device_and_assignments_colocate(fake_gpu):
    with tf.device("/cpu:0"):
        v_cpu = tf.Variable(np.ones(3), name="v_cpu")
    v_gpu = tf.Variable(np.ones(3), name="v_gpu")
    step = tf.group(tf.assign_add(v_cpu, v_gpu.value()), tf.assign(v_gpu, v_gpu.value() * 2.0))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(step)
        store = sess._rt.variables
        assert type(store[v_cpu.op]) is np.ndarray
        # (the fake GPU's Assign goes through np.array, which drops the marker: only the CPU side is checked)
        a, b = sess.run([v_cpu, v_gpu])
    assert type(a) is np.ndarray and type(b) is np.ndarray
    np.testing.assert_allclose(a, [2.0, 2.0, 2.0])
    np.testing.assert_allclose(b, [2.0, 2.0, 2.0])


def test_training_with_mixed_placement_matches_cpu(fake_gpu):
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((8, 5)), rng.standard_normal((8, 1))

    def train(device_w, device_loss):
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float64, [None, 5])
            y = tf.placeholder(tf.float64, [None, 1])
            with tf.device(device_w):
                w = tf.Variable(np.full((5, 1), 0.1), name="w")
                pred = tf.matmul(x, w)
            with tf.device(device_loss):
                loss = tf.reduce_mean(tf.square(pred - y))
            opt = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                for _ in range(5):
                    sess.run(opt, {x: xs, y: ys})
                return sess.run([loss, w], {x: xs, y: ys})

    l_ref, w_ref = train("/cpu:0", "/cpu:0")
    l_mix, w_mix = train("/gpu:0", "/cpu:0")
    assert type(w_mix) is np.ndarray
    np.testing.assert_allclose(l_mix, l_ref, rtol=1e-12)
    np.testing.assert_allclose(w_mix, w_ref, rtol=1e-12)


def test_string_ops_stay_on_the_cpu_of_a_gpu_session(fake_gpu, capsys):
    s = tf.constant(["a", "b"], name="s")
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        out = sess.run(s)
    assert list(out) == [b"a", b"b"]
    assert "s: (Const): /device:CPU:0" in capsys.readouterr().out
