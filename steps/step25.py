"""Step 25: drawing graphs with DOT and Graphviz.

DOT is a small text language for graphs; Graphviz's ``dot`` program lays such
a text out and renders it (``dot in.dot -T png -o out.png``). A graph is a
list of nodes, each with an id and attributes, and a list of edges ``a -> b``.

Here the graph of ``y = exp(x)`` is written by hand in the style dezero will
use in the next step: data (Variables) as orange ellipses, operations
(Functions) as blue boxes, arrows in the direction the data flows.

    python steps/step25.py [--out DIR]     # writes step25_exp.dot and .png
"""

import os
import shutil
import subprocess
import sys

from _quick import options  # steps/_quick.py: the --quick and --out switches

DOT_TEXT = """\
digraph g {
  x [label="x", shape=ellipse, style=filled, fillcolor="#fbe3c2"];
  y [label="y", shape=ellipse, style=filled, fillcolor="#fbe3c2"];
  f [label="Exp", shape=box, style=filled, fillcolor="#cfe2f3"];
  x -> f;
  f -> y;
}
"""


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    print("A graph in the DOT language:")
    print(DOT_TEXT)
    dot_path = opts.path("step25_exp.dot")
    with open(dot_path, "w") as f:
        f.write(DOT_TEXT)
    print(f"DOT text written to {dot_path}")

    dot = shutil.which("dot")
    if dot is None:
        print(
            "Graphviz's `dot` program is not installed (apt-get install graphviz / "
            "brew install graphviz), so no image was rendered; the .dot file can be "
            "rendered later or pasted into any online Graphviz viewer.",
            file=sys.stderr,
        )
    else:
        png_path = opts.path("step25_exp.png")
        subprocess.run([dot, dot_path, "-T", "png", "-o", png_path], check=True)
        print(f"rendered with `dot {os.path.basename(dot_path)} -T png -o {os.path.basename(png_path)}` to {png_path}")
    return {"dot": dot_path, "rendered": dot is not None}


if __name__ == "__main__":
    main()
