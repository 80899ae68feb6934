"""PyTorch and Chainer habits: each fails with an error that names the dezero way,
while everything dezero accepts keeps working and ordinary mistakes keep
Python's ordinary errors."""

import copy
import pickle
import re

import numpy as np
import pytest

import dezero
import dezero.functions as F
import dezero.layers as L
from dezero import Variable, habits
from dezero.layers import Layer, Linear
from dezero.models import MLP
from dezero.optimizers import SGD, AdaDelta, AdaGrad, Adam, AdamW, MomentumSGD, Optimizer


def trained_mlp():
    model = MLP((4, 2))
    model(np.ones((3, 5), dtype=np.float32))
    return model


# =============================================================================
# Layers and models
# =============================================================================
@pytest.mark.parametrize(
    "name, dezero_way",
    [
        ("eval", "with dezero.test_mode()"),
        ("train", "with dezero.test_mode()"),
        ("parameters", "model.params()"),
        ("named_parameters", "model.named_params()"),
        ("zero_grad", "model.cleargrads()"),
        ("zerograds", "model.cleargrads()"),
        ("namedparams", "model.named_params()"),
        ("cuda", "model.to_gpu()"),
        ("cpu", "model.to_cpu()"),
        ("to", "model.to_gpu()"),
        ("children", "model.layers_tree()"),
        ("register_buffer", "model.add_persistent(name, array)"),
        ("state_dict", "model.save_weights(path)"),
        ("load_state_dict", "model.load_weights(path)"),
    ],
)
def test_layer_habit_names_say_the_dezero_way(name, dezero_way):
    model = trained_mlp()
    with pytest.raises(AttributeError) as info:
        getattr(model, name)
    message = str(info.value)
    assert message.startswith(f"'MLP' object has no attribute {name!r}: ")
    assert dezero_way in message


def test_every_dezero_way_named_for_layers_exists():
    model = trained_mlp()
    for method in (
        "params",
        "named_params",
        "cleargrads",
        "to_gpu",
        "to_cpu",
        "layers_tree",
        "add_persistent",
        "save_weights",
        "load_weights",
    ):
        assert callable(getattr(model, method))
    assert callable(dezero.test_mode) and callable(dezero.save_checkpoint)


def test_unknown_layer_attribute_keeps_pythons_error():
    model = trained_mlp()
    with pytest.raises(AttributeError) as info:
        _ = model.no_such_thing
    assert str(info.value) == "'MLP' object has no attribute 'no_such_thing'"
    assert not hasattr(model, "eval")
    assert getattr(model, "eval", "default") == "default"


def test_layer_attributes_of_those_names_still_win():
    class Net(Layer):
        def __init__(self):
            super().__init__()
            self.to = "a plain attribute"
            self.l1 = Linear(2)

        def eval(self):  # a method a user defines under a PyTorch name
            return "user's eval"

    net = Net()
    assert net.to == "a plain attribute" and net.eval() == "user's eval"
    assert [name for name, _ in net.named_params()] == ["l1/W", "l1/b"]


def test_layers_still_pickle_and_copy():
    model = trained_mlp()
    x = np.ones((3, 5), dtype=np.float32)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        np.testing.assert_array_equal(clone(x).data, model(x).data)


@pytest.mark.parametrize("args, fixed", [((784, 100), "Linear(100, in_size=784)"), ((3, 4), "Linear(4, in_size=3)")])
def test_linear_refuses_the_pytorch_argument_order(args, fixed):
    with pytest.raises(TypeError, match="nobias must be a bool") as info:
        Linear(*args)
    assert fixed in str(info.value)


def test_linear_still_takes_nobias_positionally():
    assert Linear(3, True).b is None
    assert Linear(3, np.bool_(False)).b is not None
    assert Linear(3, nobias=False, in_size=2).W.shape == (2, 3)


