"""The op harness itself: every check fails on an op broken the way it is meant
to catch, and every public function of dezero.functions has a harness case."""

import importlib
import pathlib

import numpy as np
import pytest

import dezero.functions as F
from dezero.backend import get_array_module
from dezero.core import Function, Variable
from dezero.gradient_check import GradientCheckError
from tests.op_harness import (
    OpCase,
    OpTests,
    check_backward,
    check_double_backward,
    check_dtype_is_kept,
    check_forward,
    check_inputs_not_modified,
    check_non_contiguous_inputs,
    check_read_only_inputs,
    fixed,
    normal,
    public_functions,
)


# =============================================================================
# The guard: a case for every public function
# =============================================================================
# Public functions of dezero.functions that are not ops, each with the reason.
# Anything else without a case fails test_every_public_function_has_a_case.
EXEMPT = {
    # Attaches the operators and array methods to Variable when dezero.functions
    # is imported; it computes nothing itself. The operators it installs are
    # tested in tests/test_core.py and run through the cases here (x + y, x ** c...).
    "setup_variable": "not an op: installs Variable's operators",
    # The book's names for the reflected operators: sub and div with the
    # operands swapped (their cases cover them; test_book_api checks the swap).
    "rsub": "sub(x1, x0)",
    "rdiv": "div(x1, x0)",
}


