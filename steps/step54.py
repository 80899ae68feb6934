"""Step 54: dropout, and the difference between training and testing.

Dropout zeroes each unit with probability p during training, a different
random subset at every step, so the network cannot rely on any single unit (a
cheap stand-in for averaging many networks). dezero uses *inverted* dropout:
the surviving units are scaled by 1 / (1 - p) at training time, so the
expected value of every unit is unchanged and testing needs no correction at
all: under ``dezero.test_mode()`` (``Config.train = False``) dropout is the
identity.

The same switch tells batch normalization to use its running statistics.
Below: what dropout does to a vector, then an MLP with dropout trained on the
spiral data: random in training mode, deterministic in test mode, where it is
evaluated.
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
import dezero.layers as L
from dezero.dataloaders import DataLoader
from dezero.datasets import Spiral
from dezero.models import Model
from dezero.optimizers import Adam

from _quick import options  # steps/_quick.py: the --quick and --out switches


class Net(Model):
    def __init__(self, dropout_ratio: float):
        super().__init__()
        self.dropout_ratio = dropout_ratio
        self.l1 = L.Linear(100)
        self.l2 = L.Linear(100)
        self.l3 = L.Linear(3)

    def forward(self, x):
        h = F.dropout(F.relu(self.l1(x)), self.dropout_ratio)  # identity in test mode
        h = F.dropout(F.relu(self.l2(h)), self.dropout_ratio)
        return self.l3(h)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    np.random.seed(0)
    x = np.ones(10000, dtype=np.float32)
    y = F.dropout(x, 0.5)
    training = {"zeroed": float(np.mean(y.data == 0)), "survivor": float(y.data.max())}
    print(
        f"training mode: {np.mean(y.data == 0):.3f} of the units zeroed, survivors = {y.data.max()}, "
        f"mean {y.data.mean():.3f} (was 1.0)"
    )
    with dezero.test_mode():
        y = F.dropout(x, 0.5)
    test_identity = bool(np.array_equal(y.data, x))
    print(f"test mode: dropout returns its input unchanged: {test_identity}")

    epochs = 30 if opts.quick else 300
    train_set, test_set = Spiral(train=True), Spiral(train=False)
    np.random.seed(0)
    model = Net(dropout_ratio=0.3)
    optimizer = Adam(alpha=0.003).setup(model)
    loader = DataLoader(train_set, batch_size=30)
    for epoch in range(epochs):
        for xb, tb in loader:
            loss = F.softmax_cross_entropy(model(xb), tb)
            model.cleargrads()
            loss.backward()
            optimizer.update()

    with dezero.no_grad():
        a, b = model(test_set.data[:5]).data, model(test_set.data[:5]).data
        training_agree = bool(np.array_equal(a, b))
        print(f"training mode: two forward passes of the same input agree: {training_agree}")
        with dezero.test_mode():
            a, b = model(test_set.data[:5]).data, model(test_set.data[:5]).data
            print(f"test mode:     two forward passes of the same input agree: {np.array_equal(a, b)}")
            train_acc = F.accuracy(model(train_set.data), train_set.label).data.item()
            test_acc = F.accuracy(model(test_set.data), test_set.label).data.item()
    print(
        f"trained with dropout 0.3 for {epochs} epochs; evaluated in test mode: "
        f"accuracy train {train_acc:.3f}, test {test_acc:.3f}"
    )

    return {
        "training": training,
        "test_identity": test_identity,
        "training_agree": training_agree,
        "test_agree": bool(np.array_equal(a, b)),
        "accuracy": [train_acc, test_acc],
    }


if __name__ == "__main__":
    main()
