"""flowgraph.distribute under real ``mpiexec -n 2`` (subprocesses), checked against NumPy."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason="the 'mpi' extra (mpi4py + mpich) is not installed")

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from mpi_launch import mpiexec as _mpiexec  # noqa: E402
from mpi_launch import results as _results  # noqa: E402
from mpi_launch import run_mpi  # noqa: E402


def test_collectives_match_numpy(tmp_path):
    p = run_mpi("collectives.py", str(tmp_path))
    assert p.returncode == 0, p.stderr
    rows = _results(tmp_path)
    assert sorted(rows) == [0, 1]
    base = np.arange(6.0).reshape(2, 3)
    xs = [base * 1, base * 2]
    for r, row in rows.items():
        avg, total, fused, gathered, bcast, grad, ggrad, ints, fused_mean, int_mean = row["out"]
        np.testing.assert_allclose(avg, (xs[0] + xs[1]) / 2)
        np.testing.assert_allclose(total, xs[0] + xs[1])
        np.testing.assert_allclose(fused[0], xs[0] + xs[1])
        np.testing.assert_allclose(fused[1], 2 * (xs[0] + xs[1]))
        np.testing.assert_allclose(gathered, np.concatenate([np.full((1, 2), 0.0), np.full((2, 2), 1.0)]))
        np.testing.assert_allclose(bcast, xs[1])
        # d/dx_r sum(avg * w_r) summed over ranks = mean over ranks of w (= 1.5 everywhere).
        np.testing.assert_allclose(grad, np.full((2, 3), 1.5))
        # gathered*gathered summed on both ranks: grad of own rows = 2 * rows * 2 ranks.
        np.testing.assert_allclose(ggrad, 4 * np.full((r + 1, 2), float(r)))
        assert ints == [3, 20]
        np.testing.assert_allclose(fused_mean[0], (xs[0] + xs[1]) / 2)
        np.testing.assert_allclose(fused_mean[1], (xs[0] + xs[1]))
        assert int_mean == [1, 15]


def test_mismatched_shapes_name_tensor_and_ranks():
    t0 = time.monotonic()
    p = run_mpi("faults.py", "mismatch", timeout=60)
    assert p.returncode != 0
    err = p.stdout + p.stderr
    assert "grads_fc1" in err and "rank 0" in err and "rank 1" in err and "[2, 3]" in err and "[3, 2]" in err
    assert time.monotonic() - t0 < 60


def test_shapes_that_part_after_the_first_run_are_named():
    p = run_mpi("faults.py", "mismatch_later", timeout=60)
    assert p.returncode != 0
    err = p.stdout + p.stderr
    assert p.stdout.count("first run agreed") == 2
    assert "grads_dyn" in err and "[2, 3]" in err and "[3, 3]" in err and "rank 1" in err
    assert "finished" not in p.stdout


def test_a_raising_rank_stops_the_job_with_its_error():
    t0 = time.monotonic()
    p = run_mpi("faults.py", "raise", timeout=60)
    assert p.returncode != 0
    err = p.stdout + p.stderr
    assert "boom on rank 1" in err
    assert "finished" not in p.stdout
    assert time.monotonic() - t0 < 30


def test_timeout_names_the_missing_rank():
    t0 = time.monotonic()
    p = run_mpi("faults.py", "timeout", timeout=60)
    assert p.returncode != 0
    err = p.stdout + p.stderr
    assert "late_sync" in err and "ranks [1] have not arrived" in err
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_two_ranks_of_32_match_one_rank_of_64(tmp_path, opt):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    p1 = run_mpi("train_equiv.py", str(one), opt, n=1)
    assert p1.returncode == 0, p1.stderr
    p2 = run_mpi("train_equiv.py", str(two), opt, n=2)
    assert p2.returncode == 0, p2.stderr
    ref = _results(one)[0]
    rows = _results(two)
    assert sorted(rows) == [0, 1]
    for row in rows.values():
        assert row["synced_to_root"], "broadcast_global_variables did not equalize the weights"
        assert row["allreduce_ops"] == 1, "small gradients should share one fusion buffer"
        for got, want in zip(row["weights"], ref["weights"]):
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


def test_fusion_threshold_zero_gives_one_allreduce_per_gradient(tmp_path):
    p = run_mpi("train_equiv.py", str(tmp_path), "sgd", "0", n=2)
    assert p.returncode == 0, p.stderr
    assert _results(tmp_path)[0]["allreduce_ops"] == 3


def test_lenet5_example_runs_distributed(tmp_path):
    example = HERE.parents[1] / "examples" / "mnist_lenet5.py"
    cmd = [_mpiexec(), "-n", "2", sys.executable, str(example), "--distributed", "--epochs", "1", "--limit", "2560",
           "--test-limit", "500", "--quiet", "--checkpoint-dir", str(tmp_path / "ckpt")]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("final test accuracy") == 1  # printed by rank 0 only
    assert (tmp_path / "ckpt" / "checkpoint").exists()
