"""The main demo (``make demo``): the intro graph, LeNet-5 on MNIST for one epoch, the rendered graph.

Everything runs offline: MNIST ships in data/mnist. Outputs go to out/ (graphs, checkpoint).
"""

from __future__ import annotations

import runpy
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    print("== 1. a = (b + c) * (c + 2) ==")
    runpy.run_path(str(HERE / "basic_graph.py"), run_name="__main__")

    print("\n== 2. LeNet-5 on MNIST, one epoch ==")
    import mnist_lenet5

    t0 = time.time()
    acc = mnist_lenet5.main([*mnist_lenet5.ONE_EPOCH, "--checkpoint-dir", "out/checkpoints/lenet5"])
    print(f"LeNet-5 after one epoch: test accuracy {acc:.2%} ({time.time() - t0:.0f} s)")

    print("\n== 3. The graph, rendered ==")
    if shutil.which("dot") is None:
        print("Graphviz's 'dot' is not installed, so no picture this time (see the README to install it).")
        return
    import render_graph

    render_graph.main(["--out", "out/graphs"])
    print("Pictures of the graphs are in out/graphs/ (open the .svg files in a browser).")


if __name__ == "__main__":
    main()
