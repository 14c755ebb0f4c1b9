"""``tf.train.Saver``: checkpoints as NumPy ``.npz`` data plus a JSON index, written crash-safely.

A checkpoint ``<prefix>`` is two files: ``<prefix>.data-<token>.npz`` (the arrays, never pickled)
and ``<prefix>.index`` (JSON: each variable's name, shape, dtype and key in the data file, and
the data file's name and size). Each file is written to a temporary file in the same directory,
flushed, fsynced and renamed into place; the index is renamed last and is the commit point, so a
crash at any moment leaves the previous checkpoint of that prefix readable. The ``checkpoint``
state file (TF's text format) lists the kept checkpoints, newest last.

Restoring validates every name, shape and dtype and reads every array before it assigns any,
writing the session's variable store directly: no graph ops are added.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
import zipfile
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from flowgraph import dtypes as _dtypes
from flowgraph import logging
from flowgraph.errors import DataLossError, InvalidArgumentError, NotFoundError
from flowgraph.graph import GraphKeys, get_default_graph
from flowgraph.variables import Variable, uninitialized_error

_FORMAT = "flowgraph-checkpoint"
_FORMAT_VERSION = 1
_INDEX_SUFFIX = ".index"
_DATA_PATTERN = r"\.data-[0-9a-f]+\.npz"
_STATE_FILENAME = "checkpoint"


# ---------------------------------------------------------------------------------------------
# Atomic file writes
# ---------------------------------------------------------------------------------------------
def _fsync_dir(directory: str) -> None:
    """Makes a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Writes ``path`` via a temporary file in its directory: readers see the old file or the new one."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


# ---------------------------------------------------------------------------------------------
# Checkpoint files
# ---------------------------------------------------------------------------------------------
def _index_path(prefix: str) -> str:
    return prefix + _INDEX_SUFFIX


def _data_files(prefix: str) -> list[str]:
    """Data files of ``prefix`` on disk (the current one and leftovers of interrupted saves)."""
    directory = os.path.dirname(prefix) or "."
    base = os.path.basename(prefix)
    pat = re.compile(re.escape(base) + _DATA_PATTERN + r"$")
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [os.path.join(os.path.dirname(prefix), n) for n in names if pat.match(n)]


def write_checkpoint(prefix: str, values: dict[str, np.ndarray]) -> None:
    """Writes ``values`` (name -> host array) as checkpoint ``prefix``, replacing any older one atomically."""
    names = sorted(values)
    # np.asarray(order="C"), not np.ascontiguousarray: the latter turns 0-d arrays into 1-d ones.
    arrays = {f"t{i}": np.asarray(values[n], order="C") for i, n in enumerate(names)}
    data_path = f"{prefix}.data-{secrets.token_hex(4)}.npz"
    atomic_write(data_path, lambda f: np.savez(f, **arrays))
    index = {
        "format": _FORMAT,
        "version": _FORMAT_VERSION,
        "data_file": os.path.basename(data_path),
        "data_size": os.path.getsize(data_path),
        "tensors": {
            n: {"key": f"t{i}", "shape": list(arrays[f"t{i}"].shape), "dtype": arrays[f"t{i}"].dtype.name}
            for i, n in enumerate(names)
        },
    }
    payload = json.dumps(index, indent=1, sort_keys=True).encode()
    try:
        atomic_write(_index_path(prefix), lambda f: f.write(payload))
    except BaseException:
        _remove_quietly(data_path)  # never committed: the previous index still names its own data file
        raise
    for stale in _data_files(prefix):
        if os.path.basename(stale) != index["data_file"]:
            _remove_quietly(stale)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


