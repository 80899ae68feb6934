"""The backward engine's promises about the gradients it hands out."""

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Variable


def _assert_own_writable_arrays(grads, others=()):
    arrays = [g.data for g in grads]
    for i, a in enumerate(arrays):
        assert a.flags.writeable, f"gradient {i} is read-only"
        for b in arrays[i + 1 :] + [np.asarray(o) for o in others]:
            assert not np.shares_memory(a, b), f"gradient {i} shares memory with another array"
    assert len({id(g) for g in grads}) == len(grads), "two gradients are one Variable"


@pytest.mark.parametrize("create_graph", [False, True])
def test_backward_gives_each_input_its_own_writable_gradient(create_graph):
    x = Variable(np.array([1.0, 2.0]))
    w = Variable(np.array([3.0, 4.0]))
    b = Variable(np.array(0.5))
    y = x + w + b  # Add hands one gradient to both inputs; b's is a broadcast sum
    seed = np.array([1.0, 10.0])
    y.backward(grad=seed, retain_grad=True, create_graph=create_graph)
    _assert_own_writable_arrays([x.grad, w.grad, b.grad, y.grad], others=[seed])
    x.grad.data += 100.0  # an in-place edit of one gradient changes no other
    np.testing.assert_array_equal(w.grad.data, [1.0, 10.0])
    np.testing.assert_array_equal(y.grad.data, [1.0, 10.0])
    np.testing.assert_array_equal(seed, [1.0, 10.0])


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_broadcast_gradient_is_writable(create_graph):
    x = Variable(np.arange(6.0).reshape(2, 3))
    F.sum(x).backward(create_graph=create_graph)  # the gradient of sum is a broadcast view
    _assert_own_writable_arrays([x.grad])
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))


def test_gradients_handed_out_with_create_graph_stay_differentiable():
    x = Variable(np.array(2.0))
    w = Variable(np.array(3.0))
    y = x * x + w * x  # dy/dx = 2x + w, dy/dw = x
    y.backward(create_graph=True)
    gx, gw = x.grad, w.grad
    assert gx is not gw
    x.cleargrad()
    w.cleargrad()
    (gx * gw).backward()  # d/dx (2x + w) x = 4x + w, d/dw = x
    assert x.grad.data == 4 * 2.0 + 3.0 and w.grad.data == 2.0


@pytest.mark.parametrize("create_graph", [False, True])
def test_functional_grad_returns_distinct_writable_arrays(create_graph):
    x = Variable(np.array([1.0, 2.0]))
    w = Variable(np.array([3.0, 4.0]))
    b = Variable(np.array(0.5))
    y = x + w + b
    seed = np.array([1.0, 10.0])
    grads = dezero.grad(y, [x, w, b, x, y], grad_outputs=seed, create_graph=create_graph)
    _assert_own_writable_arrays(grads, others=[seed])
    for g, expected in zip(grads, [[1.0, 10.0], [1.0, 10.0], 11.0, [1.0, 10.0], [1.0, 10.0]]):
        np.testing.assert_array_equal(g.data, expected)


def test_functional_grad_with_create_graph_stays_differentiable():
    x = Variable(np.array(2.0))
    w = Variable(np.array(3.0))
    gx, gw, gx_again = dezero.grad(x * w + x, [x, w, x], create_graph=True)  # w + 1, x, w + 1
    assert gx is not gx_again and gx.data == gx_again.data == 4.0
    (h,) = dezero.grad(gx * gw * gx_again, [x])  # (w + 1)^2 x
    assert h.data == 16.0


def test_each_grad_owns_a_writable_array():
    a, b = Variable(np.ones(3)), Variable(np.ones(3))
    (a + b).backward()
    assert a.grad is not b.grad
    a.grad.data *= 0
    np.testing.assert_array_equal(b.grad.data, np.ones(3))
    seed = np.array([1.0, 2.0, 3.0])
    c, d = Variable(np.ones(3)), Variable(np.ones(3))
    (c - d).backward(grad=seed)
    assert c.grad.data is not seed
    x = Variable(np.ones((2, 3)))
    F.sum(x).backward()  # the gradient of a sum is a broadcast view
    x.grad.data *= 0.5
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 0.5))


def test_retained_intermediate_grads_accumulate_like_leaves():
    x = Variable(np.array(2.0))
    h = x * 3.0
    y = h * h
    y.backward(retain_grad=True)
    y.backward(retain_grad=True)
    assert x.grad.data == 72.0 and h.grad.data == 24.0 and y.grad.data == 1.0
