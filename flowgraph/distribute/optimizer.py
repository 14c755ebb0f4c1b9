"""``DistributedOptimizer``: any flowgraph optimizer, with gradients averaged across ranks.

Gradients are packed into fusion buffers of at most ``fusion_threshold_bytes`` in the order
backprop produces them (last layer first), so a small model costs one or two allreduces. Each
buffer's allreduce depends only on its own gradients, so the parallel scheduler starts it as soon
as they are ready while the rest of backprop goes on.
"""

from __future__ import annotations

from typing import Any

from flowgraph.distribute import comm as _comm
from flowgraph.distribute.collectives import allreduce_n

DEFAULT_FUSION_BYTES = 4 * 1024 * 1024


def fusion_groups(items: list[tuple[Any, Any]], threshold: int) -> list[list[int]]:
    """Indices of ``(grad, var)`` pairs grouped into buffers, last variable first, by dtype."""
    groups: list[list[int]] = []
    current: list[int] = []
    current_bytes = 0
    current_dtype = None
    for i in reversed(range(len(items))):
        g, _ = items[i]
        n = g.shape.num_elements()
        nbytes = (n if n is not None else threshold) * g.dtype.size
        if current and (g.dtype is not current_dtype or current_bytes + nbytes > threshold):
            groups.append(current)
            current, current_bytes = [], 0
        current.append(i)
        current_bytes += nbytes
        current_dtype = g.dtype
    if current:
        groups.append(current)
    return groups


class DistributedOptimizer:
    """Wraps ``optimizer`` so ``compute_gradients`` returns gradients averaged over all ranks."""

    def __init__(self, optimizer: Any, fusion_threshold_bytes: int = DEFAULT_FUSION_BYTES, average: bool = True,
                 name: str | None = None) -> None:
        if fusion_threshold_bytes < 0:
            raise ValueError(f"fusion_threshold_bytes must be >= 0, got {fusion_threshold_bytes}")
        _comm.mpi()
        self._optimizer = optimizer
        self._threshold = int(fusion_threshold_bytes)
        self._average = average
        self._name = name or f"Distributed{type(optimizer).__name__}"

    def compute_gradients(self, *args: Any, **kwargs: Any) -> list[tuple[Any, Any]]:
        grads_and_vars = self._optimizer.compute_gradients(*args, **kwargs)
        if _comm.size() == 1:
            return grads_and_vars
        present = [(i, g, v) for i, (g, v) in enumerate(grads_and_vars) if g is not None]
        pairs = [(g, v) for _, g, v in present]
        out = list(grads_and_vars)
        threshold = self._threshold if self._threshold > 0 else 1  # 0: one allreduce per gradient
        for n, group in enumerate(fusion_groups(pairs, threshold)):
            grads = [pairs[i][0] for i in group]
            reduced = allreduce_n(grads, average=self._average, name=f"{self._name}_allreduce_{n}")
            for i, r in zip(group, reduced):
                idx = present[i][0]
                out[idx] = (r, grads_and_vars[idx][1])
        return out

    def apply_gradients(self, grads_and_vars: Any, global_step: Any = None, name: str | None = None) -> Any:
        return self._optimizer.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def minimize(self, loss: Any, global_step: Any = None, var_list: Any = None, name: str | None = None,
                 **kwargs: Any) -> Any:
        grads_and_vars = self.compute_gradients(loss, var_list=var_list, **kwargs)
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._optimizer, name)
