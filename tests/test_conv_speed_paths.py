"""The batch-splitting paths of dezero.parallel give what the one-piece paths give.

Convolution, deconvolution, max pooling and ReLU split a batch across threads
when it is large (see dezero/parallel.py). Here every split is forced on small
inputs (three slices, so that slices are uneven) and compared with the same op
run in one piece; the one-piece ops are themselves checked against PyTorch and
numerical gradients in test_conv.py and test_pooling.py.
"""

import multiprocessing
import os
import sys
import threading
import time

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import parallel, tuning

threadpoolctl = pytest.importorskip("threadpoolctl")


@pytest.fixture
def split_everything(monkeypatch):
    """Turn every op of these tests into three slices on three threads."""
    before = tuning.op_threads()
    monkeypatch.setattr(parallel, "MIN_SLICE_ELEMENTS", 1)
    tuning.set_op_threads(3)
    slices = []
    run_slice = parallel._run_slice

    def spy(work, start, stop):
        slices.append((start, stop, threading.get_ident()))
        # Slices go to whichever thread is free first: on inputs this small the
        # calling thread would do them all before a worker woke up.
        time.sleep(0.002)
        return run_slice(work, start, stop)

    monkeypatch.setattr(parallel, "_run_slice", spy)
    yield slices
    tuning.set_op_threads(before)


def was_split(slices) -> bool:
    """Some slice started inside the batch and ran on another thread than the test's."""
    return any(start > 0 and thread != threading.get_ident() for start, _, thread in slices)


def one_piece(fn):
    before = tuning.op_threads()
    tuning.set_op_threads(1)
    try:
        return fn()
    finally:
        tuning.set_op_threads(before)


def run_with_grads(fn, *arrays):
    variables = [dezero.Variable(a) for a in arrays]
    y = fn(*variables)
    y.backward(grad=np.random.default_rng(1).standard_normal(y.shape).astype(y.dtype))
    return [y.data] + [v.grad.data for v in variables]


def assert_same(split, whole, dtype):
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(split, whole):
        assert a.dtype == b.dtype and a.shape == b.shape
        # Only the filter gradient adds the slices' partial sums in another order.
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 0), ((2, 1), (0, 2))])
def test_split_conv2d_matches_one_piece_in_value_and_gradients(split_everything, dtype, stride, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 9, 8)).astype(dtype)
    W = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)

    def conv(x, W, b):
        return F.conv2d(x, W, b, stride=stride, pad=pad)

    split = run_with_grads(conv, x, W, b)
    assert was_split(split_everything)
    assert_same(split, one_piece(lambda: run_with_grads(conv, x, W, b)), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_deconv2d_matches_one_piece_in_value_and_gradients(split_everything, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 6)).astype(dtype)
    W = rng.standard_normal((3, 2, 3, 3)).astype(dtype)
    b = rng.standard_normal(2).astype(dtype)

    def deconv(x, W, b):
        return F.deconv2d(x, W, b, stride=2, pad=1)

    split = run_with_grads(deconv, x, W, b)
    assert was_split(split_everything)
    assert_same(split, one_piece(lambda: run_with_grads(deconv, x, W, b)), dtype)


def test_split_conv2d_second_derivatives_match_one_piece(split_everything):
    rng = np.random.default_rng(2)
    x_data = rng.standard_normal((4, 2, 6, 6))
    W_data = rng.standard_normal((3, 2, 3, 3))

    def double_backward():
        x, W = dezero.Variable(x_data), dezero.Variable(W_data)
        y = F.conv2d(x, W, None, stride=1, pad=1)
        F.sum(y * y).backward(create_graph=True)
        # The gradient of sum(gW**2) differentiates the filter gradient
        # (Conv2DGradW), whose windows are then recomputed slice by slice.
        gW = W.grad
        x.cleargrad()
        W.cleargrad()
        F.sum(gW * gW).backward()
        return [x.grad.data, W.grad.data]

    split = double_backward()
    assert was_split(split_everything)
    assert_same(split, one_piece(double_backward), np.float64)


