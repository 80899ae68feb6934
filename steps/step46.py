"""Step 46: optimizers.

"Move each parameter against its gradient" is one rule among many. An
``Optimizer`` is set up with a model (``setup(model)``) and applies its rule
to every parameter that has a gradient on ``update()``:

    SGD          p -= lr * g
    MomentumSGD  v = momentum * v - lr * g;  p += v       (velocity per parameter)
    Adam         running means of g and g^2, bias-corrected, per parameter

Each trains the same network from the same initial weights here, so only the
rule differs. The training loop is the one every later step uses:
forward, ``cleargrads``, ``backward``, ``update``.
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dezero.functions as F
from dezero.models import MLP
from dezero.optimizers import SGD, Adam, MomentumSGD

from _quick import options  # steps/_quick.py: the --quick and --out switches


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    iters = 300 if opts.quick else 10000
    np.random.seed(0)
    x = np.random.rand(100, 1)
    y = np.sin(2 * np.pi * x) + np.random.rand(100, 1)

    results = {}
    for name, make in [
        ("SGD(lr=0.2)", lambda: SGD(lr=0.2)),
        ("MomentumSGD(lr=0.2)", lambda: MomentumSGD(lr=0.2, momentum=0.9)),
        ("Adam(alpha=0.01)", lambda: Adam(alpha=0.01)),
    ]:
        np.random.seed(1)  # the same initial weights for every optimizer
        model = MLP((10, 1))
        optimizer = make().setup(model)
        losses = []
        for i in range(iters):
            loss = F.mean_squared_error(y, model(x))
            model.cleargrads()
            loss.backward()
            optimizer.update()
            losses.append(loss.data.item())
        results[name] = losses
        print(
            f"{name:<20} loss after {iters // 10:5d} iterations: {losses[iters // 10 - 1]:.5f}, "
            f"after {iters}: {losses[-1]:.5f}"
        )

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    plt.figure(figsize=(6, 4))
    for name, losses in results.items():
        plt.plot(losses, label=name)
    plt.yscale("log")
    plt.xlabel("iteration")
    plt.ylabel("loss")
    plt.legend()
    out = opts.path("step46_optimizers.png")
    plt.savefig(out, dpi=100)
    print(f"loss curves written to {out}")

    return {"losses": results, "plot": out}


if __name__ == "__main__":
    main()
