"""The main demo (``make demo``): the intro graph, then whatever the later demos add."""

import runpy
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    print("== a = (b + c) * (c + 2) ==")
    runpy.run_path(str(HERE / "basic_graph.py"), run_name="__main__")
