"""Batch splitting: which values of a plan can be computed on part of the batch, and how they merge.

A training step of a CNN is mostly work per example (convolutions, pooling, activations and their
gradients) with a few reductions over the batch (the loss, weight and bias gradients). Two
processes can each run the per-example work on half the batch, with no GIL between them, and
meet only where the batch is reduced. This module decides, op by op, what each value of a plan is
in such a split run (its *kind*):

- ``R`` replicated: the whole value (variables, constants, anything after a merge). Computed by
  the main process only and sent to the worker where one of its steps reads it.
- ``S`` split: this process's rows of a value whose axis 0 is the batch.
- ``P`` partial: a reduction over the batch of this process's rows; the two partials add up to
  the whole value (a weight gradient, the loss).
- ``L`` local shape: the shape of an ``S`` value as seen by this process (axis 0 its own rows).

Each op type states its rule in ``OpDef.batch_split`` beside its kernel (the helpers below cover
the common cases). An op without a rule is still correct in a split run: its ``S`` inputs are
gathered, its ``P`` inputs merged and its ``L`` inputs made whole before the main process runs it
on whole values. Stateful ops always run that way, in the main process only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

R, S, P, L = "R", "S", "P", "L"


class Rows:
    """Where one process's rows lie in a split run: ``n`` of its own, ``total`` in the batch."""

    __slots__ = ("n", "total")

    def __init__(self) -> None:
        self.n = 1
        self.total = 1


@dataclass(frozen=True)
class Split:
    """An op's rule in a split run: its outputs' kinds, and how to adjust a locally computed result.

    ``adjust(result, rows)`` turns the kernel's result on this process's rows into the value of
    the outputs' kind, e.g. a mean over the local rows into its share of the mean over the batch.
    """

    outs: tuple[str, ...]
    adjust: Callable[[Any, Rows], Any] | None = None


def rank(t: Any) -> int | None:
    dims = t._dims
    return None if dims is None else len(dims)


def elementwise(op: Any, kinds: Sequence[str]) -> Split | None:
    """Ops that combine inputs element by element with NumPy broadcasting (add, ReLU, casts).

    ``S`` inputs give ``S`` outputs; a replicated input must not span the batch axis (a lower rank,
    or a static size 1 there), else it would pair its rows with other processes' rows.
    """
    if any(k not in (R, S) for k in kinds) or S not in kinds:
        return None
    out_rank = rank(op._outputs[0]) if op._outputs else None
    if out_rank is None or out_rank == 0:
        return None
    for t, k in zip(op._inputs, kinds):
        if k == S:
            if rank(t) != out_rank:
                return None
        else:
            dims = t._dims
            if dims is None or (len(dims) == out_rank and dims[0] != 1):
                return None
    return Split((S,) * len(op._outputs))


def rowwise(op: Any, kinds: Sequence[str], data: Sequence[int] = (0,), out: str = S) -> Split | None:
    """Ops whose inputs at ``data`` are per-example (batch on axis 0) and the others parameters.

    ``out`` is ``S`` for per-example results (a convolution) and ``P`` for sums over the examples
    (a filter or bias gradient).
    """
    for i, k in enumerate(kinds):
        if (k != S) if i in data else (k != R):
            return None
    return Split((out,) * len(op._outputs))


def reduces_batch(axis: Any, rank: int | None) -> bool | None:
    """Whether a reduction over ``axis`` (a tuple of axes, None for all) of a rank-``rank`` input
    includes the batch axis (None when a negative axis meets an unknown rank)."""
    if axis is None:
        return True
    if rank is None and any(a < 0 for a in axis):
        return None
    return any(a == 0 or (rank is not None and a == -rank) for a in axis)


def linear_reduction(op: Any, kinds: Sequence[str], share: Callable | None = None) -> Split | None:
    """Sum-like reductions over ``attrs["axis"]``: a partial stays partial (they are linear), split
    rows become a partial where the batch axis is reduced (``share`` scales a mean), else stay rows."""
    if tuple(kinds) == (P,):
        return Split((P,))
    if tuple(kinds) != (S,):
        return None
    batch = reduces_batch(op.attrs["axis"], rank(op._inputs[0]))
    if batch is None:
        return None
    return Split((P,), share) if batch else Split((S,))


def batch_share(value: Any, rows: Rows) -> Any:
    """A mean over this process's rows scaled to its share of the mean over the whole batch."""
    return value * (rows.n / rows.total)


def whole_count(value: Any, rows: Rows) -> Any:
    """A count of this process's rows scaled to the count over the whole batch."""
    return value * rows.total // rows.n


