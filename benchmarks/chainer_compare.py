"""dezero against Chainer 7, its closest peer (define-by-run on NumPy), on the
workloads of mlp.py, cnn.py and overhead.py, interleaved in one process.

    python benchmarks/chainer_compare.py [--quick] [--repeat N] [--threads N]

Chainer 7.8 imports only with NumPy 1.x, so this runs in a venv of its own,
which also shows that dezero works on NumPy 1.26:

    python3 -m venv /tmp/chainer-venv
    /tmp/chainer-venv/bin/pip install "numpy==1.26.4" "setuptools<70" wheel
    /tmp/chainer-venv/bin/pip install --no-build-isolation chainer
    /tmp/chainer-venv/bin/pip install -e .        # this dezero tree, from its root
    /tmp/chainer-venv/bin/python benchmarks/chainer_compare.py

(``run_all.py --chainer-python /tmp/chainer-venv/bin/python`` runs it too.)
Without Chainer the script says why and exits with status 0, measuring nothing.
Both run with their defaults: Chainer checks types at every call
(``chainer.config.type_check``), dezero checks arguments at every call too.
"""

from __future__ import annotations

import sys

import _common  # noqa: F401  (puts the repo on sys.path)
import numpy as np

from _common import Timing, parser, print_table, ratios, set_threads, time_contenders


def chainer_mlp_step(chainer, x, t, sizes, lr):
    CF, CL = chainer.functions, chainer.links

    class MLP(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.layers = chainer.ChainList(*[CL.Linear(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:])])

        def forward(self, h):
            for layer in self.layers[:-1]:
                h = CF.sigmoid(layer(h))
            return self.layers[-1](h)

    return _chainer_sgd_step(chainer, MLP(), x, t, lr)


def chainer_cnn_step(chainer, x, t, lr):
    CF, CL = chainer.functions, chainer.links

    class SmallCNN(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.conv1 = CL.Convolution2D(1, 32, 3, pad=1)
                self.conv2 = CL.Convolution2D(32, 64, 3, pad=1)
                self.fc = CL.Linear(64 * 7 * 7, 10)

        def forward(self, h):
            h = CF.max_pooling_2d(CF.relu(self.conv1(h)), 2, 2, cover_all=False)
            h = CF.max_pooling_2d(CF.relu(self.conv2(h)), 2, 2, cover_all=False)
            return self.fc(h)

    return _chainer_sgd_step(chainer, SmallCNN(), x, t, lr)


def _chainer_sgd_step(chainer, model, x, t, lr):
    optimizer = chainer.optimizers.SGD(lr=lr)
    optimizer.setup(model)
    t = t.astype(np.int32)  # Chainer's softmax_cross_entropy wants int32 labels

    def step():
        loss = chainer.functions.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()
        return loss

    return step


def chainer_overhead(chainer, iterations: int):
    def run() -> None:
        x = chainer.Variable(np.array(1.0))
        y = x
        for _ in range(iterations):
            y = y * 1.0001 + 0.0001
        y.backward()

    return run


def main(argv=None) -> dict:
    args = parser(__doc__, repeat=9).parse_args(argv)
    try:
        import chainer
    except Exception as e:  # ImportError, or Chainer failing on NumPy 2
        print(
            f"chainer: skipped, Chainer cannot be imported here ({type(e).__name__}: {e}). "
            "It needs NumPy 1.x: make the venv this script's docstring describes (--help)."
        )
        return {}
    threads = set_threads(args.threads)
    import cnn
    import mlp
    import overhead

    print(f"chainer {chainer.__version__}, numpy {np.__version__}, BLAS threads {threads}")
    timing = Timing(args, warmup=2, inner=3)
    results = {}

    x, t = mlp.make_data()
    medians = time_contenders(
        {"dezero": mlp.make_dezero_step(x, t), "chainer": chainer_mlp_step(chainer, x, t, mlp.SIZES, mlp.LR)}, timing
    )
    print_table("mlp step (784-1000-1000-10, batch 100)", medians)
    print("mlp: " + ratios(medians))
    results["mlp"] = {name: s * 1e3 for name, s in medians.items()}

    x, t = cnn.make_data()
    medians = time_contenders(
        {"dezero": cnn.make_dezero_step(x, t), "chainer": chainer_cnn_step(chainer, x, t, cnn.LR)}, timing
    )
    print_table("cnn step (conv32-pool-conv64-pool-fc, batch 64)", medians)
    print("cnn: " + ratios(medians))
    results["cnn"] = {name: s * 1e3 for name, s in medians.items()}

    medians = time_contenders(
        {"dezero": overhead.run_dezero, "chainer": chainer_overhead(chainer, overhead.N_ITERS)}, timing
    )
    per_op = {name: s / (2 * overhead.N_ITERS) for name, s in medians.items()}
    print_table(
        f"overhead: {overhead.N_ITERS} x (mul, add) on a 0-d float64 Variable, fwd + bwd",
        per_op,
        unit="us/op",
        scale=1e6,
    )
    print("overhead: " + ratios(per_op))
    results["overhead"] = {name: s * 1e6 for name, s in per_op.items()}

    print("\n| workload | dezero | Chainer | dezero / Chainer |\n| --- | ---: | ---: | ---: |")
    for key, unit in (("mlp", "ms"), ("cnn", "ms"), ("overhead", "µs/op")):
        row = results[key]
        print(
            f"| {key} | {row['dezero']:.2f} {unit} | {row['chainer']:.2f} {unit} | "
            f"{row['dezero'] / row['chainer']:.2f} |"
        )
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
