"""Step 60: LSTM, and mini-batches of sequences.

Two improvements over step 59:

- ``L.LSTM`` replaces the plain RNN. Besides the hidden state h it carries a
  cell state c, updated additively through gates (forget, input, output):
  gradients flow back along c without being squashed at every step, so long
  dependencies are learned far more easily.
- ``SeqDataLoader`` feeds mini-batches without destroying the order: with
  batch size B it cuts the series into B streams and each batch holds the
  next value of every stream. One step is then one matrix operation for B
  time series at once instead of one scalar.

The rest (truncated BPTT, unchain_backward, reset_state) is step 59's.
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
from dezero.dataloaders import SeqDataLoader
from dezero.datasets import SinCurve
from dezero.models import Model
from dezero.optimizers import Adam

from _quick import options  # steps/_quick.py: the --quick and --out switches


class BetterRNN(Model):
    def __init__(self, hidden_size: int, out_size: int):
        super().__init__()
        self.rnn = L.LSTM(hidden_size)
        self.fc = L.Linear(out_size)

    def reset_state(self):
        self.rnn.reset_state()

    def forward(self, x):
        return self.fc(self.rnn(x))


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    max_epoch = 5 if opts.quick else 100
    batch_size = 30
    hidden_size = 100
    bptt_length = 30
    np.random.seed(0)

    train_set = SinCurve(train=True)
    loader = SeqDataLoader(train_set, batch_size=batch_size)
    x, t = next(iter(loader))
    loader.reset()
    jump = len(train_set) // batch_size
    first_items = np.arange(batch_size) * jump  # where each stream starts
    streams = {
        "first_items": bool(np.array_equal(x, train_set.data[first_items])),
        "x": x.shape,
        "t": t.shape,
        "steps": len(loader),
    }
    print(
        f"SeqDataLoader: {batch_size} streams, {len(loader)} steps per epoch; batch 0 holds items "
        f"0, {jump}, {2 * jump}, ... ({np.array_equal(x, train_set.data[first_items])}), "
        f"x {x.shape}, t {t.shape}"
    )

    model = BetterRNN(hidden_size, 1)
    optimizer = Adam().setup(model)
    history = []
    for epoch in range(max_epoch):
        model.reset_state()
        loss, count = 0, 0
        sum_loss = 0.0
        for x, t in loader:
            y = model(x)
            loss += F.mean_squared_error(y, t)
            count += 1
            if count % bptt_length == 0 or count == len(loader):
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()
                optimizer.update()
                sum_loss += loss.data.item()
                loss = 0
        history.append(sum_loss / count)
        if (epoch + 1) % max(1, max_epoch // 10) == 0:
            print(f"epoch {epoch + 1:3d}, loss {sum_loss / count:.6f}")

    xs = np.cos(np.linspace(0, 4 * np.pi, 1000)).astype(np.float32)
    model.reset_state()
    predictions = []
    with dezero.no_grad():
        for x in xs:
            predictions.append(model(x.reshape(1, 1)).data.item())
    error = np.mean((np.array(predictions[:-1]) - xs[1:]) ** 2)
    print(f"predicting the next value of cos: mean squared error {error:.6f}")

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    plt.figure(figsize=(7, 3))
    plt.plot(np.arange(len(xs)), xs, label="y = cos(x)")
    plt.plot(np.arange(len(xs)) + 1, predictions, label="LSTM's next value")
    plt.legend()
    out = opts.path("step60_lstm_cos.png")
    plt.savefig(out, dpi=100)
    print(f"plot written to {out}")

    return {"streams": streams, "history": history, "error": float(error), "plot": out}


if __name__ == "__main__":
    main()
