"""``Session``: maps fetches and feeds onto cached plans and runs them.

``run`` after its first call for a signature is: look up the cached plan, convert the feeds, call
the plan, rebuild the fetch structure. Everything else (pruning, ordering, kernel binding, missing
feed checks) happens once per (fetches, feed keys) signature.
"""

from __future__ import annotations

import collections
import functools
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from flowgraph import dtypes, errors
from flowgraph.backend import Backend, CupyBackend, NumpyBackend, default_backend, to_host, tune_allocator
from flowgraph.config import CPU, GPU, device_name, gpu_count, gpu_unavailable_reason, parse_device
from flowgraph.graph import Graph, Operation, Tensor, as_bytes_array, get_default_graph
from flowgraph.runtime import batch_split, split_process
from flowgraph.runtime.executor import StepFailure, WorkerPool, compile_serial, run_loop, run_parallel
from flowgraph.runtime.intra_op import ONE_BLAS_THREAD, IntraOp
from flowgraph.runtime.intra_op import blas_shared_by as _blas_shared_by
from flowgraph.runtime.plan import Plan, build_plan, c_order, retune
from flowgraph.shapes import TensorShape


# ---------------------------------------------------------------------------------------------
# Configuration and run metadata (TF1's protos, as plain objects)
# ---------------------------------------------------------------------------------------------
class GPUOptions:
    def __init__(self, per_process_gpu_memory_fraction: float = 0.0, allow_growth: bool = False,
                 visible_device_list: str = "", **kwargs: Any) -> None:
        self.per_process_gpu_memory_fraction = per_process_gpu_memory_fraction
        self.allow_growth = allow_growth
        self.visible_device_list = visible_device_list
        for k, v in kwargs.items():
            setattr(self, k, v)


class GraphOptions:
    def __init__(self, **kwargs: Any) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)


class ConfigProto:
    """Session configuration; ``inter_op_parallelism_threads=0`` means one thread per core."""

    def __init__(
        self,
        inter_op_parallelism_threads: int = 0,
        intra_op_parallelism_threads: int = 0,
        allow_soft_placement: bool = False,
        log_device_placement: bool = False,
        device_count: dict | None = None,
        gpu_options: GPUOptions | None = None,
        graph_options: GraphOptions | None = None,
        use_per_session_threads: bool = False,
        **kwargs: Any,
    ) -> None:
        self.inter_op_parallelism_threads = inter_op_parallelism_threads
        self.intra_op_parallelism_threads = intra_op_parallelism_threads
        self.allow_soft_placement = allow_soft_placement
        self.log_device_placement = log_device_placement
        self.device_count = dict(device_count or {})
        self.gpu_options = gpu_options or GPUOptions()
        self.graph_options = graph_options or GraphOptions()
        self.use_per_session_threads = use_per_session_threads
        for k, v in kwargs.items():
            setattr(self, k, v)


class RunOptions:
    NO_TRACE = 0
    SOFTWARE_TRACE = 1
    HARDWARE_TRACE = 2
    FULL_TRACE = 3

    def __init__(self, trace_level: int = 0, timeout_in_ms: int = 0, **kwargs: Any) -> None:
        self.trace_level = trace_level
        self.timeout_in_ms = timeout_in_ms
        for k, v in kwargs.items():
            setattr(self, k, v)


class NodeExecStats:
    """Timing of one executed node (micro-seconds, as in TF1's step stats)."""

    def __init__(self, node_name: str, op_type: str, all_start_micros: int, all_end_rel_micros: int,
                 thread_id: int, timeline_label: str) -> None:
        self.node_name = node_name
        self.op_type = op_type
        self.all_start_micros = all_start_micros
        self.op_start_rel_micros = 0
        self.op_end_rel_micros = all_end_rel_micros
        self.all_end_rel_micros = all_end_rel_micros
        self.thread_id = thread_id
        self.timeline_label = timeline_label
        # Nanosecond precision kept for rendering; TF1's protos only carry micro-seconds.
        self.start_ns = 0
        self.end_ns = 0

    def __repr__(self) -> str:
        return f"NodeExecStats({self.node_name!r}, start={self.all_start_micros}, dur={self.all_end_rel_micros}us, thread={self.thread_id})"


class DeviceStepStats:
    def __init__(self, device: str) -> None:
        self.device = device
        self.node_stats: list[NodeExecStats] = []


class StepStats:
    def __init__(self) -> None:
        self.dev_stats: list[DeviceStepStats] = []


class RunMetadata:
    def __init__(self) -> None:
        self.step_stats = StepStats()
        self.partition_graphs: list = []
        self.cost_graph = None

    def Clear(self) -> None:  # noqa: N802 - protobuf's name
        self.step_stats = StepStats()


# ---------------------------------------------------------------------------------------------
# Fetch mapping
# ---------------------------------------------------------------------------------------------
def _fetch_error(fetch: Any, why: str) -> TypeError:
    return TypeError(f"Fetch argument {fetch!r} has invalid type {type(fetch)!r}, must be a string or Tensor. ({why})")


