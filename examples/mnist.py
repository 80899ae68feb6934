"""Handwritten digit classification: an MLP or a CNN on MNIST (or on scikit-learn's Digits).

    python examples/mnist.py                    # MLP 784-1000-1000-10, 5 epochs
    python examples/mnist.py --model cnn        # conv-pool-conv-pool-fc (slower on a CPU)
    python examples/mnist.py --gpu              # on a CUDA GPU through CuPy, if there is one
    python examples/mnist.py --data digits      # the 8x8 Digits, no download at all
    python examples/mnist.py --quick            # 1 epoch on a subset (also DEZERO_QUICK=1)
    mpiexec -n 2 python examples/mnist.py --distributed   # data-parallel over 2 MPI ranks

With ``--distributed`` (needs ``pip install mpi4py mpich``) every rank trains on
its own shard, ``--batch-size`` items per rank and step, and the gradients are
averaged over the ranks (see docs/distributed.md). The order of the items is
drawn from ``--seed`` and the epoch, so N ranks at batch B take the same steps,
up to rounding, as ``python examples/mnist.py --distributed`` alone at batch N*B.

MNIST is read from the dezero cache (``$DEZERO_HOME``, default ``~/.dezero``,
sub-folder ``mnist/``) and downloaded there the first time. When it is neither
there nor downloadable, the script says so and trains on Digits instead.
Writes ``mnist_<model>_curves.png``, the trained weights ``mnist_<model>.npz``
and ``mnist_<model>_history.json`` (the loss of every step, the metrics of every
epoch) into the output folder (default examples/output/).
"""

import argparse
import json
import os
import tempfile
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


def load(data: str, model_kind: str, log=print):
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
            # Where to put the files is worth showing; each mirror's failure is
            # not, on the normal offline path (--data mnist shows everything).
            where = str(e).split("\nWhat failed:")[0]
            log(
                f"{where}\n"
                "falling back to scikit-learn's Digits (8x8 images, bundled, no download); "
                "--data mnist shows the full error"
            )
    kwargs = {} if model_kind == "mlp" else {"transform": None}  # Digits' default flattens
    return "Digits", datasets.Digits(train=True, **kwargs), datasets.Digits(train=False, **kwargs)


def run_epoch(model, loader, optimizer=None, step_losses=None):
    """One pass over ``loader``: trains if an optimizer is given, else evaluates
    in test mode without a graph. Returns (mean loss, accuracy); appends the
    loss of every batch to ``step_losses`` if given."""
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
        if step_losses is not None:
            step_losses.append(loss.data.item())
        sum_loss += loss.data.item() * len(t)
        sum_acc += F.accuracy(y, t).data.item() * len(t)
    n = len(loader.dataset)
    return sum_loss / n, sum_acc / n


