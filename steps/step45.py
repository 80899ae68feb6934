"""Step 45: layers of layers.

A Layer may hold other Layers, and ``params()`` walks into them, so a whole
network is one object. ``Model`` is the Layer meant to be the whole network:
subclass it, assign the sub-layers in ``__init__``, write ``forward``. Calling
the model runs forward.

``MLP((10, 1))`` is the ready-made multi-layer perceptron: one Linear per
entry of the tuple, an activation between them. ``model.plot(x)`` draws the
graph a forward pass builds, parameters labelled by name.

Both train the sine data of step 43 with the same loop, now three lines long.
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
from dezero.models import MLP, Model
from dezero.visualize import GraphvizNotFoundError

from _quick import options  # steps/_quick.py: the --quick and --out switches


class TwoLayerNet(Model):
    def __init__(self, hidden_size: int, out_size: int):
        super().__init__()
        self.l1 = L.Linear(hidden_size)  # registered as a sub-layer by assignment
        self.l2 = L.Linear(out_size)

    def forward(self, x):
        return self.l2(F.sigmoid(self.l1(x)))


def train(model, x, y, iters: int, lr: float = 0.2) -> float:
    for i in range(iters):
        loss = F.mean_squared_error(y, model(x))
        model.cleargrads()
        loss.backward()
        for p in model.params():
            p.data -= lr * p.grad.data
    return loss.data.item()


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    iters = 1000 if opts.quick else 10000
    np.random.seed(0)
    x = np.random.rand(100, 1)
    y = np.sin(2 * np.pi * x) + np.random.rand(100, 1)

    model = TwoLayerNet(10, 1)
    model(x)  # one call creates the lazy weights
    print("TwoLayerNet parameters:", [(name, p.shape) for name, p in model.named_params()])
    try:
        path = model.plot(x, to_file=opts.path("step45_two_layer_net.png"))
        print(f"its graph drawn to {path}")
    except GraphvizNotFoundError as e:
        print(e, file=sys.stderr)
    names = [(name, p.shape) for name, p in model.named_params()]
    first = train(model, x, y, iters)
    print(f"TwoLayerNet: loss after {iters} iterations = {first:.5f}")

    mlp = MLP((10, 1))
    second = train(mlp, x, y, iters)
    print(f"MLP((10, 1)):  loss after {iters} iterations = {second:.5f}")
    deep = MLP((10, 10, 1))
    print(
        f"MLP((10, 10, 1)) has {sum(1 for _ in deep.params())} parameter arrays (after a call: {deep(x).shape} output)"
    )

    return {
        "params": names,
        "losses": [first, second],
        "deep_params": sum(1 for _ in deep.params()),
        "deep_output": deep(x).shape,
        "plot": opts.path("step45_two_layer_net.png"),
    }


if __name__ == "__main__":
    main()