def map_fetches(graph: Graph, fetches: Any) -> tuple[list, Callable]:
    """Flattens any nesting of fetches into graph elements and a function rebuilding the structure."""
    targets: list = []

    def walk(f: Any) -> Callable:
        if f is None:
            raise TypeError(f"Fetch argument None has invalid type {type(None)!r}")
        if isinstance(f, Tensor | Operation | str) or hasattr(f, "_as_graph_element"):
            try:
                el = graph.as_graph_element(f)
            except (KeyError, ValueError) as e:
                raise ValueError(f"Fetch argument {f!r} cannot be interpreted as a Tensor. ({e})") from None
            idx = len(targets)
            targets.append(el)
            if isinstance(el, Operation):
                return lambda vals: None
            return lambda vals: vals[idx]
        if isinstance(f, tuple) and hasattr(f, "_fields"):
            subs = [walk(x) for x in f]
            cls = type(f)
            return lambda vals: cls(*[s(vals) for s in subs])
        if isinstance(f, list | tuple):
            subs = [walk(x) for x in f]
            cls = type(f)
            if cls is list:
                return lambda vals: [s(vals) for s in subs]
            return lambda vals: cls(s(vals) for s in subs)
        if isinstance(f, dict):
            items = [(k, walk(v)) for k, v in f.items()]
            cls = type(f)
            if cls is collections.defaultdict:
                factory = f.default_factory
                return lambda vals: collections.defaultdict(factory, ((k, s(vals)) for k, s in items))
            return lambda vals: cls((k, s(vals)) for k, s in items)
        raise _fetch_error(f, f"Can not convert a {type(f).__name__} into a Tensor or Operation.")

    build = walk(fetches)
    return targets, build


def _host_value(v: Any) -> Any:
    if type(v) is np.ndarray and v.ndim == 0:
        return v[()]
    return v


# ---------------------------------------------------------------------------------------------
# Session
# ---------------------------------------------------------------------------------------------
class _Runtime:
    """What kernels are bound to: the array module, the variable store, per-op random streams.

    A session has one per device it places ops on; they share the variable store and the random
    streams. The session's main runtime (``sess._rt``, its default device) also carries the placer.
    """

    def __init__(self, backend: Backend, session: Session, variables: dict | None = None,
                 rngs: dict | None = None, device: str | None = None) -> None:
        self.backend = backend
        self.xp = backend.xp
        self.to_device = backend.to_device
        self.to_host = backend.to_host
        self.host_copy = backend.name != "cpu"
        self.variables: dict[Operation, Any] = {} if variables is None else variables
        self._rngs: dict[Operation, np.random.Generator] = {} if rngs is None else rngs
        self.session = session
        if device is None:
            device = device_name(GPU, getattr(backend, "device_id", 0)) if backend.name == "gpu" else device_name(CPU, 0)
        self.device = device
        self.placer: _Placer | None = None
        #: Splits a kernel's pieces over threads (CPU kernels; ConfigProto.intra_op_parallelism_threads).
        self.intra_op = IntraOp(session._config.intra_op_parallelism_threads if backend.name == "cpu" else 1)

    def runtime_of(self, op: Operation) -> _Runtime:
        """The runtime of the device ``op`` is placed on (for state such as a variable's value)."""
        placer = self.placer
        return self if placer is None else placer.runtime(placer.device_of(op))

    def bind(self, op: Operation) -> Callable:
        kernel = op._opdef.kernel(op, self)
        if getattr(self.backend, "device_id", 0):
            kernel = _on_device(kernel, self.backend._device)
        return kernel

    def rng(self, op: Operation) -> np.random.Generator:
        """The op's own random stream: fixed by its (graph, op) seeds, fresh per session."""
        g = self._rngs.get(op)
        if g is None:
            seed, seed2 = op.attrs.get("seed", 0), op.attrs.get("seed2", 0)
            if seed == 0 and seed2 == 0:
                g = np.random.default_rng()
            else:
                g = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(seed2) & 0xFFFFFFFF])
            self._rngs[op] = g
        return g


def _on_device(kernel: Callable, device: Any) -> Callable:
    """Runs ``kernel`` with CUDA device ``device`` current (for GPUs other than the first)."""

    def run(*args: Any) -> Any:
        with device:
            return kernel(*args)

    return run


_HOST = device_name(CPU, 0)


