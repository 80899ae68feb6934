"""Step 36: double backprop beyond higher derivatives.

A gradient recorded with ``create_graph=True`` is an ordinary Variable, so it
can appear inside any further computation, and that computation can be
differentiated:

1. z = (dy/dx)^3 + y with y = x^2: z = 8x^3 + x^2, dz/dx = 24x^2 + 2x = 100
   at x = 2. The gradient dy/dx = 2x enters z as a function of x.
2. Hessian-vector products: for f(x) = 1/2 x^T A x the gradient is A x, and
   the gradient of (grad f . v) is H v = A v (A symmetric). Newton-type
   optimizers (and gradient penalties in GAN training) use this trick: H v
   costs two backward passes, never the whole Hessian.
"""

import os
import sys

import numpy as np

try:
    import dezero
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
import dezero.functions as F
from dezero import Variable


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0))
    y = x**2
    y.backward(create_graph=True)
    gx = x.grad
    x.cleargrad()
    z = gx**3 + y
    z.backward()
    penalty = [float(z.data), float(x.grad.data)]
    print(
        f"z = (dy/dx)^3 + y at x = 2: z = {float(z.data)}, dz/dx = {float(x.grad.data)}   (by hand: 24x^2 + 2x = 100)"
    )

    rng = np.random.RandomState(0)
    M = rng.randn(4, 4)
    A = M + M.T  # symmetric: the Hessian of 1/2 x^T A x
    v = rng.randn(4)
    x = Variable(rng.randn(4))
    f = 0.5 * F.sum(x * F.matmul(A, x))
    g = dezero.grad(f, x, create_graph=True)  # A x, with its graph
    hv = dezero.grad(F.sum(g * v), x)  # d/dx (A x . v) = A v
    print(f"gradient equals A x: {np.allclose(g.data, A @ x.data)}")
    print(f"Hessian-vector product: {np.round(hv.data, 6)}")
    print(f"A @ v:                  {np.round(A @ v, 6)}")
    print(f"H v matches A @ v: {np.allclose(hv.data, A @ v)}")

    return {"penalty": penalty, "A": A, "x": x.data, "v": v, "gradient": g.data, "hessian_vector": hv.data}


if __name__ == "__main__":
    main()