def _harness_cases() -> list:
    """Every OpCase of every test module that uses the harness."""
    tests_dir = pathlib.Path(__file__).parent
    cases = []
    for path in sorted(tests_dir.glob("test_*.py")):
        if path.stem == "test_op_harness" or "OpTests" not in path.read_text(encoding="utf-8"):
            continue
        module = importlib.import_module(f"tests.{path.stem}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, OpTests) and value is not OpTests:
                cases.extend(value.cases)
    return cases


def _functions_without_cases() -> list:
    covered = {id(case.tested_function) for case in _harness_cases()}
    return sorted(name for name, fn in public_functions().items() if id(fn) not in covered and name not in EXEMPT)


def test_every_public_function_has_a_case():
    missing = _functions_without_cases()
    assert not missing, (
        f"public functions of dezero.functions without an OpCase: {missing}; add cases "
        "(see CONTRIBUTING.md) or, if one is not an op, an entry in EXEMPT with the reason"
    )


def test_the_guard_names_a_new_function_without_a_case(monkeypatch):
    def brand_new_op(x):
        return x

    monkeypatch.setattr(F, "brand_new_op", brand_new_op, raising=False)
    assert _functions_without_cases() == ["brand_new_op"]


def test_exemptions_name_public_functions_without_cases():
    public = public_functions()
    covered = {id(case.tested_function) for case in _harness_cases()}
    assert set(EXEMPT) <= set(public), f"stale exemptions: {sorted(set(EXEMPT) - set(public))}"
    assert not [name for name in EXEMPT if id(public[name]) in covered], "an exempt function has cases"


def test_the_guard_sees_the_cases_of_every_op_family():
    covered = {case.tested_function for case in _harness_cases()}
    for fn in (
        F.add,
        F.reshape,
        F.linear,
        F.softmax,
        F.softmax_cross_entropy,
        F.dropout,
        F.batch_norm,
        F.conv2d,
        F.pooling,
    ):
        assert fn in covered, fn.__name__


# =============================================================================
# Declaring cases
# =============================================================================
def test_a_case_without_reference_needs_a_reason():
    with pytest.raises(ValueError, match="give a reference, or skip_forward"):
        OpCase("sin", F.sin, [normal(3)], None)


def test_a_case_must_name_the_public_function_it_tests():
    with pytest.raises(ValueError, match="op must be a public function"):
        OpCase("lambda", lambda x: F.sin(x), [normal(3)], np.sin)


def test_inputs_on_a_kink_are_refused():
    case = OpCase("relu on 0", F.relu, [fixed([0.0, 1.0])], lambda x: np.maximum(x, 0), kinks=(0.0,))
    with pytest.raises(ValueError, match="comes within 0 of the kink at 0.0"):
        check_backward(case, np.float64, np)


def test_the_same_values_for_every_run_of_a_case():
    case = OpCase("sin", F.sin, [normal((2, 3))], np.sin)
    from tests.op_harness import _make_inputs

    np.testing.assert_array_equal(_make_inputs(case, np.float64, np)[0], _make_inputs(case, np.float64, np)[0])


# =============================================================================
# Every check catches the defect it is for
# =============================================================================
class _Double(Function):
    """2x, correct; the broken variants below differ in one respect each."""

    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy * 2


class _WrongValue(_Double):
    def forward(self, x):
        return x * 2.001


class _WrongGradient(_Double):
    def backward(self, gy):
        return gy * 3


class _Square(Function):
    def forward(self, x):
        return x * x

    def backward(self, gy):
        (x,) = self.inputs
        return gy * 2 * x


class _SquareWithConstantBackward(_Square):
    def backward(self, gy):
        # Raw arrays: the gradient is right, but its graph is cut off from x.
        (x,) = self.inputs
        return gy * Variable(2 * x.data)


class _GradientOpWithWrongBackward(Function):
    """The backward op of _DoubleViaGradOp, whose own backward is off by 2x."""

    def forward(self, gy):
        return gy * 2

    def backward(self, ggx):
        return ggx * 4


class _DoubleViaGradOp(_Double):
    def backward(self, gy):
        return _GradientOpWithWrongBackward()(gy)


class _Upcasts(_Double):
    def forward(self, x):
        return (x * 2.0).astype(np.float64)


class _UpcastsInBackward(_Double):
    def backward(self, gy):
        # The engine casts a float64 gradient back to float32; the graph keeps the trace.
        return gy * np.full(gy.shape, 2.0)


class _AssumesContiguous(_Double):
    def forward(self, x):
        xp = get_array_module(x)
        strides = tuple(int(np.prod(x.shape[i + 1 :])) * x.itemsize for i in range(x.ndim))
        return xp.lib.stride_tricks.as_strided(x, x.shape, strides) * 2


class _InPlace(_Double):
    def forward(self, x):
        x *= 2
        return x


class _ModifiesGy(_Double):
    def backward(self, gy):
        gy.data *= 2
        return gy


def _public(function_class):
    """A case for a broken op, declared as one of F.neg (any public function will do)."""
    return lambda x: function_class()(x)


@pytest.mark.parametrize(
    "broken, check, error",
    [
        (_WrongValue, check_forward, AssertionError),
        (_WrongGradient, check_backward, GradientCheckError),
        (_SquareWithConstantBackward, check_double_backward, GradientCheckError),
        (_DoubleViaGradOp, check_double_backward, GradientCheckError),
        (_Upcasts, check_dtype_is_kept, AssertionError),
        (_UpcastsInBackward, check_dtype_is_kept, AssertionError),
        (_AssumesContiguous, check_non_contiguous_inputs, AssertionError),
        (_InPlace, check_read_only_inputs, ValueError),
        (_InPlace, check_inputs_not_modified, AssertionError),
        (_ModifiesGy, check_inputs_not_modified, AssertionError),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_each_check_catches_its_defect(broken, check, error):
    correct = _Square if broken in (_SquareWithConstantBackward,) else _Double
    reference = (lambda x: x * x) if correct is _Square else (lambda x: 2 * x)
    dtype = np.float32 if check is check_dtype_is_kept else np.float64
    good = OpCase("correct", _public(correct), [normal((3, 4))], reference, op=F.neg)
    bad = OpCase("broken", _public(broken), [normal((3, 4))], reference, op=F.neg)
    check(good, dtype, np)
    with pytest.raises(error):
        check(bad, dtype, np)
