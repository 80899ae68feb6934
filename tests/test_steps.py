"""Run the learning-path scripts steps/step23.py ... step60.py, which import dezero.

Each script runs in quick mode in its own process, from a temporary working
directory, with a temporary cache ($DEZERO_HOME) and output folder
($DEZERO_OUTPUT), and must exit with 0. Its key lines are checked: literal
text where the value is exact, numbers against closed forms computed here, and
the files it promises to write.

No test touches the network: the proxy variables point at a closed local port,
so a download attempt fails at once. Steps 51 (MNIST) and 58 (VGG16) run on
small stand-in files written here in the formats the dataset and model code
read (gzip'd IDX files; a VGG16 weights archive with every key and shape, and a
small JPEG), and must fail cleanly, naming the missing file, when the cache is
empty.
"""
import gzip
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS_DIR = os.path.join(REPO, "steps")
NUM = r"(-?\d+(?:\.\d*)?(?:e[+-]?\d+)?)"
HAVE_DOT = shutil.which("dot") is not None


def png(name):
    """Check: the step wrote this image (when Graphviz is needed, only if it is installed)."""
    return ("file", name)


def dot_png(name):
    return ("file", name) if HAVE_DOT else ("file", name.replace(".png", ".dot"))


T1 = math.tanh(1.0)


def least_squares_42():
    """Step 42's data and its exact least-squares line, computed independently."""
    rng = np.random.RandomState(0)  # np.random.seed(0) + np.random.rand draw the same stream
    x = rng.rand(100, 1)
    y = 5 + 2 * x + rng.rand(100, 1)
    A = np.hstack([x, np.ones_like(x)])
    return list(np.linalg.solve(A.T @ A, A.T @ y[:, 0]))


def loss_decreased(stdout, prefix):
    """The last reported loss is below the first one."""
    losses = [float(v) for v in re.findall(prefix + NUM, stdout, re.MULTILINE)]
    assert len(losses) >= 2 and losses[-1] < losses[0], f"losses {losses} did not decrease:\n{stdout}"


