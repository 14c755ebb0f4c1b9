"""TF1 script plumbing: import forms, the missing-name error, eager switches, version."""

import subprocess
import sys

import pytest

import flowgraph as tf


def test_import_forms_give_the_package():
    import flowgraph.compat.v1 as v1a
    from flowgraph.compat import v1 as v1b

    assert v1a is tf and v1b is tf
    assert tf.compat.v1 is tf
    assert tf.flags is tf.app.flags
    assert tf.io.gfile is tf.gfile


def test_import_compat_v1_in_fresh_interpreter():
    code = "import flowgraph.compat.v1 as tf; x = tf.constant(2.0) * 3.0; print(tf.Session().run(x))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "6.0"


def test_missing_name_suggests_close_names():
    with pytest.raises(AttributeError) as e:
        tf.placeholdr  # noqa: B018
    msg = str(e.value)
    assert "flowgraph does not provide `tf.placeholdr`" in msg
    assert "`placeholder`" in msg and "docs/COMPAT.md" in msg


def test_missing_name_in_submodule():
    with pytest.raises(AttributeError, match=r"tf\.summary\.scalr.*`scalar`"):
        tf.summary.scalr  # noqa: B018


def test_missing_name_without_suggestion():
    with pytest.raises(AttributeError, match=r"does not provide `tf\.xyzzy_quux`\. The TF1 API"):
        tf.xyzzy_quux  # noqa: B018


def test_dunder_lookups_stay_plain():
    assert not hasattr(tf, "__wrapped__")


def test_eager_switches():
    assert tf.executing_eagerly() is False
    tf.disable_eager_execution()
    tf.disable_v2_behavior()
    with pytest.raises(RuntimeError, match="graph-only"):
        tf.enable_eager_execution()


def test_version():
    assert tf.__version__ == tf.VERSION
    assert tf.__version__.count(".") == 2


def test_missing_nn_name_from_the_issue():
    with pytest.raises(AttributeError) as e:
        tf.nn.softmax_cross_entropy_with_logit  # noqa: B018
    assert "`tf.nn.softmax_cross_entropy_with_logit`" in str(e.value)
    assert "`softmax_cross_entropy_with_logits`" in str(e.value)


@pytest.mark.parametrize("module, name, suggestion", [
    ("train", "AdamOptimiser", "AdamOptimizer"),
    ("losses", "mean_squared_eror", "mean_squared_error"),
    ("gfile", "Exist", "Exists"),
    ("logging", "infoo", "info"),
])
def test_missing_names_in_mirrored_modules(module, name, suggestion):
    with pytest.raises(AttributeError, match=rf"tf\.(io\.)?{module}\.{name}`.*`{suggestion}`"):
        getattr(getattr(tf, module), name)
