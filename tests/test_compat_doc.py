"""docs/COMPAT.md is generated from the package and must match it."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _gen():
    spec = importlib.util.spec_from_file_location("gen_compat", ROOT / "scripts" / "gen_compat.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_compat_doc_is_up_to_date():
    gen = _gen()
    assert gen.DOC.read_text() == gen.render(), "docs/COMPAT.md is stale: run python scripts/gen_compat.py"


def test_compat_doc_lists_core_names():
    text = (ROOT / "docs" / "COMPAT.md").read_text()
    for name in ("`placeholder`", "`Session`", "`gradients`", "`FileWriter`"):
        assert name in text
