"""Classify the three arms of the spiral data with an MLP and draw its decision regions.

    python examples/spiral.py                 # 300 epochs of SGD, ~97 % training accuracy
    python examples/spiral.py --quick         # 20 epochs (also DEZERO_QUICK=1)
    python examples/spiral.py --hidden 30 --lr 0.5 --out /tmp/spiral

Writes ``spiral_boundary.png`` (the regions each class wins, with the training
points on top, and the loss curve) into the output folder (default
examples/output/).
"""

import argparse
import os
import sys

import numpy as np

try:
    import dezero
except ImportError:  # run from a checkout without installing: use the repo's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
import dezero.functions as F
from dezero.dataloaders import DataLoader
from dezero.datasets import Spiral
from dezero.models import MLP
from dezero.optimizers import SGD

HERE = os.path.dirname(os.path.abspath(__file__))


def train(model, optimizer, loader, epochs: int, log_every: int):
    history = []
    for epoch in range(1, epochs + 1):
        sum_loss = 0.0
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += loss.data.item() * len(t)
        history.append(sum_loss / len(loader.dataset))
        if epoch % log_every == 0 or epoch == epochs:
            print(f"epoch {epoch:3d}  loss {history[-1]:.4f}")
    return history


def plot(model, dataset, history, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    x, t = dataset.data, dataset.label
    xx, yy = np.meshgrid(np.linspace(-1.1, 1.1, 300), np.linspace(-1.1, 1.1, 300))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    with dezero.no_grad():
        regions = model(grid).data.argmax(axis=1).reshape(xx.shape)

    colors = ["tab:blue", "tab:orange", "tab:green"]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4.5))
    ax0.contourf(xx, yy, regions, levels=[-0.5, 0.5, 1.5, 2.5], colors=colors, alpha=0.25)
    for c, marker in enumerate("ox^"):
        ax0.scatter(x[t == c, 0], x[t == c, 1], s=18, marker=marker, color=colors[c], label=f"class {c}")
    ax0.set_aspect("equal")
    ax0.legend(loc="lower right", fontsize=8)
    ax0.set_title("decision regions")
    ax1.plot(np.arange(1, len(history) + 1), history)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default 300 (20 with --quick)")
    parser.add_argument("--hidden", type=int, default=10, help="hidden units (default 10)")
    parser.add_argument("--lr", type=float, default=1.0, help="SGD learning rate (default 1.0)")
    parser.add_argument("--batch-size", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="20 epochs, for a smoke run")
    parser.add_argument("--out", default=os.path.join(HERE, "output"), help="output folder (default examples/output/)")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("DEZERO_QUICK", "") not in ("", "0")
    epochs = args.epochs or (20 if quick else 300)

    np.random.seed(args.seed)
    train_set, test_set = Spiral(train=True), Spiral(train=False)
    loader = DataLoader(train_set, args.batch_size)
    model = MLP((args.hidden, 3))
    optimizer = SGD(args.lr).setup(model)
    history = train(model, optimizer, loader, epochs, log_every=max(1, epochs // 10))

    with dezero.no_grad():
        train_acc = F.accuracy(model(train_set.data), train_set.label).data.item()
        test_acc = F.accuracy(model(test_set.data), test_set.label).data.item()
    print(f"accuracy: train {100 * train_acc:.1f} %, test {100 * test_acc:.1f} %")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "spiral_boundary.png")
    plot(model, train_set, history, path)
    print(f"decision regions written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
