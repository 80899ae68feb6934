"""Run the learning-path scripts steps/step23.py ... step60.py, which import dezero.

Each step runs its ``main()`` in quick mode in its own process, from a
temporary working directory, with a temporary cache ($DEZERO_HOME) and output
folder ($DEZERO_OUTPUT), and must exit with 0 (see tests/step_runner.py). The
numbers main() returns are checked against closed forms or independent
computations made here, and the files it promises must be written.

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

from tests.script_env import script_env
from tests.step_runner import STEPS_DIR, run_step as run_main

HAVE_DOT = shutil.which("dot") is not None
T1 = math.tanh(1.0)


def approx(value, rel=1e-12, abs=0.0):
    return pytest.approx(value, rel=rel, abs=abs)


def written(out, name):
    """The step wrote this file, and it is not empty."""
    path = out / name
    found = sorted(os.listdir(out)) if out.exists() else "no folder"
    assert path.is_file() and path.stat().st_size > 0, f"{name} was not written to {out} (found {found})"
    return path


def decreased(values):
    assert len(values) >= 2 and values[-1] < values[0], f"{values} did not decrease"


def goldstein_gradient_at_1_1():
    """Central differences of the Goldstein-Price function at (1, 1), in float64."""

    def g(x, y):
        return (1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)) * (
            30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
        )

    h = 1e-6
    return g(1, 1), [(g(1 + h, 1) - g(1 - h, 1)) / (2 * h), (g(1, 1 + h) - g(1, 1 - h)) / (2 * h)]


# =============================================================================
# step -> check(results, out): results is what the step's main() returned,
# out the folder it writes into.
# =============================================================================
def check_step23(r, out):
    assert r["simple"] == [16.0, 8.0] and r["simple_grad_type"] == "ndarray"
    assert r["full"] == [16.0, 8.0] and r["full_grad_type"] == "Variable"
    assert r["is_simple_core"] is False
    assert {"core", "core_simple", "functions"} <= set(r["modules"])


def check_step24(r, out):
    assert r["sphere"]["grad"] == [2.0, 2.0]
    assert r["matyas"]["grad"] == [approx(0.04), approx(0.04)]
    z, numerical = goldstein_gradient_at_1_1()
    assert r["goldstein"]["z"] == z == 1876
    assert r["goldstein"]["grad"] == [-5376.0, 8064.0]
    assert r["goldstein"]["grad"] == [approx(v, rel=1e-6) for v in numerical]
    for name in ("sphere", "matyas", "goldstein"):
        assert r[name]["numerical"] == [approx(v, rel=1e-6) for v in r[name]["grad"]]


def check_step25(r, out):
    dot = written(out, "step25_exp.dot").read_text()
    assert "->" in dot and "Exp" in dot and r["dot"] == str(out / "step25_exp.dot")
    assert r["rendered"] is HAVE_DOT
    if HAVE_DOT:
        written(out, "step25_exp.png")


def check_step26(r, out):
    dot = written(out, "step26_goldstein.dot").read_text()
    assert r["n_functions"] == dot.count("shape=box") > 30
    assert r["n_variables"] == dot.count("shape=ellipse") > r["n_functions"]
    if HAVE_DOT:
        written(out, "step26_goldstein.png")


def check_step27(r, out):
    s, c = math.sin(math.pi / 4), math.cos(math.pi / 4)
    coarse, fine = r["0.0001"], r["1e-150"]
    assert coarse["terms"] == 4 and fine["terms"] > coarse["terms"]
    assert fine["functions"] > coarse["functions"]
    assert (coarse["sin"], coarse["cos"]) == (approx(s, rel=1e-5), approx(c, rel=1e-5))
    assert (fine["sin"], fine["cos"]) == (approx(s, rel=1e-14), approx(c, rel=1e-14))
    assert (r["F.sin"]["sin"], r["F.sin"]["cos"]) == (approx(s, rel=1e-15), approx(c, rel=1e-15))
    written(out, "step27_my_sin_0.0001.dot")
    written(out, "step27_my_sin_1em150.dot")


def check_step28(r, out):
    assert r["first_gradient"] == [-2.0, 400.0]
    a, b = 0.0, 2.0  # the same descent with the gradient derived by hand
    for _ in range(r["iters"]):
        ga, gb = -400 * a * (b - a**2) - 2 * (1 - a), 200 * (b - a**2)
        a, b = a - r["lr"] * ga, b - r["lr"] * gb
    assert r["final"] == [approx(a, rel=1e-9), approx(b, rel=1e-9)]
    written(out, "step28_rosenbrock.png")


def newton_iterates(x=2.0, n=7):
    xs = [x]
    for _ in range(n - 1):
        x -= (4 * x**3 - 4 * x) / (12 * x**2 - 4)
        xs.append(x)
    return xs


def check_step29(r, out):
    assert r["iterates"][:7] == [approx(v, rel=1e-13) for v in newton_iterates()]
    assert r["newton_x"] == 1.0 and r["newton_iters"] == 7
    assert r["descent_iters"] > 100


def check_step30(r, out):
    assert r["creator"] == "Sin"
    assert r["plain"] == {"grad_type": "Variable", "value": approx(math.cos(1.0), rel=1e-15), "creator": "None"}
    assert r["recorded_creator"] == "Mul" and sorted(r["recorded_inputs"]) == ["Cos", "None"]


def check_step31(r, out):
    assert r["forward"] == ["Sin"] and r["backward"] == ["Cos", "Mul"]
    assert r["second"] == approx(-math.sin(1.0), rel=1e-15)
    written(out, "step31_backward.dot")


def check_step32(r, out):
    assert (r["first"], r["second"]) == (24.0, 44.0)
    assert r["grad_function"] == [24.0, 44.0, 48.0]
    assert r["plain_grad"] == 24.0 and r["plain_creator"] is None


def check_step33(r, out):
    assert r["iterates"][:7] == [approx(v, rel=1e-13) for v in newton_iterates()]
    assert r["converged"] == 1.0
    assert r["auto"] == approx(r["hand"], rel=1e-15)


def check_step34(r, out):
    assert len(r["errors"]) == 3 and max(r["errors"]) < 1e-12
    written(out, "step34_sin_derivatives.png")


def check_step35(r, out):
    d1 = 1 - T1**2
    assert r["order"] == 3
    assert r["values"] == [approx(d1), approx(-2 * T1 * d1), approx(d1 * (6 * T1**2 - 2))]
    written(out, "step35_tanh_order3.dot")
    if HAVE_DOT:
        written(out, "step35_tanh_order3.png")


def check_step36(r, out):
    assert r["penalty"] == [68.0, 100.0]  # (2x)^3 + x^2 = 68, 24x^2 + 2x = 100 at x = 2
    A, x, v = np.array(r["A"]), np.array(r["x"]), np.array(r["v"])
    np.testing.assert_allclose(r["gradient"], A @ x, rtol=1e-12)
    np.testing.assert_allclose(r["hessian_vector"], A @ v, rtol=1e-12)


def check_step37(r, out):
    x = np.array(r["x"])
    assert r["sin_shape"] == [2, 3]
    assert r["sum"] == 231.0 and r["grad_shapes"] == [[2, 3]] * 3
    assert r["sum_grad"] == np.ones((2, 3)).tolist()
    assert r["square_grad"] == (2 * x).tolist()


def check_step38(r, out):
    assert r["reshape_grad"] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert r["method_forms"][0] == r["method_forms"][1] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert r["transpose"] == {"shape": [3, 2], "T": [3, 2], "grad_shape": [2, 3]}
    seed = np.array(r["seed"])
    assert r["shape"] == [2, 3, 4, 1]
    np.testing.assert_array_equal(r["grad"], np.transpose(seed, np.argsort(r["axes"])))


def check_step39(r, out):
    assert r["total"] == [21.0, [1.0] * 6]
    assert r["axis0"] == [[5.0, 7.0, 9.0], [[10.0, 20.0, 30.0]] * 2]
    assert r["axis1"] == [[[6.0], [15.0]], [[1.0] * 3, [2.0] * 3]]
    assert r["keepdims_shape"] == [1, 1, 1, 1]


def check_step40(r, out):
    assert r["broadcast"] == [[[1.0, 2.0, 3.0]] * 2, [2.0, 2.0, 2.0]]
    assert r["sum_to"] == [[[5.0, 7.0, 9.0]], [[1.0] * 3] * 2]
    assert r["add"] == [[11.0, 12.0, 13.0], [1.0, 1.0, 1.0], [3.0]]
    assert r["mul_shapes"] == [[2, 3, 4], [2, 1, 4], [3, 1]] and r["b_grad"] == [[8.0]] * 3


def check_step41(r, out):
    x, W, gy = (np.array(r[k]) for k in ("x", "W", "gy"))
    np.testing.assert_allclose(r["y"], x @ W, rtol=1e-12)
    np.testing.assert_allclose(r["x_grad"], gy @ W.T, rtol=1e-12)
    np.testing.assert_allclose(r["W_grad"], x.T @ gy, rtol=1e-12)
    assert r["numerical_W12"] == approx(r["W_grad"][1][2], rel=1e-7)


def check_step42(r, out):
    x, y = np.array(r["x"]), np.array(r["y"])
    A = np.hstack([x, np.ones_like(x)])
    W, b = np.linalg.solve(A.T @ A, A.T @ y[:, 0])  # the exact least-squares line
    assert (r["W"], r["b"]) == (approx(W, rel=2e-4), approx(b, rel=2e-4))
    written(out, "step42_linear_regression.png")


def check_step43(r, out):
    assert len(r["losses"]) == 1000
    decreased(r["losses"])
    written(out, "step43_sin_fit.png")


def check_step44(r, out):
    assert r["registered"] == ["p1", "p2"] and r["empty_before"] is True
    assert r["shapes"] == [[1, 10], [10, 1]]
    decreased(r["losses"])


def check_step45(r, out):
    assert r["params"] == [["l1/W", [1, 10]], ["l1/b", [10]], ["l2/W", [10, 1]], ["l2/b", [1]]]
    assert r["deep_params"] == 6 and r["deep_output"] == [100, 1]
    assert all(0 < loss < 0.5 for loss in r["losses"])  # the data's variance is about 0.58
    if HAVE_DOT:
        written(out, "step45_two_layer_net.png")


def check_step46(r, out):
    assert sorted(r["losses"]) == ["Adam(alpha=0.01)", "MomentumSGD(lr=0.2)", "SGD(lr=0.2)"]
    for losses in r["losses"].values():
        assert len(losses) == 300
        decreased(losses)
    written(out, "step46_optimizers.png")


def check_step47(r, out):
    assert r["take"] == [[3, 3], [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]]
    scores, t = np.array(r["scores"]), np.array(r["t"])
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(r["p"], p, rtol=1e-12)
    np.testing.assert_allclose(r["p_simple"], p, rtol=1e-12)
    expected = -np.mean(np.log(p[np.arange(len(t)), t]))
    assert r["loss"] == approx(expected) and r["loss_simple"] == approx(expected)
    np.testing.assert_allclose(r["scores_grad"], (p - np.eye(3)[t]) / len(t), rtol=1e-10, atol=1e-15)
    assert (r["big_right"], r["big_wrong"]) == (0.0, 2000.0)


def check_step48(r, out):
    assert len(r["history"]) == 30
    decreased(r["history"])
    assert 0.4 < r["accuracy"] <= 1.0  # three classes: 1/3 by chance
    written(out, "step48_spiral.png")


def check_step49(r, out):
    assert r["length"] == 300
    x0 = np.array(r["item0"][0])
    np.testing.assert_allclose(r["halved0"], x0 / 2, rtol=1e-6)
    assert r["custom"] == [[0.0, 0.0], [0.25, 0.0625], [0.5, 0.25], [0.75, 0.5625]]  # (x, x^2)
    decreased(r["history"])


def check_step50(r, out):
    assert r["first_batch"] == {"x": [[30, 2], "float32"], "t": [[30], "int64"], "batches": 10}
    decreased(r["history"]["train loss"])
    assert 0.4 < r["history"]["test acc"][-1] <= 1.0
    written(out, "step50_curves.png")


def check_step51(r, out):
    assert r["sizes"] == {"train": 300, "test": 100, "item": [[784], "float32"]}
    assert 0.0 <= r["test_accuracy"] <= 1.0  # random stand-in images: nothing to learn


def check_step52(r, out):
    assert r["device"] in ("CPU", "GPU") and r["array_module"] in ("numpy", "cupy")
    assert r["test_accuracy"] > 0.8  # handwritten digits, 10 classes, 2 epochs


def check_step53(r, out):
    assert r["identical_predictions"] is True and r["identical_weights"] is True
    assert r["epoch"] == 10 and r["adam_steps"] == [100, 100]
    assert r["losses"][0] == r["losses"][1]
    written(out, "step53_weights.npz")
    written(out, "step53_checkpoint.npz")


def check_step54(r, out):
    assert r["training"]["zeroed"] == approx(0.5, abs=0.02) and r["training"]["survivor"] == 2.0
    assert r["test_identity"] is True
    assert r["training_agree"] is False and r["test_agree"] is True
    assert all(0.4 < acc <= 1.0 for acc in r["accuracy"])


def check_step55(r, out):
    assert r["output"] == [4, 4]
    for h, k, s, p, formula, actual in r["table"]:
        assert formula == actual == (h + 2 * p - k) // s + 1
    assert r["pooled"] == [1, 1, 3, 3]


def check_step56(r, out):
    assert r["col_shape"] == [32, 27]
    np.testing.assert_allclose(r["im2col"], r["reference"], rtol=1e-10)
    np.testing.assert_allclose(r["dezero"], r["reference"], rtol=1e-10)
    assert np.array(r["dezero"]).shape == (2, 4, 4, 4)


def check_step57(r, out):
    assert r["shapes"] == [[1, 8, 15, 15], [1, 8, 7, 7]]
    assert r["gradient_checks"] == [True, True]
    assert len(r["history"]) == 2 and r["history"][-1][0] < r["history"][0][0]
    assert r["conv_W"] == [16, 1, 3, 3]


def check_step58(r, out):
    assert r["n_params"] == 138_357_544
    assert r["input"] == [[1, 3, 224, 224], "float32"] and r["output"] == [1, 1000]
    assert r["probabilities"][0] == approx(1.0, rel=1e-5) and r["probabilities"][1] >= 0
    assert len(set(r["top5"])) == 5
    assert r["labels"] == [f"class_{k}" for k in r["top5"]]


def check_step59(r, out):
    assert len(r["history"]) == 2 and r["error"] >= 0
    written(out, "step59_rnn_cos.png")


def check_step60(r, out):
    assert r["streams"] == {"first_items": True, "x": [30, 1], "t": [30, 1], "steps": 33}
    assert len(r["history"]) == 5 and r["error"] >= 0
    written(out, "step60_lstm_cos.png")


CHECKS = {name[len("check_") :]: check for name, check in globals().items() if name.startswith("check_step")}


# =============================================================================
# Running a step
# =============================================================================
def run_step(name, tmp_path, home=None, quick=True, args=()):
    """Run steps/<name>.py as a plain script (its own `if __name__ == "__main__"`)."""
    home = home or tmp_path / "home"
    out = tmp_path / "out"
    os.makedirs(home, exist_ok=True)
    work = tmp_path / "cwd"  # a foreign directory: nothing may depend on the working directory
    work.mkdir(exist_ok=True)
    proc = subprocess.run(
        [sys.executable, os.path.join(STEPS_DIR, f"{name}.py"), *args],
        cwd=work,
        env=script_env(home, out, quick),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc, out


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
def test_step_runs_in_quick_mode_and_computes_what_it_should(name, tmp_path):
    home, out, work = tmp_path / "home", tmp_path / "out", tmp_path / "cwd"
    home.mkdir()
    work.mkdir()  # a foreign directory: nothing may depend on the working directory
    if name == "step51":
        make_mnist(home)
    elif name == "step58":
        make_vgg16_files(home)
    proc, results = run_main(name, work, env=script_env(home, out))
    assert proc.returncode == 0, f"{name} exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    CHECKS[name](results, out)


def test_every_step_is_checked():
    steps = sorted(f[:-3] for f in os.listdir(STEPS_DIR) if re.fullmatch(r"step\d\d\.py", f) and f >= "step23")
    assert steps == sorted(CHECKS)


@pytest.mark.slow
def test_step48_default_mode_reaches_the_books_accuracy(tmp_path):
    """The real run (300 epochs): loss below 0.2 and accuracy above 0.9 on the spiral."""
    out = tmp_path / "out"
    proc, results = run_main("step48", tmp_path, env=script_env(tmp_path, out, quick=False))
    assert proc.returncode == 0, proc.stderr
    assert results["history"][-1] < 0.2 and results["accuracy"] > 0.9


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
