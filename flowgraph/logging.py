"""TF1's ``tf.logging`` on top of Python's ``logging``, under the logger named ``flowgraph``.

Being an ordinary stdlib logger lets users configure it the usual way (handlers,
levels, ``logging.basicConfig``, pytest's ``caplog``).  So that messages are still
visible in a bare script, a fallback handler prints to stderr in TF1's
``INFO:flowgraph:message`` format, but only while no other handler anywhere up the
logger hierarchy would receive the record, so configuring logging never duplicates lines.

(The absolute ``import logging`` below is the standard library, not this module.)
"""

from __future__ import annotations

import logging as _logging
import sys
import threading
from typing import Any, Dict, Tuple, Union

DEBUG = _logging.DEBUG
INFO = _logging.INFO
WARN = _logging.WARN
ERROR = _logging.ERROR
FATAL = _logging.FATAL

_LOGGER_NAME = "flowgraph"
_DEFAULT_FORMAT = "%(levelname)s:%(name)s:%(message)s"


class _FallbackHandler(_logging.StreamHandler):
    """Writes to the current ``sys.stderr`` only when no other handler would see the record."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(_logging.Formatter(_DEFAULT_FORMAT))

    @property
    def stream(self) -> Any:  # looked up on each emit so redirected/captured stderr is honoured
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass

    def _others_configured(self, logger: _logging.Logger) -> bool:
        current: Any = logger
        while current is not None:
            if any(h is not self for h in current.handlers):
                return True
            if not current.propagate:
                return False
            current = current.parent
        return False

    def handle(self, record: _logging.LogRecord) -> bool:
        if self._others_configured(_logging.getLogger(record.name)):
            return False
        return super().handle(record)


_logger = _logging.getLogger(_LOGGER_NAME)
if not any(isinstance(h, _FallbackHandler) for h in _logger.handlers):
    _logger.addHandler(_FallbackHandler())


def get_logger() -> _logging.Logger:
    """The ``flowgraph`` logger (TF's ``tf.get_logger``)."""
    return _logger


def set_verbosity(v: Union[int, str]) -> None:
    """Sets the threshold below which messages are dropped (e.g. ``INFO``)."""
    _logger.setLevel(v)


def get_verbosity() -> int:
    """The effective threshold (WARN unless set here or on a parent logger)."""
    return _logger.getEffectiveLevel()


def _emit(level: int, msg: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any], depth: int) -> None:
    # ``depth`` counts this module's frames above the user's call, so records name the caller.
    kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + depth
    _logger.log(level, msg, *args, **kwargs)


def log(level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
    """Logs ``msg % args`` at ``level``."""
    _emit(level, msg, args, kwargs, 2)


def debug(msg: Any, *args: Any, **kwargs: Any) -> None:
    _emit(DEBUG, msg, args, kwargs, 2)


def info(msg: Any, *args: Any, **kwargs: Any) -> None:
    _emit(INFO, msg, args, kwargs, 2)


def warning(msg: Any, *args: Any, **kwargs: Any) -> None:
    _emit(WARN, msg, args, kwargs, 2)


def warn(msg: Any, *args: Any, **kwargs: Any) -> None:
    """TF1's older spelling of ``warning``."""
    _emit(WARN, msg, args, kwargs, 2)


def error(msg: Any, *args: Any, **kwargs: Any) -> None:
    _emit(ERROR, msg, args, kwargs, 2)


def fatal(msg: Any, *args: Any, **kwargs: Any) -> None:
    """Logs at FATAL (CRITICAL); like TF1 it does not exit the process."""
    _emit(FATAL, msg, args, kwargs, 2)


def vlog(level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
    """Logs at ``level``; TF1 spells verbose logging this way."""
    _emit(level, msg, args, kwargs, 2)


def log_if(level: int, msg: Any, condition: Any, *args: Any) -> None:
    """Logs ``msg % args`` only when ``condition`` is true."""
    if condition:
        _emit(level, msg, args, {}, 2)


_counts: Dict[Tuple[str, int], int] = {}
_counts_lock = threading.Lock()


def _next_count_for_caller() -> int:
    """How many times the call site two frames up has asked before (0 the first time)."""
    frame = sys._getframe(2)
    key = (frame.f_code.co_filename, frame.f_lineno)
    with _counts_lock:
        count = _counts.get(key, 0)
        _counts[key] = count + 1
    return count


def _check_n(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")


def log_every_n(level: int, msg: Any, n: int, *args: Any) -> None:
    """Logs on the 1st, (n+1)th, (2n+1)th... call from the same call site (file and line)."""
    _check_n(n)
    if _next_count_for_caller() % n == 0:
        _emit(level, msg, args, {}, 2)


def log_first_n(level: int, msg: Any, n: int, *args: Any) -> None:
    """Logs the first ``n`` calls from the same call site (file and line) only."""
    if _next_count_for_caller() < n:
        _emit(level, msg, args, {}, 2)


def flush() -> None:
    """Flushes every handler that would receive this logger's records."""
    current: Any = _logger
    while current is not None:
        for handler in current.handlers:
            handler.flush()
        current = current.parent if current.propagate else None


def TaskLevelStatusMessage(msg: Any) -> None:  # noqa: N802 -- TF1 spelling
    """TF1's status-message hook: logs ``msg`` at ERROR."""
    _emit(ERROR, msg, (), {}, 2)


__all__ = [
    "DEBUG",
    "ERROR",
    "FATAL",
    "INFO",
    "WARN",
    "TaskLevelStatusMessage",
    "debug",
    "error",
    "fatal",
    "flush",
    "get_logger",
    "get_verbosity",
    "info",
    "log",
    "log_every_n",
    "log_first_n",
    "log_if",
    "set_verbosity",
    "vlog",
    "warn",
    "warning",
]


def __getattr__(name: str):  # noqa: ANN202 - a clear word for TF1 names flowgraph lacks
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)
