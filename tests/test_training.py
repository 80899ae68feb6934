"""Usage proof: the layers, models and optimizers train real (small) networks.

Each test is seeded and runs in a few seconds on a laptop core."""

import numpy as np

import dezero
import dezero.functions as F
from dezero.layers import LSTM, Conv2d, Layer, Linear
from dezero.models import MLP, Sequential
from dezero.optimizers import SGD, Adam


def _spiral(seed=1984, n=100, classes=3):
    """Three interleaved spiral arms (the book's toy data set)."""
    rng = np.random.RandomState(seed)
    rate = np.arange(n) / n
    xs, ts = [], []
    for j in range(classes):
        theta = j * 4.0 + 4.0 * rate + rng.randn(n) * 0.2
        xs.append(np.stack([rate * np.sin(theta), rate * np.cos(theta)], axis=1))
        ts.append(np.full(n, j))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ts)


def test_mlp_learns_the_spiral():
    np.random.seed(0)
    x, t = _spiral()
    model = MLP((10, 3))  # sigmoid hidden layer, as in the book
    optimizer = SGD(lr=1.0).setup(model)
    batch = 30
    for _epoch in range(300):
        order = np.random.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            loss = F.softmax_cross_entropy(model(x[idx]), t[idx])
            model.cleargrads()
            loss.backward()
            optimizer.update()
    with dezero.no_grad():
        acc = float(F.accuracy(model(x), t).data)
    assert acc > 0.9, f"train accuracy {acc}"
    assert model.l0.W.dtype == np.float32


def test_two_layer_net_fits_a_sine():
    np.random.seed(0)
    x = np.random.rand(100, 1)
    y = np.sin(2 * np.pi * x) + 0.05 * np.random.randn(100, 1)

    class TwoLayerNet(Layer):
        def __init__(self):
            super().__init__()
            self.l1 = Linear(10, dtype=np.float64)
            self.l2 = Linear(1, dtype=np.float64)

        def forward(self, x):
            return self.l2(F.sigmoid(self.l1(x)))

    model = TwoLayerNet()
    optimizer = Adam(alpha=0.05).setup(model)
    for _i in range(1500):
        loss = F.mean_squared_error(model(x), y)
        model.cleargrads()
        loss.backward()
        optimizer.update()
    assert float(loss.data) < 0.1
    # Away from the training points too.
    grid = np.linspace(0, 1, 50).reshape(-1, 1)
    with dezero.no_grad():
        err = float(np.mean((model(grid).data - np.sin(2 * np.pi * grid)) ** 2))
    assert err < 0.1


def test_small_cnn_overfits_a_batch():
    np.random.seed(0)
    x = np.random.randn(8, 1, 8, 8).astype(np.float32)
    t = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    model = Sequential(
        Conv2d(4, kernel_size=3, pad=1),
        F.relu,
        lambda h: F.pooling(h, 2, 2),
        lambda h: F.reshape(h, (h.shape[0], -1)),
        Linear(3),
    )
    optimizer = Adam(alpha=0.05).setup(model)
    first = None
    for _i in range(60):
        loss = F.softmax_cross_entropy(model(x), t)
        first = float(loss.data) if first is None else first
        model.cleargrads()
        loss.backward()
        optimizer.update()
    assert model.l0.W.shape == (4, 1, 3, 3) and model.l4.W.shape == (64, 3)
    assert float(loss.data) < 0.05 < first
    with dezero.no_grad():
        assert float(F.accuracy(model(x), t).data) == 1.0


def test_lstm_fits_a_sine_wave_with_truncated_bptt():
    np.random.seed(0)
    wave = np.sin(np.linspace(0, 4 * np.pi, 201)).astype(np.float32)
    xs, ts = wave[:-1].reshape(-1, 1, 1), wave[1:].reshape(-1, 1, 1)  # predict the next value

    class SeqNet(Layer):
        def __init__(self):
            super().__init__()
            self.lstm = LSTM(16)
            self.fc = Linear(1)

        def reset_state(self):
            self.lstm.reset_state()

        def forward(self, x):
            return self.fc(self.lstm(x))

    model = SeqNet()
    optimizer = Adam(alpha=0.01).setup(model)
    bptt_length = 25
    for _epoch in range(12):
        model.reset_state()
        loss, total = 0, 0.0
        for i, (x, t) in enumerate(zip(xs, ts), start=1):
            loss += F.mean_squared_error(model(x), t)
            if i % bptt_length == 0:
                model.cleargrads()
                loss.backward()
                loss.unchain_backward()  # keep the state, forget the graph behind it
                assert model.lstm.h.creator is None and model.lstm.c.creator is None
                optimizer.update()
                total += float(loss.data)
                loss = 0
    mean_loss = total / len(xs)
    assert mean_loss < 0.005, f"mean squared error per step {mean_loss}"
