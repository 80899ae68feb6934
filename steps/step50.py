"""Step 50: DataLoader, and measuring accuracy on data the model never saw.

A ``DataLoader`` does the batching of step 49 for us: it shuffles the dataset
every epoch (``shuffle=True``) and yields stacked ``(x, t)`` mini-batches, one
epoch per ``for`` loop.

Training loss alone can mislead (a model can memorize its training data), so
each epoch also evaluates on a separate test set: without recording a graph
(``dezero.no_grad()``), computing the loss and the accuracy, the fraction of
points whose highest score is the right class (``F.accuracy``).
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
from dezero.dataloaders import DataLoader
from dezero.datasets import Spiral
from dezero.models import MLP
from dezero.optimizers import SGD

from _quick import options  # steps/_quick.py: the --quick and --out switches


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    max_epoch = 30 if opts.quick else 300
    batch_size = 30
    np.random.seed(0)

    train_set = Spiral(train=True)
    test_set = Spiral(train=False)
    train_loader = DataLoader(train_set, batch_size)
    test_loader = DataLoader(test_set, batch_size, shuffle=False)
    x, t = next(iter(train_loader))
    first_batch = {"x": [x.shape, str(x.dtype)], "t": [t.shape, str(t.dtype)], "batches": len(train_loader)}
    train_loader.reset()
    print(f"one batch: x {x.shape} {x.dtype}, t {t.shape} {t.dtype}; {len(train_loader)} batches per epoch")

    model = MLP((10, 3))
    optimizer = SGD(lr=1.0).setup(model)
    history = {"train loss": [], "test loss": [], "train acc": [], "test acc": []}
    for epoch in range(max_epoch):
        sum_loss = sum_acc = 0.0
        for x, t in train_loader:
            y = model(x)
            loss = F.softmax_cross_entropy(y, t)
            acc = F.accuracy(y, t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += loss.data.item() * len(t)
            sum_acc += acc.data.item() * len(t)
        history["train loss"].append(sum_loss / len(train_set))
        history["train acc"].append(sum_acc / len(train_set))

        sum_loss = sum_acc = 0.0
        with dezero.no_grad():
            for x, t in test_loader:
                y = model(x)
                sum_loss += F.softmax_cross_entropy(y, t).data.item() * len(t)
                sum_acc += F.accuracy(y, t).data.item() * len(t)
        history["test loss"].append(sum_loss / len(test_set))
        history["test acc"].append(sum_acc / len(test_set))

        if (epoch + 1) % (max_epoch // 10) == 0:
            print(
                f"epoch {epoch + 1:3d}  train loss {history['train loss'][-1]:.4f}, "
                f"accuracy {history['train acc'][-1]:.4f}  |  test loss {history['test loss'][-1]:.4f}, "
                f"accuracy {history['test acc'][-1]:.4f}"
            )
    print(f"final test accuracy: {history['test acc'][-1]:.4f}")

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, what in zip(axes, ("loss", "acc")):
        for split in ("train", "test"):
            ax.plot(history[f"{split} {what}"], label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if what == "acc" else what)
        ax.legend()
    out = opts.path("step50_curves.png")
    fig.savefig(out, dpi=100)
    print(f"curves written to {out}")

    return {"first_batch": first_batch, "history": history, "plot": out}


if __name__ == "__main__":
    main()
