"""Edge cases found in review: each test failed before its fix."""

import numpy as np

import dezero.functions as F


# --- core and functions --------------------------------------------------------------
def test_each_grad_owns_a_writable_array():
    from dezero import Variable

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
    from dezero import Variable

    x = Variable(np.array(2.0))
    h = x * 3.0
    y = h * h
    y.backward(retain_grad=True)
    y.backward(retain_grad=True)
    assert x.grad.data == 72.0 and h.grad.data == 24.0 and y.grad.data == 1.0


