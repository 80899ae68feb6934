"""Higher-order derivatives of tanh, and a picture of the graph that computes them.

Every backward pass taken with ``create_graph=True`` is itself a graph of
Functions, so it can be differentiated again. Repeating this n times gives the
n-th derivative of tanh at x = 1.0; the graph behind it grows quickly with n,
which the rendered image shows.

    python examples/tanh.py                          # derivatives 1..3, graph of the 3rd (752x1979 px)
    python examples/tanh.py --order 6 --format svg   # the book's 6th: open the SVG in a browser and zoom
    python examples/tanh.py --order 4 --out /tmp/graphs
    python examples/tanh.py --quick                  # order 2 (also: DEZERO_QUICK=1)

The graph roughly doubles with each order: as PNG the 4th is 1685x3323 px,
the 5th 3835x5435 and the 6th 9777x9851, more than most image viewers open.
For deep graphs use ``--format svg`` (or ``pdf``), which any browser shows
and zooms.
"""

import argparse
import os
import sys

import numpy as np

try:
    import dezero
except ImportError:  # run from a checkout without installing: use the repo's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
import dezero.functions as F
from dezero.visualize import GraphvizNotFoundError, plot_dot_graph

HERE = os.path.dirname(os.path.abspath(__file__))


def tanh_derivatives(x_value: float, order: int):
    """Return ``(x, [d1, ..., dn])``: the Variables of the first ``order`` derivatives."""
    x = dezero.Variable(np.array(x_value), name="x")
    g = F.tanh(x)
    g.name = "y"
    derivatives = []
    for k in range(1, order + 1):
        # create_graph=True records this backward pass so that the next
        # iteration can differentiate the gradient itself.
        g = dezero.grad(g, x, create_graph=True)
        g.name = f"d{k}y/dx{k}"
        derivatives.append(g)
    return x, derivatives


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", type=int, default=3, help="highest derivative (default 3)")
    parser.add_argument("--quick", action="store_true", help="order 2, for a fast smoke run")
    parser.add_argument("--x", type=float, default=1.0, help="where to differentiate (default 1.0)")
    parser.add_argument(
        "--format",
        choices=("png", "svg", "pdf"),
        default="png",
        help="image format (default png; svg for deep graphs, which a browser zooms)",
    )
    parser.add_argument(
        "--out", default=os.path.join(HERE, "output"), help="folder for the rendered graph (default examples/output/)"
    )
    args = parser.parse_args(argv)
    if args.quick or os.environ.get("DEZERO_QUICK") == "1":
        args.order = 2
    if args.order < 1:
        parser.error("--order must be at least 1")

    x, derivatives = tanh_derivatives(args.x, args.order)
    for k, g in enumerate(derivatives, start=1):
        print(f"order {k}: d^{k}/dx^{k} tanh(x) at x={args.x} = {float(g.data)!r}")

    last = derivatives[-1]
    path = os.path.join(args.out, f"tanh_order{args.order}.{args.format}")
    try:
        plot_dot_graph(last, verbose=False, to_file=path)
    except GraphvizNotFoundError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"graph of the order-{args.order} derivative written to {path}")
    if args.format == "png" and args.order >= 5:
        print(f"(the order-{args.order} graph is a very large PNG; add --format svg to view it in a browser)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
