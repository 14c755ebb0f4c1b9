"""Saver: round trips, naming, max_to_keep, the state file, and every way a restore can fail safely."""

import json
import os

import numpy as np
import pytest

import flowgraph as tf
from flowgraph import errors, train
from flowgraph.train import saver as saver_mod

A0 = np.arange(6, dtype=np.float32).reshape(2, 3)
B0 = np.array([1.5, -2.5])


def make_vars():
    a = tf.Variable(A0, name="a")
    b = tf.Variable(B0, name="layer/b")
    return a, b


def files(d):
    return sorted(os.listdir(d))


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


def test_round_trip_restores_values(graph, tmp_path):
    a, b = make_vars()
    saver = train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "model"))
        assert path == str(tmp_path / "model")
        assert train.checkpoint_exists(path)
        sess.run([a.assign(A0 * 0), b.assign(B0 + 1)])
        n_ops = len(graph.get_operations())
        saver.restore(sess, path)
        assert len(graph.get_operations()) == n_ops  # restore adds no ops
        np.testing.assert_array_equal(sess.run(a), A0)
        np.testing.assert_array_equal(sess.run(b), B0)
        assert sess.run(a).dtype == np.float32


def test_restore_into_a_fresh_session_and_graph(tmp_path):
    with tf.Graph().as_default():
        make_vars()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            path = train.Saver().save(sess, str(tmp_path / "m"), global_step=7)
    assert path == str(tmp_path / "m-7")
    with tf.Graph().as_default():
        a, b = make_vars()
        with tf.Session() as sess:
            train.Saver().restore(sess, path)  # no initializer needed
            np.testing.assert_array_equal(sess.run(a), A0)
            np.testing.assert_array_equal(sess.run(b), B0)


def test_scalars_and_int64_round_trip(graph, tmp_path):
    gs = train.get_or_create_global_step()
    s = tf.Variable(2.5, name="s")
    saver = train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(gs.assign_add(3))
        path = saver.save(sess, str(tmp_path / "m"), global_step=gs)
        sess.run([gs.assign(0), s.assign(0.0)])
        saver.restore(sess, path)
        assert sess.run(gs) == 3 and sess.run(s) == 2.5
        assert sess._rt.variables[gs.op].shape == () and sess._rt.variables[gs.op].dtype == np.int64


def test_files_are_npz_and_json_without_pickle(graph, tmp_path):
    make_vars()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = train.Saver().save(sess, str(tmp_path / "m"))
    index = json.loads((tmp_path / "m.index").read_text())
    assert index["tensors"]["layer/b"]["shape"] == [2] and index["tensors"]["layer/b"]["dtype"] == "float64"
    with np.load(tmp_path / index["data_file"], allow_pickle=False) as data:
        np.testing.assert_array_equal(data[index["tensors"]["a"]["key"]], A0)
    assert train.list_variables(path) == [("a", [2, 3]), ("layer/b", [2])]
    np.testing.assert_array_equal(train.load_variable(str(tmp_path), "layer/b"), B0)


def test_global_step_tensor_names_the_checkpoint(graph, tmp_path):
    make_vars()
    gs = train.get_or_create_global_step()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(gs.assign(42))
        path = train.Saver().save(sess, str(tmp_path / "m"), global_step=gs)
        padded = train.Saver(pad_step_number=True).save(sess, str(tmp_path / "p"), global_step=3)
    assert path.endswith("m-42") and padded.endswith("p-00000003")


def test_dict_var_list_uses_the_given_names(tmp_path):
    with tf.Graph().as_default():
        a, b = make_vars()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            path = train.Saver({"alpha": a, "beta": b}).save(sess, str(tmp_path / "m"))
    assert train.NewCheckpointReader(path).get_variable_to_shape_map() == {"alpha": [2, 3], "beta": [2]}
    with tf.Graph().as_default():
        other = tf.Variable(np.zeros(2), name="renamed")
        with tf.Session() as sess:
            train.Saver({"beta": other}).restore(sess, path)
            np.testing.assert_array_equal(sess.run(other), B0)


def test_var_list_validation(graph):
    a, _ = make_vars()
    with pytest.raises(ValueError, match="same name"):
        train.Saver([a, a])
    with pytest.raises(TypeError, match="not a tf.Variable"):
        train.Saver({"x": tf.constant(1.0)})
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="No variables to save"):
            train.Saver()
        assert train.Saver(allow_empty=True).last_checkpoints == []