class CheckpointReader:
    """Reads a checkpoint written by :func:`write_checkpoint`; every defect is a DataLossError naming the file."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        index_path = _index_path(prefix)
        try:
            with open(index_path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise NotFoundError(
                None, None, f"Failed to find any matching files for {prefix} (no {index_path})."
            ) from None
        try:
            index = json.loads(raw.decode())
            if index.get("format") != _FORMAT:
                raise ValueError(f"not a {_FORMAT} index")
            tensors = index["tensors"]
            data_file = index["data_file"]
            data_size = int(index["data_size"])
            for entry in tensors.values():
                entry["key"], entry["dtype"] = str(entry["key"]), np.dtype(entry["dtype"])
                _dtypes.as_dtype(entry["dtype"])  # a dtype flowgraph has
                entry["shape"] = tuple(int(d) for d in entry["shape"])
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
            raise DataLossError(None, None, f"Checkpoint index {index_path} is corrupted or truncated: {e}") from None
        self._tensors: dict[str, dict] = tensors
        self._data_path = os.path.join(os.path.dirname(prefix), data_file)
        self._data_size = data_size

    @property
    def data_path(self) -> str:
        return self._data_path

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {n: list(e["shape"]) for n, e in self._tensors.items()}

    def get_variable_to_dtype_map(self) -> dict[str, _dtypes.DType]:
        return {n: _dtypes.as_dtype(e["dtype"]) for n, e in self._tensors.items()}

    def has_tensor(self, name: str) -> bool:
        return name in self._tensors

    def get_tensor(self, name: str) -> np.ndarray:
        if name not in self._tensors:
            raise NotFoundError(None, None, f"Key {name} not found in checkpoint {self._prefix}")
        return self.read([name])[name]

    def read(self, names: list[str]) -> dict[str, np.ndarray]:
        """Loads ``names`` fully into memory, checking each array against the index."""
        path = self._data_path
        try:
            size = os.path.getsize(path)
        except OSError:
            raise DataLossError(None, None, f"Checkpoint data file {path} (of {self._prefix}) is missing.") from None
        if size != self._data_size:
            raise DataLossError(
                None,
                None,
                f"Checkpoint data file {path} is truncated or corrupted: {size} bytes, the index says {self._data_size}.",
            )
        out = {}
        try:
            with np.load(path, allow_pickle=False) as data:
                for name in names:
                    entry = self._tensors[name]
                    arr = data[entry["key"]]
                    if arr.shape != entry["shape"] or arr.dtype != entry["dtype"]:
                        raise ValueError(
                            f"tensor {name} is {arr.dtype.name}{list(arr.shape)}, the index says "
                            f"{entry['dtype'].name}{list(entry['shape'])}"
                        )
                    out[name] = arr
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise DataLossError(None, None, f"Checkpoint data file {path} is corrupted or truncated: {e}") from None
        return out


def checkpoint_exists(checkpoint_prefix: str) -> bool:
    """True when a checkpoint with this prefix was written (its index file exists)."""
    return os.path.isfile(_index_path(os.fspath(checkpoint_prefix)))


def remove_checkpoint(
    checkpoint_prefix: str, checkpoint_format_version: Any = None, meta_graph_suffix: str = "meta"
) -> None:
    """Deletes the files of one checkpoint (missing files are ignored)."""
    prefix = os.fspath(checkpoint_prefix)
    _remove_quietly(_index_path(prefix))
    for path in _data_files(prefix):
        _remove_quietly(path)
    _remove_quietly(f"{prefix}.{meta_graph_suffix}")


# ---------------------------------------------------------------------------------------------
# The ``checkpoint`` state file
# ---------------------------------------------------------------------------------------------
class CheckpointState:
    """TF's CheckpointState: the newest checkpoint and all kept ones, oldest first."""

    def __init__(
        self,
        model_checkpoint_path: str = "",
        all_model_checkpoint_paths: list[str] | None = None,
        all_model_checkpoint_timestamps: list[float] | None = None,
        last_preserved_timestamp: float = 0.0,
    ) -> None:
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths or [])
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps or [])
        self.last_preserved_timestamp = last_preserved_timestamp

    def __repr__(self) -> str:
        return _state_text(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CheckpointState) and vars(self) == vars(other)


def _state_text(state: CheckpointState) -> str:
    lines = [f"model_checkpoint_path: {json.dumps(state.model_checkpoint_path)}"]
    lines += [f"all_model_checkpoint_paths: {json.dumps(p)}" for p in state.all_model_checkpoint_paths]
    lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in state.all_model_checkpoint_timestamps]
    if state.last_preserved_timestamp:
        lines.append(f"last_preserved_timestamp: {state.last_preserved_timestamp!r}")
    return "\n".join(lines) + "\n"


def _parse_state(text: str) -> CheckpointState:
    state = CheckpointState()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"line {n}: expected 'field: value', got {line!r}")
        key, value = key.strip(), value.strip()
        if key in ("model_checkpoint_path", "all_model_checkpoint_paths"):
            parsed = json.loads(value)
            if not isinstance(parsed, str):
                raise ValueError(f"line {n}: {key} must be a string")
            if key == "model_checkpoint_path":
                state.model_checkpoint_path = parsed
            else:
                state.all_model_checkpoint_paths.append(parsed)
        elif key == "all_model_checkpoint_timestamps":
            state.all_model_checkpoint_timestamps.append(float(value))
        elif key == "last_preserved_timestamp":
            state.last_preserved_timestamp = float(value)
        else:
            raise ValueError(f"line {n}: unknown field {key!r}")
    return state


