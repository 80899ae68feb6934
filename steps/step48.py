"""Step 48: multi-class classification on the spiral data.

300 points in the plane, three interleaved spiral arms, one class per arm: no
straight line separates them, a small MLP (2 -> 10 -> 3, sigmoid) does.

Training goes by epochs and mini-batches: each epoch shuffles the data and
walks through it 30 points at a time, one update per batch. The loss is
softmax cross entropy (step 47); with SGD at lr 1.0 it falls below 0.2 within
the 300 epochs, and the decision regions follow the spirals (see the plot).
"""

import math
import os
import sys

import numpy as np

try:
    import dezero
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
import dezero.functions as F
from dezero.datasets import get_spiral
from dezero.models import MLP
from dezero.optimizers import SGD

from _quick import options  # steps/_quick.py: the --quick and --out switches


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    max_epoch = 30 if opts.quick else 300
    batch_size = 30
    lr = 1.0

    np.random.seed(0)
    x, t = get_spiral(train=True)
    model = MLP((10, 3))
    optimizer = SGD(lr).setup(model)

    data_size = len(x)
    max_iter = math.ceil(data_size / batch_size)
    history = []
    for epoch in range(max_epoch):
        index = np.random.permutation(data_size)  # a new order every epoch
        sum_loss = 0.0
        for i in range(max_iter):
            batch_index = index[i * batch_size : (i + 1) * batch_size]
            batch_x, batch_t = x[batch_index], t[batch_index]

            loss = F.softmax_cross_entropy(model(batch_x), batch_t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += loss.data.item() * len(batch_t)
        avg_loss = sum_loss / data_size
        history.append(avg_loss)
        if (epoch + 1) % (max_epoch // 10) == 0:
            print(f"epoch {epoch + 1:3d}, loss {avg_loss:.4f}")

    with dezero.no_grad():
        accuracy = F.accuracy(model(x), t).data.item()
    print(f"final loss {history[-1]:.4f}, training accuracy {accuracy:.3f}")

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    ax0.plot(np.arange(1, max_epoch + 1), history)
    ax0.set_xlabel("epoch")
    ax0.set_ylabel("loss")
    h = 0.01
    xx, yy = np.meshgrid(np.arange(-1.1, 1.1, h), np.arange(-1.1, 1.1, h))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    with dezero.no_grad():
        regions = model(grid).data.argmax(axis=1).reshape(xx.shape)
    colors = ["tab:blue", "tab:orange", "tab:green"]
    ax1.contourf(xx, yy, regions, levels=[-0.5, 0.5, 1.5, 2.5], colors=colors, alpha=0.25)
    for c, marker in zip(range(3), "ox^"):
        ax1.scatter(x[t == c, 0], x[t == c, 1], marker=marker, s=20, color=colors[c])
    ax1.set_title("decision regions")
    out = opts.path("step48_spiral.png")
    fig.savefig(out, dpi=100)
    print(f"loss curve and decision regions written to {out}")

    return {"history": history, "accuracy": accuracy, "plot": out}


if __name__ == "__main__":
    main()
