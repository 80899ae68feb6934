"""Step 49: the Dataset class.

Step 48 sliced two arrays by hand. A ``Dataset`` puts the data behind one
interface: ``len(dataset)`` and ``dataset[i] -> (x_i, t_i)``. Training code
then no longer cares where items come from: arrays in memory (Spiral), files
read one at a time (a dataset too big for memory overrides ``__getitem__``),
or generated on the fly.

A dataset may also transform each item as it is fetched
(``transform=``, ``target_transform=``): scaling, flattening, augmenting. The
spiral training loop of step 48 is repeated with a Dataset, building each
mini-batch from ``dataset[i]`` items.
"""

import math
import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dezero.functions as F
from dezero.datasets import Dataset, Spiral
from dezero.models import MLP
from dezero.optimizers import SGD

from _quick import options  # steps/_quick.py: the --quick and --out switches


class Squares(Dataset):
    """A dataset of our own: x = i / n, target x^2. ``prepare`` fills data and label."""

    def __init__(self, n: int = 8, **kwargs):
        self.n = n
        super().__init__(**kwargs)

    def prepare(self):
        self.data = (np.arange(self.n, dtype=np.float32) / self.n)[:, np.newaxis]
        self.label = self.data[:, 0] ** 2


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    train_set = Spiral(train=True)
    x0, t0 = train_set[0]
    print(f"{train_set!r}: len {len(train_set)}, item 0 = (x {x0.tolist()}, t {t0})")

    halved = Spiral(train=True, transform=lambda x: x / 2)  # applied per item, on access
    print(f"with transform=x/2, item 0 = {halved[0][0].tolist()}")

    squares = Squares(4)
    items = [squares[i] for i in range(len(squares))]
    custom = [(float(x[0]), float(t)) for x, t in items]
    print("a custom Dataset:", custom)

    np.random.seed(0)
    max_epoch = 30 if opts.quick else 300
    batch_size = 30
    model = MLP((10, 3))
    optimizer = SGD(lr=1.0).setup(model)
    data_size = len(train_set)
    max_iter = math.ceil(data_size / batch_size)
    history = []
    for epoch in range(max_epoch):
        index = np.random.permutation(data_size)
        sum_loss = 0.0
        for i in range(max_iter):
            batch = [train_set[int(j)] for j in index[i * batch_size : (i + 1) * batch_size]]
            batch_x = np.array([x for x, _ in batch])  # stack the items into one array
            batch_t = np.array([t for _, t in batch])

            loss = F.softmax_cross_entropy(model(batch_x), batch_t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += loss.data.item() * len(batch_t)
        history.append(sum_loss / data_size)
        if (epoch + 1) % (max_epoch // 10) == 0:
            print(f"epoch {epoch + 1:3d}, loss {sum_loss / data_size:.4f}")
    print(f"final loss {sum_loss / data_size:.4f}")

    return {
        "length": len(train_set),
        "item0": [x0, int(t0)],
        "halved0": halved[0][0],
        "custom": custom,
        "history": history,
    }


if __name__ == "__main__":
    main()
