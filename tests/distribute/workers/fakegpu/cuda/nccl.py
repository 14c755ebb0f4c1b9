"""NCCL's calls over MPI, on the addresses a fake array hands out (see ``fakegpu``)."""

import ctypes
import random

import numpy as np
from mpi4py import MPI

available = True
NCCL_SUM = 0
_TYPES = {1: np.int8, 2: np.uint8, 3: np.int32, 4: np.uint32, 5: np.int64, 6: np.uint64, 7: np.float16,
          8: np.float32, 9: np.float64}
NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64 = range(1, 7)
NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = range(7, 10)
communicators = []  # every one made, for the test to inspect


def get_unique_id() -> tuple:
    return tuple(random.randint(-128, 127) for _ in range(128))


def _view(ptr: int, count: int, datatype: int) -> np.ndarray:
    dtype = np.dtype(_TYPES[datatype])
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype)


class NcclCommunicator:
    def __init__(self, ndev: int, commId: tuple, rank: int) -> None:  # noqa: N803 - CuPy's names
        self.mpi = MPI.COMM_WORLD.Dup()
        assert ndev == self.mpi.Get_size() and rank == self.mpi.Get_rank()
        ids = self.mpi.allgather(commId)
        self.same_id = all(i == ids[0] for i in ids) and len(commId) == 128
        self.calls = []
        communicators.append(self)

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):  # noqa: N802
        assert op == NCCL_SUM
        self.calls.append("allReduce")
        self.mpi.Allreduce(_view(sendbuf, count, datatype), _view(recvbuf, count, datatype), op=MPI.SUM)

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):  # noqa: N802
        self.calls.append("allGather")
        self.mpi.Allgather(_view(sendbuf, count, datatype), _view(recvbuf, count * self.mpi.Get_size(), datatype))

    def bcast(self, buff, count, datatype, root, stream):
        self.calls.append("bcast")
        self.mpi.Bcast(_view(buff, count, datatype), root=root)
