"""The error for a TF1 name flowgraph does not provide: says so, suggests close names, points to the docs."""

from __future__ import annotations

import difflib
from typing import Any

COMPAT_DOC = "docs/COMPAT.md"


def public_label(module_name: str) -> str:
    """``flowgraph.nn`` -> ``tf.nn`` (how users spell it after ``import flowgraph as tf``)."""
    return "tf" + module_name[len("flowgraph") :] if module_name.startswith("flowgraph") else module_name


def missing_attribute(module_name: str, namespace: dict[str, Any] | Any, name: str) -> AttributeError:
    """An AttributeError naming ``tf.<module>.<name>`` with the closest provided names."""
    if name.startswith("__") and name.endswith("__"):
        return AttributeError(f"module {module_name!r} has no attribute {name!r}")
    names = namespace.keys() if isinstance(namespace, dict) else dir(namespace)
    public = sorted({n for n in names if not n.startswith("_")})
    close = difflib.get_close_matches(name, public, n=3, cutoff=0.6)
    if not close:
        lowered = {n.lower(): n for n in public}
        close = [lowered[n] for n in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
    label = public_label(module_name)
    msg = f"flowgraph does not provide `{label}.{name}`."
    if close:
        msg += " Did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    msg += f" The TF1 API flowgraph covers is listed in {COMPAT_DOC}."
    err = AttributeError(msg)
    err.name = name
    return err
