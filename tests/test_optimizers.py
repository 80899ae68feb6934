"""Optimizers against their update rules written out by hand in NumPy (float64),
over several steps, in float32 and float64; dtype of the state; hooks; state
save/restore; and, where PyTorch is installed, against torch.optim."""

import math

import numpy as np
import pytest

import dezero.functions as F
import dezero.optimizers as optim

from dezero import Parameter, Variable
from dezero.backend import get_array_module
from dezero.layers import Layer, Linear
from dezero.models import MLP
from dezero.optimizers import (
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    AdamW,
    ClipGrad,
    FreezeParam,
    MomentumSGD,
    Optimizer,
    WeightDecay,
)

STEPS = 4


class Pair(Layer):
    """Two parameters of different shapes and nothing else."""

    def __init__(self, dtype, xp=np):
        super().__init__()
        rng = np.random.default_rng(0)
        self.a = Parameter(xp.asarray(rng.standard_normal((2, 3)).astype(dtype)))
        self.b = Parameter(xp.asarray(rng.standard_normal(4).astype(dtype)))


def _grads(step):
    rng = np.random.default_rng(100 + step)
    return {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal(4)}


# --- the rules, by hand, in float64 ------------------------------------------------------
def ref_sgd(p, g, s, t, lr=0.01):
    return p - lr * g


def ref_momentum(p, g, s, t, lr=0.01, momentum=0.9):
    s["v"] = momentum * s.get("v", 0.0) - lr * g
    return p + s["v"]


def ref_adagrad(p, g, s, t, lr=0.001, eps=1e-8):
    s["h"] = s.get("h", 0.0) + g * g
    return p - lr * g / (np.sqrt(s["h"]) + eps)


def ref_adadelta(p, g, s, t, rho=0.95, eps=1e-6):
    s["msg"] = rho * s.get("msg", 0.0) + (1 - rho) * g * g
    dx = np.sqrt((s.get("msdx", 0.0) + eps) / (s["msg"] + eps)) * g
    s["msdx"] = rho * s.get("msdx", 0.0) + (1 - rho) * dx * dx
    return p - dx


