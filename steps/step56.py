"""Step 56: CNN mechanics (2): channels, filters, batches, and im2col.

Real images have channels (RGB: C = 3), and a layer applies many filters at
once. The shapes of a 2-D convolution are:

    input  x  (N, C, H, W)         N images of C channels
    filter W  (OC, C, KH, KW)      OC filters, each spanning all C channels
    bias   b  (OC,)                one number per filter
    output y  (N, OC, OH, OW)      one output channel per filter

Written directly it is six nested loops (below, as a reference). Fast
implementations turn it into ONE matrix product instead: ``im2col`` copies
every KH x KW x C window into a row of a matrix (N*OH*OW rows, C*KH*KW
columns); multiplying by the filters reshaped to (C*KH*KW, OC) computes all
outputs at once, at the price of the memory the copies take.
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dezero.functions as F


def conv2d_loops(x, W, b, stride: int, pad: int):
    """The definition, loop by loop (slow; for checking only)."""
    N, C, H, Wd = x.shape
    OC, _, KH, KW = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    OH = (H + 2 * pad - KH) // stride + 1
    OW = (Wd + 2 * pad - KW) // stride + 1
    y = np.zeros((N, OC, OH, OW))
    for n in range(N):
        for oc in range(OC):
            for i in range(OH):
                for j in range(OW):
                    window = xp[n, :, i * stride : i * stride + KH, j * stride : j * stride + KW]
                    y[n, oc, i, j] = np.sum(window * W[oc]) + b[oc]
    return y


def conv2d_im2col(x, W, b, stride: int, pad: int):
    """The same convolution as one matrix product over im2col's rows."""
    N = x.shape[0]
    OC, C, KH, KW = W.shape
    col = F.im2col(x, (KH, KW), stride, pad)  # (N*OH*OW, C*KH*KW)
    OH = (x.shape[2] + 2 * pad - KH) // stride + 1
    OW = (x.shape[3] + 2 * pad - KW) // stride + 1
    y = F.matmul(col, W.reshape(OC, -1).T) + b  # (N*OH*OW, OC)
    return y.reshape(N, OH, OW, OC).transpose(0, 3, 1, 2)  # -> (N, OC, OH, OW)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    rng = np.random.RandomState(0)
    N, C, H, W_ = 2, 3, 7, 7
    OC, K = 4, 3
    x = rng.randn(N, C, H, W_)
    W = rng.randn(OC, C, K, K)
    b = rng.randn(OC)

    col = F.im2col(x, K, stride=2, pad=1)
    print(
        f"x {x.shape}, W {W.shape}: im2col (kernel 3, stride 2, pad 1) gives a {col.shape} matrix "
        f"(N*OH*OW = {N}*4*4 rows, C*KH*KW = {C}*{K}*{K} columns)"
    )

    reference = conv2d_loops(x, W, b, stride=2, pad=1)
    by_im2col = conv2d_im2col(x, W, b, stride=2, pad=1)
    by_dezero = F.conv2d(x, W, b, stride=2, pad=1)
    print(f"output shape {by_dezero.shape} = (N, OC, OH, OW)")
    print(f"im2col + matmul == six loops: {np.allclose(by_im2col.data, reference)}")
    print(f"F.conv2d        == six loops: {np.allclose(by_dezero.data, reference)}")
    rows = N * 4 * 4
    print(
        f"memory: x holds {x.size} numbers, its im2col matrix {col.size} "
        "(overlapping windows copy pixels more than once)"
    )
    print(f"im2col rows x filter columns: ({rows}, {C * K * K}) @ ({C * K * K}, {OC}) -> ({rows}, {OC})")

    return {"col_shape": col.shape, "reference": reference, "im2col": by_im2col.data, "dezero": by_dezero.data}


if __name__ == "__main__":
    main()