class _Placer:
    """Resolves each op's device string to a device of this session, once per plan build.

    Unplaced ops run on the session's default device (string tensors always on the CPU); ops
    with ref inputs (assignments, optimizer updates) run where their variable lives, as in TF1.
    An op pinned to a GPU that is not there runs on the CPU under ``allow_soft_placement``, and
    is an ``InvalidArgumentError`` otherwise.
    """

    host = _HOST

    def __init__(self, main: _Runtime, config: ConfigProto, n_gpus: int) -> None:
        self.main = main
        self.soft = bool(getattr(config, "allow_soft_placement", False))
        self.log = bool(getattr(config, "log_device_placement", False))
        self.n_gpus = n_gpus
        self.default = main.device
        self.runtimes: dict[str, _Runtime] = {main.device: main}
        self._lock = threading.Lock()

    def runtime(self, device: str) -> _Runtime:
        rt = self.runtimes.get(device)
        if rt is None:
            with self._lock:
                rt = self.runtimes.get(device)
                if rt is None:
                    kind, index = parse_device(device)
                    backend = CupyBackend(index or 0) if kind == GPU else NumpyBackend()
                    main = self.main
                    rt = _Runtime(backend, main.session, main.variables, main._rngs, device)
                    self.runtimes[device] = rt
        return rt

    def device_of(self, op: Operation, _seen: frozenset = frozenset()) -> str:
        ref_inputs = getattr(op._opdef, "ref_inputs", ())
        if ref_inputs and op not in _seen:
            var = op._inputs[ref_inputs[0]]._op
            return self.device_of(var, _seen | {op})  # colocated with its variable
        try:
            kind, index = parse_device(op._device)
        except ValueError as e:
            raise errors.InvalidArgumentError(None, op, f"Cannot parse the device of operation '{op.name}': {e}") from None
        strings = any(t.dtype is dtypes.string for t in op._outputs) or any(t.dtype is dtypes.string for t in op._inputs)
        if kind is None:
            return _HOST if strings else self.default
        index = index or 0
        wanted = device_name(kind, index)
        if kind == CPU:
            if index == 0:
                return _HOST
            why = "only /device:CPU:0 exists"
        elif strings:
            why = "there is no GPU kernel for string tensors"
        elif index < self.n_gpus:
            return wanted
        elif self.n_gpus == 0:
            why = gpu_unavailable_reason() or "ConfigProto.device_count allows no GPU"
        else:
            why = f"only {self.n_gpus} GPU(s) are visible"
        if self.soft:
            return _HOST
        raise errors.InvalidArgumentError(
            None, op,
            f"Cannot assign a device for operation '{op.name}' ({op.type}): it was explicitly assigned to {wanted} "
            f"but {why}. Set ConfigProto(allow_soft_placement=True) to run it on the CPU instead."
        )

    def log_placement(self, placement: dict) -> None:
        if self.log:
            print("\n".join(f"{op.name}: ({op.type}): {d}" for op, d in placement.items()), flush=True)


def _session_devices(config: ConfigProto) -> tuple[Backend, int]:
    """The session's default backend and how many GPUs it may use (``device_count={'GPU': n}`` caps it)."""
    limit = (getattr(config, "device_count", None) or {}).get("GPU")
    n_gpus = gpu_count() if limit is None or limit > 0 else 0
    if limit is not None:
        n_gpus = min(n_gpus, int(limit))
    if n_gpus > 0:
        return default_backend(), n_gpus
    tune_allocator()
    return NumpyBackend(), 0


_DEFAULT_SESSIONS = threading.local()


def _session_stack() -> list:
    s = getattr(_DEFAULT_SESSIONS, "stack", None)
    if s is None:
        s = _DEFAULT_SESSIONS.stack = []
    return s


def get_default_session() -> Session | None:
    s = _session_stack()
    return s[-1] if s else None


def _session_for(graph: Graph, session: Session | None) -> Session:
    if session is None:
        session = get_default_session()
        if session is None:
            raise ValueError(
                "Cannot evaluate tensor using `eval()`: No default session is registered. Use "
                "`with sess.as_default()` or pass an explicit session to `eval(session=sess)`"
            )
    if session.graph is not graph:
        raise ValueError(
            "Cannot use the given session to evaluate tensor: the tensor's graph is different from the session's graph."
        )
    return session


def _stop_split(plan: Plan) -> None:
    """Ends a plan's batch-split worker processes, if it has any."""
    runner, plan.split_runner = plan.split_runner, None
    if runner is not None:
        runner.close()


class _CompiledPlan:
    """A plan with its generated serial function and feed converters, shared by equal signatures."""

    __slots__ = ("plan", "fn", "line_step", "feed_checks")

    def __init__(self, plan: Plan, fn: Callable, line_step: list[int], feed_checks: tuple) -> None:
        self.plan = plan
        self.fn = fn
        self.line_step = line_step
        self.feed_checks = feed_checks


class _Signature:
    """What one ``run`` call shape (fetch objects, feed keys as given) resolves to, cached per session.

    Keyed by the caller's own objects, so a repeated call skips fetch mapping and feed-name look-ups.
    """

    __slots__ = ("compiled", "plan", "fn", "convert", "rebuild", "single", "version")

    def __init__(self, compiled: _CompiledPlan, rebuild: Callable | None, version: int) -> None:
        self.compiled = compiled
        self.plan = compiled.plan
        self.fn = compiled.fn
        self.convert = _feed_converter(compiled.feed_checks)
        self.rebuild = rebuild  # None: a single fetched element, returned as is
        self.single = rebuild is None
        self.version = version