def ref_adam(p, g, s, t, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    p = p * (1 - alpha * weight_decay)
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    m_hat = s["m"] / (1 - beta1**t)
    v_hat = s["v"] / (1 - beta2**t)
    return p - alpha * m_hat / (np.sqrt(v_hat) + eps)


CASES = [
    ("SGD", lambda: SGD(lr=0.1), lambda p, g, s, t: ref_sgd(p, g, s, t, lr=0.1)),
    (
        "MomentumSGD",
        lambda: MomentumSGD(lr=0.1, momentum=0.8),
        lambda p, g, s, t: ref_momentum(p, g, s, t, lr=0.1, momentum=0.8),
    ),
    ("AdaGrad", lambda: AdaGrad(lr=0.1), lambda p, g, s, t: ref_adagrad(p, g, s, t, lr=0.1)),
    ("AdaDelta", lambda: AdaDelta(), ref_adadelta),
    ("Adam", lambda: Adam(alpha=0.1), lambda p, g, s, t: ref_adam(p, g, s, t, alpha=0.1)),
    (
        "AdamW",
        lambda: AdamW(alpha=0.1, weight_decay=0.5),
        lambda p, g, s, t: ref_adam(p, g, s, t, alpha=0.1, weight_decay=0.5),
    ),
    ("defaults", lambda: Adam(), ref_adam),
    ("AdaGrad defaults", lambda: AdaGrad(), ref_adagrad),
    ("MomentumSGD defaults", lambda: MomentumSGD(), ref_momentum),
]


@pytest.mark.parametrize("name,make,rule", CASES, ids=[c[0] for c in CASES])
def test_update_rule_over_several_steps(name, make, rule, dtype, xp):
    model = Pair(dtype, xp)
    expected = {
        k: np.asarray(getattr(model, k).data.get() if xp is not np else getattr(model, k).data, dtype=np.float64)
        for k in ("a", "b")
    }
    states = {"a": {}, "b": {}}
    optimizer = make().setup(model)
    for step in range(1, STEPS + 1):
        grads = _grads(step)
        for k in ("a", "b"):
            getattr(model, k).grad = Variable(xp.asarray(grads[k].astype(dtype)))
            # The reference sees the gradient the optimizer sees (rounded to dtype).
            expected[k] = rule(expected[k], grads[k].astype(dtype).astype(np.float64), states[k], step)
        optimizer.update()
    rtol, atol = (1e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-14)
    for k in ("a", "b"):
        p = getattr(model, k)
        assert p.data.dtype == dtype and get_array_module(p.data) is xp
        got = p.data.get() if xp is not np else p.data
        np.testing.assert_allclose(got, expected[k], rtol=rtol, atol=atol, err_msg=f"{name} {k}")
        for value in optimizer.state.get(p, {}).values():
            if hasattr(value, "dtype"):  # float32 state stays float32, on the same device
                assert value.dtype == dtype and get_array_module(value) is xp


def test_adam_lr_property_is_the_bias_corrected_step():
    opt = Adam(alpha=0.01, beta1=0.9, beta2=0.99)
    assert opt.lr == pytest.approx(0.01 * math.sqrt(1 - 0.99) / (1 - 0.9))  # step 1 before any update
    opt.setup(Pair(np.float64))
    for t in (1, 2, 3):
        opt.update()  # no gradients: nothing moves, the step still counts
        assert opt.t == t
        assert opt.lr == pytest.approx(0.01 * math.sqrt(1 - 0.99**t) / (1 - 0.9**t))


def test_update_skips_parameters_without_gradient_and_ages_them_separately():
    model = Pair(np.float64)
    b_before = model.b.data.copy()
    opt = Adam(alpha=0.1).setup(model)
    model.a.grad = Variable(np.ones((2, 3)))
    opt.update()
    opt.update()
    np.testing.assert_array_equal(model.b.data, b_before)
    assert model.b not in opt.state
    model.b.grad = Variable(np.ones(4))
    opt.update()
    # b's first step uses t = 1 bias correction: the step is alpha * sign(g) (up to eps).
    np.testing.assert_allclose(model.b.data, b_before - 0.1, rtol=1e-6)
    assert opt.state[model.a]["t"] == 3 and opt.state[model.b]["t"] == 1


def test_setup_returns_self_and_update_requires_it():
    opt = SGD()
    with pytest.raises(RuntimeError, match="setup"):
        opt.update()
    model = Pair(np.float32)
    assert opt.setup(model) is opt
    with pytest.raises(TypeError, match="Layer"):
        SGD().setup(np.ones(3))


def test_base_update_one_is_abstract():
    opt = Optimizer().setup(Pair(np.float32))
    opt.target.a.grad = Variable(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(NotImplementedError):
        opt.update()


def test_state_belongs_to_the_parameter_object():
    layer = Linear(2, in_size=2, dtype=np.float64)
    opt = MomentumSGD(lr=1.0, momentum=0.5).setup(layer)
    layer.W.grad = Variable(np.ones((2, 2)))
    opt.update()
    layer.W = Parameter(np.zeros((2, 2)))  # a new weight starts with no momentum
    layer.W.grad = Variable(np.ones((2, 2)))
    opt.update()
    np.testing.assert_array_equal(layer.W.data, -np.ones((2, 2)))


# =============================================================================
# Hooks
# =============================================================================
def test_hooks_run_before_the_update_on_the_params_with_gradients():
    model = Pair(np.float64)
    model.a.grad = Variable(np.ones((2, 3)))
    seen = []
    opt = SGD(lr=1.0).setup(model)
    opt.add_hook(lambda params: seen.append(([p for p in params], model.a.data.copy())))
    a_before = model.a.data.copy()
    opt.update()
    ((params, a_at_hook),) = seen
    assert params == [model.a]
    np.testing.assert_array_equal(a_at_hook, a_before)


def test_weight_decay(dtype):
    model = Pair(dtype)
    a0 = model.a.data.astype(np.float64)
    g = _grads(1)["a"]
    model.a.grad = Variable(g.astype(dtype))
    opt = SGD(lr=0.1).setup(model)
    opt.add_hook(WeightDecay(0.5))
    opt.update()
    np.testing.assert_allclose(model.a.data, a0 - 0.1 * (g + 0.5 * a0), rtol=1e-5)
    assert model.a.data.dtype == dtype and model.a.grad.dtype == dtype


def test_hooks_never_edit_a_shared_gradient_in_place():
    # y = a + c: the engine hands the very same gradient to a and c (each .grad
    # then gets its own copy; the hooks must not rely on that either).
    class Same(Layer):
        def __init__(self):
            super().__init__()
            self.a = Parameter(np.full(3, 2.0))
            self.c = Parameter(np.full(3, 10.0))

    model = Same()
    (model.a + model.c).sum().backward()
    opt = SGD(lr=1.0).setup(model)
    opt.add_hook(WeightDecay(1.0))
    opt.update()
    np.testing.assert_allclose(model.a.data, 2.0 - (1 + 2.0))
    np.testing.assert_allclose(model.c.data, 10.0 - (1 + 10.0))


@pytest.mark.parametrize("max_norm,scaled", [(1.0, True), (100.0, False)])
def test_clip_grad_uses_the_global_norm(dtype, max_norm, scaled):
    model = Pair(dtype)
    g = _grads(2)
    model.a.grad = Variable(g["a"].astype(dtype))
    model.b.grad = Variable(g["b"].astype(dtype))
    norm = math.sqrt(np.sum(g["a"] ** 2) + np.sum(g["b"] ** 2))
    before = {k: getattr(model, k).data.astype(np.float64) for k in "ab"}
    opt = SGD(lr=1.0).setup(model)
    opt.add_hook(ClipGrad(max_norm))
    opt.update()
    rate = max_norm / (norm + 1e-6) if scaled else 1.0
    for k in "ab":
        np.testing.assert_allclose(getattr(model, k).data, before[k] - rate * g[k], rtol=1e-5, atol=1e-6)
        assert getattr(model, k).grad.dtype == dtype
    clipped = math.sqrt(sum(float(np.sum(getattr(model, k).grad.data.astype(np.float64) ** 2)) for k in "ab"))
    assert clipped == pytest.approx(min(norm, max_norm), rel=1e-5)


def test_freeze_param_by_layer_and_by_parameter():
    class Net(Layer):
        def __init__(self):
            super().__init__()
            self.l1 = Linear(2, in_size=2, dtype=np.float64)
            self.l2 = Linear(2, in_size=2, dtype=np.float64)

    net = Net()
    y = net.l2(net.l1(np.ones((1, 2))))
    y.sum().backward()
    before = {k: p.data.copy() for k, p in net.named_params()}
    opt = MomentumSGD(lr=0.1).setup(net)
    opt.add_hook(FreezeParam(net.l1, net.l2.b))
    opt.update()
    after = dict(net.named_params())
    for k in ("l1/W", "l1/b", "l2/b"):
        np.testing.assert_array_equal(after[k].data, before[k])
        assert after[k] not in opt.state
    assert not np.array_equal(after["l2/W"].data, before["l2/W"])
    # A weight replaced after the hook was made is frozen too.
    net.l1.W = Parameter(np.zeros((2, 2)))
    net.l1.W.grad = Variable(np.ones((2, 2)))
    opt.update()
    np.testing.assert_array_equal(net.l1.W.data, np.zeros((2, 2)))


# =============================================================================
# State dict
# =============================================================================
def test_state_dict_keys_and_round_trip():
    model = Pair(np.float32)
    opt = Adam().setup(model)
    model.a.grad = Variable(np.ones((2, 3), dtype=np.float32))
    opt.update()
    state = opt.state_dict()
    assert sorted(state) == ["a/m", "a/t", "a/v", "t"]
    assert state["a/m"].dtype == np.float32 and int(state["t"]) == 1
    fresh = Adam().setup(model)
    fresh.load_state_dict(state)
    assert fresh.t == 1 and fresh.state[model.a]["t"] == 1
    np.testing.assert_array_equal(fresh.state[model.a]["v"], opt.state[model.a]["v"])
    assert fresh.state[model.a]["m"] is not opt.state[model.a]["m"]


def test_load_state_dict_rejects_bad_state_and_changes_nothing():
    model = Pair(np.float32)
    opt = MomentumSGD().setup(model)
    good = {"a/v": np.ones((2, 3), dtype=np.float32)}
    with pytest.raises(KeyError, match="unexpected optimizer state 'c/v'"):
        opt.load_state_dict({**good, "c/v": np.ones(1, dtype=np.float32)})
    with pytest.raises(ValueError, match=r"'b/v' has shape \(3,\).*shape \(4,\)"):
        opt.load_state_dict({**good, "b/v": np.ones(3, dtype=np.float32)})
    with pytest.raises(ValueError, match="dtype float64"):
        opt.load_state_dict({"a/v": np.ones((2, 3))})
    with pytest.raises(KeyError, match="'t' missing"):
        Adam().setup(model).load_state_dict({})
    assert len(opt.state) == 0


# =============================================================================
# Against PyTorch (float64), when it is installed
# =============================================================================
TORCH_CASES = [
    ("SGD", lambda: SGD(lr=0.1), lambda torch, ps: torch.optim.SGD(ps, lr=0.1)),
    (
        "MomentumSGD",
        lambda: MomentumSGD(lr=0.1, momentum=0.9),
        lambda torch, ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    ),
    ("AdaGrad", lambda: AdaGrad(lr=0.1, eps=1e-10), lambda torch, ps: torch.optim.Adagrad(ps, lr=0.1, eps=1e-10)),
    (
        "AdaDelta",
        lambda: AdaDelta(rho=0.9, eps=1e-6),
        lambda torch, ps: torch.optim.Adadelta(ps, lr=1.0, rho=0.9, eps=1e-6),
    ),
    ("Adam", lambda: Adam(alpha=0.1, eps=1e-3), lambda torch, ps: torch.optim.Adam(ps, lr=0.1, eps=1e-3)),
    (
        "AdamW",
        lambda: AdamW(alpha=0.1, weight_decay=0.3),
        lambda torch, ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.3),
    ),
]


@pytest.mark.parametrize("name,make,make_torch", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_matches_torch_optim(name, make, make_torch):
    torch = pytest.importorskip("torch")
    model = Pair(np.float64)
    tparams = [
        torch.tensor(model.a.data.copy(), requires_grad=True),
        torch.tensor(model.b.data.copy(), requires_grad=True),
    ]
    opt = make().setup(model)
    topt = make_torch(torch, tparams)
    for step in range(1, 6):
        g = _grads(step)
        model.a.grad, model.b.grad = Variable(g["a"]), Variable(g["b"])
        tparams[0].grad, tparams[1].grad = torch.tensor(g["a"]), torch.tensor(g["b"])
        opt.update()
        topt.step()
    np.testing.assert_allclose(model.a.data, tparams[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.b.data, tparams[1].detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("later_hook", [optim.ClipGrad(0.1), optim.WeightDecay(0.1)], ids=["ClipGrad", "WeightDecay"])
def test_hooks_after_freeze_param_see_only_the_remaining_gradients(later_hook):
    model = MLP((4, 2))
    x = np.ones((2, 3), np.float32)
    model(x)
    optimizer = optim.SGD(lr=0.1).setup(model)
    optimizer.add_hook(optim.FreezeParam(model.l0))
    optimizer.add_hook(later_hook)
    frozen = model.l0.W.data.copy()
    trained = model.l1.W.data.copy()
    model.cleargrads()
    F.sum(model(x)).backward()
    optimizer.update()
    np.testing.assert_array_equal(model.l0.W.data, frozen)
    assert not np.array_equal(model.l1.W.data, trained)


@pytest.mark.parametrize("make", [lambda: SGD(), lambda: MomentumSGD(), lambda: Adam(), lambda: AdaGrad()])
def test_an_integer_parameter_with_a_gradient_is_refused_naming_the_parameter(make):
    from dezero.layers import Layer

    class Counts(Layer):
        def __init__(self):
            super().__init__()
            self.w = Parameter(np.array([1, 2, 3]))  # int64: it gets integer gradients

    model = Counts()
    F.sum(model.w * 2).backward()
    optimizer = make().setup(model)
    with pytest.raises(TypeError, match=r"update: parameter w of shape \(3,\) is int64; optimizers update floating"):
        optimizer.update()
    np.testing.assert_array_equal(model.w.data, [1, 2, 3])  # untouched