# =============================================================================
# Optimizers
# =============================================================================
@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: Adam(lr=1e-3), "Adam has no `lr`; use `alpha`"),
        (lambda: AdamW(lr=1e-3), "AdamW has no `lr`; use `alpha`"),
        (lambda: Adam(learning_rate=1e-3), "Adam has no `learning_rate`; use `alpha`"),
        (lambda: SGD(learning_rate=0.1), "SGD has no `learning_rate`; use `lr`"),
        (lambda: MomentumSGD(alpha=0.1), "MomentumSGD has no `alpha`; use `lr`"),
        (lambda: AdaDelta(lr=1.0), "AdaDelta has no `lr`: it has no learning rate"),
        (lambda: Adam(betas=(0.9, 0.99)), "Adam has no `betas`; use `beta1=` and `beta2=`"),
        (lambda: SGD(momentum=0.9), "use `MomentumSGD(lr=..., momentum=...)`"),
        (lambda: Adam(weight_decay=1e-4), "use `AdamW(weight_decay=...)`"),
        (lambda: SGD(lr=0.1, weight_decay=1e-4), "optimizer.add_hook(WeightDecay(rate))"),
        (lambda: SGD(nesterov=True), "SGD has no `nesterov`"),
    ],
)
def test_optimizer_keyword_habits_say_the_dezero_name(make, expected):
    with pytest.raises(TypeError) as info:
        make()
    message = str(info.value)
    assert expected in message
    assert "hyperparameters: " in message  # and lists what the class does take


def test_optimizer_keyword_error_lists_the_accepted_names():
    with pytest.raises(TypeError, match=r"\(Adam's hyperparameters: alpha, beta1, beta2, eps\)$"):
        Adam(lr=0.1)
    with pytest.raises(TypeError, match=r"\(MomentumSGD's hyperparameters: lr, momentum\)$"):
        MomentumSGD(lr=0.1, nesterov=True)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: Adam(m.params()),
        lambda m: Adam(m.params(), alpha=1e-3),
        lambda m: SGD(m),
        lambda m: Adam(params=m.params()),
        lambda m: SGD(next(m.params())),
    ],
)
def test_optimizer_refuses_the_model_in_its_constructor(make):
    model = trained_mlp()
    with pytest.raises(
        TypeError,
        match=r"takes hyperparameters only, got a \w+; attach the model with "
        r"`\w+\(\.\.\.\)\.setup\(model\)`",
    ):
        make(model)


@pytest.mark.parametrize(
    "name, dezero_way",
    [
        ("step", "optimizer.update()"),
        ("zero_grad", "model.cleargrads()"),
        ("param_groups", "optimizer.alpha = 1e-4"),
        ("add_param_group", "setup(model)"),
    ],
)
def test_optimizer_habit_methods_say_the_dezero_way(name, dezero_way):
    optimizer = Adam().setup(trained_mlp())
    with pytest.raises(AttributeError) as info:
        getattr(optimizer, name)
    assert str(info.value).startswith(f"'Adam' object has no attribute {name!r}: ")
    assert dezero_way in str(info.value)
    with pytest.raises(AttributeError, match=r"^'Adam' object has no attribute 'no_such_thing'$"):
        _ = optimizer.no_such_thing


def test_setting_adams_lr_points_at_alpha_without_suggesting_a_wrong_value():
    optimizer = Adam(alpha=0.01)
    # `lr *= 0.5` passes half of the derived lr, which is not the alpha meant: the
    # message names alpha's current value and the way to scale it.
    with pytest.raises(
        AttributeError, match=r"lr is read-only.*change alpha instead \(now 0\.01\), e\.g\. `optimizer\.alpha \*= 0\.5`"
    ) as raised:
        optimizer.lr *= 0.5
    assert str(optimizer.lr * 0.5) not in str(raised.value)
    assert optimizer.alpha == 0.01
    optimizer.alpha = 0.5  # the book's way works
    assert optimizer.lr == pytest.approx(0.5 * np.sqrt(1 - 0.999) / (1 - 0.9))


def test_optimizers_accept_their_own_arguments_positionally_and_by_keyword():
    assert Adam(0.01, 0.5).beta1 == 0.5
    assert Adam(alpha=0.01, beta1=0.5, beta2=0.9, eps=1e-7).eps == 1e-7
    assert AdamW(weight_decay=0.1).weight_decay == 0.1
    assert SGD(0.5).lr == 0.5 and SGD(lr=0.25).lr == 0.25
    assert MomentumSGD(lr=0.1, momentum=0.5).momentum == 0.5
    assert AdaGrad(lr=0.1).lr == 0.1 and AdaDelta(rho=0.9).rho == 0.9
    assert copy.deepcopy(Adam(alpha=0.25)).alpha == 0.25


