"""Max pooling (pooling, max_pooling, pooling_simple) and average_pooling: every
case runs the op harness (forward against plain-loop references, backward and
double backward against numerical gradients, float32/float64, NumPy/CuPy,
strided, read-only and untouched inputs); below the cases, padding, ties,
non-finite gradients, argument errors and PyTorch."""

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero.utils import pair
from tests.op_harness import OpCase, OpTests, distinct


# =============================================================================
# Plain-loop references (NumPy)
# =============================================================================
def windows_ref(x, kernel, stride, pad, fill):
    """Yield (y, x-slice-origin, window) for every output position, padding with ``fill``."""
    (kh, kw), (sy, sx), (ph, pw) = pair(kernel), pair(stride), pair(pad)
    n, c, h, w = x.shape
    xp_ = np.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=np.float64)
    xp_[:, :, ph : ph + h, pw : pw + w] = x
    oh, ow = (h + 2 * ph - kh) // sy + 1, (w + 2 * pw - kw) // sx + 1
    for i in range(oh):
        for j in range(ow):
            yield i, j, xp_[:, :, i * sy : i * sy + kh, j * sx : j * sx + kw]


def max_pool_ref(x, kernel, stride, pad):
    (kh, kw), (sy, sx), (ph, pw) = pair(kernel), pair(stride), pair(pad)
    n, c, h, w = x.shape
    y = np.zeros((n, c, (h + 2 * ph - kh) // sy + 1, (w + 2 * pw - kw) // sx + 1))
    for i, j, win in windows_ref(x, kernel, stride, pad, -np.inf):
        y[:, :, i, j] = win.max(axis=(2, 3))
    return y


def avg_pool_ref(x, kernel, stride, pad):
    (kh, kw), (sy, sx), (ph, pw) = pair(kernel), pair(stride), pair(pad)
    n, c, h, w = x.shape
    y = np.zeros((n, c, (h + 2 * ph - kh) // sy + 1, (w + 2 * pw - kw) // sx + 1))
    for i, j, win in windows_ref(x, kernel, stride, pad, 0.0):
        y[:, :, i, j] = win.sum(axis=(2, 3)) / (kh * kw)
    return y


# =============================================================================
# Cases: (x shape, kernel, stride, pad)
# =============================================================================
CASES = [
    ((1, 1, 4, 4), 2, 2, 0),  # batch 1, the classic 2x2/2
    ((2, 3, 5, 7), 3, 1, 1),  # odd sizes, overlapping windows
    ((2, 2, 7, 6), (3, 2), (2, 1), (1, 1)),  # non-square kernel, per-axis stride
    ((1, 2, 6, 5), 2, 1, 0),
    ((2, 1, 7, 7), 3, 3, 1),  # stride 3, pad 1
    ((1, 2, 5, 6), 2, (2, 1), (0, 1)),  # ((2, 1), (0, 1))
    ((2, 1, 5, 5), 4, 1, 2),  # pad 2: windows mostly padding at the corners
    ((1, 2, 3, 4), (3, 4), 1, 0),  # kernel = image: 1x1 output
]
IDS = [f"x{c[0]}-k{c[1]}-s{c[2]}-p{c[3]}".replace(" ", "") for c in CASES]
MAX_POOLS = [F.pooling, F.max_pooling, F.pooling_simple]
MAX_IDS = ["pooling", "max_pooling", "pooling_simple"]


def separated(shape, dtype, seed=0):
    """Distinct values 0.1 apart (a shuffled ramp, centred): no near-ties, so the
    max is piecewise linear with a margin larger than the numerical step."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * 0.1).reshape(shape).astype(dtype)


def _pool_case(pool, case, reference):
    shape, kernel, stride, pad = case
    # Distinct values 0.1 apart: no tie within reach of a finite difference.
    return OpCase(
        f"{pool.__name__}(x{shape}, kernel {kernel}, stride {stride}, pad {pad})",
        lambda x, kernel=kernel, stride=stride, pad=pad: pool(x, kernel, stride, pad),
        [distinct(shape)],
        lambda x, kernel=kernel, stride=stride, pad=pad: reference(x, kernel, stride, pad),
        op=pool,
    )


class TestPoolingOps(OpTests):
    cases = [
        *[_pool_case(F.pooling, case, max_pool_ref) for case in CASES],
        *[_pool_case(F.pooling_simple, case, max_pool_ref) for case in CASES],
        *[_pool_case(F.average_pooling, case, avg_pool_ref) for case in CASES],
    ]


def test_max_pooling_is_pooling():
    # One function under two names: the cases of pooling cover both.
    assert F.max_pooling is F.pooling


@pytest.mark.parametrize("pool", MAX_POOLS, ids=MAX_IDS)
def test_max_pooling_never_picks_the_padding(pool):
    # All inputs negative: zero padding would win every border window.
    x = -1.0 - np.random.default_rng(2).random((2, 3, 5, 4))
    xv = dezero.Variable(x)
    y = pool(xv, 3, stride=2, pad=1)
    assert np.all(y.data < 0)
    np.testing.assert_array_equal(y.data, max_pool_ref(x, 3, 2, 1))
    y.backward()
    # Every window hands its gradient to one real input element: nothing is lost in the pad.
    assert xv.grad.data.sum() == y.size


@pytest.mark.parametrize("pool", MAX_POOLS, ids=MAX_IDS)
def test_max_pooling_tie_goes_to_first_element_in_row_major_order(pool):
    # One 3x3 window whose maximum 5 appears three times: at (0, 2), (1, 0), (2, 2).
    x = np.array([[1.0, 0.0, 5.0], [5.0, 2.0, 3.0], [0.0, 1.0, 5.0]]).reshape(1, 1, 3, 3)
    xv = dezero.Variable(x)
    pool(xv, 3).backward(grad=np.array([[[[7.0]]]]))
    expected = np.zeros((3, 3))
    expected[0, 2] = 7.0
    np.testing.assert_array_equal(xv.grad.data[0, 0], expected)


@pytest.mark.parametrize("pool", MAX_POOLS, ids=MAX_IDS)
def test_max_pooling_constant_input_overlapping_windows(pool):
    # All equal: each 2x2 window (stride 1) sends its gradient to its top-left cell.
    xv = dezero.Variable(np.ones((1, 1, 3, 3)))
    pool(xv, 2, 1).backward()
    np.testing.assert_array_equal(xv.grad.data[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_max_pooling_nonfinite_gradient_stays_in_its_cell():
    x = separated((1, 1, 4, 4), np.float64)
    xv = dezero.Variable(x)
    y = F.pooling(xv, 2, 2)
    gy = np.ones(y.shape)
    gy[0, 0, 0, 0] = np.inf
    y.backward(grad=gy)
    g = xv.grad.data[0, 0, :2, :2]
    winner = np.unravel_index(np.argmax(x[0, 0, :2, :2]), (2, 2))
    assert np.isinf(g[winner])
    assert np.count_nonzero(g) == 1 and not np.isnan(g).any()


def test_average_pooling_counts_the_zero_padding():
    # Ones, 2x2 windows, pad 1: a corner window holds one real cell out of four.
    y = F.average_pooling(np.ones((1, 1, 2, 2)), 2, stride=1, pad=1)
    np.testing.assert_array_equal(y.data[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


# =============================================================================
# Bad arguments
# =============================================================================
X = np.zeros((2, 3, 5, 5))


@pytest.mark.parametrize(
    "pool", [F.pooling, F.pooling_simple, F.average_pooling], ids=["pooling", "pooling_simple", "average_pooling"]
)
@pytest.mark.parametrize(
    "args, message",
    [
        ((np.zeros((3, 5, 5)), 2), r"{op}: x must be 4-D \(N, C, H, W\), got shape \(3, 5, 5\)"),
        ((X, 6), r"{op}: kernel \(6, 6\) is larger than the padded input \(5, 5\)"),
        ((X, 2, 0), r"{op}: stride must be positive, got 0"),
        ((X, 2, (1, -1)), r"{op}: stride must be positive"),
        ((X, 2, 1, -1), r"{op}: pad must be non-negative, got -1"),
        ((X, 0), r"{op}: kernel_size must be positive, got 0"),
        ((X, (2, 2, 2)), r"{op}: kernel_size must be an int or a pair of ints"),
    ],
)
def test_bad_arguments(pool, args, message):
    with pytest.raises(ValueError, match=message.format(op=pool.__name__)):
        pool(*args)


ALL_POOLS = [F.pooling, F.pooling_simple, F.average_pooling]
ALL_IDS = ["pooling", "pooling_simple", "average_pooling"]


@pytest.mark.parametrize("pool", ALL_POOLS, ids=ALL_IDS)
def test_pooling_rejects_pad_over_half_the_kernel(pool):
    with pytest.raises(
        ValueError,
        match=rf"{pool.__name__}: pad \(2, 2\) must be at most half "
        r"the kernel \(3, 3\) \(as in PyTorch\), or the windows at the border would be mostly or only padding",
    ):
        pool(X, 3, 1, 2)


def test_average_pooling_refuses_a_pad_that_makes_windows_of_padding_only():
    # pad 5 around a 2x2 kernel: most windows would average nothing but
    # padding and output 0 as if the image held zeros there.
    with pytest.raises(ValueError, match=r"average_pooling: pad \(5, 5\) must be at most half the kernel \(2, 2\)"):
        F.average_pooling(X, 2, 1, 5)
    from dezero import functions_conv

    with pytest.raises(ValueError, match=r"AveragePooling2D: pad \(5, 5\) must be at most half the kernel \(2, 2\)"):
        functions_conv.AveragePooling(2, 1, 5)


@pytest.mark.parametrize(
    "kernel, pad",
    [
        (3, 1),
        (3, 2),
        (2, 1),
        (4, 2),
        (4, 3),
        (1, 1),
        ((3, 2), (1, 1)),
        ((3, 2), (1, 2)),
        ((2, 5), (0, 2)),
        ((2, 5), (0, 3)),
    ],
)
@pytest.mark.parametrize("pool", ALL_POOLS, ids=ALL_IDS)
def test_pooling_accepts_exactly_the_pads_that_pytorch_accepts(pool, kernel, pad):
    torch = pytest.importorskip("torch")
    x = separated((1, 2, 6, 6), np.float64)
    theirs = torch.nn.functional.avg_pool2d if pool is F.average_pooling else torch.nn.functional.max_pool2d
    try:
        expected = theirs(torch.tensor(x), kernel, 1, pad).numpy()
    except RuntimeError as e:
        assert "pad should be at most half of effective kernel size" in str(e)
        with pytest.raises(ValueError, match=f"{pool.__name__}: pad .* must be at most half the kernel"):
            pool(x, kernel, 1, pad)
    else:
        np.testing.assert_allclose(pool(x, kernel, 1, pad).data, expected, rtol=1e-12, atol=1e-12)


# =============================================================================
# PyTorch, when installed
# =============================================================================
TORCH_CASES = [c for c in CASES if max(pair(c[3])) <= min(pair(c[1])) // 2]


@pytest.mark.parametrize("case", TORCH_CASES, ids=[IDS[CASES.index(c)] for c in TORCH_CASES])
def test_max_and_average_pooling_match_torch(case):
    torch = pytest.importorskip("torch")
    shape, kernel, stride, pad = case
    x = separated(shape, np.float64)
    for ours, theirs in (
        (F.pooling, torch.nn.functional.max_pool2d),
        (F.average_pooling, torch.nn.functional.avg_pool2d),
    ):
        xv = dezero.Variable(x)
        y = ours(xv, kernel, stride, pad)
        gy = np.random.default_rng(9).standard_normal(y.shape)
        y.backward(grad=gy)
        tx = torch.tensor(x, requires_grad=True)
        ty = theirs(tx, kernel, stride, pad)
        ty.backward(torch.tensor(gy))
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(xv.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


# =============================================================================
# The book's Function classes check what the functions check
# =============================================================================
_POOL_CLASS_ERRORS = {
    "3-D-x": (
        lambda C: C.Pooling(2)(np.zeros((3, 5, 5))),
        lambda: F.pooling(np.zeros((3, 5, 5)), 2),
        ValueError,
        r"x must be 4-D \(N, C, H, W\), got shape \(3, 5, 5\)$",
    ),
    "kernel-too-large": (
        lambda C: C.Pooling(6)(X),
        lambda: F.pooling(X, 6),
        ValueError,
        r"kernel \(6, 6\) is larger than the padded input \(5, 5\)",
    ),
    "complex-x": (
        lambda C: C.Pooling(2)(X.astype(np.complex128)),
        lambda: F.pooling(X.astype(np.complex128), 2),
        TypeError,
        r"x must be a real number array, got dtype complex128$",
    ),
    "average-3-D-x": (
        lambda C: C.AveragePooling(2)(np.zeros((3, 5, 5))),
        lambda: F.average_pooling(np.zeros((3, 5, 5)), 2),
        ValueError,
        r"x must be 4-D \(N, C, H, W\), got shape \(3, 5, 5\)$",
    ),
    "average-kernel-too-large": (
        lambda C: C.AveragePooling(6)(X),
        lambda: F.average_pooling(X, 6),
        ValueError,
        r"kernel \(6, 6\) is larger than the padded input \(5, 5\)",
    ),
    "average-integer-x": (
        lambda C: C.AveragePooling(2)(np.ones((2, 3, 5, 5), dtype=np.int64)),
        lambda: F.average_pooling(np.ones((2, 3, 5, 5), dtype=np.int64), 2),
        TypeError,
        r"x must be a floating-point array, got dtype int64 \(shape \(2, 3, 5, 5\)\); cast it first",
    ),
}


@pytest.mark.parametrize("case", list(_POOL_CLASS_ERRORS))
def test_pooling_classes_refuse_what_the_functions_refuse_with_the_same_message(case):
    import re

    from dezero import functions_conv

    class_call, function_call, error, message = _POOL_CLASS_ERRORS[case]
    found = []
    for call in (lambda: class_call(functions_conv), function_call):
        with pytest.raises(error) as raised:
            call()
        found.append(str(raised.value).split(": ", 1))
    (class_name, class_message), (function_name, function_message) = found
    assert class_name in ("Pooling2D", "AveragePooling2D")
    assert function_name == {"Pooling2D": "pooling", "AveragePooling2D": "average_pooling"}[class_name]
    assert class_message == function_message
    assert re.match(message, class_message)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_books_average_pooling_keeps_the_floating_dtype(dtype):
    from dezero import functions_conv

    x = separated((1, 2, 4, 4), dtype)
    y = functions_conv.AveragePooling(2, 2)(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, avg_pool_ref(x, 2, 2, 0), rtol=1e-6, atol=1e-6)


def test_pooling2dgrad_of_a_pooling_called_under_no_grad_routes_to_the_winners():
    torch = pytest.importorskip("torch")
    from dezero import functions_conv as C

    x = separated((2, 3, 5, 5), np.float64)
    pool = C.Pooling(3, 2, 1)
    with dezero.no_grad():
        y = pool(x)
    gy = np.random.default_rng(27).standard_normal(y.shape)
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, 3, 2, 1).backward(torch.tensor(gy))
    # Overlapping windows add up in another order: equal up to rounding.
    np.testing.assert_allclose(C.Pooling2DGrad(pool)(gy).data, tx.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("grad_class", ["Pooling2DGrad", "Pooling2DWithIndexes"])
def test_pooling_gradient_classes_refuse_a_pooling_never_called_and_other_functions(grad_class):
    from dezero import functions_conv as C

    make = getattr(C, grad_class)
    with pytest.raises(
        ValueError,
        match=rf"{grad_class}: the Pooling2D given has not been called yet; call it on x first",
    ):
        make(C.Pooling(2, 2))
    with pytest.raises(TypeError, match=rf"{grad_class}: mpool2d must be the max pooling .* got AveragePooling2D"):
        make(C.AveragePooling(2, 2))


def test_pooling_gradient_classes_refuse_arrays_of_other_windows():
    from dezero import functions_conv as C

    pool = C.Pooling(2, 2)
    pool(np.zeros((2, 3, 4, 4)))  # windows (2, 3, 2, 2)
    with pytest.raises(
        ValueError,
        match=r"Pooling2DGrad: gy of shape \(2, 3, 3, 3\) does not match the output of the max pooling, "
        r"\(2, 3, 2, 2\)",
    ):
        C.Pooling2DGrad(pool)(np.ones((2, 3, 3, 3)))
    # A batch of 1 would broadcast against the two images' choices.
    with pytest.raises(
        ValueError,
        match=r"Pooling2DWithIndexes: x of shape \(1, 3, 4, 4\) has windows \(1, 3, 2, 2\), but the max "
        r"pooling chose in windows \(2, 3, 2, 2\)",
    ):
        C.Pooling2DWithIndexes(pool)(np.ones((1, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"Pooling2DWithIndexes: x must be 4-D"):
        C.Pooling2DWithIndexes(pool)(np.ones((3, 4, 4)))
    # Another image size with the same windows is fine: 5x5 has the same 2x2 windows of 2x2.
    np.testing.assert_array_equal(C.Pooling2DWithIndexes(pool)(np.ones((2, 3, 5, 5))).data, np.ones((2, 3, 2, 2)))
