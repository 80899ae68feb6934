"""A generative adversarial network (MLP generator and discriminator) on handwritten digits.

    python examples/gan.py                   # Digits (8x8, bundled), 200 epochs, about 20 s of CPU time on 2 cores
    python examples/gan.py --data mnist      # MNIST 28x28 (from the dezero cache), fewer epochs needed
    python examples/gan.py --quick           # a few epochs (also DEZERO_QUICK=1)

Two networks play against each other. The discriminator D learns to tell real
images (label 1) from generated ones (label 0); the generator G turns random
noise z into images and learns to make D answer 1. Both losses are the sigmoid
cross entropy of D's logit. Each iteration:

1. D step: real batch -> 1, G(z) -> 0. G's output is used as plain data here
   (computed under ``no_grad``), so no gradient reaches G.
2. G step: D(G(z)) -> 1; the gradient flows through D into G, and only G's
   optimizer takes a step (D's gradients are cleared before its next step).

Writes ``gan_samples.png`` (generated digits next to real ones) and
``gan_losses.png`` into the output folder (default examples/output/).
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
import dezero.layers as L
from dezero import datasets
from dezero.dataloaders import DataLoader
from dezero.files import DownloadError
from dezero.models import Model
from dezero.optimizers import Adam
from dezero.optional import progress_bar

HERE = os.path.dirname(os.path.abspath(__file__))


class Generator(Model):
    """z (N, z_dim) -> images (N, D) in [0, 1] (a sigmoid at the end)."""

    def __init__(self, out_size: int, hidden: int = 256):
        super().__init__()
        self.l1 = L.Linear(hidden)
        self.bn1 = L.BatchNorm()  # keeps the generator's activations well scaled
        self.l2 = L.Linear(hidden)
        self.bn2 = L.BatchNorm()
        self.l3 = L.Linear(out_size)

    def forward(self, z):
        h = F.relu(self.bn1(self.l1(z)))
        h = F.relu(self.bn2(self.l2(h)))
        return F.sigmoid(self.l3(h))


class Discriminator(Model):
    """images (N, D) -> one logit per image (N, 1): large means "real"."""

    def __init__(self, hidden: int = 256):
        super().__init__()
        self.l1 = L.Linear(hidden)
        self.l2 = L.Linear(hidden)
        self.l3 = L.Linear(1)

    def forward(self, x):
        h = F.leaky_relu(self.l1(x), 0.2)
        h = F.leaky_relu(self.l2(h), 0.2)
        return self.l3(h)


def load(data: str):
    """(name, dataset of flat float32 images in [0, 1], image side)."""
    if data == "mnist":
        return "MNIST", datasets.MNIST(train=True), 28  # default transform: flatten, / 255
    return "Digits", datasets.Digits(train=True), 8


def show_grid(images: np.ndarray, side: int, ax, title: str = "") -> None:
    """Tile (N, side*side) images into a square grid drawn on a matplotlib axis."""
    n = int(np.ceil(np.sqrt(len(images))))
    canvas = np.ones((n * (side + 1) + 1, n * (side + 1) + 1))
    for k, img in enumerate(images):
        i, j = divmod(k, n)
        canvas[1 + i * (side + 1) : 1 + i * (side + 1) + side, 1 + j * (side + 1) : 1 + j * (side + 1) + side] = (
            img.reshape(side, side)
        )
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(title)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("digits", "mnist"), default="digits")
    parser.add_argument("--epochs", type=int, default=None, help="default 200 on Digits, 20 on MNIST (3 with --quick)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--z-dim", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few epochs, for a smoke run")
    parser.add_argument("--out", default=os.path.join(HERE, "output"), help="output folder (default examples/output/)")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("DEZERO_QUICK", "") not in ("", "0")
    epochs = args.epochs or (3 if quick else (200 if args.data == "digits" else 20))
    np.random.seed(args.seed)

    try:
        name, dataset, side = load(args.data)
    except (DownloadError, ValueError) as e:
        print(f"gan: {e}", file=sys.stderr)
        return 1
    if quick:
        dataset.data, dataset.label = dataset.data[:512], dataset.label[:512]
    print(f"GAN on {name}: {len(dataset)} images of {side}x{side}, z of {args.z_dim} dims, {epochs} epochs")

    G, D = Generator(side * side), Discriminator()
    opt_G = Adam(alpha=0.0002, beta1=0.5).setup(G)  # the usual GAN settings (Radford et al.)
    opt_D = Adam(alpha=0.0002, beta1=0.5).setup(D)
    loader = DataLoader(dataset, args.batch_size, drop_last=True)
    z_fixed = np.random.randn(64, args.z_dim).astype(np.float32)  # the same noise for every snapshot

    history = {"D": [], "G": []}
    bar = progress_bar(total=epochs, unit="epoch")  # drawn only on a terminal
    for epoch in range(1, epochs + 1):
        sum_d = sum_g = 0.0
        for x, _ in loader:
            n = len(x)
            ones = np.ones((n, 1), dtype=np.int64)
            zeros = np.zeros((n, 1), dtype=np.int64)

            z = np.random.randn(n, args.z_dim).astype(np.float32)
            with dezero.no_grad():
                fake = G(z).data  # plain data: the D step must not reach G
            loss_d = F.sigmoid_cross_entropy(D(x), ones) + F.sigmoid_cross_entropy(D(fake), zeros)
            D.cleargrads()
            loss_d.backward()
            opt_D.update()

            z = np.random.randn(n, args.z_dim).astype(np.float32)
            loss_g = F.sigmoid_cross_entropy(D(G(z)), ones)  # fool D
            G.cleargrads()
            D.cleargrads()  # D's gradients from this loss are thrown away
            loss_g.backward()
            opt_G.update()

            sum_d += loss_d.data.item()
            sum_g += loss_g.data.item()
        history["D"].append(sum_d / len(loader))
        history["G"].append(sum_g / len(loader))
        bar.set_postfix(loss_D=f"{history['D'][-1]:.3f}", loss_G=f"{history['G'][-1]:.3f}")
        bar.update()
        if epoch % max(1, epochs // 10) == 0 or epoch == epochs:
            # bar.write prints above the bar (plain print when there is none)
            bar.write(f"epoch {epoch:3d}  loss D {history['D'][-1]:.4f}  loss G {history['G'][-1]:.4f}")
    bar.close()

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    with dezero.test_mode(), dezero.no_grad():  # batch norm uses its running statistics
        samples = G(z_fixed).data
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 4.8))
    show_grid(samples, side, ax0, "generated")
    real = np.stack([dataset[i][0] for i in range(64)])  # through the dataset's transform
    show_grid(real, side, ax1, "real")
    fig.tight_layout()
    samples_path = os.path.join(args.out, "gan_samples.png")
    fig.savefig(samples_path, dpi=100)
    plt.close(fig)

    fig = plt.figure(figsize=(6, 4))
    plt.plot(np.arange(1, epochs + 1), history["D"], label="discriminator")
    plt.plot(np.arange(1, epochs + 1), history["G"], label="generator")
    plt.xlabel("epoch")
    plt.ylabel("sigmoid cross entropy")
    plt.legend()
    losses_path = os.path.join(args.out, "gan_losses.png")
    fig.savefig(losses_path, dpi=100)
    plt.close(fig)
    print(f"wrote {samples_path} and {losses_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
