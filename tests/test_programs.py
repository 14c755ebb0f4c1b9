"""TF1-style tutorial programs run unchanged (but for the import line) as real subprocesses."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

PROGRAMS = pathlib.Path(__file__).resolve().parent / "programs"


def run(name: str, *args: str, timeout: float = 240) -> str:
    p = subprocess.run([sys.executable, str(PROGRAMS / name), *args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"{name} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout + p.stderr


def _float(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m, f"no match for {pattern!r} in:\n{text}"
    return float(m.group(1))


def test_mnist_softmax():
    out = run("mnist_softmax.py", "--steps", "300")
    assert _float(r"test accuracy ([\d.]+)", out) > 0.88
    assert "INFO" in out and "step 200" in out


def test_fully_connected_feed(tmp_path):
    log_dir = tmp_path / "logs"
    out = run("fully_connected_feed.py", "--max_steps", "600", "--learning_rate", "0.1", f"--log_dir={log_dir}")
    assert _float(r"Precision @ 1: ([\d.]+)", out) > 0.80
    assert "model.ckpt-599" in out
    assert any(f.name.startswith("events.out.tfevents") for f in log_dir.iterdir())


def test_linear_regression_with_extra_args():
    out = run("linear_regression.py", "--epochs", "300", "leftover")
    assert abs(_float(r"W=([-\d.]+)", out) - 3.0) < 0.05
    assert abs(_float(r"b=([-\d.]+)", out) - 2.0) < 0.05
    assert "extra args: ['leftover']" in out


def test_xor_saver(tmp_path):
    out = run("xor_saver.py", f"--ckpt_dir={tmp_path}")
    assert "restored equal: True" in out
    assert "predictions: 0 1 1 0" in out


def test_cnn_layers_metrics():
    out = run("cnn_layers_metrics.py", "--steps", "150")
    assert _float(r"eval accuracy ([\d.]+)", out) > 0.80
    assert "global step 150" in out


@pytest.mark.parametrize("bad", ["--no_such_flag=1"])
def test_unknown_flags_reach_main(bad):
    out = run("linear_regression.py", "--epochs", "5", bad)
    assert "extra args: ['--no_such_flag=1']" in out