def test_split_bias_gradient_matches_one_piece_and_differentiates_again(split_everything):
    rng = np.random.default_rng(3)
    x_data, W_data = rng.standard_normal((5, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    b_data = rng.standard_normal(3)

    def bias_grads():
        b = dezero.Variable(b_data)
        y = F.conv2d(x_data, W_data, b, pad=1)
        F.sum(y * y).backward(create_graph=True)
        gb = b.grad  # 2 * y summed over (n, y, x): depends on b again
        b.cleargrad()
        F.sum(gb * gb).backward()
        return [gb.data, b.grad.data]

    split = bias_grads()
    assert was_split(split_everything)
    y = F.conv2d(x_data, W_data, b_data, pad=1).data
    np.testing.assert_allclose(split[0], (2 * y).sum(axis=(0, 2, 3)), rtol=1e-12)
    # d/db of sum_c (sum 2y)^2 = 2 * gb_c * (2 * number of positions)
    np.testing.assert_allclose(split[1], 2 * split[0] * 2 * y[:, 0].size, rtol=1e-12)
    assert_same(split, one_piece(bias_grads), np.float64)


@pytest.mark.parametrize("kernel, stride, pad", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_split_max_pooling_matches_one_piece_in_value_and_gradients(split_everything, kernel, stride, pad):
    rng = np.random.default_rng(0)
    # Rounded values make ties, which must go to the same element in every slice.
    x = np.round(rng.standard_normal((5, 3, 7, 8)), 1).astype(np.float32)

    def pool(x):
        return F.pooling(x, kernel, stride, pad)

    split = run_with_grads(pool, x)
    assert was_split(split_everything)
    assert_same(split, one_piece(lambda: run_with_grads(pool, x)), np.float32)


def test_split_max_pooling_routes_an_infinite_gradient_like_one_piece(split_everything):
    x = np.random.default_rng(0).standard_normal((4, 2, 6, 6)).astype(np.float32)
    gy = np.ones((4, 2, 3, 3), dtype=np.float32)
    gy[1, 0, 0, 0] = np.inf

    def grad():
        v = dezero.Variable(x)
        F.pooling(v, 2, 2).backward(grad=gy)
        return v.grad.data

    split = grad()
    assert np.isinf(split).sum() == 1 and not np.isnan(split).any()
    np.testing.assert_array_equal(split, one_piece(grad))


@pytest.mark.parametrize("product_class", ["small", "held to one BLAS thread", "BLAS threads"])
@pytest.mark.parametrize("transposed", [False, True])
def test_matmul_equals_the_plain_product_in_every_size_class(monkeypatch, product_class, transposed):
    held = []
    hold = parallel._blas_held_to_one_thread
    monkeypatch.setattr(parallel, "_blas_held_to_one_thread", lambda: held.append(1) or hold())
    # 7 x 5 x 3 = 105 multiply-adds: move the class limits around it.
    limits = {"small": (106, 200), "held to one BLAS thread": (1, 106), "BLAS threads": (1, 105)}[product_class]
    monkeypatch.setattr(parallel, "BLAS_SERIAL_PRODUCT", limits[0])
    monkeypatch.setattr(parallel, "BLAS_THREADED_PRODUCT", limits[1])
    before = tuning.op_threads()
    tuning.set_op_threads(None)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 5)).astype(np.float32)
    b = rng.standard_normal((5, 3)).astype(np.float32)
    if transposed:  # non-contiguous operands
        a, b = np.asfortranarray(a), b.T.copy().T
    try:
        out = parallel.matmul(a, b)
    finally:
        tuning.set_op_threads(before)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, a @ b)
    assert bool(held) == (product_class == "held to one BLAS thread")


def test_blas_runs_on_one_thread_inside_slices_and_gets_its_count_back(split_everything):
    before = parallel.blas_threads()
    inside = parallel.for_each_slice(lambda start, stop: parallel.blas_threads(), 6, 10**6)
    assert inside == [1] * 6
    assert was_split(split_everything)
    assert parallel.blas_threads() == before


