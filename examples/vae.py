"""A variational autoencoder on handwritten digits, with a 2-D latent space you can look at.

    python examples/vae.py                   # Digits (8x8, bundled), 200 epochs, about 5 s of CPU time on 2 cores
    python examples/vae.py --data mnist      # MNIST 28x28 (from the dezero cache)
    python examples/vae.py --quick           # a few epochs (also DEZERO_QUICK=1)

The encoder maps an image x to a Gaussian q(z|x) = N(mu, exp(log_var)) over
a latent code z; the decoder maps z back to pixel probabilities. Training
maximises the evidence lower bound, i.e. minimises per image

    reconstruction: binary cross entropy of x under the decoder's logits, summed over pixels
    + KL(q(z|x) || N(0, I)) = -1/2 sum(1 + log_var - mu^2 - exp(log_var))

The sample z = mu + exp(log_var / 2) * eps, eps ~ N(0, I), is written so that
the randomness is an input and gradients flow into mu and log_var (the
reparameterization trick).

Writes ``vae_reconstructions.png`` (test images above their reconstructions)
and ``vae_samples.png`` (the decoder over a grid of the 2-D latent space) into
the output folder (default examples/output/).
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


class VAE(Model):
    def __init__(self, image_size: int, latent_dim: int = 2, hidden: int = 256):
        super().__init__()
        self.enc = L.Linear(hidden)
        self.enc_mu = L.Linear(latent_dim)
        self.enc_log_var = L.Linear(latent_dim)
        self.dec1 = L.Linear(hidden)
        self.dec2 = L.Linear(image_size)
        self.latent_dim = latent_dim

    def encode(self, x):
        h = F.relu(self.enc(x))
        return self.enc_mu(h), self.enc_log_var(h)

    def decode(self, z):
        """Pixel logits; F.sigmoid of them gives the image."""
        return self.dec2(F.relu(self.dec1(z)))

    def forward(self, x):
        mu, log_var = self.encode(x)
        eps = np.random.randn(*mu.shape).astype(mu.dtype)
        z = mu + F.exp(0.5 * log_var) * eps
        return self.decode(z), mu, log_var

    def loss(self, x):
        """Negative ELBO per image, averaged over the batch."""
        logits, mu, log_var = self(x)
        # sigmoid_cross_entropy averages over every element: times the pixel
        # count gives the per-image sum, averaged over the batch.
        reconstruction = F.sigmoid_cross_entropy(logits, x) * x.shape[1]
        kl = -0.5 * F.sum(1 + log_var - mu**2 - F.exp(log_var)) / len(x)
        return reconstruction + kl


def load(data: str):
    """(name, train set, test set, image side); items are flat float32 vectors in [0, 1]."""
    if data == "mnist":
        return "MNIST", datasets.MNIST(train=True), datasets.MNIST(train=False), 28
    return "Digits", datasets.Digits(train=True), datasets.Digits(train=False), 8


def tile(images: np.ndarray, rows: int, cols: int, side: int) -> np.ndarray:
    canvas = np.ones((rows * (side + 1) + 1, cols * (side + 1) + 1))
    for k, img in enumerate(images[: rows * cols]):
        i, j = divmod(k, cols)
        canvas[1 + i * (side + 1) : 1 + i * (side + 1) + side, 1 + j * (side + 1) : 1 + j * (side + 1) + side] = (
            img.reshape(side, side)
        )
    return canvas


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("digits", "mnist"), default="digits")
    parser.add_argument("--epochs", type=int, default=None, help="default 200 on Digits, 10 on MNIST (3 with --quick)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few epochs, for a smoke run")
    parser.add_argument("--out", default=os.path.join(HERE, "output"), help="output folder (default examples/output/)")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("DEZERO_QUICK", "") not in ("", "0")
    epochs = args.epochs or (3 if quick else (200 if args.data == "digits" else 10))
    np.random.seed(args.seed)

    try:
        name, train_set, test_set, side = load(args.data)
    except (DownloadError, ValueError) as e:
        print(f"vae: {e}", file=sys.stderr)
        return 1
    if quick:
        train_set.data, train_set.label = train_set.data[:512], train_set.label[:512]
    print(f"VAE on {name}: {len(train_set)} training images of {side}x{side}, 2-D latent space, {epochs} epochs")

    model = VAE(side * side)
    optimizer = Adam(alpha=0.001).setup(model)
    loader = DataLoader(train_set, args.batch_size)
    test_x = np.stack([test_set[i][0] for i in range(min(len(test_set), 500))])
    bar = progress_bar(total=epochs, unit="epoch")  # drawn only on a terminal
    for epoch in range(1, epochs + 1):
        sum_loss = 0.0
        for x, _ in loader:
            loss = model.loss(x)
            model.cleargrads()
            loss.backward()
            optimizer.update()
            sum_loss += loss.data.item() * len(x)
        bar.set_postfix(train_loss=f"{sum_loss / len(train_set):.2f}")
        bar.update()
        if epoch % max(1, epochs // 10) == 0 or epoch == epochs:
            with dezero.no_grad():
                test_loss = model.loss(test_x).data.item()
            # bar.write prints above the bar (plain print when there is none)
            bar.write(
                f"epoch {epoch:3d}  train loss {sum_loss / len(train_set):.3f}  test loss {test_loss:.3f}"
                "  (negative ELBO per image, in nats)"
            )
    bar.close()

    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    with dezero.no_grad():
        mu, _ = model.encode(test_x[:16])
        recon = F.sigmoid(model.decode(mu)).data  # the mean code: no sampling noise in the picture
        n = 15
        grid = np.linspace(-2.5, 2.5, n, dtype=np.float32)  # +-2.5 std of the prior
        z = np.array([[zx, zy] for zy in grid[::-1] for zx in grid], dtype=np.float32)
        samples = F.sigmoid(model.decode(z)).data

    fig = plt.figure(figsize=(8, 2.2))
    plt.imshow(tile(np.concatenate([test_x[:16], recon]), 2, 16, side), cmap="gray_r", vmin=0, vmax=1)
    plt.axis("off")
    plt.title("test images (top) and their reconstructions (bottom)")
    recon_path = os.path.join(args.out, "vae_reconstructions.png")
    fig.savefig(recon_path, dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig = plt.figure(figsize=(6, 6))
    plt.imshow(tile(samples, n, n, side), cmap="gray_r", vmin=0, vmax=1)
    plt.axis("off")
    plt.title("decoder over the latent grid z in [-2.5, 2.5]^2")
    samples_path = os.path.join(args.out, "vae_samples.png")
    fig.savefig(samples_path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {recon_path} and {samples_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
