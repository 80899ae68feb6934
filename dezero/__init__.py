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
    Config,
    Function,
    Parameter,
    Variable,
    as_array,
    as_variable,
    detect_anomaly,
    grad,
    no_grad,
    test_mode,
    using_config,
)
from dezero import backend, cuda, functions, functions_conv, utils  # noqa: F401
from dezero.functions import setup_variable  # noqa: F401
from dezero import layers, models, optimizers, serialization  # noqa: F401
from dezero import datasets, dataloaders, transforms  # noqa: F401
from dezero.layers import Layer  # noqa: F401
from dezero.models import MLP, Model, Sequential  # noqa: F401
from dezero.dataloaders import DataLoader, SeqDataLoader  # noqa: F401
from dezero.datasets import Dataset  # noqa: F401
from dezero.serialization import load_checkpoint, save_checkpoint  # noqa: F401

from dezero import tuning

tuning.apply()  # process-wide settings: see dezero.tuning (DEZERO_TUNING=0 opts out)

# The book's dezero switches between its two cores with this flag (steps 23-32
# ran on core_simple). This dezero always runs on the full core; the simple one
# is still there to read and to use directly: ``from dezero.core_simple import
# Variable, setup_variable`` (see dezero/core_simple.py and steps/step23.py).
is_simple_core = False

__version__ = "0.1.0"
