"""dezero: a define-by-run autograd framework you can read.

    import numpy as np
    import dezero
    import dezero.functions as F

    x = dezero.Variable(np.array(2.0))
    y = F.sin(x) * x
    y.backward()
    print(x.grad)
"""
from dezero.core import (  # noqa: F401
    Config, Function, Parameter, Variable, as_array, as_variable, detect_anomaly, grad,
    no_grad, test_mode, using_config,
)
from dezero import backend, cuda, functions, utils  # noqa: F401
from dezero.functions import setup_variable  # noqa: F401
from dezero import layers, models, optimizers, serialization  # noqa: F401
from dezero import datasets, dataloaders, transforms  # noqa: F401
from dezero.layers import Layer  # noqa: F401
from dezero.models import MLP, Model, Sequential  # noqa: F401
from dezero.dataloaders import DataLoader, SeqDataLoader  # noqa: F401
from dezero.serialization import load_checkpoint, save_checkpoint  # noqa: F401

from dezero import tuning

tuning.apply()  # process-wide settings: see dezero.tuning (DEZERO_TUNING=0 opts out)

__version__ = "0.1.0"
