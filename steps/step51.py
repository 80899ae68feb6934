"""Step 51: MNIST.

70000 handwritten digits, 28x28 grey pixels: 60000 to train on, 10000 to test.
``dezero.datasets.MNIST`` downloads the four files once into the dezero cache
(``$DEZERO_HOME``, default ``~/.dezero``) and gives each image as a vector of
784 values in [0, 1] (its default transform flattens and divides by 255).

Nothing else changes from step 50: a wider MLP (784 -> 1000 -> 10) with ReLU
between the layers, Adam, mini-batches of 100; five epochs typically end near
98 % test accuracy. ``--quick`` trains one epoch on the first 1000 images.

Offline, the download fails with a message naming the file and the folder to
put it in; this script prints that message and exits with status 1.
"""

import os
import sys
import time

import numpy as np

try:
    import dezero
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
import dezero.functions as F
from dezero.dataloaders import DataLoader
from dezero.datasets import MNIST
from dezero.files import DownloadError
from dezero.models import MLP
from dezero.optimizers import Adam

from _quick import options  # steps/_quick.py: the --quick and --out switches


def evaluate(model, loader):
    """Mean loss and accuracy over a loader, without recording any graph."""
    sum_loss = sum_acc = 0.0
    n = 0
    with dezero.no_grad():
        for x, t in loader:
            y = model(x)
            sum_loss += F.softmax_cross_entropy(y, t).data.item() * len(t)
            sum_acc += F.accuracy(y, t).data.item() * len(t)
            n += len(t)
    return sum_loss / n, sum_acc / n


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    max_epoch = 1 if opts.quick else 5
    batch_size = 100
    np.random.seed(0)

    try:
        train_set = MNIST(train=True)
        test_set = MNIST(train=False)
    except (DownloadError, ValueError) as e:  # offline, or a damaged file: say what to do
        print(f"MNIST is not available: {e}", file=sys.stderr)
        sys.exit(1)
    if opts.quick:  # the first images only: a smoke run
        for dataset, n in ((train_set, 1000), (test_set, 500)):
            dataset.data, dataset.label = dataset.data[:n], dataset.label[:n]
    x, t = train_set[0]
    sizes = {"train": len(train_set), "test": len(test_set), "item": [x.shape, str(x.dtype)]}
    print(
        f"MNIST: {len(train_set)} training and {len(test_set)} test images; "
        f"one item: x {x.shape} {x.dtype} in [{x.min():.0f}, {x.max():.0f}], label {t}"
    )

    train_loader = DataLoader(train_set, batch_size)
    test_loader = DataLoader(test_set, batch_size, shuffle=False)
    model = MLP((1000, 10), activation=F.relu)
    optimizer = Adam().setup(model)

    for epoch in range(max_epoch):
        start = time.time()
        sum_loss = sum_acc = 0.0
        for x, t in train_loader:
            y = model(x)
            loss = F.softmax_cross_entropy(y, t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += loss.data.item() * len(t)
            sum_acc += F.accuracy(y, t).data.item() * len(t)
        test_loss, test_acc = evaluate(model, test_loader)
        print(
            f"epoch {epoch + 1}: train loss {sum_loss / len(train_set):.4f}, "
            f"accuracy {sum_acc / len(train_set):.4f} | test loss {test_loss:.4f}, "
            f"accuracy {test_acc:.4f} ({time.time() - start:.1f} s)"
        )
    print(f"test accuracy: {100 * test_acc:.2f} %")

    return {"sizes": sizes, "test_accuracy": test_acc}


if __name__ == "__main__":
    main()
