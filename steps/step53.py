"""Step 53: saving and loading.

A trained model is its parameters. ``model.save_weights(path)`` writes every
parameter to an ``.npz`` archive, keyed by its path in the model (``l0/W``,
``l1/b``); ``load_weights(path)`` reads them back into a model of the same
architecture, checking names, shapes and dtypes first (and never unpickling
anything). Writes are atomic: a crash mid-save leaves the old file intact.

To resume training later, the optimizer's state (Adam's moment estimates and
step count) matters as much as the weights: ``save_checkpoint`` stores model,
optimizer and any extra values (the epoch) in one file, ``load_checkpoint``
restores them into fresh objects.
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
from dezero.serialization import load_checkpoint, save_checkpoint
from dezero.dataloaders import DataLoader
from dezero.datasets import Spiral
from dezero.models import MLP
from dezero.optimizers import Adam

from _quick import options  # steps/_quick.py: the --quick and --out switches


def train(model, optimizer, loader, epochs: int) -> float:
    for _ in range(epochs):
        sum_loss = 0.0
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += loss.data.item() * len(t)
    return sum_loss / len(loader.dataset)


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    epochs = 10 if opts.quick else 100
    np.random.seed(0)
    train_set = Spiral(train=True)
    test_set = Spiral(train=False)
    x_test, t_test = test_set.data, test_set.label
    loader = DataLoader(train_set, batch_size=30)

    model = MLP((30, 3), activation=F.relu)
    optimizer = Adam(alpha=0.01).setup(model)
    loss = train(model, optimizer, loader, epochs)
    with dezero.no_grad():
        y_before = model(x_test).data
    print(f"trained {epochs} epochs: loss {loss:.4f}, test accuracy {F.accuracy(y_before, t_test).data.item():.4f}")

    weights = opts.path("step53_weights.npz")
    model.save_weights(weights)
    with np.load(weights) as archive:
        contents = ", ".join(f"{k} {archive[k].shape}" for k in archive.files)
        print(f"saved {os.path.basename(weights)}: {contents}")

    fresh = MLP((30, 3), activation=F.relu)
    fresh.load_weights(weights)  # lazy layers take their shapes from the file
    with dezero.no_grad():
        y_after = fresh(x_test).data
    print("a fresh model with the loaded weights gives identical predictions:", np.array_equal(y_before, y_after))

    ckpt = opts.path("step53_checkpoint.npz")
    save_checkpoint(ckpt, model, optimizer, epoch=epochs)
    resumed_model = MLP((30, 3), activation=F.relu)
    resumed_optimizer = Adam(alpha=0.01)
    extra = load_checkpoint(ckpt, resumed_model, resumed_optimizer)
    adam_steps = [resumed_optimizer.t, optimizer.t]
    print(
        f"checkpoint restored: epoch {extra['epoch']}, Adam step count {resumed_optimizer.t} "
        f"(the original: {optimizer.t})"
    )

    # Continuing from the checkpoint is continuing the original run: same data
    # order (same random state), same weights, same Adam moments -> same numbers.
    state = np.random.get_state()
    loader.reset()  # draws this epoch's shuffle
    loss_original = train(model, optimizer, loader, 1)
    np.random.set_state(state)
    loader.reset()  # the very same shuffle again
    loss_resumed = train(resumed_model, resumed_optimizer, loader, 1)
    same = all(np.array_equal(a.data, b.data) for a, b in zip(model.params(), resumed_model.params()))
    print(
        f"one more epoch: original loss {loss_original:.6f}, resumed loss {loss_resumed:.6f}; weights identical: {same}"
    )

    return {
        "identical_predictions": bool(np.array_equal(y_before, y_after)),
        "epoch": extra["epoch"],
        "adam_steps": adam_steps,
        "losses": [loss_original, loss_resumed],
        "identical_weights": same,
        "files": [weights, ckpt],
    }


if __name__ == "__main__":
    main()
