"""A stand-in for CuPy with an NCCL made of MPI, to run the NCCL kernels on a machine without a GPU.

Arrays are NumPy arrays whose ``.data.ptr`` is their address (as CuPy's are device pointers);
``cuda.nccl.NcclCommunicator`` reduces through those addresses over its own MPI communicator and
checks that every rank was given the same unique id. Only what the collectives use is here.
"""

import types

import numpy as np

from . import cuda  # noqa: F401 - ``xp.cuda`` as in CuPy



class ndarray(np.ndarray):  # noqa: N801 - CuPy's name
    @property
    def data(self):  # noqa: ANN201 - CuPy's MemoryPointer, reduced to its address
        return types.SimpleNamespace(ptr=self.ctypes.data)


def _wrap(a):
    return np.asarray(a).view(ndarray)


def asarray(a, dtype=None):
    return _wrap(np.asarray(a, dtype=dtype))


def ascontiguousarray(a):
    return _wrap(np.ascontiguousarray(a))


def ravel(a):
    return _wrap(np.ravel(a))


def concatenate(arrays, axis=0):
    return _wrap(np.concatenate([np.asarray(a) for a in arrays], axis=axis))


def empty_like(a):
    return _wrap(np.empty_like(np.asarray(a)))


def empty(shape, dtype=float):
    return _wrap(np.empty(shape, dtype=dtype))


def zeros(shape, dtype=float):
    return _wrap(np.zeros(shape, dtype=dtype))
