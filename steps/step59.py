"""Step 59: a recurrent neural network.

A recurrent layer keeps a hidden state h from one call to the next:

    h_t = tanh(x_t W_x + h_{t-1} W_h + b)

so its output depends on everything it has seen. Fed a noisy sine wave one
value at a time, ``L.RNN`` followed by a Linear layer learns to predict the
next value.

Training a recurrent net is backpropagation through the unrolled sequence.
The graph grows with every step, so it is cut every ``bptt_length`` steps
(truncated BPTT): after each update ``loss.unchain_backward()`` detaches the
past, while the hidden state itself carries over. ``reset_state()`` starts a
new sequence. The trained model then predicts a clean cosine, which it never
saw, from its own inputs: the plot shows both curves.
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
from dezero.datasets import SinCurve
from dezero.models import Model
from dezero.optimizers import Adam

from _quick import options  # steps/_quick.py: the --quick and --out switches


class SimpleRNN(Model):
    def __init__(self, hidden_size: int, out_size: int):
        super().__init__()
        self.rnn = L.RNN(hidden_size)
        self.fc = L.Linear(out_size)

    def reset_state(self):
        self.rnn.reset_state()

    def forward(self, x):
        return self.fc(self.rnn(x))


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    opts = options(__doc__)
    max_epoch = 2 if opts.quick else 100
    hidden_size = 100
    bptt_length = 30
    np.random.seed(0)

    train_set = SinCurve(train=True)
    seqlen = len(train_set)
    model = SimpleRNN(hidden_size, 1)
    optimizer = Adam().setup(model)

    history = []
    for epoch in range(max_epoch):
        model.reset_state()
        loss, count = 0, 0
        sum_loss = 0.0
        for x, t in train_set:  # one time step at a time, in order
            x = x.reshape(1, 1)
            y = model(x)
            loss += F.mean_squared_error(y, t)  # (1, 1) against (1,): element by element
            count += 1
            if count % bptt_length == 0 or count == seqlen:
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()  # cut the graph; the hidden state stays
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
    plt.plot(np.arange(len(xs)) + 1, predictions, label="predicted next value")
    plt.legend()
    out = opts.path("step59_rnn_cos.png")
    plt.savefig(out, dpi=100)
    print(f"plot written to {out}")

    return {"history": history, "error": float(error), "plot": out}


if __name__ == "__main__":
    main()