def _feed_converter(checks: tuple) -> Callable:
    """``f(feed_dict) -> feed values`` for one signature, as one generated function.

    The feed dict's values arrive in the signature's key order; a Python float fed for a floating
    scalar becomes a NumPy scalar inline, anything else goes through the tensor's checker.
    """
    if not checks:
        return lambda fd: ()
    env: dict[str, Any] = {}
    names = [f"v{i}" for i in range(len(checks))]
    lines = ["def convert(fd):", f"    {', '.join(names)}, = fd.values()"]
    out = []
    for i, chk in enumerate(checks):
        env[f"c{i}"] = chk
        scalar = getattr(chk, "float_scalar", None)
        if scalar is not None:
            env[f"f{i}"] = scalar
            out.append(f"f{i}(v{i}) if type(v{i}) is float else c{i}(v{i})")
        else:
            out.append(f"c{i}(v{i})")
    lines.append(f"    return ({', '.join(out)},)")
    exec(compile("\n".join(lines) + "\n", "<flowgraph feeds>", "exec"), env)  # noqa: S102 - our own code
    return env["convert"]


def _fetch_key(fetches: Any) -> Any:
    """A hashable key for the common fetch shapes (one element, a flat list/tuple of them), else None."""
    t = type(fetches)
    if t is Tensor or t is Operation or t is str or hasattr(fetches, "_as_graph_element"):
        return fetches
    if t is list or t is tuple:
        for f in fetches:
            if type(f) is not Tensor and type(f) is not Operation and not hasattr(f, "_as_graph_element"):
                return None
        return (t, *fetches)
    return None


