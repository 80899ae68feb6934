"""Step 27: the Taylor series of sin, differentiated through a Python loop.

Around 0, sin x = x - x^3/3! + x^5/5! - ... = sum_i (-1)^i x^(2i+1) / (2i+1)!.
``my_sin`` adds terms until the last one is smaller than a threshold. The loop
and the ``if`` are plain Python: the graph records only the operations that
actually ran (define-by-run), so backward differentiates exactly the
polynomial that was evaluated, and its gradient approximates cos x.

A smaller threshold runs more iterations and builds a deeper graph; both
graphs are written as DOT (and PNG when Graphviz is installed; with --quick
only the small one is rendered).
"""

import math
import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dezero.functions as F
from dezero import Variable
from dezero.visualize import GraphvizNotFoundError, get_dot_graph, plot_dot_graph

from _quick import options  # steps/_quick.py: the --quick and --out switches


def my_sin(x, threshold: float = 1e-4):
    """sin x by its Taylor series; returns (value, number of terms used)."""
    y = 0
    for i in range(100000):
        c = (-1) ** i / math.factorial(2 * i + 1)  # a Python float: a constant, not a graph node
        t = c * x ** (2 * i + 1)
        y = y + t
        if abs(t.data) < threshold:
            return y, i + 1
    return y, i + 1


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    x0 = np.pi / 4
    results = {}
    for threshold in (1e-4, 1e-150):
        x = Variable(np.array(x0), name="x")
        y, n_terms = my_sin(x, threshold)
        y.name = "y"
        y.backward()
        n_functions = get_dot_graph(y).count("shape=box")
        results[f"{threshold:g}"] = {
            "terms": n_terms,
            "functions": n_functions,
            "sin": float(y.data),
            "cos": float(x.grad.data),
        }
        print(f"threshold {threshold:g}: {n_terms} terms, {n_functions} Functions in the graph")
        print(f"  my_sin(pi/4) = {float(y.data):.16f}   error {abs(float(y.data) - np.sin(x0)):.1e}")
        print(
            f"  d/dx         = {float(x.grad.data):.16f}   error {abs(float(x.grad.data) - np.cos(x0)):.1e}"
            "  (against cos(pi/4))"
        )
        stem = f"step27_my_sin_{threshold:g}".replace("-", "m")
        with open(opts.path(stem + ".dot"), "w") as f:
            f.write(get_dot_graph(y, verbose=False))
        if opts.quick and n_terms > 10:
            continue  # laying out the deep graph takes Graphviz seconds: .dot only
        try:
            plot_dot_graph(y, verbose=False, to_file=opts.path(stem + ".png"))
        except GraphvizNotFoundError as e:
            print(e, file=sys.stderr)

    x = Variable(np.array(x0))
    y = F.sin(x)
    y.backward()
    print(f"F.sin, one Function: sin(pi/4) = {float(y.data):.16f}, d/dx = {float(x.grad.data):.16f}")
    print(f"graphs written to {opts.out}")

    results["F.sin"] = {"sin": float(y.data), "cos": float(x.grad.data)}
    return results


if __name__ == "__main__":
    main()
