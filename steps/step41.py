"""Step 41: the matrix product.

y = x W with x (N, D) and W (D, H) gives y (N, H). For a scalar loss L with
upstream gradient gy = dL/dy (N, H), the chain rule elementwise works out to
two matrix products:

    dL/dx = gy W^T   (N, H)(H, D) -> (N, D)
    dL/dW = x^T gy   (D, N)(N, H) -> (D, H)

and each has exactly the shape of its input, which makes them easy to
remember. The step checks both against those formulas and against a finite
difference of one element.
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


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    rng = np.random.RandomState(0)
    x = Variable(rng.randn(2, 3))
    W = Variable(rng.randn(3, 4))
    y = F.matmul(x, W)  # also x @ W
    gy = rng.randn(2, 4)
    y.backward(grad=gy)
    print(f"x {x.shape} @ W {W.shape} -> y {y.shape}")
    print(f"x.grad.shape = {x.grad.shape}, W.grad.shape = {W.grad.shape}")
    print(f"x.grad == gy @ W.T: {np.allclose(x.grad.data, gy @ W.data.T)}")
    print(f"W.grad == x.T @ gy: {np.allclose(W.grad.data, x.data.T @ gy)}")

    # One element by finite differences: L = sum(gy * (x W)), perturb W[1, 2].
    eps = 1e-6
    W_plus, W_minus = W.data.copy(), W.data.copy()
    W_plus[1, 2] += eps
    W_minus[1, 2] -= eps
    numerical = (np.sum(gy * (x.data @ W_plus)) - np.sum(gy * (x.data @ W_minus))) / (2 * eps)
    print(f"dL/dW[1, 2]: backward {W.grad.data[1, 2]:.8f}, finite difference {numerical:.8f}")
    print(f"the @ operator builds the same graph: {np.allclose((x @ W).data, y.data)}")

    return {
        "x": x.data,
        "W": W.data,
        "gy": gy,
        "y": y.data,
        "x_grad": x.grad.data,
        "W_grad": W.grad.data,
        "numerical_W12": numerical,
    }


if __name__ == "__main__":
    main()