def _relative_to(path: str, directory: str) -> str:
    """``path`` relative to ``directory`` when it lies there, so a checkpoint folder can be moved."""
    if os.path.abspath(os.path.dirname(path) or ".") == os.path.abspath(directory or "."):
        return os.path.basename(path)
    return path


def update_checkpoint_state(
    save_dir: str,
    model_checkpoint_path: str,
    all_model_checkpoint_paths: list[str] | None = None,
    latest_filename: str | None = None,
    all_model_checkpoint_timestamps: list[float] | None = None,
    last_preserved_timestamp: float | None = None,
) -> None:
    """Writes ``save_dir/checkpoint`` (atomically); ``model_checkpoint_path`` is always listed last."""
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    state = CheckpointState(
        _relative_to(model_checkpoint_path, save_dir),
        [_relative_to(p, save_dir) for p in paths],
        all_model_checkpoint_timestamps,
        last_preserved_timestamp or 0.0,
    )
    if os.path.basename(latest_filename or _STATE_FILENAME) != (latest_filename or _STATE_FILENAME):
        raise ValueError("'latest_filename' must not contain path components")
    text = _state_text(state).encode()
    atomic_write(os.path.join(save_dir or ".", latest_filename or _STATE_FILENAME), lambda f: f.write(text))


def get_checkpoint_state(checkpoint_dir: str, latest_filename: str | None = None) -> CheckpointState | None:
    """The state in ``checkpoint_dir/checkpoint`` with relative paths made relative to the directory; None if absent."""
    checkpoint_dir = os.fspath(checkpoint_dir)
    path = os.path.join(checkpoint_dir, latest_filename or _STATE_FILENAME)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        logging.warning("%s: Checkpoint ignored (%s)", path, e)
        return None
    try:
        state = _parse_state(text)
    except ValueError as e:
        logging.warning("%s: Checkpoint ignored (%s)", path, e)
        return None
    if not state.model_checkpoint_path:
        raise ValueError(f"Invalid checkpoint state loaded from {checkpoint_dir}")

    def absolute(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)

    state.model_checkpoint_path = absolute(state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [absolute(p) for p in state.all_model_checkpoint_paths]
    return state


def latest_checkpoint(checkpoint_dir: str, latest_filename: str | None = None) -> str | None:
    """The newest checkpoint prefix recorded in ``checkpoint_dir``, or None."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state and state.model_checkpoint_path:
        if checkpoint_exists(state.model_checkpoint_path):
            return state.model_checkpoint_path
        logging.error("Couldn't match files for checkpoint %s", state.model_checkpoint_path)
    return None


def _resolve_checkpoint(ckpt_dir_or_file: str) -> str:
    path = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(path):
        found = latest_checkpoint(path)
        if found is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory {path}")
        return found
    return path


def load_checkpoint(ckpt_dir_or_file: str) -> CheckpointReader:
    """A reader for a checkpoint prefix, or for the newest checkpoint in a directory."""
    return CheckpointReader(_resolve_checkpoint(ckpt_dir_or_file))


NewCheckpointReader = CheckpointReader


def list_variables(ckpt_dir_or_file: str) -> list[tuple[str, list[int]]]:
    """``[(name, shape)]`` of a checkpoint, sorted by name."""
    return sorted(load_checkpoint(ckpt_dir_or_file).get_variable_to_shape_map().items())


def load_variable(ckpt_dir_or_file: str, name: str) -> np.ndarray:
    """One saved array."""
    name = name.removesuffix(":0")
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


# ---------------------------------------------------------------------------------------------
# Saver
# ---------------------------------------------------------------------------------------------
def _var_list_to_dict(var_list: Any) -> dict[str, Variable]:
    """Checkpoint names -> variables: a dict is taken as is, a list is keyed by each variable's op name."""
    if isinstance(var_list, dict):
        out = {}
        for name, var in var_list.items():
            if not isinstance(name, str):
                raise TypeError(f"var_list keys must be checkpoint names (str), got {name!r}.")
            out[name] = _check_variable(var, name)
        return out
    out = {}
    for var in var_list:
        var = _check_variable(var, None)
        name = var.op.name
        if name in out:
            raise ValueError(f"At least two variables have the same name: {name}")
        out[name] = var
    return out


def _check_variable(var: Any, name: str | None) -> Variable:
    if not isinstance(var, Variable):
        where = f" (for checkpoint name {name!r})" if name else ""
        raise TypeError(f"Variable to save is not a tf.Variable: {var!r}{where}.")
    if var.dtype.name == "string":
        raise TypeError(f"Variable {var.op.name} has dtype string, which the .npz checkpoint format does not store.")
    return var


def _runtime_of(sess: Any) -> Any:
    rt = getattr(sess, "_rt", None)
    if rt is None:
        raise TypeError(f"'sess' must be a Session; {sess!r}")
    return rt


class Saver:
    """Saves and restores variables; keeps the newest ``max_to_keep`` checkpoints of its saves."""

    def __init__(
        self,
        var_list: Any = None,
        reshape: bool = False,
        sharded: bool = False,
        max_to_keep: int | None = 5,
        keep_checkpoint_every_n_hours: float = 10000.0,
        name: str | None = None,
        restore_sequentially: bool = False,
        saver_def: Any = None,
        builder: Any = None,
        defer_build: bool = False,
        allow_empty: bool = False,
        write_version: Any = None,
        pad_step_number: bool = False,
        save_relative_paths: bool = False,
        filename: str | None = None,
    ) -> None:
        self._var_list_arg = var_list
        self._reshape = reshape
        self._max_to_keep = max_to_keep
        self._keep_every_s = keep_checkpoint_every_n_hours * 3600.0
        self._next_checkpoint_time = time.time() + self._keep_every_s
        self._allow_empty = allow_empty
        self._pad_step_number = pad_step_number
        self._filename = filename
        self._name = name
        self._last_checkpoints: list[tuple[str, float]] = []
        self._checkpoints_to_be_deleted: list[tuple[str, float]] = []
        self._vars: dict[str, Variable] | None = None
        self._graph = None
        if not defer_build:
            self.build()

    def build(self) -> None:
        """Fixes the variables saved (all global variables now, when var_list was None)."""
        if self._vars is not None:
            return
        if self._var_list_arg is None:
            g = get_default_graph()
            var_list = g.get_collection(GraphKeys.GLOBAL_VARIABLES)
        else:
            var_list = self._var_list_arg
        self._vars = _var_list_to_dict(var_list)
        if not self._vars and not self._allow_empty:
            raise ValueError("No variables to save")
        graphs = {v.graph for v in self._vars.values()}
        if len(graphs) > 1:
            raise ValueError("Saver's variables come from more than one graph.")
        self._graph = graphs.pop() if graphs else get_default_graph()

    @property
    def last_checkpoints(self) -> list[str]:
        """Checkpoints this Saver still keeps, oldest first."""
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time: list[tuple[str, float]]) -> None:
        self._last_checkpoints = list(last_checkpoints_with_time)

    def recover_last_checkpoints(self, checkpoint_paths: list[str]) -> None:
        """Adopts existing checkpoints (e.g. after a restart) so ``max_to_keep`` counts them."""
        now = time.time()
        self._last_checkpoints = [(p, now) for p in checkpoint_paths if checkpoint_exists(p)]

    # -- save ----------------------------------------------------------------------------------
    def save(
        self,
        sess: Any,
        save_path: str,
        global_step: Any = None,
        latest_filename: str | None = None,
        meta_graph_suffix: str = "meta",
        write_meta_graph: bool = True,
        write_state: bool = True,
        strip_default_attrs: bool = False,
        save_debug_info: bool = False,
    ) -> str | None:
        """Writes a checkpoint of the variables' values in ``sess``; returns its path prefix.

        With ``global_step`` the prefix is ``save_path-<step>``. The ``checkpoint`` state file in the
        same directory then lists this checkpoint last; ``max_to_keep`` deletes the oldest beyond it.
        No ``.meta`` file is written (flowgraph has no MetaGraphDef): ``write_meta_graph`` and the
        other MetaGraph arguments are accepted for TF1 compatibility only.
        """
        if self._vars is None:
            raise RuntimeError("`build()` should be called before save if defer_build==True")
        rt = _runtime_of(sess)
        if latest_filename is None:
            latest_filename = _STATE_FILENAME
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        if global_step is not None:
            if not isinstance(global_step, int | np.integer):
                from flowgraph.train.training_util import global_step as _step_value

                global_step = _step_value(sess, global_step)
            fmt = "%s-%08d" if self._pad_step_number else "%s-%d"
            checkpoint_file = fmt % (save_path, int(global_step))
        else:
            checkpoint_file = save_path
            if os.path.basename(save_path) == latest_filename:
                raise ValueError(f"'latest_filename' collides with 'save_path': '{latest_filename}' and '{save_path}'")
        save_dir = os.path.dirname(save_path)
        if save_dir and not os.path.isdir(save_dir):
            raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.")
        if not self._vars:
            return None
        if sess.graph is not self._graph:
            raise ValueError("The Session's graph is not the graph of the variables this Saver saves.")

        store = rt.variables
        values = {}
        for name, var in self._vars.items():
            try:
                value = store[var.op]
            except KeyError:
                raise uninitialized_error(var.op) from None
            values[name] = np.asarray(rt.to_host(value))
        write_checkpoint(checkpoint_file, values)

        if write_state:
            self._record_last_checkpoint(checkpoint_file)
            update_checkpoint_state(
                save_dir,
                checkpoint_file,
                self.last_checkpoints,
                latest_filename,
                all_model_checkpoint_timestamps=[t for _, t in self._last_checkpoints] or None,
            )
            self._maybe_delete_old_checkpoints(meta_graph_suffix)
        return checkpoint_file

    def _record_last_checkpoint(self, path: str) -> None:
        if not self._max_to_keep:
            return
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != path]
        self._last_checkpoints.append((path, time.time()))
        if len(self._last_checkpoints) > self._max_to_keep:
            self._checkpoints_to_be_deleted.append(self._last_checkpoints.pop(0))

    def _maybe_delete_old_checkpoints(self, meta_graph_suffix: str) -> None:
        while self._checkpoints_to_be_deleted:
            path, saved_at = self._checkpoints_to_be_deleted.pop(0)
            if saved_at > self._next_checkpoint_time:  # keep one every keep_checkpoint_every_n_hours
                self._next_checkpoint_time += self._keep_every_s
                continue
            remove_checkpoint(path, meta_graph_suffix=meta_graph_suffix)

    # -- restore -------------------------------------------------------------------------------
    def restore(self, sess: Any, save_path: str) -> None:
        """Loads every variable of this Saver from checkpoint ``save_path`` into ``sess``.

        All names, shapes and dtypes are checked and all arrays read before any variable changes:
        a missing name (NotFoundError), a shape or dtype mismatch (InvalidArgumentError) or a
        damaged file (DataLossError) leaves the session's variables as they were.
        """
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        if self._vars is None:
            raise RuntimeError("`build()` should be called before restore if defer_build==True")
        rt = _runtime_of(sess)
        if self._vars and sess.graph is not self._graph:
            raise ValueError("The Session's graph is not the graph of the variables this Saver restores.")
        save_path = os.fspath(save_path)
        if not checkpoint_exists(save_path):
            raise ValueError(f"The passed save_path is not a valid checkpoint: {save_path}")
        reader = CheckpointReader(save_path)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
        for name, var in self._vars.items():
            if name not in shapes:
                raise NotFoundError(
                    None,
                    var.op,
                    f"Key {name} not found in checkpoint {save_path} (variable {var.op.name}, created at "
                    f"{var.op.location}). The checkpoint holds: {', '.join(sorted(shapes)) or 'nothing'}.",
                )
            if dtypes[name] is not var.dtype:
                raise InvalidArgumentError(
                    None,
                    var.op,
                    f"tensor_name = {name}; expected dtype {var.dtype.name} does not equal original dtype "
                    f"{dtypes[name].name} in checkpoint {save_path} (variable {var.op.name}).",
                )
            if not var.shape.is_compatible_with(shapes[name]) and not (
                self._reshape and var.shape.num_elements() == int(np.prod(shapes[name], dtype=np.int64))
            ):
                raise InvalidArgumentError(
                    None,
                    var.op,
                    f"Restoring variable {var.op.name} from tensor {name} of checkpoint {save_path}: Assign requires "
                    f"shapes of both tensors to match. lhs shape= {var.shape.as_list()} rhs shape= {shapes[name]}",
                )
        arrays = reader.read(list(self._vars))
        store = rt.variables
        for name, var in self._vars.items():
            value = arrays[name]
            if var.shape.is_fully_defined() and tuple(var.shape.as_list()) != value.shape:
                value = value.reshape(var.shape.as_list())  # reshape=True
            store[var.op] = rt.runtime_of(var.op).to_device(value)  # onto the variable's own device