# step -> checks. A str must appear verbatim in stdout; a callable is called
# with stdout and asserts; a tuple
# (pattern, expected values, rel) must match a line (re.MULTILINE) whose
# captured numbers are close to the expected values (abs tolerance = rel when
# the expected value is 0); ("file", name) must exist in the output folder.
CHECKS = {
    "step23": ["y = (x + 3) ** 2 at x = 1.0: y = 16.0",
               (rf"^dy/dx = {NUM} ", [8.0], 0.0)],
    "step24": [(rf"^sphere .* dz/dx = {NUM}  dz/dy = {NUM}  \(numerical: {NUM}, {NUM};", [2, 2, 2, 2], 1e-6),
               (rf"^matyas .* dz/dx = {NUM}  dz/dy = {NUM}  \(numerical: {NUM}, {NUM};",
                [0.04, 0.04, 0.04, 0.04], 1e-6),
               (rf"^goldstein  z = {NUM}  dz/dx = {NUM}  dz/dy = {NUM}  \(numerical: {NUM}, {NUM}\)",
                [1876, -5376, 8064, -5376, 8064], 1e-6)],
    "step25": ["digraph g {", ("file", "step25_exp.dot")] + ([png("step25_exp.png")] if HAVE_DOT else []),
    "step26": [(r"^the graph of z = goldstein\(x, y\): (\d+) Functions", None, None),
               ("file", "step26_goldstein.dot"), dot_png("step26_goldstein.png")],
    "step27": [(rf"^threshold 0.0001: 4 terms.*\n  my_sin\(pi/4\) = {NUM} .*\n  d/dx         = {NUM} ",
                [math.sin(math.pi / 4), math.cos(math.pi / 4)], 1e-5),
               (rf"^threshold 1e-150: \d+ terms.*\n  my_sin\(pi/4\) = {NUM} .*\n  d/dx         = {NUM} ",
                [math.sin(math.pi / 4), math.cos(math.pi / 4)], 1e-14),
               ("file", "step27_my_sin_0.0001.dot"), ("file", "step27_my_sin_1em150.dot")],
    "step28": [(rf"^gradient at \(0, 2\): \({NUM}, {NUM}\)", [-2.0, 400.0], 0.0),
               png("step28_rosenbrock.png")],
    "step29": [(rf"^Newton's method converged to x = {NUM} in (\d+) iterations", [1.0, 7], 0.0),
               (rf"^iter 1: x = {NUM} ", [2 - 24 / 44], 1e-14)],  # x - f'/f'' at 2: 2 - 24/44
    "step30": ["x.grad.creator = None", "x.grad.creator = Mul",
               (rf"type\(x\.grad\) = Variable, value {NUM} ", [math.cos(1.0)], 1e-5)],
    "step31": ["Functions in the forward graph of y:  ['Sin']",
               "Functions in the graph of gx = dy/dx: ['Cos', 'Mul']",
               (rf"^d\(gx\)/dx at x = 1: {NUM} ", [-math.sin(1.0)], 1e-9),
               ("file", "step31_backward.dot")],
    "step32": ["f'(2)  = 24.0", "f''(2) = 44.0", "f' = 24.0, f'' = 44.0, f''' = 48.0",
               "without create_graph: x.grad = 24.0, recorded graph behind it: none"],
    "step33": [(rf"converged to x = {NUM} after", [1.0], 1e-15),
               (rf"^after 5 steps: automatic {NUM}, hand-written {NUM}$", [1.000001235308945] * 2, 1e-14)],
    "step34": [(rf"^order {k}: max \|.*\| over 200 points = {NUM}$", [0.0], 1e-12) for k in (1, 2, 3)]
    + [png("step34_sin_derivatives.png")],
    "step35": [(rf"^order 1: value\s+{NUM},", [1 - T1 ** 2], 1e-9),
               (rf"^order 2: value\s+{NUM},", [-2 * T1 * (1 - T1 ** 2)], 1e-9),
               (rf"^order 3: value\s+{NUM},", [(1 - T1 ** 2) * (6 * T1 ** 2 - 2)], 1e-9),
               ("file", "step35_tanh_order3.dot"), dot_png("step35_tanh_order3.png")],
    "step36": [(rf"dz/dx = {NUM} ", [100.0], 0.0),
               "gradient equals A x: True", "H v matches A @ v: True"],
    "step37": ["x.grad.shape = (2, 3), c.grad.shape = (2, 3), t.grad.shape = (2, 3)",
               "y = sum(x + c) = 231.0", "= 2x: True"],
    "step38": ["x.grad.shape after reshape: (2, 3)", "comes back as [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]",
               "agree: True", "x.grad.shape after transpose: (2, 3)",
               "inverse permutation (3, 0, 1, 2): True"],
    "step39": ["= 21.0; x.grad = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]",
               "[5.0, 7.0, 9.0]; seed [10, 20, 30] -> x.grad [[10.0, 20.0, 30.0], [10.0, 20.0, 30.0]]",
               "values [[6.0], [15.0]]; x.grad [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]",
               "has shape (1, 1, 1, 1)"],
    "step40": ["x.grad = [2.0, 2.0, 2.0]", "(1, 3): [[5.0, 7.0, 9.0]]",
               "x1.grad = [3.0]", "b.grad = [8.0, 8.0, 8.0]"],
    "step41": ["x.grad == gy @ W.T: True", "W.grad == x.T @ gy: True",
               "x.grad.shape = (2, 3), W.grad.shape = (3, 4)"],
    "step42": [(rf"^gradient descent: W = {NUM}, b = {NUM}$", "least squares 42", 2e-4),
               png("step42_linear_regression.png")],
    "step43": [lambda out: loss_decreased(out, r"^iter +\d+: loss = "), png("step43_sin_fit.png")],
    "step44": ["registered parameters of a bare Layer: ['p1', 'p2']",
               "before the first call: l1.W is empty",
               "after the first call: l1.W has shape (1, 10), l2.W has shape (10, 1)"],
    "step45": ["TwoLayerNet parameters: [('l1/W', (1, 10)), ('l1/b', (10,)), "
               "('l2/W', (10, 1)), ('l2/b', (1,))]",
               "MLP((10, 10, 1)) has 6 parameter arrays"]
    + ([png("step45_two_layer_net.png")] if HAVE_DOT else []),
    "step46": ["SGD(lr=0.2)", "MomentumSGD(lr=0.2)", "Adam(alpha=0.01)", png("step46_optimizers.png")],
    "step47": ["x.grad = [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]", "each row sums to 1: True",
               "(p - onehot(t)) / N: True",
               "loss 0.0 for the right class, 2000.0 for the wrong one"],
    "step48": [lambda out: loss_decreased(out, r"^epoch +\d+, loss "),
               (rf"^final loss {NUM}, training accuracy {NUM}$", None, None), png("step48_spiral.png")],
    "step49": ["Spiral(train, 300 items): len 300",
               "a custom Dataset: [(0.0, 0.0), (0.25, 0.0625), (0.5, 0.25), (0.75, 0.5625)]"],
    "step50": ["one batch: x (30, 2) float32, t (30,) int64; 10 batches per epoch",
               (rf"^final test accuracy: {NUM}$", None, None), png("step50_curves.png")],
    "step51": ["MNIST: 300 training and 100 test images; one item: x (784,) float32",
               (rf"^test accuracy: {NUM} %$", None, None)],
    "step52": [(r"falling back to the CPU|training on the GPU", None, None),
               (rf"^test accuracy on the (?:CPU|GPU): {NUM}$", None, None)],
    "step53": ["identical predictions: True", "epoch 10, Adam step count 100 (the original: 100)",
               "weights identical: True", ("file", "step53_weights.npz"), ("file", "step53_checkpoint.npz")],
    "step54": ["test mode: dropout returns its input unchanged: True",
               "training mode: two forward passes of the same input agree: False",
               "test mode:     two forward passes of the same input agree: True"],
    "step55": ["input 4x4, kernel 3x3, stride 1, pad 1 -> output 4x4",
               " 224   7   2   3 |     112     112", "on 7x7: 3x3"],
    "step56": ["im2col + matmul == six loops: True", "F.conv2d        == six loops: True",
               "gives a (32, 27) matrix", "output shape (2, 4, 4, 4)"],
    "step57": ["conv2d: x (1, 5, 15, 15), W (8, 5, 3, 3) -> y (1, 8, 15, 15)",
               "(1, 8, 15, 15) -> (1, 8, 7, 7)",
               "conv2d gradients (x, W, b) match finite differences: True",
               "pooling gradient matches finite differences: True",
               (rf"^epoch 2: loss {NUM}, test accuracy {NUM}$", None, None)],
    "step58": ["VGG16 loaded: 138,357,544 parameters",
               "image zebra.jpg 40x30 -> input (1, 3, 224, 224) float32",
               "output (1, 1000)",
               (r"^  top 1: class +(\d+) class_\1 ", None, None),
               (r"^  top 5: class +(\d+) class_\1 ", None, None)],
    "step59": [(rf"^predicting the next value of cos: mean squared error {NUM}$", None, None),
               png("step59_rnn_cos.png")],
    "step60": ["batch 0 holds items 0, 33, 66, ... (True), x (30, 1), t (30, 1)",
               (rf"^predicting the next value of cos: mean squared error {NUM}$", None, None),
               png("step60_lstm_cos.png")],
}


