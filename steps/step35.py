"""Step 35: the graphs behind higher derivatives of tanh.

tanh'(x) = 1 - tanh(x)^2, and every further derivative is a polynomial in
tanh(x) of growing degree. dezero never writes those polynomials down: each
backward with ``create_graph=True`` adds the nodes that compute the next
derivative. The graph behind the n-th derivative therefore grows quickly with
n, which the drawing of the last one shows (order 6 by default, 3 with
--quick; ``--order`` to choose).

The first two derivatives are checked against 1 - t^2 and -2t(1 - t^2),
t = tanh(1).
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


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(
        __doc__,
        extra=lambda p: p.add_argument(
            "--order", type=int, default=None, help="highest derivative to draw (default 6, 3 with --quick)"
        ),
    )
    order = opts.order or (3 if opts.quick else 6)

    x = Variable(np.array(1.0), name="x")
    y = F.tanh(x)
    y.name = "y"
    values = []
    for k in range(1, order + 1):
        y.backward(create_graph=True)
        gx = x.grad
        x.cleargrad()
        gx.name = f"gx{k}"
        text = get_dot_graph(gx, verbose=False)
        print(f"order {k}: value {float(gx.data): .10f}, graph of {text.count('shape=box')} Functions")
        values.append(float(gx.data))
        y = gx

    t = np.tanh(1.0)
    print(f"closed forms: 1 - t^2 = {1 - t * t:.10f}, -2t(1 - t^2) = {-2 * t * (1 - t * t):.10f}")

    stem = f"step35_tanh_order{order}"
    with open(opts.path(stem + ".dot"), "w") as f:
        f.write(text)
    try:
        plot_dot_graph(gx, verbose=False, to_file=opts.path(stem + ".png"))
        print(f"graph of the order-{order} derivative drawn to {opts.path(stem + '.png')}")
    except GraphvizNotFoundError as e:
        print(f"{e}\n(the DOT text is in {opts.path(stem + '.dot')})", file=sys.stderr)

    return {"order": order, "values": values, "dot": opts.path(stem + ".dot")}


if __name__ == "__main__":
    main()
