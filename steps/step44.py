"""Step 44: layers that hold their parameters.

Step 43 kept four weight Variables in a list and updated each by hand. A
``Layer`` owns its parameters instead: ``Parameter`` is a Variable subclass
that marks "trainable", and assigning one (or another Layer) as an attribute
registers it. ``layer.params()`` then yields them all, and
``layer.cleargrads()`` clears them all.

``L.Linear(out_size)`` is such a layer: it holds W and b, and creates W on the
first call, once it has seen how many features the input has (a lazy layer).
The network of step 43 becomes two Linear layers; the training loop no longer
names any weight.
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dezero.functions as F
import dezero.layers as L
from dezero import Parameter

from _quick import options  # steps/_quick.py: the --quick and --out switches


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)

    layer = L.Layer()
    layer.p1 = Parameter(np.array(1.0))
    layer.p2 = Parameter(np.array(2.0))
    layer.note = np.array(3.0)  # a plain array: not a parameter
    registered = [name for name, _ in layer.named_params()]
    print("registered parameters of a bare Layer:", registered)

    np.random.seed(0)
    x = np.random.rand(100, 1)
    y = np.sin(2 * np.pi * x) + np.random.rand(100, 1)

    l1 = L.Linear(10)  # in_size is read from the first input
    l2 = L.Linear(1)
    empty_before = l1.W.data is None
    print(f"before the first call: l1.W is {'empty' if empty_before else l1.W.shape}")

    def predict(x):
        return l2(F.sigmoid(l1(x)))

    lr = 0.2
    iters = 1000 if opts.quick else 10000
    losses = []
    for i in range(iters):
        loss = F.mean_squared_error(y, predict(x))
        l1.cleargrads()
        l2.cleargrads()
        loss.backward()
        for layer in (l1, l2):
            for p in layer.params():
                p.data -= lr * p.grad.data
        losses.append(loss.data.item())
        if i == 0:
            print(f"after the first call: l1.W has shape {l1.W.shape}, l2.W has shape {l2.W.shape}")
        if i % (iters // 10) == 0 or i == iters - 1:
            print(f"iter {i:5d}: loss = {loss.data.item():.5f}")
    print(f"final loss after {iters} iterations: {loss.data.item():.5f}")

    return {
        "registered": registered,
        "empty_before": empty_before,
        "shapes": [l1.W.shape, l2.W.shape],
        "losses": losses,
    }


if __name__ == "__main__":
    main()
