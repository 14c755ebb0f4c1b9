"""The NCCL path of the collectives: transport choice and errors, the NCCL kernels on ``fakegpu``
(an NCCL made of MPI, so they run without a GPU), and the real thing where CuPy sees a GPU per rank."""

from __future__ import annotations

import pathlib
import sys
import types

import numpy as np
import pytest

from flowgraph.distribute import channel

pytest.importorskip("mpi4py", reason="the 'mpi' extra (mpi4py + mpich) is not installed")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from mpi_launch import results as _results  # noqa: E402
from mpi_launch import run_mpi  # noqa: E402


def _rt(name: str, xp) -> types.SimpleNamespace:  # noqa: ANN001
    return types.SimpleNamespace(backend=types.SimpleNamespace(name=name), xp=xp)


def test_host_tensors_use_mpi(monkeypatch):
    monkeypatch.delenv("FLOWGRAPH_NCCL", raising=False)
    assert channel.choose_transport(_rt("cpu", np), "allreduce") == "mpi"
    nccl, why = channel.nccl_module(np)
    assert nccl is None and "host memory" in why


def test_gpu_without_nccl_falls_back_to_mpi_or_says_why(monkeypatch):
    absent = types.SimpleNamespace(__name__="no_such_array_module")
    monkeypatch.setenv("FLOWGRAPH_NCCL", "auto")
    assert channel.choose_transport(_rt("gpu", absent), "allreduce") == "mpi"
    monkeypatch.setenv("FLOWGRAPH_NCCL", "on")
    expected = r"FLOWGRAPH_NCCL=on but allreduce cannot use NCCL: no_such_array_module\.cuda\.nccl cannot be imported"
    with pytest.raises(RuntimeError, match=expected):
        channel.choose_transport(_rt("gpu", absent), "allreduce")
    with pytest.raises(RuntimeError, match="runs on the CPU"):
        channel.choose_transport(_rt("cpu", np), "broadcast")
    monkeypatch.setenv("FLOWGRAPH_NCCL", "off")
    assert channel.choose_transport(_rt("gpu", absent), "allreduce") == "mpi"
    monkeypatch.setenv("FLOWGRAPH_NCCL", "sometimes")
    with pytest.raises(ValueError, match="auto, on or off, got 'sometimes'"):
        channel.choose_transport(_rt("gpu", absent), "allreduce")


def test_nccl_dtypes():
    fake = types.SimpleNamespace(NCCL_FLOAT32=7, NCCL_INT64=4, NCCL_FLOAT16=6)
    assert channel.nccl_dtype(fake, np.float32) == 7
    assert channel.nccl_dtype(fake, np.dtype("int64")) == 4
    assert channel.nccl_dtype(fake, np.float16) == 6
    assert channel.nccl_dtype(fake, np.bool_) is None
    assert channel.nccl_dtype(fake, np.int16) is None
    assert channel.nccl_dtype(fake, np.complex64) is None


def test_nccl_kernels_match_numpy_on_a_fake_gpu(tmp_path):
    p = run_mpi("nccl_fake.py", str(tmp_path))
    assert p.returncode == 0, p.stderr
    rows = _results(tmp_path)
    assert sorted(rows) == [0, 1]
    base = np.arange(6.0).reshape(2, 3)
    for r, row in rows.items():
        out = row["out"]
        for name in ("avg", "fused", "ints", "gathered", "bcast"):
            assert out[name]["nccl"], f"{name} did not use NCCL"
            assert all(t == "fakegpu.ndarray" for t in out[name]["types"]), out[name]["types"]
        np.testing.assert_allclose(out["avg"]["values"][0], base * 1.5)
        assert out["avg"]["dtypes"] == ["float32"]
        np.testing.assert_allclose(out["fused"]["values"][0], base * 3)
        np.testing.assert_allclose(out["fused"]["values"][1], base * 6)
        assert out["ints"]["values"][0] == [1, 15]  # (1 + 2) // 2, (10 + 20) // 2
        assert out["ints"]["dtypes"] == ["int32"]
        # Uneven first dimensions: rank 0 sends 1 row, rank 1 two; padding must not show.
        np.testing.assert_allclose(out["gathered"]["values"][0], [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
        np.testing.assert_allclose(out["bcast"]["values"][0], base * 2)  # rank 1's value
        # bool has no NCCL type: the MPI kernel (logical or) serves it.
        assert out["flags"] == {"values": [[True, True]], "nccl": False}
        comms = out["communicators"]
        assert [c["calls"] for c in comms] == [["allReduce"], ["allReduce"], ["allReduce"], ["allGather"], ["bcast"]]
        assert all(c["same_id"] for c in comms), "ranks were given different NCCL unique ids"


def _gpu_skip_reason() -> str | None:
    from flowgraph.backend import cupy_module, cupy_unavailable_reason

    cp = cupy_module()
    if cp is None:
        return f"CuPy with a CUDA device is needed ({cupy_unavailable_reason()})"
    nccl, why = channel.nccl_module(cp)
    if nccl is None:
        return f"NCCL is needed: {why}"
    if cp.cuda.runtime.getDeviceCount() < 2:
        return "NCCL needs one GPU per rank: 2 GPUs for 2 ranks (one is visible)"
    return None


def test_collectives_on_gpus_over_nccl(tmp_path):
    why = _gpu_skip_reason()
    if why:
        pytest.skip(why)
    p = run_mpi("collectives_gpu.py", str(tmp_path))
    assert p.returncode == 0, p.stderr
    rows = _results(tmp_path)
    base = np.arange(6.0).reshape(2, 3)
    for row in rows.values():
        avg, fused, gathered, bcast, grad = row["out"]
        assert row["nccl"] == [True, True, True, True]
        np.testing.assert_allclose(avg, base * 1.5)
        np.testing.assert_allclose(fused[0], base * 3)
        np.testing.assert_allclose(fused[1], base * 6)
        np.testing.assert_allclose(gathered, [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
        np.testing.assert_allclose(bcast, base * 2)
        np.testing.assert_allclose(grad, np.full((2, 3), 1.5))  # mean over ranks of (r + 1)
