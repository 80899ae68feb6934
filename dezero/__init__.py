"""dezero: a define-by-run autograd framework you can read.

    import dezero
    import dezero.functions as F
    x = dezero.Variable(np.array(2.0))
    y = F.sin(x) * x
    y.backward()
"""
from dezero.core import (  # noqa: F401
    Config, Function, Parameter, Variable, as_array, as_variable, grad,
    no_grad, test_mode, using_config,
)
from dezero import backend, cuda, functions, utils  # noqa: F401

__version__ = "0.1.0"
