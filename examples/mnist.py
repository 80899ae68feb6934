"""Handwritten digit classification: an MLP or a CNN on MNIST (or on scikit-learn's Digits).

    python examples/mnist.py                    # MLP 784-1000-1000-10, 5 epochs
    python examples/mnist.py --model cnn        # conv-pool-conv-pool-fc (slower on a CPU)
    python examples/mnist.py --gpu              # on a CUDA GPU through CuPy, if there is one
    python examples/mnist.py --data digits      # the 8x8 Digits, no download at all
    python examples/mnist.py --quick            # 1 epoch on a subset (also DEZERO_QUICK=1)

MNIST is read from the dezero cache (``$DEZERO_HOME``, default ``~/.dezero``,
sub-folder ``mnist/``) and downloaded there the first time. When it is neither
there nor downloadable, the script says so and trains on Digits instead.
Writes ``mnist_<model>_curves.png`` and the trained weights
``mnist_<model>.npz`` into the output folder (default examples/output/).
"""
import argparse
import os
import sys
import time

import numpy as np

try:
    import dezero
except ImportError:  # run from a checkout without installing: use the repo's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import cuda, datasets
from dezero.dataloaders import DataLoader
from dezero.files import DownloadError
from dezero.models import MLP, Model
from dezero.optimizers import Adam
from dezero.transforms import Normalize

HERE = os.path.dirname(os.path.abspath(__file__))


class CNN(Model):
    """Two conv3x3-ReLU-maxpool blocks (16 and 32 channels), then fc(128)-ReLU-fc(10)."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.conv1 = L.Conv2d(16, kernel_size=3, pad=1)
        self.conv2 = L.Conv2d(32, kernel_size=3, pad=1)
        self.fc1 = L.Linear(128)
        self.fc2 = L.Linear(n_classes)

    def forward(self, x):
        h = F.pooling(F.relu(self.conv1(x)), 2, 2)
        h = F.pooling(F.relu(self.conv2(h)), 2, 2)
        h = F.reshape(h, (len(h), -1))
        return self.fc2(F.relu(self.fc1(h)))


def load(data: str, model_kind: str):
    """Return (name, train_set, test_set). Items are flat vectors for the MLP,
    (1, H, W) images for the CNN, values in [0, 1]."""
    if data in ("auto", "mnist"):
        # MNIST's default transform flattens and scales; the CNN keeps the image shape.
        kwargs = {} if model_kind == "mlp" else {"transform": Normalize(0.0, 255.0)}
        try:
            return "MNIST", datasets.MNIST(train=True, **kwargs), datasets.MNIST(train=False, **kwargs)
        except DownloadError as e:
            if data == "mnist":
                raise
            print(f"MNIST is not in the cache and could not be downloaded:\n  {e}\n"
                  "falling back to scikit-learn's Digits (8x8 images, bundled, no download)")
    kwargs = {} if model_kind == "mlp" else {"transform": None}  # Digits' default flattens
    return "Digits", datasets.Digits(train=True, **kwargs), datasets.Digits(train=False, **kwargs)


def run_epoch(model, loader, optimizer=None):
    """One pass over ``loader``: trains if an optimizer is given, else evaluates
    in test mode without a graph. Returns (mean loss, accuracy)."""
    sum_loss = sum_acc = 0.0
    for x, t in loader:
        if optimizer is not None:
            y = model(x)
            loss = F.softmax_cross_entropy(y, t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
        else:
            with dezero.test_mode(), dezero.no_grad():
                y = model(x)
                loss = F.softmax_cross_entropy(y, t)
        sum_loss += loss.data.item() * len(t)
        sum_acc += F.accuracy(y, t).data.item() * len(t)
    n = len(loader.dataset)
    return sum_loss / n, sum_acc / n


def save_curves(history: dict, title: str, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["train_loss"]) + 1)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "test"):
        ax0.plot(epochs, history[f"{split}_loss"], "o-", label=split)
        ax1.plot(epochs, 100 * np.array(history[f"{split}_acc"]), "o-", label=split)
    ax0.set_title("loss")
    ax1.set_title("accuracy (%)")
    for ax in (ax0, ax1):
        ax.set_xlabel("epoch")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--data", choices=("auto", "mnist", "digits"), default="auto",
                        help="auto: MNIST if available, else Digits (default)")
    parser.add_argument("--epochs", type=int, default=None, help="default 5 (1 with --quick)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--gpu", action="store_true", help="train on the GPU (needs CuPy and CUDA)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 epoch on at most 2000 images")
    parser.add_argument("--out", default=os.path.join(HERE, "output"),
                        help="output folder (default examples/output/)")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("DEZERO_QUICK", "") not in ("", "0")
    epochs = args.epochs or (1 if quick else 5)
    np.random.seed(args.seed)

    try:
        name, train_set, test_set = load(args.data, args.model)
    except (DownloadError, ValueError) as e:
        print(f"mnist: {e}", file=sys.stderr)
        return 1
    if quick:
        for dataset, n in ((train_set, 2000), (test_set, 500)):
            dataset.data, dataset.label = dataset.data[:n], dataset.label[:n]
    print(f"{name}: {len(train_set)} training and {len(test_set)} test items "
          f"of shape {train_set[0][0].shape}")

    model = MLP((1000, 1000, 10), activation=F.relu) if args.model == "mlp" else CNN()
    optimizer = Adam().setup(model)
    # progress=True: a bar over each epoch's batches, drawn only on a terminal.
    train_loader = DataLoader(train_set, args.batch_size, progress=True)
    test_loader = DataLoader(test_set, args.batch_size, shuffle=False)
    if args.gpu:
        if cuda.gpu_enable:
            print("training on the GPU")
            model.to_gpu()
            train_loader.to_gpu()
            test_loader.to_gpu()
        else:
            reason = "CuPy is not installed" if cuda.cupy is None else "no CUDA device was found"
            print(f"--gpu: {reason}; falling back to the CPU")

    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    for epoch in range(1, epochs + 1):
        start = time.time()
        train_loss, train_acc = run_epoch(model, train_loader, optimizer)
        test_loss, test_acc = run_epoch(model, test_loader)
        for key, value in zip(history, (train_loss, train_acc, test_loss, test_acc)):
            history[key].append(value)
        print(f"epoch {epoch}: train loss {train_loss:.4f}, accuracy {100 * train_acc:.2f} % | "
              f"test loss {test_loss:.4f}, accuracy {100 * test_acc:.2f} % ({time.time() - start:.1f} s)")

    os.makedirs(args.out, exist_ok=True)
    curves = os.path.join(args.out, f"mnist_{args.model}_curves.png")
    weights = os.path.join(args.out, f"mnist_{args.model}.npz")
    save_curves(history, f"{args.model.upper()} on {name}", curves)
    model.save_weights(weights)
    print(f"test accuracy: {100 * history['test_acc'][-1]:.2f} %")
    print(f"wrote {curves} and {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
