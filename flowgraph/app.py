"""TF1's ``tf.app``: ``run(main)`` parses flags, then exits with ``main``'s return value.

As in TF1 (which wraps absl's ``app.run``), flags that are not defined are tolerated and
handed to ``main`` with the positional arguments, so a script can do its own parsing of
the rest.  ``app.flags`` is :mod:`flowgraph.flags`.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, List, NoReturn, Optional, Sequence

from flowgraph import flags


class UsageError(Exception):
    """Raise from ``main`` to print the usage and exit with ``exitcode`` (absl's convention)."""

    def __init__(self, message: str, exitcode: int = 1) -> None:
        super().__init__(message)
        self.exitcode = exitcode


def run(main: Optional[Callable[[List[str]], Any]] = None, argv: Optional[Sequence[str]] = None) -> NoReturn:
    """Parses ``argv`` (default ``sys.argv``) into ``flags.FLAGS`` and calls ``sys.exit(main(rest))``.

    ``rest`` is the program name followed by the arguments that were not defined flags.
    ``main`` defaults to the ``main`` function of the ``__main__`` module.  A flags error
    prints a message to stderr and exits with status 1.
    """
    if main is None:
        main = sys.modules["__main__"].main
    args = list(sys.argv if argv is None else argv)
    registry = flags.FLAGS
    try:
        remaining = registry(args, known_only=True)
    except flags.Error as exc:
        sys.stderr.write(f"FATAL Flags parsing error: {exc}\nPass --help to see help on flags.\n")
        sys.exit(1)
    try:
        sys.exit(main(remaining))
    except UsageError as exc:
        sys.stderr.write(f"{registry.get_help(args[0] if args else None)}\n\n{exc}\n")
        sys.exit(exc.exitcode)


__all__ = ["UsageError", "flags", "run"]
