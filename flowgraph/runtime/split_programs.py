"""The generated code of batch-split runs: one straight-line function per side, as ``compile_serial``.

The main process's function runs every step of the plan, the per-example ones on its own rows; a
step that needs a split, partial or local value whole gets it (``w<slot>``) the first time one
needs it: stacked under the workers' rows, summed with their partials, or widened to the whole
batch. A worker's function runs only the per-example steps, taking the replicated values it reads
from the main process and publishing what the main process needs. Values cross through the
runner's ``put``/``take`` (``split_process.SplitRunner``); each side's line -> step map names the
op when a kernel raises.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowgraph.runtime.batch_split import P, R, Rows, S

MAIN_FILE = "<flowgraph split run>"
WORKER_FILE = "<flowgraph split worker>"


def worker_function(runner: Any, w: int) -> tuple[Any, list[int]]:
    """Worker ``w``'s run: ``fn(seq)``, and the line -> step index map of its code."""
    plan, prog = runner.plan, runner.program
    env = _env(runner)
    lines, line_step = ["def _worker(seq):"], [-1, -1]
    for i in prog.split_feeds + prog.sent_feeds:
        env[f"K{i}"] = ("feed", i, w) if i in prog.split_feeds else ("feed", i)
        lines.append(f"    s{plan.feed_slots[i]} = take(K{i}, seq)")
        line_step.append(-1)
    got = set(plan.const_slots) | {plan.feed_slots[i] for i in prog.split_feeds + prog.sent_feeds}
    for i in prog.worker_steps:
        st = plan.steps[i]
        for r in dict.fromkeys(st.in_slots):
            if r not in got:  # a replicated value from the main process
                got.add(r)
                lines.append(f"    s{r} = take({r}, seq)")
                line_step.append(i)
        body = _call(env, prog, i, st, ", ".join(_ref(plan, x) for x in st.in_slots))
        lines.append(f"    {_target(st.out_slots)} = {body}" if st.out_slots else f"    {body}")
        line_step.append(i)
        got.update(st.out_slots)
        for o in st.out_slots:
            if o in runner.publish:
                env[f"P{o}"] = (o, w)
                lines.append(f"    put(P{o}, s{o}, seq)")
                line_step.append(i)
        for f in prog.worker_frees.get(i, ()):
            lines.append(f"    s{f} = None")
            line_step.append(i)
    lines.append("    return None")
    return _compiled(lines, env, "_worker", WORKER_FILE), line_step


def main_function(runner: Any) -> tuple[Any, list[int]]:
    """The main process's run: ``fn(feeds, mine, seq) -> fetches``, and its line -> step map."""
    plan, prog, k = runner.plan, runner.program, runner.workers
    kind = prog.kind
    env = _env(runner)
    take = runner._take

    def gather(local: Any, slot: int, seq: int) -> Any:
        return np.concatenate([np.asarray(local)] + [take((slot, w), seq) for w in range(k)], axis=0)

    def merge(local: Any, slot: int, seq: int) -> Any:
        total = np.add(local, take((slot, 0), seq))
        for w in range(1, k):  # in worker order, so every run adds the same way
            total = np.add(total, take((slot, w), seq))
        return total

    env["gather"], env["merge"], env["widen"] = gather, merge, _widen
    lines, line_step = ["def _main(feeds, mine, seq):"], [-1, -1]
    if plan.feed_slots:
        lines.append("    " + ", ".join(f"f{i}" for i in range(len(plan.feed_slots))) + ", = feeds")
        line_step.append(-1)
    whole: set[int] = set()
    for i, s_ in enumerate(plan.feed_slots):
        if s_ in runner.feed_split:  # this process's rows, and the whole batch as it was fed
            lines += [f"    s{s_} = f{i}[:mine]", f"    w{s_} = f{i}"]
            whole.add(s_)
            line_step += [-1, -1]
        else:
            lines.append(f"    s{s_} = f{i}")
            line_step.append(-1)

    def whole_ref(slot: int, i: int) -> str:
        kd = kind.get(slot, R)
        if kd == R:
            return _ref(plan, slot)
        if slot not in whole:
            whole.add(slot)
            how = {S: "gather", P: "merge"}.get(kd)
            expr = f"widen(s{slot}, rows)" if how is None else f"{how}(s{slot}, {slot}, seq)"
            lines.append(f"    w{slot} = {expr}")
            line_step.append(i)
        return f"w{slot}"

    for i, st in enumerate(plan.steps):
        local = i in runner.worker_set or i in prog.main_local
        args = ", ".join(_ref(plan, x) if local else whole_ref(x, i) for x in st.in_slots)
        if st.for_op is None and st.op._opdef.stateful:  # from here on a failed run cannot be redone
            lines.append("    R_.touched = True")
            line_step.append(i)
        body = _call(env, prog, i, st, args)
        lines.append(f"    {_target(st.out_slots)} = {body}" if st.out_slots else f"    {body}")
        line_step.append(i)
        for o in st.out_slots:
            if o in runner.send:
                lines.append(f"    put({o}, s{o}, seq)")
                line_step.append(i)
        for f in st.frees:
            lines.append(f"    s{f} = None")
            line_step.append(i)
            if f in whole:
                lines.append(f"    w{f} = None")
                line_step.append(i)
    fetches = "".join(("None" if f < 0 else whole_ref(f, -1)) + ", " for f in plan.fetch_slots)
    lines.append(f"    return ({fetches})")
    return _compiled(lines, env, "_main", MAIN_FILE), line_step


def failed_step(exc: BaseException, filename: str, line_step: list[int], steps: list) -> Any:
    """The plan step whose line of generated code raised ``exc`` (None if none did)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None or line >= len(line_step) or line_step[line] < 0:
        return None
    return steps[line_step[line]]


def frame_of(exc: BaseException, filename: str) -> Any:
    """The generated function's frame in ``exc``'s traceback (None if it did not pass through it)."""
    tb, frame = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            frame = tb.tb_frame
        tb = tb.tb_next
    return frame


def _env(runner: Any) -> dict[str, Any]:
    env: dict[str, Any] = {"put": runner._put, "take": runner._take, "rows": runner.rows, "R_": runner}
    for c, v in runner.plan.const_slots.items():
        env[f"c{c}"] = v
    return env


def _call(env: dict, prog: Any, i: int, st: Any, args: str) -> str:
    env[f"k{i}"] = st.kernel
    fix = prog.adjust.get(i)
    if fix is None:
        return f"k{i}({args})"
    env[f"fx{i}"] = fix
    return f"fx{i}(k{i}({args}), rows)"


def _ref(plan: Any, slot: int) -> str:
    return f"c{slot}" if slot in plan.const_slots else f"s{slot}"


def _target(outs: tuple) -> str:
    names = ["_" if o < 0 else f"s{o}" for o in outs]
    return names[0] if len(names) == 1 else ", ".join(names) + ","


def _compiled(lines: list[str], env: dict, name: str, filename: str) -> Any:
    exec(compile("\n".join(lines) + "\n", filename, "exec"), env)  # noqa: S102 - code from our own plan
    return env[name]


def _widen(shape: Any, rows: Rows) -> Any:
    """A local shape made whole: the batch's rows at index 0."""
    v = np.array(shape, copy=True)
    v[0] = rows.total
    return v
