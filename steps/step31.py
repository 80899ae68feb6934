"""Step 31: higher-order derivatives, part 2: the backward pass as a graph.

Every Function's backward is written with dezero Functions, on Variables. So
when it is recorded (``create_graph=True``), computing a gradient adds nodes
to the graph exactly like any forward computation. For ``y = sin(x)``:

    forward:   x -> Sin -> y
    backward:  x -> Cos -> (cos x), gy -> Mul -> gx = gy * cos(x)

Both pictures are written below. The second one is an ordinary graph with x
at its root, so its derivative, d(gx)/dx = -sin(x), is one more backward
away; this step checks that against the closed form and a finite difference.
"""

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


def function_names(v) -> list:
    """The Functions behind v, found by walking creator -> inputs -> creator ..."""
    names, pending, seen = [], [v.creator], set()
    while pending:
        func = pending.pop()
        if func is None or id(func) in seen:
            continue
        seen.add(id(func))
        names.append(type(func).__name__)
        pending.extend(x.creator for x in func.inputs)
    return sorted(names)


def draw(v, stem: str, opts) -> None:
    with open(opts.path(stem + ".dot"), "w") as f:
        f.write(get_dot_graph(v, verbose=False))
    try:
        plot_dot_graph(v, verbose=False, to_file=opts.path(stem + ".png"))
    except GraphvizNotFoundError as e:
        print(e, file=sys.stderr)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    x = Variable(np.array(1.0), name="x")
    y = F.sin(x)
    y.name = "y"
    y.backward(create_graph=True)
    gx = x.grad
    gx.name = "gx"

    print("Functions in the forward graph of y: ", function_names(y))
    print("Functions in the graph of gx = dy/dx:", function_names(gx))
    draw(y, "step31_forward", opts)
    draw(gx, "step31_backward", opts)

    x.cleargrad()  # gx is kept in our variable; x.grad must start from None again
    gx.backward()
    eps = 1e-5
    numerical = (np.cos(1.0 + eps) - np.cos(1.0 - eps)) / (2 * eps)
    print(
        f"d(gx)/dx at x = 1: {float(x.grad.data):.10f}   -sin(1) = {-np.sin(1.0):.10f}   "
        f"finite difference of cos: {numerical:.10f}"
    )
    print(f"graphs written to {opts.out}")

    return {"forward": function_names(y), "backward": function_names(gx), "second": float(x.grad.data)}


if __name__ == "__main__":
    main()
