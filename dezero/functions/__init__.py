"""Differentiable functions. ``import dezero.functions as F`` exposes them all;
the submodules group them by kind, as the layout of the package shows."""
from dezero.functions.array import *  # noqa: F401,F403
from dezero.functions.math import *  # noqa: F401,F403
from dezero.functions.connection import *  # noqa: F401,F403
from dezero.functions.activation import *  # noqa: F401,F403
from dezero.functions.loss import *  # noqa: F401,F403
from dezero.functions.noise import *  # noqa: F401,F403
from dezero.functions.normalization import *  # noqa: F401,F403
from dezero.functions.conv import *  # noqa: F401,F403
from dezero.functions.pooling import *  # noqa: F401,F403