def test_a_user_optimizer_with_its_own_arguments_is_left_alone():
    class Scaled(Optimizer):
        def __init__(self, schedule, **options):
            super().__init__()
            self.schedule, self.options = schedule, options

        def update_one(self, param):
            param.data -= self.schedule(0) * param.grad.data

    optimizer = Scaled(lambda step: 0.1, anything=1)
    assert optimizer.options == {"anything": 1}
    model = trained_mlp()
    optimizer.setup(model)
    before = model.l0.W.data.copy()
    loss = F.sum(model(np.ones((2, 5), dtype=np.float32)))
    model.cleargrads()
    loss.backward()
    optimizer.update()
    np.testing.assert_allclose(model.l0.W.data, before - 0.1 * model.l0.W.grad.data)


# =============================================================================
# Functions
# =============================================================================
X = np.arange(6, dtype=np.float32).reshape(2, 3)


@pytest.mark.parametrize(
    "call, wrong, right",
    [
        (lambda x: F.softmax(x, dim=1), "dim", "axis"),
        (lambda x: F.log_softmax(x, dim=-1), "dim", "axis"),
        (lambda x: F.sum(x, dim=0), "dim", "axis"),
        (lambda x: F.sum(x, axis=0, keepdim=True), "keepdim", "keepdims"),
        (lambda x: F.mean(x, dim=1), "dim", "axis"),
        (lambda x: F.average(x, dim=1), "dim", "axis"),
        (lambda x: F.max(x, dim=1), "dim", "axis"),
        (lambda x: F.min(x, dim=1), "dim", "axis"),
        (lambda x: F.expand_dims(x, dim=0), "dim", "axis"),
        (lambda x: Variable(x).sum(dim=1), "dim", "axis"),
        (lambda x: Variable(x).max(axis=1, keepdim=True), "keepdim", "keepdims"),
    ],
)
def test_pytorch_keywords_say_the_numpy_name(call, wrong, right):
    with pytest.raises(TypeError, match=rf"\(\) takes {right}=, not {wrong}= \(dezero uses NumPy's names\)$"):
        call(X)


def test_functions_with_renamed_keywords_still_compute_and_differentiate():
    X64 = X.astype(np.float64)
    x = Variable(X64)
    y = F.softmax(x, axis=1)
    np.testing.assert_allclose(y.data, np.exp(X64) / np.exp(X64).sum(axis=1, keepdims=True), rtol=1e-12)
    s = F.sum(x, axis=0, keepdims=True)
    assert s.shape == (1, 3) and np.array_equal(s.data, X.sum(axis=0, keepdims=True))
    assert x.max(axis=1).data.tolist() == [2.0, 5.0]
    F.sum(F.log_softmax(x, axis=1) * X).backward()
    expected = X64 - np.exp(X64) / np.exp(X64).sum(axis=1, keepdims=True) * X64.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-10)
    assert F.softmax.__name__ == "softmax" and "Softmax" in F.softmax.__doc__


def test_other_type_errors_pass_through_unchanged():
    with pytest.raises(TypeError, match="unexpected keyword argument 'axes'"):
        F.sum(X, axes=0)
    with pytest.raises(ValueError, match="axis 5 is out of range"):
        F.softmax(X, axis=5)


@pytest.mark.parametrize(
    "name, dezero_name",
    [
        ("cross_entropy", "F.softmax_cross_entropy"),
        ("nll_loss", "F.softmax_cross_entropy"),
        ("mse_loss", "F.mean_squared_error"),
        ("binary_cross_entropy_with_logits", "F.sigmoid_cross_entropy"),
        ("max_pool2d", "F.pooling"),
        ("avg_pool2d", "F.average_pooling"),
        ("unsqueeze", "F.expand_dims"),
    ],
)
def test_pytorch_function_names_say_the_dezero_function(name, dezero_name):
    with pytest.raises(AttributeError) as info:
        getattr(F, name)
    assert str(info.value).startswith(f"module 'dezero.functions' has no attribute {name!r}: ")
    assert dezero_name in str(info.value)


