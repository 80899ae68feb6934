"""Step 55: CNN mechanics (1): how big is the output of a convolution?

A convolution slides a KH x KW filter over an H x W image. Two knobs change
the output size:

- padding P: a border of P zeros around the image (keeps edge pixels in play,
  and with P = (K - 1) / 2 keeps the size unchanged),
- stride S: how far the filter moves between two positions.

Along one axis the filter fits at (H + 2P - K) / S + 1 positions, rounded
down (``dezero.utils.get_conv_outsize``). Pooling windows follow the same rule.
Each line below compares the formula with the shape ``F.conv2d`` produces.
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dezero.functions as F
from dezero.utils import get_conv_outsize


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    H, W = 4, 4
    KH, KW = 3, 3
    SH, SW = 1, 1
    PH, PW = 1, 1
    OH = get_conv_outsize(H, KH, SH, PH)
    OW = get_conv_outsize(W, KW, SW, PW)
    print(f"input {H}x{W}, kernel {KH}x{KW}, stride {SH}, pad {PH} -> output {OH}x{OW}")

    print(f"{'H':>4} {'K':>3} {'S':>3} {'P':>3} | {'formula':>7} {'conv2d':>7}")
    table = []
    for h, k, s, p in [
        (4, 3, 1, 1),
        (4, 3, 1, 0),
        (7, 3, 2, 0),
        (7, 3, 2, 1),
        (28, 5, 1, 0),
        (224, 7, 2, 3),
        (8, 2, 2, 0),
        (5, 5, 1, 2),
    ]:
        x = np.zeros((1, 1, h, h), dtype=np.float32)
        w = np.zeros((1, 1, k, k), dtype=np.float32)
        actual = F.conv2d(x, w, stride=s, pad=p).shape[2]
        formula = get_conv_outsize(h, k, s, p)
        table.append([h, k, s, p, formula, actual])
        flag = "" if formula == actual else "  MISMATCH"
        print(f"{h:>4} {k:>3} {s:>3} {p:>3} | {formula:>7} {actual:>7}{flag}")

    x = np.zeros((1, 1, 7, 7), dtype=np.float32)
    y = F.pooling(x, kernel_size=2, stride=2)
    print(
        f"max pooling 2x2, stride 2 on 7x7: {y.shape[2]}x{y.shape[3]} "
        f"(formula: {get_conv_outsize(7, 2, 2, 0)}; the last row and column are dropped)"
    )

    return {"output": [OH, OW], "table": table, "pooled": y.shape}


if __name__ == "__main__":
    main()
