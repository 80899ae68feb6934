"""Step 23: turning it into a package.

Until step 22 the whole framework lived in the script that used it. From now
on it is the ``dezero`` package, and a script only imports it:

    dezero/__init__.py     the public names: Variable, Function, no_grad, grad, ...
    dezero/core.py         Variable, Function and the backward engine
    dezero/functions/      the operations, one module per kind (math, array, ...)

Nothing changes for the user: the same formula builds the same graph and the
same ``backward()`` walks it. The code below runs whether dezero is installed
(pip install -e .) or not: in a plain checkout the repository root is put on
``sys.path`` first.
"""
import os
import pkgutil
import sys

import numpy as np

try:
    import dezero
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dezero
from dezero import Variable

if __name__ == "__main__":
    print(f"dezero {dezero.__version__} imported from {os.path.dirname(dezero.__file__)}")
    modules = sorted(m.name for m in pkgutil.iter_modules(dezero.__path__))
    print("its modules:", ", ".join(modules))

    x = Variable(np.array(1.0))
    y = (x + 3) ** 2  # operators come from the package now, not from this file
    y.backward()
    print(f"y = (x + 3) ** 2 at x = 1.0: y = {float(y.data)}")
    print(f"dy/dx = {float(x.grad.data)} (by hand: 2 (x + 3) = 8.0)")

    # Everything a script needs is one import away.
    print("Variable is", f"{Variable.__module__}.{Variable.__name__};",
          "the ops live in", dezero.functions.__name__)