# ---------------------------------------------------------------------------------------------
# Analysis of a plan
# ---------------------------------------------------------------------------------------------
@dataclass
class SplitProgram:
    """A plan's steps sorted by where they run in a split run, and what crosses between the processes.

    ``kind[slot]`` is each value's kind. Worker steps (``S``/``P``/``L`` results) run in both
    processes on their own rows; the others run in the main process only. ``send`` are the
    replicated slots worker steps read (sent by the main process when it has them), ``gather``
    and ``merge`` the computed split and partial slots the main process needs whole (its ``R``
    steps and the fetches); local shapes it needs whole it widens itself.
    """

    kind: dict[int, str]
    worker_steps: list[int]
    adjust: dict[int, Callable]
    send: list[int]
    gather: list[int]
    merge: list[int]
    split_feeds: list[int] = field(default_factory=list)  # feed positions (not slots) split by rows
    sent_feeds: list[int] = field(default_factory=list)  # feed positions the worker reads whole
    worker_frees: dict[int, tuple[int, ...]] = field(default_factory=dict)
    main_local: set[int] = field(default_factory=set)  # main-only steps that read local values


def _tensors_of(plan: Any, feed_tensors: Sequence[Any]) -> dict[int, Any]:
    """The tensor each slot holds (a variable read holds the variable's value)."""
    out = dict(zip(plan.feed_slots, feed_tensors))
    for st in plan.steps:
        for s, t in zip(st.out_slots, st.op.outputs):
            if s >= 0:
                out[s] = t
    return out


def _shareable(t: Any) -> bool:
    """Numbers and booleans cross as raw bytes; strings and objects would not."""
    try:
        return np.dtype(t.dtype.np).kind in "biufc"
    except TypeError:
        return False


def analyse(plan: Any, feed_tensors: Sequence[Any]) -> SplitProgram | None:
    """The split program of ``plan``, or None when no heavy per-example work would move.

    Fed tensors whose static shape leaves axis 0 open are taken as batches (split by rows); a run
    is split only when they all have the same number of rows (``Session`` checks per run).
    """
    kind: dict[int, str] = {}
    split_feeds, sent_feeds = [], []
    for i, (s, t) in enumerate(zip(plan.feed_slots, feed_tensors)):
        dims = t._dims
        if dims is not None and len(dims) >= 1 and dims[0] is None:
            kind[s] = S
            split_feeds.append(i)
        else:
            kind[s] = R
    if not split_feeds:
        return None
    for s in plan.const_slots:
        kind[s] = R
    worker_steps: list[int] = []
    adjust: dict[int, Callable] = {}
    main_local: set[int] = set()
    needs_whole: set[int] = set()  # slots main-only steps read whole
    for i, st in enumerate(plan.steps):
        ins = tuple(kind.get(s, R) for s in st.in_slots)
        rule = None
        if st.for_op is None and not st.op._opdef.stateful and any(k != R for k in ins):
            rule = st.op._opdef.batch_split(st.op, ins)
            if rule is not None and len(rule.outs) != len(st.out_slots):
                rule = None
        if rule is None:
            outs: tuple[str, ...] = (R,) * len(st.out_slots)
            needs_whole.update(s for s, k in zip(st.in_slots, ins) if k != R)
        else:
            outs = rule.outs
            if rule.adjust is not None:
                adjust[i] = rule.adjust
            if all(k == R for k in outs):
                main_local.add(i)  # e.g. a count: computed from the main process's own rows
            elif all(k != R for k in outs):
                worker_steps.append(i)
            else:
                return None
        for s, k in zip(st.out_slots, outs):
            if s >= 0:
                kind[s] = k
    if not any(plan.steps[i].heavy for i in worker_steps):
        return None
    needs_whole.update(s for s in plan.fetch_slots if s >= 0 and kind.get(s, R) != R)
    worker_reads = {s for i in worker_steps for s in plan.steps[i].in_slots}
    feed_set = set(plan.feed_slots)
    send = sorted(
        s for s in worker_reads if kind.get(s, R) == R and s not in plan.const_slots and s not in feed_set
    )
    sent_feeds = [i for i, s in enumerate(plan.feed_slots) if kind[s] == R and s in worker_reads]
    crossing = set(send) | {s for s in needs_whole if kind.get(s) in (S, P)}
    crossing.update(plan.feed_slots[i] for i in split_feeds + sent_feeds)
    if not all(_shareable(t) for s, t in _tensors_of(plan, feed_tensors).items() if s in crossing):
        return None  # strings and objects do not cross processes as raw bytes
    gather = sorted(s for s in needs_whole if kind.get(s) == S and s not in feed_set)  # feeds are whole already
    merge = sorted(s for s in needs_whole if kind.get(s) == P)
    # The worker frees a value after its last reader among the worker steps (it may still publish it).
    last: dict[int, int] = {}
    for i in worker_steps:
        for s in plan.steps[i].in_slots:
            last[s] = i
    frees: dict[int, list[int]] = {}
    keep = set(plan.const_slots)
    for s, i in last.items():
        if s not in keep:
            frees.setdefault(i, []).append(s)
    return SplitProgram(
        kind, worker_steps, adjust, send, gather, merge, split_feeds, sent_feeds,
        {i: tuple(v) for i, v in frees.items()}, main_local,
    )