def test_every_function_named_in_a_hint_exists():
    for hint in habits.FUNCTION_NAMES.values():
        for name in re.findall(r"`F\.(\w+)", hint):
            assert callable(getattr(F, name)), name
    with pytest.raises(AttributeError, match=r"^module 'dezero.functions' has no attribute 'nonsense'$"):
        _ = F.nonsense


# =============================================================================
# PyTorch's keyword names in the layer constructors
# =============================================================================
@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: L.Conv2d(16, 3, padding=1),
            r"Conv2d\(\) has no keyword 'padding' \(dezero keeps the book's names\); for padding=, use pad=$",
        ),
        (lambda: L.Deconv2d(16, 3, padding=1), r"Deconv2d\(\) has no keyword 'padding'.*for padding=, use pad="),
        (lambda: L.Linear(10, bias=False), r"Linear\(\) has no keyword 'bias'.*nobias= \(inverted"),
        (
            lambda: L.Linear(in_features=3, out_features=4),
            r"for in_features=, use in_size=; for out_features=, use out_size=",
        ),
        (lambda: L.BatchNorm(momentum=0.1), r"BatchNorm\(\) has no keyword 'momentum'.*decay= \(decay = 1 - momentum"),
        (lambda: L.EmbedID(num_embeddings=3, embedding_dim=2), r"EmbedID\(\) has no keyword 'num_embeddings'"),
        (lambda: L.LSTM(8, input_size=3), r"LSTM\(\) has no keyword 'input_size'.*for input_size=, use in_size="),
    ],
    ids=["conv padding", "deconv padding", "linear bias", "linear in/out_features", "bn momentum", "embed", "lstm"],
)
def test_pytorch_keywords_in_layer_constructors_name_the_dezero_keyword(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_a_keyword_the_table_does_not_know_gets_pythons_error_naming_the_layer_called():
    with pytest.raises(TypeError, match=r"^Linear\(\) got an unexpected keyword argument 'no_such_thing'$"):
        L.Linear(10, no_such_thing=1)
    # Conv2d's __init__ is its base class's: the layer called is named, not _ConvBase.
    with pytest.raises(TypeError, match=r"^Conv2d\(\) got an unexpected keyword argument 'foo'$"):
        L.Conv2d(16, 3, foo=2)
    with pytest.raises(TypeError, match=r"LSTM\(\) has no keyword 'batch_first'.*one time step"):
        L.LSTM(4, batch_first=True)


def test_batchnorm_given_a_channel_count_says_the_first_argument_is_the_decay():
    # nn.BatchNorm2d(16): refused at once, not at the first batch.
    with pytest.raises(
        ValueError, match=r"BatchNorm: decay must be in \[0, 1\], got 16; the first argument is the decay"
    ):
        L.BatchNorm(16)
    assert L.BatchNorm(0.8).decay == 0.8 and L.BatchNorm(1).decay == 1


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: L.BatchNorm(1.5), ValueError, r"BatchNorm: decay must be in \[0, 1\], got 1.5"),
        (lambda: L.BatchNorm(-0.5), ValueError, r"decay must be in \[0, 1\], got -0.5"),
        (lambda: L.BatchNorm(float("nan")), ValueError, r"decay must be in \[0, 1\], got nan"),
        (lambda: L.BatchNorm("0.9"), TypeError, r"BatchNorm: decay must be a number, got '0.9'"),
        (lambda: L.BatchNorm(True), TypeError, r"BatchNorm: decay must be a number, got True"),
        (lambda: L.BatchNorm(eps=-1), ValueError, r"BatchNorm: eps must be positive, got -1"),
    ],
    ids=["1.5", "negative", "nan", "string", "bool", "eps"],
)
def test_batchnorm_checks_decay_and_eps_when_it_is_made(make, error, message):
    with pytest.raises(error, match=message):
        make()