class BaseSession:
    """Shared machinery of ``Session`` and ``InteractiveSession``."""

    def __init__(self, target: str = "", graph: Graph | None = None, config: ConfigProto | None = None) -> None:
        self._graph = graph if graph is not None else get_default_graph()
        if not isinstance(self._graph, Graph):
            raise TypeError(f"graph must be a tf.Graph, but got {type(self._graph).__name__}")
        self._config = config or ConfigProto()
        self._target = target
        threads = self._config.inter_op_parallelism_threads
        if not threads or threads < 0:
            # TF1: 0 picks one thread per core; negative runs everything on the caller's thread.
            threads = 1 if threads and threads < 0 else (os.cpu_count() or 1)
        self._inter_op = int(threads)
        self._autotune = not self._config.inter_op_parallelism_threads
        intra = self._config.intra_op_parallelism_threads
        if intra and intra > 0:
            try:
                from threadpoolctl import threadpool_limits

                threadpool_limits(limits=int(intra), user_api="blas")
            except ImportError:
                pass
        backend, n_gpus = _session_devices(self._config)
        self._rt = _Runtime(backend, self)
        self._rt.placer = _Placer(self._rt, self._config, n_gpus)
        #: With the default intra_op_parallelism_threads (0) on several cores, plans whose kernels
        #: split measure whether pieces pay, as they do serial vs parallel executors.
        self._intra = self._rt.intra_op if not intra and self._rt.intra_op.threads > 1 else None
        self._plans: dict = {}  # (targets, feed tensors, graph version) -> _CompiledPlan
        self._signatures: dict = {}  # the caller's (fetches, feed keys) -> _Signature
        #: How many execution plans this session has built (a cached signature builds none).
        self.plans_built = 0
        self._lock = threading.RLock()
        self._pool: WorkerPool | None = None
        self._closed = False
        self._default_cm: list = []

    # -- properties ----------------------------------------------------------------------------
    @property
    def graph(self) -> Graph:
        return self._graph

    @property
    def graph_def(self) -> Any:
        return self._graph

    @property
    def sess_str(self) -> str:
        return self._target

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
            self._rt.variables.clear()
            for compiled in self._plans.values():
                _stop_split(compiled.plan)
            self._plans.clear()
            self._signatures.clear()

    def __del__(self) -> None:
        try:
            if self._pool is not None:
                self._pool.shutdown()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def as_default(self):
        sess = self

        class _DefaultSession:
            def __enter__(self_inner):
                _session_stack().append(sess)
                sess._graph_cm = sess._graph.as_default()
                sess._graph_cm.__enter__()
                return sess

            def __exit__(self_inner, *exc):
                sess._graph_cm.__exit__(*exc)
                stack = _session_stack()
                if stack and stack[-1] is sess:
                    stack.pop()
                return False

        return _DefaultSession()

    def __enter__(self) -> BaseSession:
        cm = self.as_default()
        cm.__enter__()
        self._default_cm.append(cm)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        cm = self._default_cm.pop()
        cm.__exit__(exc_type, exc, tb)
        self.close()
        return False

    # -- run -----------------------------------------------------------------------------------
    def run(self, fetches: Any, feed_dict: dict | None = None, options: RunOptions | None = None,
            run_metadata: RunMetadata | None = None) -> Any:
        """Computes ``fetches`` (any nesting of Tensors, Operations, names) given ``feed_dict``."""
        # The hot path: one dict look-up for the call's signature, the feed conversions, the plan.
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        graph = self._graph
        fkey = _fetch_key(fetches)
        sig = None
        if fkey is not None:
            sig = (fkey, *feed_dict) if feed_dict else fkey
            entry = self._signatures.get(sig)
            if entry is None or entry.version != graph._version:
                entry = self._prepare(fetches, feed_dict, sig)
        else:
            entry = self._prepare(fetches, feed_dict, None)
        args = entry.convert(feed_dict) if feed_dict else ()
        plan = entry.plan
        if self._intra is not None:
            self._intra.enabled = plan.intra_pieces is not False
        if (plan.parallel or plan.calibrate or plan.intra_pieces is None or plan.blas_one or plan.tuning
                or plan.batch_split is not False or options is not None or run_metadata is not None):
            results = self._run_general(entry, args, options, run_metadata)
        else:
            try:
                results = entry.fn(*args)
            except errors.OpError:
                raise
            except Exception as e:  # a kernel failed inside the generated serial function
                raise self._serial_error(entry.compiled, e) from e
        graph._runs += 1
        if plan.host_copy:  # some fetched value lives on a GPU
            results = [to_host(v) for v in results]
        if plan.c_order_at:  # convolution outputs may be batch-minor views
            results = list(results)
            for i in plan.c_order_at:
                results[i] = c_order(results[i])
        if entry.single:
            r = results[0]
            return r[()] if type(r) is np.ndarray and r.ndim == 0 else r
        return entry.rebuild([_host_value(v) for v in results])

    def _prepare(self, fetches: Any, feed_dict: dict | None, sig: Any) -> _Signature:
        """Resolves a call's fetches and feed keys into a compiled plan (once per signature)."""
        graph = self._graph
        targets, rebuild = map_fetches(graph, fetches)
        single = type(fetches) in (Tensor, Operation, str) or hasattr(fetches, "_as_graph_element")
        feed_tensors = self._resolve_feeds(feed_dict) if feed_dict else ()
        version = graph._version
        key = (tuple(targets), feed_tensors, version)
        compiled = self._plans.get(key)
        if compiled is None:
            compiled = self._compile(targets, feed_tensors, key)
        entry = _Signature(compiled, None if single else rebuild, version)
        if sig is not None:
            self._signatures[sig] = entry
        return entry

    def _run_general(self, entry: _Signature, args: list | tuple, options: RunOptions | None,
                     run_metadata: RunMetadata | None) -> tuple:
        """Parallel, calibrating or traced runs (everything but the plain serial call)."""
        trace = None
        if options is not None and getattr(options, "trace_level", 0) and run_metadata is not None:
            trace = []
        t_start = time.time()
        plan = entry.plan
        if plan.intra_pieces is None and plan.parallel and not self._autotune:
            plan.intra_pieces = False  # explicit inter-op threads get the cores
        tune = (plan.intra_pieces is None or plan.batch_split is None or plan.tuning
                or (plan.parallel and self._autotune and not getattr(plan, "tuned", False)))
        try:
            if tune and trace is None and not plan.calibrate:
                results = self._tuning_run(entry, args)
            elif plan.batch_split and trace is None:
                results = self._split_run(entry, args)
            elif plan.parallel:
                with _blas_shared_by(self._inter_op if not self._config.intra_op_parallelism_threads else 1):
                    results = run_parallel(plan, tuple(args), self._get_pool(), trace)
            else:
                with _blas_shared_by(ONE_BLAS_THREAD if plan.blas_one else 1):
                    if plan.calibrate:
                        results = self._calibrating_run(plan, tuple(args), trace)
                    elif trace is not None:
                        results = run_loop(plan, tuple(args), trace)
                    else:
                        results = entry.fn(*args)
        except StepFailure as f:
            raise self._op_error(f.step.op, f.inputs, f.cause) from f.cause
        except errors.OpError:
            raise
        except Exception as e:
            raise self._serial_error(entry.compiled, e) from e
        if trace is not None:
            self._record_trace(run_metadata, trace, t_start)
        return results

    #: Runs a plan is timed each way before the fastest way is kept.
    TUNING_RUNS = 8
    #: Consecutive runs each way before the next; only the last of them is timed: the first after a
    #: switch pays for the other ways' caches and buffer sizes (a split run 4 ms, then 3 ms).
    TUNING_BLOCK = 2

    def _tuning_run(self, entry: _Signature, args: list | tuple) -> tuple:
        """Cycles a plan's first runs through the ways it can run and keeps the fastest.

        The ways: the serial executor, the parallel one (for plans with independent heavy ops) and
        the serial one with kernels cut into intra-op pieces (for plans whose kernels split, with
        the default intra_op_parallelism_threads). Whether threads pay depends on the kernels' sizes,
        the BLAS threads and how busy the cores are; many training graphs of small ops run faster
        serially (no hand-offs), and a second core that other work holds makes pieces wait, so the
        session measures instead of guessing. Explicit thread counts are obeyed as given.

        The ways that cap BLAS at one thread are timed first, together, then the others: an
        OpenBLAS that ran multi-threaded keeps its idle threads spinning for about 0.1 s, and they
        would take the core a worker process or piece needs. Each way runs ``TUNING_BLOCK``
        consecutive times per turn, the last of them timed; the first turns of each group are
        not timed at all.
        """
        plan = entry.plan
        schedule = plan.__dict__.get("tuning_schedule")
        if schedule is None:
            one_blas: tuple = ()
            if self._intra is not None:  # default intra-op threads on several cores
                one_blas += ("serial, one BLAS thread",) + (("pieces",) if plan.intra_pieces is None else ())
            if plan.batch_split is None:
                one_blas += ("two processes",)
            others = (("parallel",) if plan.parallel else ()) + ("serial",)
            schedule = []
            for group in (one_blas, others):
                # A forked worker settles in a few runs (both processes copy the pages they write).
                warm = 3 if "two processes" in group else 1
                for turn in range(warm + self.TUNING_RUNS):
                    for m in group:
                        schedule += [(m, False)] * (self.TUNING_BLOCK - 1) + [(m, turn >= warm)]
            plan.tuning_schedule = schedule
            plan.tuning = True
            plan.tuning_modes = modes = one_blas + others
            plan.tuning_times = {m: [] for m in modes}
        times = plan.tuning_times
        n = plan.__dict__.get("tuning_runs", 0)
        plan.tuning_runs = n + 1
        mode, counted = schedule[min(n, len(schedule) - 1)]
        intra = self._intra
        if intra is not None:
            intra.enabled = mode == "pieces"
        t0 = time.perf_counter()
        try:
            if mode == "parallel":
                with _blas_shared_by(self._inter_op if not self._config.intra_op_parallelism_threads else 1):
                    results = run_parallel(plan, tuple(args), self._get_pool(), None)
            elif mode == "two processes":
                results = self._split_run(entry, args)
            else:  # the pieces are the parallelism in "pieces": BLAS gets one thread there too
                with _blas_shared_by(1 if mode == "serial" else ONE_BLAS_THREAD):
                    results = entry.fn(*args)
        finally:
            if intra is not None:
                intra.enabled = plan.intra_pieces is not False
        dt = time.perf_counter() - t0
        if counted:  # the first turn warms caches (and forks workers) and is not counted
            times[mode].append(dt)
        if n + 1 >= len(schedule):
            mid = self.TUNING_RUNS // 2
            median = {m: sorted(v)[mid] for m, v in times.items()}
            best = "serial"
            # Threads must win clearly: one run can vary 2x on a busy machine, and a wrong
            # "parallel" costs graphs of small ops up to half their speed.
            for m, margin in (("serial, one BLAS thread", 0.95), ("pieces", 0.9), ("two processes", 0.9)):
                if m in median and median[m] < margin * median[best]:
                    best = m
            if "parallel" in median and median["parallel"] <= 0.8 * median[best]:
                best = "parallel"
            plan.parallel = best == "parallel"
            plan.intra_pieces = best == "pieces"
            plan.blas_one = best in ("serial, one BLAS thread", "pieces")
            plan.batch_split = best == "two processes" if plan.batch_split is None else plan.batch_split
            if not plan.batch_split:
                _stop_split(plan)
            plan.tuned = True
            plan.tuning = False
        return results

    def _split_run(self, entry: _Signature, args: list | tuple) -> tuple:
        """A run with the batch split between this process and the plan's workers (``split_process``).

        The plan's first such run is an ordinary one that sizes the shared regions, then forks the
        workers. Runs whose feeds do not split (batches that disagree, are too small, or outgrow
        the regions) run whole; a worker that dies ends splitting for the plan.
        """
        plan = entry.plan
        runner = plan.split_runner
        if plan.batch_split is False and runner is None:  # splitting ended (no worker could start)
            return entry.fn(*args)
        # This process gets its share of the cores' BLAS threads (the workers set theirs when forked).
        share = ONE_BLAS_THREAD
        if runner is not None and split_process.blas_threads(runner.workers) > 1:
            share = runner.workers + 1
        with _blas_shared_by(share):
            if runner is None:
                batch = split_process.batch_of(plan.split_program, tuple(args))
                if batch is None:
                    return entry.fn(*args)
                results, sizes, work = split_process.measure_run(plan, tuple(args), plan.split_program)
                if plan.batch_split is None and work < split_process.MIN_WORK_SECONDS:
                    plan.batch_split = False  # too little per-example work to share: no worker
                    return results
                with self._lock:
                    if plan.split_runner is None and not self._closed:
                        feed_sizes = [int(np.asarray(v).nbytes) for v in args]
                        try:
                            plan.split_runner = split_process.SplitRunner(
                                plan, plan.split_program, sizes, feed_sizes, batch, self._rt.intra_op
                            )
                        except OSError:  # no memory or processes left for a worker: stay in one process
                            plan.batch_split = False
                return results
            if not runner.fits(tuple(args)) or not runner.lock.acquire(blocking=False):
                return entry.fn(*args)  # another thread's run has the workers, or this batch doesn't split
            try:
                return runner.run(tuple(args))
            except split_process.WorkerFailed as e:
                if runner.failed is not None:  # a worker is gone: this signature runs in one process
                    plan.batch_split = False
                    _stop_split(plan)
                if not e.rerun:
                    raise errors.InternalError(None, None, f"{e} (after this run changed state)") from None
            finally:
                runner.lock.release()
            # Nothing was changed yet: run again in one process (which raises its own error, if any).
            return entry.fn(*args)

    def _resolve_feeds(self, feed_dict: dict) -> tuple:
        graph = self._graph
        tensors = []
        for k in feed_dict:
            if isinstance(k, Tensor):
                t = k
                if t._op._graph is not graph:
                    raise TypeError(f"Cannot interpret feed_dict key as Tensor: {t!r} is not an element of this graph.")
            else:
                try:
                    t = graph.as_graph_element(k, allow_operation=False)
                except (KeyError, ValueError, TypeError) as e:
                    raise TypeError(f"Cannot interpret feed_dict key {k!r} as a Tensor: {e}") from None
            tensors.append(t)
        return tuple(tensors)

    def _compile(self, targets: list, feed_tensors: tuple, key: tuple) -> _CompiledPlan:
        with self._lock:
            compiled = self._plans.get(key)
            if compiled is not None:
                return compiled
            plan = build_plan(self._graph, targets, feed_tensors, self._rt, self._inter_op)
            if self._intra is not None and any(st.op._opdef.splits for st in plan.steps):
                plan.intra_pieces = None  # measured on the first runs
            if (self._intra is not None and self._rt.xp is np and not plan.host_copy and split_process.available()
                    and all(st.rt is None or st.rt.xp is np for st in plan.steps)):
                plan.split_program = batch_split.analyse(plan, feed_tensors)
                if plan.split_program is not None:
                    plan.batch_split = None  # measured on the first runs
                    if split_process.forced():  # FLOWGRAPH_BATCH_SPLIT=on: split without measuring
                        plan.batch_split = plan.tuned = True
                        plan.intra_pieces = plan.parallel = False
            fn, line_step = compile_serial(plan)
            compiled = _CompiledPlan(plan, fn, line_step, tuple(_feed_checker(t) for t in feed_tensors))
            self._plans[key] = compiled
            self.plans_built += 1
            return compiled

    def _calibrating_run(self, plan: Plan, feed_values: tuple, trace: list | None) -> tuple:
        """A plan's first run when some sizes were unknown: measures them and picks serial or parallel."""
        measured: list[int] = []
        results = run_loop(plan, feed_values, trace, measured)
        with self._lock:
            if plan.calibrate:
                retune(plan, measured)
        return results

    def _get_pool(self) -> WorkerPool:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = WorkerPool(max(1, self._inter_op - 1))
                pool = self._pool
        return pool

    # -- errors --------------------------------------------------------------------------------
    def _serial_error(self, compiled: _CompiledPlan, exc: BaseException) -> BaseException:
        tb = exc.__traceback__
        frame_locals = None
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<flowgraph plan>":
                line = tb.tb_lineno
                frame_locals = tb.tb_frame.f_locals
            tb = tb.tb_next
        if line is None or line >= len(compiled.line_step) or compiled.line_step[line] < 0:
            return exc
        step = compiled.plan.steps[compiled.line_step[line]]
        inputs = []
        for s in step.in_slots:
            name = f"s{s}"
            if s in compiled.plan.const_slots:
                inputs.append(compiled.plan.const_slots[s])
            else:
                inputs.append(frame_locals.get(name) if frame_locals is not None else None)
        if isinstance(exc, errors.OpError):
            return exc
        return self._op_error(step.op, inputs, exc)

    def _op_error(self, op: Operation, inputs: list, exc: BaseException) -> BaseException:
        if isinstance(exc, errors.OpError) or isinstance(exc, KeyboardInterrupt):
            return exc
        shapes = ", ".join(f"{t.name}: shape {list(np.shape(v))} {getattr(v, 'dtype', type(v).__name__)}" for t, v in zip(_data_inputs(op), inputs))
        msg = (
            f"{type(exc).__name__}: {exc}\n\twhile running op '{op.name}' (type {op.type}) with inputs [{shapes}]"
            f"\n\tcreated at {op.location} (in {op.traceback[2]})"
        )
        requested = _cuda_oom_bytes(exc)
        if requested is not None:
            size = f"{requested} bytes" if requested >= 0 else "an unknown number of bytes"
            msg = (f"OOM when allocating {size} on the GPU while running op '{op.name}' (type {op.type}, "
                   f"device {op.device or 'default'}): {exc}\n\twith inputs [{shapes}]\n\tcreated at {op.location}"
                   f" (in {op.traceback[2]})")
            return errors.ResourceExhaustedError(None, op, msg)
        cls = errors.ResourceExhaustedError if isinstance(exc, MemoryError) else errors.InvalidArgumentError
        return cls(None, op, msg)

    def _record_trace(self, md: RunMetadata, trace: list, t_start: float) -> None:
        dev = DeviceStepStats("/job:localhost/replica:0/task:0/device:CPU:0")
        if not trace:
            md.step_stats.dev_stats.append(dev)
            return
        base_ns = min(t0 for _, t0, _, _ in trace)
        base_us = int(t_start * 1e6)
        for op, t0, t1, tid in sorted(trace, key=lambda r: r[1]):
            st = NodeExecStats(op.name, op.type, base_us + (t0 - base_ns) // 1000, max(0, (t1 - t0) // 1000), tid,
                               f"{op.name} = {op.type}({', '.join(t.name for t in op.inputs)})")
            st.start_ns, st.end_ns = t0, t1
            dev.node_stats.append(st)
        md.step_stats.dev_stats.append(dev)

    # -- misc ------------------------------------------------------------------------------------
    def list_devices(self) -> list:
        from flowgraph.config import list_devices

        return list_devices()

    def make_callable(self, fetches: Any, feed_list: list | None = None, accept_options: bool = False) -> Callable:
        """A function ``f(*feed_values)`` running ``fetches`` (TF1's ``Session.make_callable``)."""
        feeds = list(feed_list or [])

        def call(*args: Any, **kwargs: Any) -> Any:
            return self.run(fetches, dict(zip(feeds, args)), **kwargs)

        return call


