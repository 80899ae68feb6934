"""Step 34: the derivatives of sin, to any order.

Repeating "backward with create_graph, take x.grad, clear it" walks down the
chain sin -> cos -> -sin -> -cos. x here holds 200 points at once: an
elementwise function works on a whole array (step 37 says more), and a
backward seeded with ones gives each point its own derivative.

The curves are plotted and compared with the closed forms.
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

from _quick import options  # steps/_quick.py: the --quick and --out switches


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    x = Variable(np.linspace(-7, 7, 200))
    y = F.sin(x)
    curves = [y.data]
    order = 3
    for i in range(order):
        y.backward(create_graph=True)
        gx = x.grad
        x.cleargrad()
        curves.append(gx.data)
        y = gx  # the next derivative is the derivative of this one

    closed_forms = [np.sin, np.cos, lambda t: -np.sin(t), lambda t: -np.cos(t)]
    names = ["y = sin(x)", "y'", "y''", "y'''"]
    errors = []
    for k in range(1, order + 1):
        error = np.max(np.abs(curves[k] - closed_forms[k](x.data)))
        errors.append(float(error))
        print(f"order {k}: max |{names[k]} - closed form| over 200 points = {error:.1e}")

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    plt.figure(figsize=(7, 4))
    for curve, name in zip(curves, names):
        plt.plot(x.data, curve, label=name)
    plt.legend(loc="lower right")
    plt.xlabel("x")
    plt.title("sin and its first three derivatives")
    out = opts.path("step34_sin_derivatives.png")
    plt.savefig(out, dpi=100)
    print(f"plot written to {out}")

    return {"errors": errors, "plot": out}


if __name__ == "__main__":
    main()