def test_slices_cover_the_batch_in_order_a_few_per_thread(split_everything):
    assert parallel.for_each_slice(lambda start, stop: (start, stop), 20, 10**6) == [
        (0, 1),
        (1, 3),
        (3, 5),
        (5, 6),
        (6, 8),
        (8, 10),
        (10, 11),
        (11, 13),
        (13, 15),
        (15, 16),
        (16, 18),
        (18, 20),
    ]
    assert was_split(split_everything)


def test_a_slice_is_never_split_again(split_everything):
    def outer(start, stop):
        return parallel.for_each_slice(lambda a, b: (a, b), 4, 10**6)

    assert parallel.for_each_slice(outer, 6, 10**6) == [[(0, 4)]] * 6


def test_an_error_in_one_slice_reaches_the_caller_after_every_slice_is_done(split_everything):
    started, finished = [], []

    def work(start, stop):
        started.append(start)
        if start == 2:
            raise ValueError(f"slice {start}:{stop} failed")
        time.sleep(0.01)
        finished.append(start)

    with pytest.raises(ValueError, match="slice 2:3 failed"):
        parallel.for_each_slice(work, 6, 10**6)
    assert sorted(finished) == sorted(s for s in started if s != 2)
    assert len(started) < 6  # no slice is handed out after the error


def test_slices_follow_the_blas_thread_count_by_default():
    before = tuning.op_threads()
    tuning.set_op_threads(None)
    try:
        with threadpoolctl.threadpool_limits(1, user_api="blas"):
            assert parallel.slice_count(64, 10**8) == 1
        assert parallel.slice_count(64, 10**8) == min(parallel.blas_threads(), 64)
        assert parallel.slice_count(64, 10) == 1  # too little work for a second thread
    finally:
        tuning.set_op_threads(before)


@pytest.mark.parametrize("count", [0, -1, 2.0, True, "2"])
def test_set_op_threads_refuses_what_is_not_a_positive_int(count):
    with pytest.raises(ValueError, match="set_op_threads: count must be None or a positive int"):
        tuning.set_op_threads(count)


