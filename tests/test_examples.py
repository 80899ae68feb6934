"""Run the example scripts (examples/spiral.py, mnist.py, gan.py, vae.py, demo.py).

Each runs in its own process from a temporary working directory, offline (the
proxy variables point at a closed local port), with a temporary dezero cache,
in quick mode unless said otherwise; it must exit with 0, print its summary
line and write the files it promises. The flagship demo is also run in its
default mode, where it must reach the accuracy the README states.
"""

import gzip
import os
import re
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

from tests.script_env import script_env

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
NUM = r"(-?\d+(?:\.\d*)?(?:e[+-]?\d+)?)"


def run_example(script, tmp_path, *args, quick=True, home=None):
    env = script_env(home or tmp_path / "home", quick=quick)
    work = tmp_path / "cwd"
    work.mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, script), *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{script} {args} exited with {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc, work


def assert_files(folder, *names):
    for name in names:
        path = os.path.join(folder, name)
        found = sorted(os.listdir(folder)) if os.path.isdir(folder) else "no folder"
        assert os.path.isfile(path) and os.path.getsize(path) > 0, f"{name} missing from {folder}: {found}"


def write_idx(path, array):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_spiral(tmp_path):
    out = tmp_path / "out"
    proc, _ = run_example("spiral.py", tmp_path, "--out", str(out))
    assert re.search(rf"^accuracy: train {NUM} %, test {NUM} %$", proc.stdout, re.MULTILINE), proc.stdout
    assert_files(out, "spiral_boundary.png")


def test_mnist_falls_back_to_digits_when_mnist_is_absent(tmp_path):
    out = tmp_path / "out"
    proc, _ = run_example("mnist.py", tmp_path, "--out", str(out))
    assert "falling back to scikit-learn's Digits" in proc.stdout
    # short: where each file goes, not each mirror's failure
    assert "train-images-idx3-ubyte.gz ->" in proc.stdout and "every mirror failed" not in proc.stdout
    assert "train-images-idx3-ubyte.gz" in proc.stdout  # says which file it looked for
    assert "Digits: 1438 training and 359 test items of shape (64,)" in proc.stdout
    assert re.search(rf"^test accuracy: {NUM} %$", proc.stdout, re.MULTILINE), proc.stdout
    assert_files(out, "mnist_mlp_curves.png", "mnist_mlp.npz")
    with np.load(out / "mnist_mlp.npz") as weights:  # the layout save_weights writes
        assert sorted(weights.files) == ["l0/W", "l0/b", "l1/W", "l1/b", "l2/W", "l2/b"]
        assert weights["l0/W"].shape == (64, 1000)


def test_mnist_cnn_with_gpu_flag_falls_back_to_the_cpu(tmp_path):
    out = tmp_path / "out"
    proc, _ = run_example("mnist.py", tmp_path, "--model", "cnn", "--data", "digits", "--gpu", "--out", str(out))
    from dezero import cuda

    if not cuda.gpu_enable:
        assert "--gpu: " in proc.stdout and "falling back to the CPU" in proc.stdout
    assert "items of shape (1, 8, 8)" in proc.stdout
    assert_files(out, "mnist_cnn_curves.png", "mnist_cnn.npz")


def test_mnist_reads_mnist_files_from_the_cache(tmp_path):
    home = tmp_path / "home"
    os.makedirs(home / "mnist")
    rng = np.random.RandomState(0)
    for prefix, n in (("train", 200), ("t10k", 50)):
        write_idx(str(home / "mnist" / f"{prefix}-images-idx3-ubyte.gz"), rng.randint(0, 256, (n, 28, 28)))
        write_idx(str(home / "mnist" / f"{prefix}-labels-idx1-ubyte.gz"), rng.randint(0, 10, n))
    out = tmp_path / "out"
    proc, _ = run_example("mnist.py", tmp_path, "--out", str(out), home=home)
    assert "MNIST: 200 training and 50 test items of shape (784,)" in proc.stdout
    assert "falling back" not in proc.stdout
    assert_files(out, "mnist_mlp_curves.png", "mnist_mlp.npz")


def test_gan(tmp_path):
    out = tmp_path / "out"
    proc, _ = run_example("gan.py", tmp_path, "--out", str(out))
    assert re.search(rf"^epoch +3  loss D {NUM}  loss G {NUM}$", proc.stdout, re.MULTILINE), proc.stdout
    assert_files(out, "gan_samples.png", "gan_losses.png")
    assert "\r" not in proc.stderr  # no progress bar when stderr is not a terminal


def test_vae(tmp_path):
    out = tmp_path / "out"
    proc, _ = run_example("vae.py", tmp_path, "--out", str(out))
    losses = [float(v) for v in re.findall(rf"^epoch +\d+  train loss {NUM}", proc.stdout, re.MULTILINE)]
    assert len(losses) == 3 and losses[-1] < losses[0], proc.stdout
    assert_files(out, "vae_reconstructions.png", "vae_samples.png")
    assert "\r" not in proc.stderr  # no progress bar when stderr is not a terminal


def run_on_a_terminal(script, tmp_path, *args) -> str:
    """Run an example with stdout and stderr on a pseudo-terminal; return what it showed."""
    import fcntl
    import pty
    import termios

    env = script_env(tmp_path / "home", TERM="xterm")
    controller, terminal = pty.openpty()
    # A new pseudo-terminal is 0 columns wide, and tqdm fits its bar to that.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, os.path.join(EXAMPLES, script), *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert proc.wait(timeout=300) == 0, shown.decode(errors="replace")
    return shown.decode(errors="replace")


@pytest.mark.parametrize("script, unit", [("gan.py", "epoch"), ("demo.py", "batch")])
def test_long_examples_draw_a_progress_bar_on_a_terminal(tmp_path, script, unit):
    pytest.importorskip("tqdm")
    shown = run_on_a_terminal(script, tmp_path, "--out", str(tmp_path / "out"))
    assert re.search(rf"\d+/\d+ \[[0-9:<]+, +[0-9.]+ ?{unit}/s", shown), shown[-2000:]
    assert "\r" in shown  # the bar redraws itself in place
    # The epoch lines are still there, whole, each on a line of its own (the bar
    # is wiped with a carriage return first).
    assert re.search(r"[\r\n]epoch +\d[^\r\n|]* loss [^\r\n|]*\r?\n", shown), shown[-2000:]


def test_demo_quick_writes_into_demo_output_of_the_working_directory(tmp_path):
    proc, work = run_example("demo.py", tmp_path)
    assert re.search(rf"^test accuracy: {NUM} %$", proc.stdout, re.MULTILINE), proc.stdout
    assert "Total parameters: 38,282" in proc.stdout  # the summary, after the lazy layers saw an input
    names = ["loss_curve.png"] + (["model_graph.png"] if shutil.which("dot") else [])
    assert_files(work / "demo_output", *names)


@pytest.mark.slow
def test_demo_default_run_reaches_the_stated_accuracy(tmp_path):
    """README's first command: 15 epochs on Digits, seed 0, at least 97 % test accuracy."""
    proc, _ = run_example("demo.py", tmp_path, "--out", str(tmp_path / "out"), quick=False)
    m = re.search(rf"^test accuracy: {NUM} %$", proc.stdout, re.MULTILINE)
    assert m, proc.stdout
    assert float(m.group(1)) >= 97.0
    assert "reached the target of 97 % test accuracy on Digits" in proc.stdout
    assert len(re.findall(r"^epoch +\d+/15 ", proc.stdout, re.MULTILINE)) == 15