def _cuda_oom_bytes(exc: BaseException) -> int | None:
    """The requested size of a ``cupy.cuda.memory.OutOfMemoryError`` (-1 if unknown); None for other errors."""
    cls = type(exc)
    if cls.__name__ != "OutOfMemoryError" or not cls.__module__.startswith("cupy"):
        return None
    if exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    m = re.search(r"allocating ([\d,]+) bytes", str(exc))
    return int(m.group(1).replace(",", "")) if m else -1


def _data_inputs(op: Operation) -> list[Tensor]:
    ref = getattr(op._opdef, "ref_inputs", ())
    return [t for i, t in enumerate(op.inputs) if i not in ref]


def _feed_checker(t: Tensor) -> Callable:
    """Converts a fed value to the tensor's dtype and checks it against the static shape.

    A Python number fed for a scalar (or unknown-shape) tensor becomes a NumPy scalar directly,
    the cheapest value for scalar kernels; everything else goes through ``np.asarray``.
    """
    dt = t.dtype
    npdt = dt.np
    to_scalar = npdt.type
    dims = t._dims
    name = t.name
    where = t.op.location
    if dims is not None and dims != ():
        fast_types: tuple = ()
    elif dt.is_floating:
        fast_types = (float, int)
    elif dt.is_integer:
        fast_types = (int,)
    elif dt.is_bool:
        fast_types = (bool,)
    else:
        fast_types = ()
    convert = as_bytes_array if dt is dtypes.string else functools.partial(np.asarray, dtype=npdt)
    exact_arrays = dt is not dtypes.string

    def slow(v: Any) -> Any:
        if isinstance(v, Tensor):
            raise TypeError(
                f"The value of a feed cannot be a tf.Tensor object ({v.name} fed for {name}). Acceptable feed "
                "values include Python scalars, strings, lists, numpy ndarrays, or TensorHandles."
            )
        try:
            return convert(v)
        except (TypeError, ValueError, OverflowError) as e:
            raise TypeError(
                f"Cannot feed value {_short(v)} for Tensor '{name}' of dtype {dt.name} (created at {where}): {e}"
            ) from None

    def check(v: Any) -> Any:
        tv = type(v)
        if tv in fast_types:
            try:
                return to_scalar(v)
            except OverflowError:
                pass
        arr = v if tv is np.ndarray and v.dtype == npdt and exact_arrays else slow(v)
        if dims is not None:
            shp = arr.shape
            if len(shp) != len(dims) or any(d is not None and d != s for d, s in zip(dims, shp)):
                raise ValueError(
                    f"Cannot feed value of shape {shp} for Tensor '{name}', which has shape {TensorShape(dims)} "
                    f"(created at {where})"
                )
        return arr

    check.float_scalar = to_scalar if float in fast_types else None  # lets the converter inline the common case
    return check


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) < 60 else r[:57] + "..."


class Session(BaseSession):
    """``tf.Session``: runs a graph; a context manager that makes itself the default session."""


class InteractiveSession(BaseSession):
    """A Session that installs itself as the default on creation (for shells and notebooks)."""

    def __init__(self, target: str = "", graph: Graph | None = None, config: ConfigProto | None = None) -> None:
        super().__init__(target, graph, config)
        self._interactive_cm = self.as_default()
        self._interactive_cm.__enter__()

    def close(self) -> None:
        if not self._closed and getattr(self, "_interactive_cm", None) is not None:
            cm, self._interactive_cm = self._interactive_cm, None
            try:
                cm.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 - closing from another thread
                pass
        super().close()
