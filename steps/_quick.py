"""The two command-line switches shared by the steps that train or draw.

    python steps/step48.py                 # the real thing
    python steps/step48.py --quick         # fewer epochs, smaller sizes (also DEZERO_QUICK=1)
    python steps/step48.py --out /tmp/p    # where plots go (also DEZERO_OUTPUT=/tmp/p)

Plots and graph files go to ``steps/output/`` unless told otherwise; the folder
is created the first time a step writes into it. Nothing here is part of
dezero: it only keeps sixty scripts from repeating the same argparse lines.
"""

import argparse
import os

HERE = os.path.dirname(os.path.abspath(__file__))


class Options:
    """``quick``: shrink the run; ``out``: the output folder; ``path(name)``: a file in it."""

    def __init__(self, quick: bool, out: str):
        self.quick = quick
        self.out = out

    def path(self, name: str) -> str:
        os.makedirs(self.out, exist_ok=True)
        return os.path.join(self.out, name)


def options(doc=None, argv=None, extra=None) -> Options:
    """Parse ``--quick`` and ``--out``; the environment variables are the fallback.

    ``extra(parser)``, if given, adds a step's own arguments; their values are
    copied onto the returned object.
    """
    description = doc.strip().splitlines()[0] if doc else None
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="shrink epochs and sizes for a fast smoke run (or set DEZERO_QUICK=1)"
    )
    parser.add_argument(
        "--out", default=None, help="folder for plots and graphs (default: $DEZERO_OUTPUT or steps/output/)"
    )
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("DEZERO_QUICK", "") not in ("", "0")
    out = args.out or os.environ.get("DEZERO_OUTPUT") or os.path.join(HERE, "output")
    opts = Options(quick, os.path.abspath(out))
    for name, value in vars(args).items():
        if name not in ("quick", "out"):
            setattr(opts, name, value)
    return opts