def test_max_to_keep_deletes_the_oldest_and_state_lists_the_rest(graph, tmp_path):
    a, _ = make_vars()
    saver = train.Saver(max_to_keep=2)
    prefix = str(tmp_path / "model")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        paths = []
        for step in range(4):
            sess.run(a.assign(A0 + step))
            paths.append(saver.save(sess, prefix, global_step=step))
        assert saver.last_checkpoints == paths[2:]
        assert [train.checkpoint_exists(p) for p in paths] == [False, False, True, True]
        assert files(tmp_path) == sorted(
            ["checkpoint"]
            + [f for p in paths[2:] for f in os.listdir(tmp_path) if f.startswith(os.path.basename(p) + ".")]
        )
        assert train.latest_checkpoint(str(tmp_path)) == paths[3]
        state = train.get_checkpoint_state(str(tmp_path))
        assert state.model_checkpoint_path == paths[3]
        assert state.all_model_checkpoint_paths == paths[2:]
        text = (tmp_path / "checkpoint").read_text()
        assert 'model_checkpoint_path: "model-3"' in text  # relative: the folder can be moved
        saver.restore(sess, train.latest_checkpoint(str(tmp_path)))
        np.testing.assert_array_equal(sess.run(a), A0 + 3)


def test_max_to_keep_none_keeps_everything(graph, tmp_path):
    make_vars()
    saver = train.Saver(max_to_keep=None)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        paths = [saver.save(sess, str(tmp_path / "m"), global_step=s) for s in range(3)]
    assert all(train.checkpoint_exists(p) for p in paths)
    assert train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths == [paths[-1]]


def test_saving_the_same_prefix_again_replaces_it(graph, tmp_path):
    a, _ = make_vars()
    saver = train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        saver.save(sess, str(tmp_path / "m"))
        sess.run(a.assign(A0 * 2))
        path = saver.save(sess, str(tmp_path / "m"))
        assert len([f for f in files(tmp_path) if ".data-" in f]) == 1
        assert saver.last_checkpoints == [path]
        sess.run(a.assign(A0 * 0))
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(a), A0 * 2)


@pytest.mark.parametrize("fail_on", ["data", "index"])
def test_crash_mid_save_leaves_the_previous_checkpoint_intact(graph, tmp_path, monkeypatch, fail_on):
    a, _ = make_vars()
    saver = train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
        before = files(tmp_path)
        sess.run(a.assign(A0 + 100))
        real_replace = os.replace

        def crashing_replace(src, dst):
            if (fail_on == "data" and ".data-" in dst) or (fail_on == "index" and dst.endswith(".index")):
                raise OSError("simulated crash")
            return real_replace(src, dst)

        monkeypatch.setattr(saver_mod.os, "replace", crashing_replace)
        with pytest.raises(OSError, match="simulated crash"):
            saver.save(sess, str(tmp_path / "m"))
        monkeypatch.undo()
        assert files(tmp_path) == before  # no temporary or half-written file left behind
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(a), A0)
        assert train.latest_checkpoint(str(tmp_path)) == path


def test_crash_while_writing_data_file(graph, tmp_path, monkeypatch):
    a, _ = make_vars()
    saver = train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
        sess.run(a.assign(A0 + 1))

        def broken_savez(f, **arrays):
            f.write(b"PK\x03\x04 partial")
            raise KeyboardInterrupt

        monkeypatch.setattr(saver_mod.np, "savez", broken_savez)
        with pytest.raises(KeyboardInterrupt):
            saver.save(sess, str(tmp_path / "m"))
        monkeypatch.undo()
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(a), A0)


def saved_pair(tmp_path):
    """Saves (a, b), then sets both to new values; returns the session state for restore tests."""
    a, b = make_vars()
    saver = train.Saver()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    path = saver.save(sess, str(tmp_path / "m"))
    sess.run([a.assign(A0 - 1), b.assign(B0 - 1)])
    return sess, saver, path, a, b


def assert_untouched(sess, a, b):
    np.testing.assert_array_equal(sess.run(a), A0 - 1)
    np.testing.assert_array_equal(sess.run(b), B0 - 1)