def write_json_atomic(path: str, obj) -> None:
    """Write ``obj`` as JSON so that a crash never leaves a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


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
    args = parse_args(argv)
    if not args.distributed:
        return train(args)
    import dezero.distributed as dist

    comm = dist.create_communicator()
    # Every rank takes the same steps, so one that stops early (an exception, or
    # an error status such as a dataset it could not load) must end the others
    # too, or they would wait for it forever in their next collective.
    with comm.abort_on_error():
        status = train(args, comm)
        if status != 0 and comm.size > 1:
            raise SystemExit(status)  # abort_on_error turns it into an abort of every rank
    return status


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument(
        "--data",
        choices=("auto", "mnist", "digits"),
        default="auto",
        help="auto: MNIST if available, else Digits (default)",
    )
    parser.add_argument("--epochs", type=int, default=None, help="default 5 (1 with --quick)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--gpu", action="store_true", help="train on the GPU (needs CuPy and CUDA)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="1 epoch on at most 2000 images")
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over the MPI ranks (start with mpiexec -n N); --batch-size is per rank",
    )
    parser.add_argument("--out", default=os.path.join(HERE, "output"), help="output folder (default examples/output/)")
    return parser.parse_args(argv)


def train(args: argparse.Namespace, comm=None) -> int:
    """Train and evaluate as ``args`` say, data-parallel over ``comm`` if given;
    return the exit status."""
    quick = args.quick or os.environ.get("DEZERO_QUICK", "") not in ("", "0")
    epochs = args.epochs or (1 if quick else 5)
    np.random.seed(args.seed)
    if comm is not None:
        import dezero.distributed as dist
    log = print if comm is None or comm.rank == 0 else (lambda *a, **k: None)

    if comm is not None and comm.rank != 0:
        comm.barrier()  # rank 0 fills the cache first: one download, not one per rank
    try:
        name, train_set, test_set = load(args.data, args.model, log)
    except (DownloadError, ValueError) as e:
        print(f"mnist: {e}", file=sys.stderr)
        return 1
    finally:
        if comm is not None and comm.rank == 0:
            comm.barrier()
    if quick:
        for dataset, n in ((train_set, 2000), (test_set, 500)):
            dataset.data, dataset.label = dataset.data[:n], dataset.label[:n]
    log(f"{name}: {len(train_set)} training and {len(test_set)} test items of shape {train_set[0][0].shape}")

    model = MLP((1000, 1000, 10), activation=F.relu) if args.model == "mlp" else CNN()
    gpu = False
    if args.gpu:
        if cuda.gpu_enable:
            if comm is not None:
                cuda.cupy.cuda.Device(comm.intra_rank % cuda.cupy.cuda.runtime.getDeviceCount()).use()
            log("training on the GPU")
            model.to_gpu()
            gpu = True
        else:
            reason = "CuPy is not installed" if cuda.cupy is None else "no CUDA device was found"
            log(f"--gpu: {reason}; falling back to the CPU")
    optimizer = Adam()
    # progress=True: a bar over each epoch's batches, drawn only on a terminal.
    train_loader = DataLoader(train_set, args.batch_size, gpu=gpu, progress=True)
    test_loader = DataLoader(test_set, args.batch_size, shuffle=False, gpu=gpu)
    if comm is not None:
        with dezero.no_grad():  # the lazy layers make their weights (the same on every rank: same seed)...
            model(next(iter(DataLoader(train_set, 1, shuffle=False, gpu=gpu)))[0])
        comm.bcast_data(model)  # ...and rank 0's are the ones every rank starts from
        optimizer = dist.create_multi_node_optimizer(optimizer, comm)
        # Every test item exactly once over all ranks; the means are weighted by shard size.
        test_loader = DataLoader(
            dist.scatter_dataset(test_set, comm, force_equal_length=False), args.batch_size, shuffle=False, gpu=gpu
        )
        log(f"{comm.size} rank(s) x batch {args.batch_size} = {comm.size * args.batch_size} items per step")
    optimizer.setup(model)

    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": [], "step_loss": []}
    for epoch in range(1, epochs + 1):
        start = time.time()
        if comm is not None:
            # A new order every epoch, the same on any number of ranks for one seed.
            shard = dist.scatter_dataset(train_set, comm, shuffle=True, seed=args.seed + epoch)
            train_loader = DataLoader(shard, args.batch_size, shuffle=False, gpu=gpu, progress=comm.rank == 0)
        step_losses = []
        train_loss, train_acc = run_epoch(model, train_loader, optimizer, step_losses)
        test_loss, test_acc = run_epoch(model, test_loader)
        if comm is not None:
            train = comm.mean_metrics({"loss": train_loss, "acc": train_acc}, count=len(train_loader.dataset))
            test = comm.mean_metrics({"loss": test_loss, "acc": test_acc}, count=len(test_loader.dataset))
            train_loss, train_acc, test_loss, test_acc = train["loss"], train["acc"], test["loss"], test["acc"]
            # Every rank's batch k has the same size, so the mean of their losses is the loss of the
            # whole step.
            step_losses = comm.allreduce_obj(np.array(step_losses), op="mean").tolist()
        history["step_loss"].extend(step_losses)
        for key, value in zip(history, (train_loss, train_acc, test_loss, test_acc)):
            history[key].append(value)
        log(
            f"epoch {epoch}: train loss {train_loss:.4f}, accuracy {100 * train_acc:.2f} % | "
            f"test loss {test_loss:.4f}, accuracy {100 * test_acc:.2f} % ({time.time() - start:.1f} s)"
        )

    if comm is not None and comm.rank != 0:
        return 0  # the models are identical: rank 0 writes the files
    os.makedirs(args.out, exist_ok=True)
    curves = os.path.join(args.out, f"mnist_{args.model}_curves.png")
    weights = os.path.join(args.out, f"mnist_{args.model}.npz")
    save_curves(history, f"{args.model.upper()} on {name}", curves)
    model.save_weights(weights)
    write_json_atomic(os.path.join(args.out, f"mnist_{args.model}_history.json"), history)
    print(f"test accuracy: {100 * history['test_acc'][-1]:.2f} %")
    print(f"wrote {curves} and {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
