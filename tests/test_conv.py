"""im2col / col2im, conv2d, deconv2d and conv2d_simple: every case runs the op
harness (forward against plain-loop references, backward and double backward
against numerical gradients, float32/float64, NumPy/CuPy, strided, read-only
and untouched inputs); below the cases, adjointness, argument errors and PyTorch."""

import itertools
import re

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero.backend import as_numpy
from dezero.utils import pair
from tests.op_harness import OpCase, OpTests, normal


# =============================================================================
# Plain-loop references (NumPy, float64)
# =============================================================================
def out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def pad_nchw(x, ph, pw):
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def im2col_ref(x, kernel, stride, pad):
    (kh, kw), (sy, sx), (ph, pw) = pair(kernel), pair(stride), pair(pad)
    n, c, h, w = x.shape
    oh, ow = out_size(h, kh, sy, ph), out_size(w, kw, sx, pw)
    xp_ = pad_nchw(x, ph, pw)
    col = np.zeros((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            for y in range(oh):
                for z in range(ow):
                    col[:, :, i, j, y, z] = xp_[:, :, y * sy + i, z * sx + j]
    return col


def col2im_ref(col, input_shape, kernel_size, stride=1, pad=0, to_matrix=True):
    """Add every window back where it was cut from, one cell at a time."""
    (kh, kw), (sy, sx), (ph, pw) = pair(kernel_size), pair(stride), pair(pad)
    n, c, h, w = input_shape
    oh, ow = out_size(h, kh, sy, ph), out_size(w, kw, sx, pw)
    if to_matrix:
        col = col.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for i, j, y, z in itertools.product(range(kh), range(kw), range(oh), range(ow)):
        img[:, :, y * sy + i, z * sx + j] += col[:, :, i, j, y, z]
    return img[:, :, ph : ph + h, pw : pw + w]


def im2col_matrix_ref(x, kernel_size, stride=1, pad=0, to_matrix=True):
    col = im2col_ref(x, kernel_size, stride, pad)
    if not to_matrix:
        return col
    n, c, kh, kw, oh, ow = col.shape
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)


def conv_ref(x, W, b=None, stride=1, pad=0):
    (sy, sx), (ph, pw) = pair(stride), pair(pad)
    n, c, h, w = x.shape
    oc, _, kh, kw = W.shape
    oh, ow = out_size(h, kh, sy, ph), out_size(w, kw, sx, pw)
    xp_ = pad_nchw(x.astype(np.float64), ph, pw)
    y = np.zeros((n, oc, oh, ow))
    for s in range(n):
        for o in range(oc):
            for i in range(oh):
                for j in range(ow):
                    patch = xp_[s, :, i * sy : i * sy + kh, j * sx : j * sx + kw]
                    y[s, o, i, j] = np.sum(patch * W[o]) + (0.0 if b is None else b[o])
    return y


def deconv_ref(x, W, b=None, stride=1, pad=0, outsize=None):
    """Scatter every input pixel's weighted kernel into the output, then crop the pad."""
    (sy, sx), (ph, pw) = pair(stride), pair(pad)
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = W.shape
    if outsize is None:
        outsize = (sy * (h - 1) + kh - 2 * ph, sx * (w - 1) + kw - 2 * pw)
    full_h = max(sy * (h - 1) + kh, outsize[0] + 2 * ph)
    full_w = max(sx * (w - 1) + kw, outsize[1] + 2 * pw)
    y = np.zeros((n, c_out, full_h, full_w))
    for s in range(n):
        for c in range(c_in):
            for i in range(h):
                for j in range(w):
                    y[s, :, i * sy : i * sy + kh, j * sx : j * sx + kw] += x[s, c, i, j] * W[c]
    y = y[:, :, ph : ph + outsize[0], pw : pw + outsize[1]]
    if b is not None:
        y = y + np.asarray(b).reshape(1, -1, 1, 1)
    return y


# =============================================================================
# Cases: (x shape, (OC, KH, KW), stride, pad)
# =============================================================================
CASES = [
    ((1, 1, 5, 5), (1, 3, 3), 1, 0),  # batch 1, one channel
    ((2, 3, 7, 6), (4, 3, 2), 2, 1),  # odd sizes, non-square kernel
    ((2, 2, 5, 4), (3, 1, 3), 1, 2),  # pad larger than needed
    ((1, 3, 8, 7), (2, 3, 3), 3, 1),  # stride 3: some rows unused
    ((2, 2, 6, 5), (2, 2, 3), (2, 1), (0, 1)),  # per-axis stride and pad
    ((3, 2, 4, 4), (2, 4, 4), 1, 0),  # kernel = image: 1x1 output
    ((2, 3, 3, 4), (2, 1, 1), 1, 0),  # 1x1 kernel
]
IDS = [f"x{c[0]}-k{c[1]}-s{c[2]}-p{c[3]}".replace(" ", "") for c in CASES]


def make(case, dtype, seed=0):
    x_shape, (oc, kh, kw), stride, pad = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    W = rng.standard_normal((oc, x_shape[1], kh, kw)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    return x, W, b, stride, pad


def deconv_make(case, dtype, seed=1):
    """A deconv2d case is the transpose of a conv2d case: x has conv2d's output shape."""
    x_shape, (oc, kh, kw), stride, pad = case
    (sy, sx), (ph, pw) = pair(stride), pair(pad)
    oh, ow = out_size(x_shape[2], kh, sy, ph), out_size(x_shape[3], kw, sx, pw)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((x_shape[0], oc, oh, ow)).astype(dtype)
    W = rng.standard_normal((oc, x_shape[1], kh, kw)).astype(dtype)
    b = rng.standard_normal(x_shape[1]).astype(dtype)
    return x, W, b, stride, pad, tuple(x_shape[2:])


def fwd_tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


# =============================================================================
# The op harness
# =============================================================================
# The geometries of CASES at smaller batch and channel counts: a numerical
# gradient costs two forward passes per input element.
HARNESS_CASES = [
    ((1, 1, 5, 5), (1, 3, 3), 1, 0),  # batch 1, one channel
    ((2, 2, 5, 4), (2, 3, 2), 2, 1),  # odd sizes, non-square kernel
    ((1, 2, 4, 3), (2, 1, 3), 1, 2),  # pad larger than needed
    ((1, 1, 8, 7), (2, 3, 3), 3, 1),  # stride 3: some rows unused
    ((2, 1, 6, 5), (2, 2, 3), (2, 1), (0, 1)),  # per-axis stride and pad
    ((2, 2, 4, 4), (2, 4, 4), 1, 0),  # kernel = image: 1x1 output
    ((2, 2, 3, 4), (2, 1, 1), 1, 0),  # 1x1 kernel
]


def _geometry(case) -> str:
    x_shape, (oc, kh, kw), stride, pad = case
    return f"x{x_shape}, W{(oc, x_shape[1], kh, kw)}, stride {stride}, pad {pad}"


def _conv_case(conv, case, bias=True):
    x_shape, (oc, kh, kw), stride, pad = case
    inputs = [normal(x_shape), normal((oc, x_shape[1], kh, kw))] + ([normal((oc,))] if bias else [])
    return OpCase(
        f"{conv.__name__}({_geometry(case)}{'' if bias else ', no bias'})",
        conv,
        inputs,
        conv_ref,
        kwargs={"stride": stride, "pad": pad},
    )


def _deconv_case(case, bias=True, outsize=True):
    """The transpose of a conv2d case: x has conv2d's output shape; its outsize
    is conv2d's input size (larger than the default where a stride skips rows)."""
    x_shape, (oc, kh, kw), stride, pad = case
    (sy, sx), (ph, pw) = pair(stride), pair(pad)
    oh, ow = out_size(x_shape[2], kh, sy, ph), out_size(x_shape[3], kw, sx, pw)
    inputs = [normal((x_shape[0], oc, oh, ow)), normal((oc, x_shape[1], kh, kw))]
    inputs += [normal((x_shape[1],))] if bias else []
    kwargs = {"stride": stride, "pad": pad, "outsize": tuple(x_shape[2:]) if outsize else None}
    name = f"deconv2d({_geometry(case)}{'' if bias else ', no bias'}{', outsize' if outsize else ''})"
    return OpCase(name, F.deconv2d, inputs, deconv_ref, kwargs=kwargs)


def _im2col_case(case, to_matrix):
    x_shape, (_, kh, kw), stride, pad = case
    return OpCase(
        f"im2col({_geometry(case)}, to_matrix={to_matrix})",
        F.im2col,
        [normal(x_shape)],
        im2col_matrix_ref,
        kwargs={"kernel_size": (kh, kw), "stride": stride, "pad": pad, "to_matrix": to_matrix},
    )


def _col2im_case(case, to_matrix):
    x_shape, (_, kh, kw), stride, pad = case
    n, c, h, w = x_shape
    (sy, sx), (ph, pw) = pair(stride), pair(pad)
    oh, ow = out_size(h, kh, sy, ph), out_size(w, kw, sx, pw)
    col_shape = (n * oh * ow, c * kh * kw) if to_matrix else (n, c, kh, kw, oh, ow)
    return OpCase(
        f"col2im({_geometry(case)}, to_matrix={to_matrix})",
        F.col2im,
        [normal(col_shape)],
        col2im_ref,
        kwargs={"input_shape": x_shape, "kernel_size": (kh, kw), "stride": stride, "pad": pad, "to_matrix": to_matrix},
    )


class TestConvOps(OpTests):
    cases = [
        *[_im2col_case(case, to_matrix) for case in HARNESS_CASES for to_matrix in (True, False)],
        *[_col2im_case(case, to_matrix) for case in HARNESS_CASES[:5] for to_matrix in (True, False)],
        *[_conv_case(F.conv2d, case) for case in HARNESS_CASES],
        *[_conv_case(F.conv2d, case, bias=False) for case in HARNESS_CASES[:2]],
        *[_conv_case(F.conv2d_simple, case) for case in HARNESS_CASES],
        _conv_case(F.conv2d_simple, HARNESS_CASES[1], bias=False),
        *[_deconv_case(case) for case in HARNESS_CASES],
        *[_deconv_case(case, bias=False, outsize=False) for case in HARNESS_CASES[:2]],
    ]


# =============================================================================
# Behaviour the harness does not express
# =============================================================================


def test_im2col_result_does_not_share_memory_with_x():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    for to_matrix in (True, False):
        col = F.im2col(x, 1, to_matrix=to_matrix)
        assert not np.shares_memory(col.data, x)


@pytest.mark.parametrize("to_matrix", [True, False])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_im2col_col2im_are_adjoint(case, to_matrix, xp):
    x, W, _, stride, pad = make(case, np.float64)
    kernel = W.shape[2:]
    col = F.im2col(xp.asarray(x), kernel, stride, pad, to_matrix)
    c = np.random.default_rng(5).standard_normal(col.shape)
    back = F.col2im(xp.asarray(c), x.shape, kernel, stride, pad, to_matrix)
    assert back.shape == x.shape
    lhs = np.sum(as_numpy(col.data) * c)
    rhs = np.sum(x * as_numpy(back.data))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_col2im_sums_overlaps():
    # 3x3 ones, 2x2 windows, stride 1: the centre cell lies in all four windows.
    col = F.im2col(np.ones((1, 1, 3, 3)), 2, to_matrix=False)
    back = F.col2im(col, (1, 1, 3, 3), 2, to_matrix=False)
    np.testing.assert_array_equal(back.data[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_conv2d_bias_gradient_is_sum_of_gy():
    x, W, b, stride, pad = make(CASES[1], np.float64)
    b = dezero.Parameter(b)
    y = F.conv2d(x, W, b, stride, pad)
    gy = np.random.default_rng(3).standard_normal(y.shape)
    y.backward(grad=gy)
    np.testing.assert_allclose(b.grad.data, gy.sum(axis=(0, 2, 3)))


def test_conv2d_and_deconv2d_are_adjoint():
    for case in CASES:
        x, W, _, stride, pad = make(case, np.float64)
        y = F.conv2d(x, W, None, stride, pad).data
        g = np.random.default_rng(4).standard_normal(y.shape)
        back = F.deconv2d(g, W, None, stride, pad, outsize=x.shape[2:]).data
        assert np.sum(y * g) == pytest.approx(np.sum(x * back), rel=1e-12)


def test_deconv2d_upsamples_by_stride():
    # A 2x2 kernel of ones with stride 2 copies each pixel into a 2x2 block.
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    y = F.deconv2d(x, np.ones((1, 1, 2, 2)), stride=2)
    np.testing.assert_array_equal(y.data[0, 0], np.kron(x[0, 0], np.ones((2, 2))))


def _empty_batch_gradients(op, W_shape, dtype):
    """Gradients of sum(op(x, W, b)) for a batch of 0 images, ours and PyTorch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    W = rng.standard_normal(W_shape).astype(dtype)
    b = rng.standard_normal(W_shape[0] if op == "conv2d" else W_shape[1]).astype(dtype)
    x = np.zeros((0, W_shape[1] if op == "conv2d" else W_shape[0], 5, 5), dtype=dtype)
    xv, Wv, bv = dezero.Variable(x), dezero.Parameter(W), dezero.Parameter(b)
    ours = getattr(F, op)(xv, Wv, bv, stride=2, pad=1)
    F.sum(ours).backward()
    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    theirs = getattr(torch.nn.functional, "conv2d" if op == "conv2d" else "conv_transpose2d")
    ty = theirs(tx, tW, tb, stride=2, padding=1)
    ty.sum().backward()
    assert ours.shape == tuple(ty.shape)
    return (xv.grad.data, Wv.grad.data, bv.grad.data), (tx.grad.numpy(), tW.grad.numpy(), tb.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op, W_shape", [("conv2d", (3, 2, 3, 3)), ("deconv2d", (2, 3, 3, 3))])
def test_convolutions_of_an_empty_batch_have_zero_filter_and_bias_gradients(op, W_shape, dtype):
    # No image adds a term to the sums over the batch: W and b get zero
    # gradients of their own shapes and dtype, and x an empty one, as in PyTorch.
    ours, theirs = _empty_batch_gradients(op, W_shape, dtype)
    for mine, torch_grad in zip(ours, theirs):
        assert mine.shape == torch_grad.shape
        assert mine.dtype == dtype
        np.testing.assert_array_equal(mine, torch_grad)
    assert not ours[1].any()


def test_conv2d_layer_backward_on_an_empty_batch_gives_zero_filter_and_bias_gradients():
    import dezero.layers as L

    layer = L.Conv2d(3, kernel_size=3, stride=2, pad=1)
    layer(np.ones((1, 2, 5, 5), dtype=np.float32))  # builds W for 2 channels
    layer.cleargrads()
    F.sum(layer(np.zeros((0, 2, 5, 5), dtype=np.float32))).backward()
    np.testing.assert_array_equal(layer.W.grad.data, np.zeros((3, 2, 3, 3), dtype=np.float32))
    np.testing.assert_array_equal(layer.b.grad.data, np.zeros(3, dtype=np.float32))


# =============================================================================
# Bad arguments
# =============================================================================
X = np.zeros((2, 3, 5, 5))
W3 = np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: F.conv2d(np.zeros((3, 4)), W3), r"conv2d: x must be 4-D \(N, C, H, W\), got shape \(3, 4\)"),
        (lambda: F.conv2d(X, np.zeros((4, 3, 3))), r"conv2d: W must be 4-D \(OC, C, KH, KW\), got shape \(4, 3, 3\)"),
        (
            lambda: F.conv2d(X, np.zeros((4, 2, 3, 3))),
            r"conv2d: x has 3 channels but W expects 2 .*\(2, 3, 5, 5\).*\(4, 2, 3, 3\)",
        ),
        (
            lambda: F.conv2d(X, np.zeros((4, 3, 6, 3))),
            r"conv2d: kernel \(6, 3\) is larger than the padded input \(5, 5\)",
        ),
        (lambda: F.conv2d(X, np.zeros((4, 3, 6, 3)), pad=1), None),  # fits once padded: no error
        (lambda: F.conv2d(X, W3, stride=0), r"conv2d: stride must be positive, got 0"),
        (lambda: F.conv2d(X, W3, stride=(1, -2)), r"conv2d: stride must be positive"),
        (lambda: F.conv2d(X, W3, pad=-1), r"conv2d: pad must be non-negative, got -1"),
        (lambda: F.conv2d(X, W3, stride=(1, 2, 3)), r"conv2d: stride must be an int or a pair"),
        (
            lambda: F.conv2d(X, W3, b=np.zeros(3)),
            r"conv2d: b must have shape \(4,\) to match W \(4, 3, 3, 3\), got \(3,\)",
        ),
        (lambda: F.conv2d_simple(X, np.zeros((4, 2, 3, 3))), r"conv2d_simple: x has 3 channels but W expects 2"),
        (lambda: F.deconv2d(np.zeros((2, 5)), W3), r"deconv2d: x must be 4-D"),
        (lambda: F.deconv2d(X, np.zeros((4, 3, 3, 3))), r"deconv2d: x has 3 channels but W expects 4 input channels"),
        (lambda: F.deconv2d(np.zeros((2, 4, 3, 3)), W3, b=np.zeros(4)), r"deconv2d: b must have shape \(3,\)"),
        (
            lambda: F.deconv2d(np.zeros((2, 4, 3, 3)), W3, stride=2, outsize=(9, 4)),
            r"deconv2d: outsize \(9, 4\) is inconsistent with the input \(3, 3\).*valid sizes are \(7, 7\)",
        ),
        (lambda: F.deconv2d(np.zeros((2, 4, 1, 1)), W3, pad=2), r"deconv2d: the output would be empty"),
        (lambda: F.im2col(np.zeros((5, 5)), 3), r"im2col: x must be 4-D"),
        (lambda: F.im2col(X, 7), r"im2col: kernel \(7, 7\) is larger than the padded input \(5, 5\)"),
        (
            lambda: F.col2im(np.zeros((3, 3)), (2, 3, 5, 5), 3),
            r"col2im: col of shape \(3, 3\) does not match input_shape",
        ),
    ],
)
def test_bad_arguments(call, message):
    if message is None:
        call()
        return
    with pytest.raises(ValueError, match=message):
        call()


def _class_and_function_errors(class_call, function_call):
    """The ValueErrors of the book's class call and of the function call, each
    split into (the name before the colon, the rest of the message)."""
    found = []
    for call in (class_call, function_call):
        with pytest.raises(ValueError) as raised:
            call()
        found.append(tuple(str(raised.value).split(": ", 1)))
    return found


_W = np.ones((4, 3, 3, 3))


@pytest.mark.parametrize(
    "class_call, function_call, op, message",
    [
        (
            lambda C: C.Conv2d(1, 0)(X, np.ones((4, 2, 3, 3)), None),
            lambda: F.conv2d(X, np.ones((4, 2, 3, 3)), None, 1, 0),
            "Conv2D",
            r"x has 3 channels but W expects 2 \(x \(2, 3, 5, 5\), W \(4, 2, 3, 3\)\)",
        ),
        (
            lambda C: C.Conv2d(1, 0)(X, np.ones((4, 3, 7, 7)), None),
            lambda: F.conv2d(X, np.ones((4, 3, 7, 7)), None, 1, 0),
            "Conv2D",
            r"kernel \(7, 7\) is larger than the padded input \(5, 5\)",
        ),
        (
            lambda C: C.Conv2d(1, 0)(np.ones((3, 5, 5)), _W, None),
            lambda: F.conv2d(np.ones((3, 5, 5)), _W, None, 1, 0),
            "Conv2D",
            r"x must be 4-D \(N, C, H, W\), got shape \(3, 5, 5\)",
        ),
        (
            lambda C: C.Conv2d(1, 0)(X, _W, np.ones(5)),
            lambda: F.conv2d(X, _W, np.ones(5), 1, 0),
            "Conv2D",
            r"b must have shape \(4,\) to match W \(4, 3, 3, 3\), got \(5,\)",
        ),
        (
            lambda C: C.Conv2d(1, 0)(X, np.ones((4, 3, 0, 0)), None),
            lambda: F.conv2d(X, np.ones((4, 3, 0, 0)), None, 1, 0),
            "Conv2D",
            r"W has an empty kernel: \(KH, KW\) = \(0, 0\)",
        ),
        (
            lambda C: C.Deconv2d(1, 0)(X, np.ones((2, 3, 3, 3)), None),
            lambda: F.deconv2d(X, np.ones((2, 3, 3, 3)), None, 1, 0),
            "Deconv2D",
            r"x has 3 channels but W expects 2 input channels",
        ),
        (
            lambda C: C.Deconv2d(1, 0)(X, np.ones((3, 2, 3, 3)), np.ones(3)),
            lambda: F.deconv2d(X, np.ones((3, 2, 3, 3)), np.ones(3), 1, 0),
            "Deconv2D",
            r"b must have shape \(2,\) to match W \(3, 2, 3, 3\), got \(3,\)",
        ),
        (
            lambda C: C.Deconv2d(2, 0, (9, 4))(np.ones((2, 4, 3, 3)), W3, None),
            lambda: F.deconv2d(np.ones((2, 4, 3, 3)), W3, None, 2, 0, (9, 4)),
            "Deconv2D",
            r"outsize \(9, 4\) is inconsistent with the input \(3, 3\)",
        ),
        (
            lambda C: C.Deconv2d(1, 2)(np.ones((2, 4, 1, 1)), W3, None),
            lambda: F.deconv2d(np.ones((2, 4, 1, 1)), W3, None, 1, 2),
            "Deconv2D",
            r"the output would be empty",
        ),
    ],
    ids=["channels", "kernel-too-large", "3-D-x", "bias", "empty-kernel"]
    + ["deconv-channels", "deconv-bias", "deconv-outsize", "deconv-empty-output"],
)
def test_conv_classes_refuse_what_the_functions_refuse_with_the_same_message(class_call, function_call, op, message):
    from dezero import functions_conv

    (class_name, class_message), (function_name, function_message) = _class_and_function_errors(
        lambda: class_call(functions_conv), function_call
    )
    assert (class_name, function_name) == (op, op.lower())
    assert class_message == function_message
    assert re.match(message, class_message)


_COL = np.ones((18, 27))  # im2col of X with a 3x3 kernel: (2*3*3 windows, 3*3*3 values)


@pytest.mark.parametrize(
    "class_call, function_call, op, message",
    [
        (
            lambda C: C.Col2im(X.shape, 3, 1, 0, True)(_COL.T.copy()),
            lambda: F.col2im(_COL.T.copy(), X.shape, 3, 1, 0, True),
            "Col2im",
            r"col of shape \(27, 18\) does not match input_shape \(2, 3, 5, 5\) with kernel \(3, 3\), "
            r"stride \(1, 1\), pad \(0, 0\): expected \(18, 27\)$",
        ),
        (
            lambda C: C.Col2im(X.shape, 3, 1, 0, False)(_COL),
            lambda: F.col2im(_COL, X.shape, 3, 1, 0, False),
            "Col2im",
            r"col of shape \(18, 27\) .* expected \(2, 3, 3, 3, 3, 3\)$",
        ),
        (
            lambda C: C.Col2im(X.shape, 3, 0, 0, True),
            lambda: F.col2im(_COL, X.shape, 3, 0, 0, True),
            "Col2im",
            r"stride must be positive, got 0$",
        ),
        (
            lambda C: C.Col2im((2, 3, 5), 3, 1, 0, True),
            lambda: F.col2im(_COL, (2, 3, 5), 3, 1, 0, True),
            "Col2im",
            r"input_shape must be \(N, C, H, W\), four non-negative ints, got \(2, 3, 5\)$",
        ),
        (
            lambda C: C.Col2im(X.shape, 7, 1, 0, True),
            lambda: F.col2im(_COL, X.shape, 7, 1, 0, True),
            "Col2im",
            r"kernel \(7, 7\) is larger than the padded input \(5, 5\)",
        ),
        (
            lambda C: C.Im2col(0, 1, 0, True),
            lambda: F.im2col(X, 0, 1, 0, True),
            "Im2col",
            r"kernel_size must be positive, got 0$",
        ),
        (
            lambda C: C.Im2col(3, 0, 0, True),
            lambda: F.im2col(X, 3, 0, 0, True),
            "Im2col",
            r"stride must be positive, got 0$",
        ),
        (
            lambda C: C.Im2col(3, 1, -1, True),
            lambda: F.im2col(X, 3, 1, -1, True),
            "Im2col",
            r"pad must be non-negative, got -1$",
        ),
        (
            lambda C: C.Im2col(3, 1, 0, True)(np.ones((3, 5, 5))),
            lambda: F.im2col(np.ones((3, 5, 5)), 3, 1, 0, True),
            "Im2col",
            r"x must be 4-D \(N, C, H, W\), got shape \(3, 5, 5\)$",
        ),
        (
            lambda C: C.Im2col(6, 1, 0, True)(X),
            lambda: F.im2col(X, 6, 1, 0, True),
            "Im2col",
            r"kernel \(6, 6\) is larger than the padded input \(5, 5\)",
        ),
    ],
    ids=["col2im-transposed-col", "col2im-matrix-for-6d", "col2im-stride-0", "col2im-3-axes", "col2im-kernel"]
    + ["im2col-kernel-0", "im2col-stride-0", "im2col-pad", "im2col-3-D-x", "im2col-kernel-too-large"],
)
def test_im2col_and_col2im_classes_refuse_what_the_functions_refuse_with_the_same_message(
    class_call, function_call, op, message
):
    from dezero import functions_conv

    (class_name, class_message), (function_name, function_message) = _class_and_function_errors(
        lambda: class_call(functions_conv), function_call
    )
    assert (class_name, function_name) == (op, op.lower())
    assert class_message == function_message
    assert re.match(message, class_message)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda C: C.im2col_array(X, 3, 0), r"im2col_array: stride must be positive, got 0$"),
        (lambda C: C.im2col_array(X, 0), r"im2col_array: kernel_size must be positive, got 0$"),
        (lambda C: C.im2col_array(X[0], 3), r"im2col_array: x must be 4-D \(N, C, H, W\)"),
        (lambda C: C.col2im_array(_COL, X.shape, 3, 0), r"col2im_array: stride must be positive, got 0$"),
        (
            lambda C: C.col2im_array(_COL.T, X.shape, 3),
            r"col2im_array: col of shape \(27, 18\) does not match input_shape \(2, 3, 5, 5\)",
        ),
        (
            lambda C: C.col2im_array(_COL, None, 3),
            r"col2im_array: img_shape must be \(N, C, H, W\), four non-negative ints, got None$",
        ),
    ],
)
def test_raw_array_im2col_and_col2im_refuse_bad_geometry_naming_themselves(call, message):
    from dezero import functions_conv

    with pytest.raises(ValueError, match=message):
        call(functions_conv)


def test_get_conv_outsize_refuses_a_zero_stride():
    from dezero.utils import get_conv_outsize

    assert get_conv_outsize(5, 3, 2, 1) == 3
    with pytest.raises(ValueError, match="get_conv_outsize: stride must be positive, got 0"):
        get_conv_outsize(5, 3, 0, 1)


def test_the_book_im2col_stores_its_geometry_as_pairs():
    # An ONNX exporter and Im2col's own backward read them as (height, width).
    from dezero import functions_conv as C

    f = C.Im2col(3, 2, 1, True)
    assert (f.kernel_size, f.stride, f.pad) == ((3, 3), (2, 2), (1, 1))
    x = dezero.Variable(np.random.default_rng(13).standard_normal((1, 2, 5, 5)))
    col = f(x)
    np.testing.assert_array_equal(col.data, im2col_matrix_ref(x.data, 3, 2, 1))
    col.backward(grad=np.ones(col.shape))
    np.testing.assert_array_equal(x.grad.data, col2im_ref(np.ones(col.shape), x.shape, 3, 2, 1))


def _conv_filter_gradient_torch(x, W, gy, stride, pad):
    torch = pytest.importorskip("torch")
    tW = torch.tensor(W, requires_grad=True)
    torch.nn.functional.conv2d(torch.tensor(x), tW, stride=stride, padding=pad).backward(torch.tensor(gy))
    return tW.grad.numpy()


def test_conv2dgradw_of_a_conv_called_under_no_grad_is_its_filter_gradient():
    from dezero import functions_conv as C

    rng = np.random.default_rng(12)
    x, W = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    conv = C.Conv2d((2, 1), 1)
    with dezero.no_grad():
        y = conv(x, W, None)
    gy = rng.standard_normal(y.shape)
    gW = C.Conv2DGradW(conv)(x, gy)
    np.testing.assert_allclose(gW.data, _conv_filter_gradient_torch(x, W, gy, (2, 1), 1), rtol=1e-10, atol=1e-12)


def test_conv2dgradw_refuses_a_conv_never_called_and_other_functions():
    from dezero import functions_conv as C

    with pytest.raises(
        ValueError, match=r"Conv2DGradW: the Conv2D given has not been called yet; call it on \(x, W, b\)"
    ):
        C.Conv2DGradW(C.Conv2d(1, 0))
    with pytest.raises(ValueError, match="Conv2DGradW: the Deconv2D given has not been called yet"):
        C.Conv2DGradW(C.Deconv2d(1, 0))
    with pytest.raises(TypeError, match="Conv2DGradW: conv2d must be the Conv2D or Deconv2D .* got Pooling2D"):
        C.Conv2DGradW(C.Pooling(2))


def test_conv2dgradw_refuses_a_gy_that_the_convolution_of_x_cannot_give():
    from dezero import functions_conv as C

    conv = C.Conv2d(1, 0)
    conv(X, _W, None)  # gives (2, 4, 3, 3)
    with pytest.raises(
        ValueError,
        match=r"Conv2DGradW: gy of shape \(2, 4, 4, 4\) does not fit x of shape \(2, 3, 5, 5\): the convolution "
        r"with kernel \(3, 3\), stride \(1, 1\), pad \(0, 0\) gives \(2, OC, 3, 3\)",
    ):
        C.Conv2DGradW(conv)(X, np.ones((2, 4, 4, 4)))
    with pytest.raises(ValueError, match=r"Conv2DGradW: gy must be 4-D"):
        C.Conv2DGradW(conv)(X, np.ones((2, 4, 9)))


def test_deconv2d_accepts_every_valid_outsize():
    x = np.random.default_rng(0).standard_normal((1, 4, 3, 3))
    W = np.random.default_rng(1).standard_normal((4, 3, 3, 3))
    for extra in (0, 1):  # stride 2: sizes 7 and 8 both convolve back to 3
        y = F.deconv2d(x, W, stride=2, outsize=(7 + extra, 7))
        np.testing.assert_allclose(y.data, deconv_ref(x, W, None, 2, 0, (7 + extra, 7)), atol=1e-12)


# =============================================================================
# PyTorch, when installed
# =============================================================================
TORCH_CASES = [c for c in CASES if not isinstance(c[2], tuple)] + [CASES[4]]


@pytest.mark.parametrize("case", TORCH_CASES, ids=[IDS[CASES.index(c)] for c in TORCH_CASES])
def test_conv2d_matches_torch(case):
    torch = pytest.importorskip("torch")
    x, W, b, stride, pad = make(case, np.float64)
    xv, Wv, bv = dezero.Variable(x), dezero.Parameter(W), dezero.Parameter(b)
    y = F.conv2d(xv, Wv, bv, stride, pad)
    gy = np.random.default_rng(7).standard_normal(y.shape)
    gx, gW, gb = dezero.grad(y, [xv, Wv, bv], grad_outputs=gy)

    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    ty = torch.nn.functional.conv2d(tx, tW, tb, stride=stride, padding=pad)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in ((gx, tx), (gW, tW), (gb, tb)):
        np.testing.assert_allclose(ours.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", TORCH_CASES, ids=[IDS[CASES.index(c)] for c in TORCH_CASES])
def test_deconv2d_matches_torch(case):
    torch = pytest.importorskip("torch")
    x, W, b, stride, pad, outsize = deconv_make(case, np.float64)
    xv, Wv, bv = dezero.Variable(x), dezero.Parameter(W), dezero.Parameter(b)
    y = F.deconv2d(xv, Wv, bv, stride, pad, outsize=outsize)
    gy = np.random.default_rng(8).standard_normal(y.shape)
    gx, gW, gb = dezero.grad(y, [xv, Wv, bv], grad_outputs=gy)

    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    default = [pair(stride)[d] * (x.shape[2 + d] - 1) + W.shape[2 + d] - 2 * pair(pad)[d] for d in (0, 1)]
    output_padding = tuple(o - d for o, d in zip(outsize, default))
    ty = torch.nn.functional.conv_transpose2d(tx, tW, tb, stride=stride, padding=pad, output_padding=output_padding)
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in ((gx, tx), (gW, tW), (gb, tb)):
        np.testing.assert_allclose(ours.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-10)
