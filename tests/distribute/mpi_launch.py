"""Starting test workers under ``mpiexec`` (shared by the distribute tests)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
WORKERS = HERE / "workers"


def mpiexec() -> str:
    local = shutil.which("mpiexec", path=str(pathlib.Path(sys.executable).parent))
    found = local or shutil.which("mpiexec")
    if not found:
        pytest.skip("mpiexec not found (install the 'mpi' extra: mpich)")
    return found


def run_mpi(script: str, *args: str, n: int = 2, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [mpiexec(), "-n", str(n), sys.executable, str(WORKERS / script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def results(folder: pathlib.Path) -> dict[int, dict]:
    rows = [json.loads(f.read_text()) for f in sorted(folder.glob("rank*.json"))]
    return {row["rank"]: row for row in rows}