# =============================================================================
# Running a step
# =============================================================================
def step_env(home, out, quick=True):
    env = dict(os.environ)
    env.update({
        "DEZERO_HOME": str(home),
        "DEZERO_OUTPUT": str(out),
        "MPLBACKEND": "Agg",
        # One BLAS thread per process: the tests run two steps at a time (xdist).
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        # Offline: any download fails at once against a closed local port.
        "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
    })
    for key in ("no_proxy", "NO_PROXY", "DEZERO_QUICK"):
        env.pop(key, None)
    if quick:
        env["DEZERO_QUICK"] = "1"
    env.pop("PYTHONPATH", None)  # the steps must find dezero by themselves
    return env


def run_step(name, tmp_path, home=None, quick=True, args=()):
    home = home or tmp_path / "home"
    out = tmp_path / "out"
    os.makedirs(home, exist_ok=True)
    work = tmp_path / "cwd"  # a foreign directory: nothing may depend on the working directory
    work.mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, os.path.join(STEPS_DIR, f"{name}.py"), *args],
                          cwd=work, env=step_env(home, out, quick), capture_output=True,
                          text=True, timeout=300)
    return proc, out


def check_output(name, stdout, out_dir):
    for check in CHECKS[name]:
        if callable(check):
            check(stdout)
        elif isinstance(check, str):
            assert check in stdout, f"{name}: expected {check!r} in its output:\n{stdout}"
        elif check[0] == "file":
            path = out_dir / check[1]
            found = sorted(os.listdir(out_dir)) if out_dir.exists() else "no folder"
            assert path.is_file() and path.stat().st_size > 0, \
                f"{name}: {check[1]} was not written to {out_dir} (found {found})"
        else:
            pattern, expected, rel = check
            m = re.search(pattern, stdout, re.MULTILINE)
            assert m, f"{name}: no line matches {pattern!r}:\n{stdout}"
            if expected is None:
                continue
            if expected == "least squares 42":
                expected = least_squares_42()
            values = [float(v) for v in m.groups()]
            for got, want in zip(values, expected):
                assert got == pytest.approx(want, rel=rel, abs=rel if want == 0 else 0), \
                    f"{name}: {m.group(0)!r}: {got} != {want}"


