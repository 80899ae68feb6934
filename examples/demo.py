"""dezero's flagship demo: train a small CNN on handwritten digits, offline, in a few seconds.

    python3 -m pip install -e ".[demo]"      # from a clone of the repository
    python examples/demo.py              # Digits (bundled with scikit-learn), ~98-99 % test accuracy
    python examples/demo.py --quick      # 2 epochs, for a smoke test (also DEZERO_QUICK=1)
    python examples/demo.py --out runs/  # where the plots go (default: ./demo_output/)
    python examples/demo.py --data mnist # MNIST instead (downloaded once into the dezero cache)
    python examples/demo.py --export model.onnx  # also write the trained CNN as ONNX (pip install onnx onnxruntime)

What it shows, in dezero's own parts: a Dataset and a shuffling DataLoader, a
Model of Conv2d/Linear layers written as plain Python, softmax cross entropy,
backward through convolutions and pooling, Adam, test mode for dropout,
evaluation without a graph (no_grad), and the two pictures dezero can make:
the loss curves (loss_curve.png) and the computational graph of the model
(model_graph.png, drawn by Graphviz). With ``--export`` the trained model
leaves dezero as an ONNX file that ONNX Runtime runs (see docs/onnx.md).
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
import dezero.onnx  # needs the onnx package only when exporting
from dezero.dataloaders import DataLoader
from dezero.files import DownloadError
from dezero.models import Model
from dezero.optimizers import Adam
from dezero.optional import progress_bar
from dezero.visualize import GraphvizNotFoundError

TARGET_ACCURACY = 0.97  # what the default run on Digits must reach (it gets ~98-99 %)


class DigitsCNN(Model):
    """conv3x3(16) - ReLU - conv3x3(32) - ReLU - maxpool 2x2 - fc(64) - ReLU - dropout - fc(10).

    Every layer is lazy: input channels and the flattened size are read from
    the first batch, so the same class takes 8x8 Digits and 28x28 MNIST.
    """

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.conv1 = L.Conv2d(16, kernel_size=3, pad=1)
        self.conv2 = L.Conv2d(32, kernel_size=3, pad=1)
        self.fc1 = L.Linear(64)
        self.fc2 = L.Linear(n_classes)

    def forward(self, x):
        h = F.relu(self.conv1(x))
        h = F.pooling(F.relu(self.conv2(h)), kernel_size=2, stride=2)
        h = F.reshape(h, (len(h), -1))
        h = F.dropout(F.relu(self.fc1(h)), 0.2)  # the identity under dezero.test_mode()
        return self.fc2(h)


def load_data(name: str):
    """(train_set, test_set) whose items are (1, H, W) float32 images in [0, 1]."""
    from dezero import datasets

    if name == "digits":
        return datasets.Digits(train=True, transform=None), datasets.Digits(train=False, transform=None)
    from dezero.transforms import Normalize

    scale = Normalize(0.0, 255.0)  # raw MNIST pixels are 0..255
    return datasets.MNIST(train=True, transform=scale), datasets.MNIST(train=False, transform=scale)


def evaluate(model, loader):
    """Mean loss and accuracy over ``loader``: test mode, no graph recorded."""
    sum_loss = sum_correct = 0.0
    with dezero.test_mode(), dezero.no_grad():
        for x, t in loader:
            y = model(x)
            sum_loss += F.softmax_cross_entropy(y, t).data.item() * len(t)
            sum_correct += F.accuracy(y, t).data.item() * len(t)
    n = len(loader.dataset)
    return sum_loss / n, sum_correct / n


def save_loss_curve(history: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["train_loss"]) + 1)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    ax0.plot(epochs, history["train_loss"], "o-", label="train")
    ax0.plot(epochs, history["test_loss"], "s-", label="test")
    ax0.set_xlabel("epoch")
    ax0.set_ylabel("softmax cross entropy")
    ax0.set_yscale("log")
    ax0.legend()
    ax0.set_title("loss")
    ax1.plot(epochs, 100 * np.array(history["test_acc"]), "o-", color="tab:green")
    ax1.axhline(100 * TARGET_ACCURACY, color="gray", linestyle="--", label=f"{100 * TARGET_ACCURACY:.0f} %")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("%")
    ax1.set_title("test accuracy")
    ax1.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default 15 (2 with --quick)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.002, help="Adam's step size alpha")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", choices=("digits", "mnist"), default="digits")
    parser.add_argument("--out", default="demo_output", help="output folder (default ./demo_output/)")
    parser.add_argument("--quick", action="store_true", help="2 epochs, for a smoke test")
    parser.add_argument("--export", metavar="PATH", help="write the trained model to PATH as ONNX")
    args = parser.parse_args(argv)
    if args.export:
        try:  # say so now, not after the training
            import onnx  # noqa: F401
        except ImportError:
            print("demo: --export needs the onnx package: pip install onnx onnxruntime", file=sys.stderr)
            return 1
    quick = args.quick or os.environ.get("DEZERO_QUICK", "") not in ("", "0")
    epochs = args.epochs or (2 if quick else 15)
    os.makedirs(args.out, exist_ok=True)

    np.random.seed(args.seed)  # weights, shuffling and dropout masks all draw from np.random
    start = time.time()
    try:
        train_set, test_set = load_data(args.data)
    except (ImportError, DownloadError, ValueError) as e:  # no scikit-learn, offline MNIST: say what to do
        print(f"demo: cannot load {args.data}: {e}", file=sys.stderr)
        return 1
    train_loader = DataLoader(train_set, args.batch_size)
    test_loader = DataLoader(test_set, 500, shuffle=False)
    image_shape = train_set[0][0].shape
    print(
        f"dezero {dezero.__version__} demo: a CNN on {args.data} ({len(train_set)} training, "
        f"{len(test_set)} test images of shape {image_shape})"
    )

    model = DigitsCNN()
    optimizer = Adam(alpha=args.lr).setup(model)
    sample, _ = next(iter(DataLoader(train_set, 1, shuffle=False)))
    graph_path = os.path.join(args.out, "model_graph.png")
    try:  # one forward pass draws the graph (and creates the lazy weights)
        model.plot(sample, to_file=graph_path)
    except (GraphvizNotFoundError, ImportError) as e:  # Graphviz is optional: go on without the picture
        print(f"(model graph not drawn: {e})", file=sys.stderr)
        graph_path = None
        with dezero.no_grad():
            model(sample)
    model.summary()

    history = {"train_loss": [], "test_loss": [], "test_acc": []}
    for epoch in range(1, epochs + 1):
        epoch_start = time.time()
        sum_loss = 0.0
        # Drawn only on a terminal: in a log file a bar is a stream of carriage returns.
        bar = progress_bar(total=len(train_loader), desc=f"epoch {epoch}/{epochs}", unit="batch", leave=False)
        for x, t in train_loader:
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += loss.data.item() * len(t)
            bar.set_postfix(loss=f"{loss.data.item():.4f}")
            bar.update()
        bar.close()
        test_loss, test_acc = evaluate(model, test_loader)
        history["train_loss"].append(sum_loss / len(train_set))
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
        print(
            f"epoch {epoch:2d}/{epochs}  train loss {history['train_loss'][-1]:.4f}  "
            f"test loss {test_loss:.4f}  test accuracy {100 * test_acc:5.1f} %  "
            f"({time.time() - epoch_start:.1f} s)",
            flush=True,
        )

    curve_path = os.path.join(args.out, "loss_curve.png")
    save_loss_curve(history, curve_path)
    final = history["test_acc"][-1]
    print(f"test accuracy: {100 * final:.1f} %")
    if args.data == "digits" and not quick and args.epochs is None:
        verdict = "reached" if final >= TARGET_ACCURACY else "MISSED"
        print(f"{verdict} the target of {100 * TARGET_ACCURACY:.0f} % test accuracy on Digits")
    print(f"saved {curve_path}" + (f" and {graph_path}" if graph_path else ""))
    if args.export:
        # Traced on one image; the batch axis of the file stays dynamic.
        dezero.onnx.export(model, sample, args.export)
        print(
            f"saved {args.export} (ONNX: input 'x' of shape (N, {', '.join(map(str, image_shape))}), "
            "output 'y' of logits)"
        )
    print(f"total time: {time.time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