def _conv_in_child(queue):
    x = np.ones((6, 2, 5, 5), dtype=np.float32)
    W = np.ones((3, 2, 3, 3), dtype=np.float32)
    queue.put(float(F.conv2d(x, W, None, pad=1).data.sum()))


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the start method under test")
def test_splitting_works_in_a_forked_child(split_everything):
    F.conv2d(np.ones((6, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32))  # the parent's pool exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_conv_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung: it used the parent's pool, whose threads it does not have")
    assert child.exitcode == 0
    expected = one_piece(
        lambda: float(
            F.conv2d(np.ones((6, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32), None, pad=1).data.sum()
        )
    )
    assert queue.get(timeout=10) == expected


def test_op_threads_can_be_set_from_the_environment():
    import subprocess

    code = "import dezero; print(dezero.tuning.op_threads(), dezero.tuning.report().get('op threads'))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEZERO_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**env, "DEZERO_OP_THREADS": "3"}
    )
    assert out.stdout.split() == ["3", "3"]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "None as many as BLAS uses"


def test_without_threadpoolctl_ops_run_in_one_piece():
    import subprocess

    code = (
        "import sys; sys.modules['threadpoolctl'] = None\n"
        "import numpy as np, dezero, dezero.functions as F\n"
        "from dezero import parallel\n"
        "x = np.ones((64, 8, 16, 16), np.float32); W = np.ones((8, 8, 3, 3), np.float32)\n"
        "y = F.conv2d(x, W, None, pad=1)\n"
        "print(parallel.slice_count(64, 10**8), float(y.data[0, 0, 5, 5]), float(y.data[0, 0, 0, 0]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "72.0", "32.0"]


def test_while_dezero_holds_blas_to_one_thread_slices_follow_the_users_count():
    before = tuning.op_threads()
    tuning.set_op_threads(None)
    try:
        with threadpoolctl.threadpool_limits(2, user_api="blas"):
            with parallel._blas_held_to_one_thread() as held:
                assert held and parallel.blas_threads() == 1
                assert parallel.slice_count(64, 10**8) == 2
    finally:
        tuning.set_op_threads(before)


@pytest.mark.parametrize("dtypes", [(np.float32, np.float32), (np.float64, np.float32), (np.float32, np.float64)])
def test_blockwise_scaled_add_equals_the_plain_update_to_the_bit(dtypes):
    rng = np.random.default_rng(0)
    size = 3 * parallel._BLOCK + 123  # blocks that do not divide the slices evenly
    target = rng.standard_normal((size // 3, 3)).astype(dtypes[0])
    delta = rng.standard_normal((size // 3, 3)).astype(dtypes[1])
    expected = target.copy()
    expected -= 0.01 * delta
    parallel.add_scaled(target, -0.01, delta)
    assert target.dtype == dtypes[0]
    np.testing.assert_array_equal(target, expected)


def test_sgd_and_momentum_updates_of_a_large_parameter_match_the_plain_formula():
    from dezero.optimizers import SGD, MomentumSGD

    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((300, 500)).astype(np.float32)
    g = rng.standard_normal((300, 500)).astype(np.float32)
    for optimizer, expected in (
        (SGD(lr=0.1), W0 - np.float32(0.1) * g),
        (MomentumSGD(lr=0.1, momentum=0.9), W0 + (-np.float32(0.1) * g)),
    ):
        model = dezero.Layer()
        model.W = dezero.Parameter(W0.copy())
        model.W.grad = dezero.Variable(g.copy())
        optimizer.setup(model).update()
        assert model.W.data.dtype == np.float32
        np.testing.assert_array_equal(model.W.data, expected)
        np.testing.assert_array_equal(model.W.grad.data, g)  # the gradient is left alone


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_relu_matches_one_piece_in_value_and_first_and_second_gradients(split_everything, dtype):
    x_data = np.random.default_rng(0).standard_normal((5, 3, 4, 4)).astype(dtype)
    x_data[0, 0, 0, :2] = 0.0  # the gradient at 0 is 0

    def relu_grads():
        x = dezero.Variable(x_data)
        y = F.relu(x)
        F.sum(y * y * x).backward(create_graph=True)  # 3 x^2 where x > 0
        gx = x.grad
        x.cleargrad()
        F.sum(gx * gx).backward()
        return [y.data, gx.data, x.grad.data]

    split = relu_grads()
    assert was_split(split_everything)
    positive = x_data > 0
    np.testing.assert_allclose(split[1], np.where(positive, 3 * x_data**2, 0), rtol=1e-5)
    assert_same(split, one_piece(relu_grads), dtype)


def test_elementwise_keeps_non_contiguous_arrays_in_one_piece(split_everything):
    x = np.arange(24.0).reshape(4, 6).T  # a transposed view
    out = parallel.elementwise(lambda x, out: np.negative(x, out=out), np.empty_like(x), x)
    np.testing.assert_array_equal(out, -x)
    assert not was_split(split_everything)


def test_splits_hold_blas_from_any_thread_and_give_its_count_back(split_everything):
    # threadpoolctl lets one Python thread control OpenBLAS's thread count; a
    # split in one thread must not lock the splits of another out of it.
    for lib in parallel._blas_controllers():  # whichever thread sets a count first takes control
        if hasattr(lib, "clear_controlling_thread"):
            lib.clear_controlling_thread(force=True)
    first_done, finish = threading.Event(), threading.Event()

    def first_thread():
        parallel.for_each_slice(lambda start, stop: None, 6, 10**6)
        first_done.set()
        finish.wait(timeout=30)

    other = threading.Thread(target=first_thread)
    other.start()
    try:
        assert first_done.wait(timeout=30)
        before = parallel.blas_threads()
        inside = parallel.for_each_slice(lambda start, stop: parallel.blas_threads(), 6, 10**6)
        assert inside == [1] * 6
        assert parallel.blas_threads() == before
    finally:
        finish.set()
        other.join(timeout=30)


def test_with_one_op_thread_matmul_leaves_blas_alone(monkeypatch):
    entered = []
    hold = parallel._blas_held_to_one_thread
    monkeypatch.setattr(parallel, "_blas_held_to_one_thread", lambda: entered.append(1) or hold())
    before = tuning.op_threads()
    tuning.set_op_threads(1)
    try:
        a = np.ones((200, 300), np.float32)
        np.testing.assert_array_equal(parallel.matmul(a, a.T), np.full((200, 200), 300.0, np.float32))
    finally:
        tuning.set_op_threads(before)
    assert entered == []


# =============================================================================
# Chunks: convolutions cut each slice into chunks of a few samples
# =============================================================================
def _conv_family_grads(stride, pad, dtype):
    """Values, first and second gradients of conv2d and deconv2d (with bias)."""
    rng = np.random.default_rng(4)
    x_data = rng.standard_normal((5, 3, 7, 6)).astype(dtype)
    W_data = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    b_data = rng.standard_normal(4).astype(dtype)
    d_data = rng.standard_normal((5, 4, 4, 3)).astype(dtype)
    Wd_data = rng.standard_normal((4, 2, 3, 3)).astype(dtype)
    bd_data = rng.standard_normal(2).astype(dtype)
    x, W, b = dezero.Variable(x_data), dezero.Variable(W_data), dezero.Variable(b_data)
    d, Wd, bd = dezero.Variable(d_data), dezero.Variable(Wd_data), dezero.Variable(bd_data)
    y = F.conv2d(x, W, b, stride=stride, pad=pad)
    z = F.deconv2d(d, Wd, bd, stride=stride, pad=pad)
    F.sum(y * y).backward(create_graph=True)
    F.sum(z * z).backward(create_graph=True)
    first = [x.grad, W.grad, b.grad, d.grad, Wd.grad, bd.grad]
    for v in (x, W, b, d, Wd, bd):
        v.cleargrad()
    sum(F.sum(g * g) for g in first).backward()
    return [y.data, z.data] + [g.data for g in first] + [x.grad.data, W.grad.data, d.grad.data, Wd.grad.data]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride, pad", [(1, 1), (1, 0), (1, (2, 0)), (2, 1)])
def test_conv_in_chunks_of_two_samples_matches_one_chunk(monkeypatch, dtype, stride, pad):
    from dezero.functions import conv

    whole = one_piece(lambda: _conv_family_grads(stride, pad, dtype))
    # Two samples' worth of the largest per-sample buffer: chunks of 2, 2 and 1
    # (smaller buffers get more samples per chunk).
    monkeypatch.setattr(conv, "CHUNK_ELEMENTS", 2 * 2 * 3 * 3 * 7 * 9)
    chunked = one_piece(lambda: _conv_family_grads(stride, pad, dtype))
    monkeypatch.setattr(conv, "CHUNK_ELEMENTS", 1)  # one sample per chunk
    single = one_piece(lambda: _conv_family_grads(stride, pad, dtype))
    # The filter gradients add the chunks' partial sums in another order, and
    # the second derivatives cancel: compare against each array's scale.
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for ours in (chunked, single):
        for a, b in zip(ours, whole):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


def test_stride_one_deconv2d_matches_the_reference_scatter_for_every_pad():
    from tests.test_conv import deconv_ref

    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 5, 4))
    W = rng.standard_normal((2, 3, 3, 2))
    b = rng.standard_normal(3)
    for pad in [0, 1, (1, 0), (0, 1)]:
        y = F.deconv2d(x, W, b, stride=1, pad=pad)
        np.testing.assert_allclose(y.data, deconv_ref(x, W, b, 1, pad), rtol=1e-12, atol=1e-12)
