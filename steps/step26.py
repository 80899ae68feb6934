"""Step 26: dezero draws its own graphs.

Every Variable knows its creator and every Function its inputs and outputs, so
walking back from a result visits the whole computation. ``get_dot_graph``
turns that walk into the DOT text of step 25; ``plot_dot_graph`` hands the
text to Graphviz and writes an image.

The Goldstein-Price function of step 24 makes a graph big enough to be worth
looking at. Naming Variables (``x.name = "x"``) puts the names in the picture;
``verbose=True`` adds each Variable's shape and dtype.

    python steps/step26.py [--out DIR]   # writes step26_goldstein.dot and .png
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dezero import Variable
from dezero.visualize import GraphvizNotFoundError, get_dot_graph, plot_dot_graph

from _quick import options  # steps/_quick.py: the --quick and --out switches


def goldstein(x, y):
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    return a * b


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    x = Variable(np.array(1.0), name="x")
    y = Variable(np.array(1.0), name="y")
    z = goldstein(x, y)
    z.name = "z"

    text = get_dot_graph(z, verbose=False)
    n_functions = text.count("shape=box")
    n_variables = text.count("shape=ellipse")
    print(f"the graph of z = goldstein(x, y): {n_functions} Functions, {n_variables} Variables")
    print("its first lines:")
    print("\n".join(text.splitlines()[:6]))

    dot_path = opts.path("step26_goldstein.dot")
    with open(dot_path, "w") as f:
        f.write(text)
    print(f"DOT text written to {dot_path}")
    try:
        png_path = plot_dot_graph(z, verbose=False, to_file=opts.path("step26_goldstein.png"))
        print(f"image written to {png_path}")
    except GraphvizNotFoundError as e:
        print(f"{e}\n(the .dot file above was still written)", file=sys.stderr)

    return {"n_functions": n_functions, "n_variables": n_variables, "dot": dot_path}


if __name__ == "__main__":
    main()
