"""tf.logging on the stdlib logger named "flowgraph", checked through caplog."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowgraph import logging as tf_logging

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _restore_verbosity():
    logger = logging.getLogger("flowgraph")
    level = logger.level
    yield
    logger.setLevel(level)


def _records(caplog):
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "flowgraph"]


def test_module_is_not_shadowing_stdlib():
    assert tf_logging.__name__ == "flowgraph.logging"
    assert logging.__name__ == "logging"
    assert tf_logging.get_logger() is logging.getLogger("flowgraph")


def test_level_constants_are_pythons():
    assert (tf_logging.DEBUG, tf_logging.INFO, tf_logging.WARN, tf_logging.ERROR, tf_logging.FATAL) == (
        logging.DEBUG,
        logging.INFO,
        logging.WARNING,
        logging.ERROR,
        logging.CRITICAL,
    )


def test_set_and_get_verbosity(caplog):
    tf_logging.set_verbosity(tf_logging.ERROR)
    assert tf_logging.get_verbosity() == logging.ERROR
    with caplog.at_level(logging.DEBUG):  # root level only; the flowgraph threshold still applies
        tf_logging.warning("dropped")
        tf_logging.error("kept")
    assert _records(caplog) == [(logging.ERROR, "kept")]
    tf_logging.set_verbosity(tf_logging.DEBUG)
    assert tf_logging.get_verbosity() == logging.DEBUG


def test_each_level_function(caplog):
    tf_logging.set_verbosity(tf_logging.DEBUG)
    tf_logging.debug("d %d", 1)
    tf_logging.info("i %s", "two")
    tf_logging.warn("w")
    tf_logging.warning("w2")
    tf_logging.error("e")
    tf_logging.fatal("f")  # logs, does not exit
    tf_logging.log(tf_logging.INFO, "l %d", 3)
    tf_logging.vlog(tf_logging.WARN, "v")
    assert _records(caplog) == [
        (logging.DEBUG, "d 1"),
        (logging.INFO, "i two"),
        (logging.WARNING, "w"),
        (logging.WARNING, "w2"),
        (logging.ERROR, "e"),
        (logging.CRITICAL, "f"),
        (logging.INFO, "l 3"),
        (logging.WARNING, "v"),
    ]


def test_records_point_at_the_caller(caplog):
    tf_logging.set_verbosity(tf_logging.INFO)
    tf_logging.info("where")
    tf_logging.log_if(tf_logging.INFO, "where2", True)
    for record in caplog.records:
        assert record.filename == "test_logging.py"
        assert record.funcName == "test_records_point_at_the_caller"


def test_log_if(caplog):
    tf_logging.set_verbosity(tf_logging.INFO)
    tf_logging.log_if(tf_logging.INFO, "yes %d", True, 1)
    tf_logging.log_if(tf_logging.INFO, "no %d", 0, 2)
    assert _records(caplog) == [(logging.INFO, "yes 1")]


def test_log_every_n_counts_per_call_site(caplog):
    tf_logging.set_verbosity(tf_logging.INFO)
    for i in range(7):
        tf_logging.log_every_n(tf_logging.INFO, "A%d", 3, i)
    for i in range(3):
        tf_logging.log_every_n(tf_logging.INFO, "B%d", 2, i)  # a separate counter
    assert [m for _, m in _records(caplog)] == ["A0", "A3", "A6", "B0", "B2"]
    with pytest.raises(ValueError):
        tf_logging.log_every_n(tf_logging.INFO, "bad", 0)


def test_log_first_n(caplog):
    tf_logging.set_verbosity(tf_logging.INFO)

    def helper(i):
        tf_logging.log_first_n(tf_logging.WARN, "first %d", 2, i)

    for i in range(5):
        helper(i)  # one call site, reached five times
    assert _records(caplog) == [(logging.WARNING, "first 0"), (logging.WARNING, "first 1")]


def test_task_level_status_message_and_flush(caplog):
    tf_logging.TaskLevelStatusMessage("status")
    tf_logging.flush()
    assert _records(caplog) == [(logging.ERROR, "status")]


def _run(code):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def test_default_handler_prints_tf_format_when_unconfigured():
    done = _run(
        "from flowgraph import logging as L\n"
        "L.info('hidden by default')\n"
        "L.set_verbosity(L.INFO)\n"
        "L.info('hello %s', 'there')\n"
        "L.fatal('bad')\n"
    )
    assert done.returncode == 0  # fatal does not exit
    assert done.stderr.splitlines() == ["INFO:flowgraph:hello there", "CRITICAL:flowgraph:bad"]


def test_user_configuration_replaces_default_output():
    done = _run(
        "import logging\n"
        "logging.basicConfig(format='custom|%(name)s|%(message)s')\n"
        "from flowgraph import logging as L\n"
        "L.warning('once')\n"
    )
    assert done.stderr.splitlines() == ["custom|flowgraph|once"]  # not duplicated by the fallback