# =============================================================================
# Stand-in data files
# =============================================================================
def write_idx(path, array):
    """An IDX file: magic 0x00 0x00 <type> <ndim>, big-endian dims, then the data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def make_mnist(home, n_train=300, n_test=100):
    """Stand-in MNIST: random 28x28 digits under the four standard file names."""
    folder = os.path.join(home, "mnist")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), rng.randint(0, 256, (n, 28, 28)))
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), rng.randint(0, 10, n))


def vgg16_shapes():
    """Every key of a VGG16 weights archive and its shape (the format Layer.save_weights writes)."""
    shapes, c_in = {}, 3
    for g, (channels, n_convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        for k in range(1, n_convs + 1):
            shapes[f"conv{g}_{k}/W"] = (channels, c_in, 3, 3)
            shapes[f"conv{g}_{k}/b"] = (channels,)
            c_in = channels
    for name, n_in, n_out in (("fc6", 512 * 7 * 7, 4096), ("fc7", 4096, 4096), ("fc8", 4096, 1000)):
        shapes[f"{name}/W"] = (n_in, n_out)
        shapes[f"{name}/b"] = (n_out,)
    return shapes


def make_vgg16_files(home):
    """vgg16.npz with random weights (138 M of them, a repeating random pattern so
    the archive compresses to a few MB), a small JPEG as zebra.jpg, and class names."""
    from PIL import Image

    pattern = (np.random.RandomState(0).randn(4099) * 0.01).astype(np.float32)
    with zipfile.ZipFile(os.path.join(home, "vgg16.npz"), "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key, shape in vgg16_shapes().items():
            with zf.open(key + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.resize(pattern, shape))
    pixels = (np.random.RandomState(1).rand(30, 40, 3) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(os.path.join(home, "zebra.jpg"))
    with open(os.path.join(home, "imagenet_labels.txt"), "w") as f:
        f.write("".join(f"class_{i}\n" for i in range(1000)))


# =============================================================================
# Tests
# =============================================================================
@pytest.mark.parametrize("name", [f"step{i:02d}" for i in range(23, 61)])
def test_step_runs_in_quick_mode(name, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    if name == "step51":
        make_mnist(home)
    elif name == "step58":
        make_vgg16_files(home)
    proc, out = run_step(name, tmp_path, home)
    assert proc.returncode == 0, \
        f"{name} exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    check_output(name, proc.stdout, out)


def test_every_step_is_checked():
    steps = sorted(f[:-3] for f in os.listdir(STEPS_DIR)
                   if re.fullmatch(r"step\d\d\.py", f) and f >= "step23")
    assert steps == sorted(CHECKS)


@pytest.mark.slow
def test_step48_default_mode_reaches_the_books_accuracy(tmp_path):
    """The real run (300 epochs): loss below 0.2 and accuracy above 0.9 on the spiral."""
    proc, _ = run_step("step48", tmp_path, quick=False)
    assert proc.returncode == 0, proc.stderr
    m = re.search(rf"^final loss {NUM}, training accuracy {NUM}$", proc.stdout, re.MULTILINE)
    assert m, proc.stdout
    assert float(m.group(1)) < 0.2 and float(m.group(2)) > 0.9, m.group(0)


def test_step29_and_33_agree(tmp_path):
    """Newton with a hand-written f'' (29) and with an automatic one (33): the same iterates."""
    iterates = []
    for name in ("step29", "step33"):
        proc, _ = run_step(name, tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        iterates.append(re.findall(rf"^iter \d+: x = {NUM}", proc.stdout, re.MULTILINE))
    assert len(iterates[0]) >= 7 and iterates[0] == iterates[1]


@pytest.mark.parametrize("name, missing", [("step51", "train-images-idx3-ubyte.gz"), ("step58", "vgg16.npz")])
def test_step_without_its_data_fails_with_a_clear_message(name, missing, tmp_path):
    home = tmp_path / "empty-cache"
    proc, _ = run_step(name, tmp_path, home)
    assert proc.returncode != 0
    assert missing in proc.stderr
    assert str(home) in proc.stderr  # the folder to put the file in
    assert "Traceback" not in proc.stderr


def test_options_flags_override_the_environment(tmp_path):
    """--out beats DEZERO_OUTPUT; --quick works without DEZERO_QUICK."""
    out = tmp_path / "flag-out"
    proc, env_out = run_step("step34", tmp_path, quick=False, args=("--quick", "--out", str(out)))
    assert proc.returncode == 0, proc.stderr
    assert (out / "step34_sin_derivatives.png").is_file()
    assert not env_out.exists()