def test_truncated_data_file_is_data_loss_and_changes_nothing(graph, tmp_path):
    sess, saver, path, a, b = saved_pair(tmp_path)
    data = saver_mod.CheckpointReader(path).data_path
    with open(data, "rb") as f:
        raw = f.read()
    with open(data, "wb") as f:
        f.write(raw[: len(raw) // 2])
    with pytest.raises(errors.DataLossError, match=os.path.basename(data)):
        saver.restore(sess, path)
    assert_untouched(sess, a, b)


def test_corrupted_bytes_are_data_loss(graph, tmp_path):
    sess, saver, path, a, b = saved_pair(tmp_path)
    data = saver_mod.CheckpointReader(path).data_path
    with open(data, "rb") as f:
        raw = bytearray(f.read())
    raw[len(raw) // 2] ^= 0xFF
    with open(data, "wb") as f:
        f.write(bytes(raw))
    with pytest.raises(errors.DataLossError, match="corrupted"):
        saver.restore(sess, path)
    assert_untouched(sess, a, b)


def test_garbage_index_is_data_loss(graph, tmp_path):
    sess, saver, path, a, b = saved_pair(tmp_path)
    (tmp_path / "m.index").write_text('{"format": "flowgraph-checkpoint", "tens')
    with pytest.raises(errors.DataLossError, match=r"m\.index"):
        saver.restore(sess, path)
    assert_untouched(sess, a, b)


def test_missing_data_file_is_data_loss(graph, tmp_path):
    sess, saver, path, a, b = saved_pair(tmp_path)
    os.remove(saver_mod.CheckpointReader(path).data_path)
    with pytest.raises(errors.DataLossError, match="missing"):
        saver.restore(sess, path)
    assert_untouched(sess, a, b)


def test_shape_mismatch_names_the_variable_and_changes_nothing(tmp_path):
    with tf.Graph().as_default():
        sess, _, path, _, _ = saved_pair(tmp_path)
        sess.close()
    with tf.Graph().as_default():
        a = tf.Variable(A0 - 1, name="a")
        tf.Variable(np.zeros(3), name="layer/b")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            with pytest.raises(errors.InvalidArgumentError, match=r"layer/b.*\[3\].*\[2\]"):
                train.Saver().restore(sess, path)
            np.testing.assert_array_equal(sess.run(a), A0 - 1)  # 'a' matched but was not assigned


def test_dtype_mismatch_is_invalid_argument(tmp_path):
    with tf.Graph().as_default():
        sess, _, path, _, _ = saved_pair(tmp_path)
        sess.close()
    with tf.Graph().as_default():
        tf.Variable(A0.astype(np.float64), name="a")
        with tf.Session() as sess, pytest.raises(errors.InvalidArgumentError, match="expected dtype float64"):
            train.Saver().restore(sess, path)


def test_missing_variable_is_not_found(tmp_path):
    with tf.Graph().as_default():
        sess, _, path, _, _ = saved_pair(tmp_path)
        sess.close()
    with tf.Graph().as_default():
        a, b = make_vars()
        extra = tf.Variable(1.0, name="extra")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            with pytest.raises(errors.NotFoundError, match="Key extra not found"):
                train.Saver().restore(sess, path)
            assert sess.run(extra) == 1.0
            train.Saver([a, b]).restore(sess, path)  # a subset restores fine


def test_save_and_restore_argument_errors(graph, tmp_path):
    make_vars()
    saver = train.Saver()
    with tf.Session() as sess:
        with pytest.raises(errors.FailedPreconditionError, match="uninitialized value a"):
            saver.save(sess, str(tmp_path / "m"))
        sess.run(tf.global_variables_initializer())
        with pytest.raises(ValueError, match="doesn't exist"):
            saver.save(sess, str(tmp_path / "nope" / "m"))
        with pytest.raises(ValueError, match="not a valid checkpoint"):
            saver.restore(sess, str(tmp_path / "never"))
        with pytest.raises(ValueError, match="None"):
            saver.restore(sess, None)
        with pytest.raises(ValueError, match="path components"):
            saver.save(sess, str(tmp_path / "m"), latest_filename="a/b")
        with pytest.raises(TypeError, match="must be a Session"):
            saver.save(object(), str(tmp_path / "m"))
    assert train.latest_checkpoint(str(tmp_path)) is None
    assert train.get_checkpoint_state(str(tmp_path)) is None


def test_state_file_round_trip_and_damage(tmp_path):
    d = str(tmp_path)
    train.update_checkpoint_state(d, os.path.join(d, "m-2"), [os.path.join(d, "m-1"), "/abs/m-0"])
    state = train.get_checkpoint_state(d)
    assert state.model_checkpoint_path == os.path.join(d, "m-2")
    assert state.all_model_checkpoint_paths == [os.path.join(d, "m-1"), "/abs/m-0", os.path.join(d, "m-2")]
    assert train.latest_checkpoint(d) is None  # listed but never written
    (tmp_path / "checkpoint").write_text("this is not a state file\n")
    assert train.get_checkpoint_state(d) is None


def test_recover_last_checkpoints_counts_toward_max_to_keep(graph, tmp_path):
    make_vars()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = train.Saver(max_to_keep=5)
        old = [first.save(sess, str(tmp_path / "m"), global_step=s) for s in range(2)]
        second = train.Saver(max_to_keep=2)
        second.recover_last_checkpoints(train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths)
        new = second.save(sess, str(tmp_path / "m"), global_step=9)
    assert second.last_checkpoints == [old[1], new]
    assert not train.checkpoint_exists(old[0])
