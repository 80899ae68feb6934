"""Step 23: turning it into a package.

Until step 22 the whole framework lived in the script that used it. From now
on it is the ``dezero`` package, and a script only imports it:

    dezero/core_simple.py  steps 1-22 gathered into one module: Variable,
                           Function, + - * / **, no_grad; read it in one sitting
    dezero/core.py         the full engine (Variable, Function, backward)
    dezero/functions/      the operations, one module per kind (math, array, ...)
    dezero/__init__.py     the public names: Variable, Function, no_grad, grad, ...

``dezero.core_simple`` is what this part of the book builds. Its Variable gets
its operators from ``setup_variable()``, and its gradients are plain arrays.
``import dezero`` gives the full core instead (``dezero.is_simple_core`` is
False): the same formulas give the same numbers, but every gradient is a
Variable itself, so it can be differentiated again; steps 30-33 need that.
Steps 24, 28 and 29 run on ``dezero.core_simple``; the steps that draw graphs
(25-27, whose drawer reads the full core's Variables) and every step from 30
on run on ``dezero.core``.

The code below runs whether dezero is installed (pip install -e .) or not: in
a plain checkout the repository root is put on ``sys.path`` first.
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
from dezero.core_simple import Variable, setup_variable

setup_variable()  # Variable's + - * / ** come from the package now, not from this file


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    print(f"dezero {dezero.__version__} imported from {os.path.dirname(dezero.__file__)}")
    modules = sorted(m.name for m in pkgutil.iter_modules(dezero.__path__))
    print("its modules:", ", ".join(modules))

    x = Variable(np.array(1.0))
    y = (x + 3) ** 2
    y.backward()
    print(
        f"core_simple: y = (x + 3) ** 2 at x = 1.0: y = {float(y.data)}, "
        f"dy/dx = {float(x.grad)} (by hand: 2 (x + 3) = 8.0), a {type(x.grad).__name__}"
    )

    # The same formula on the full core, the one `import dezero` gives.
    x_full = dezero.Variable(np.array(1.0))
    y_full = (x_full + 3) ** 2
    y_full.backward()
    print(
        f"dezero.core: y = {float(y_full.data)}, dy/dx = {float(x_full.grad.data)}, "
        f"a {type(x_full.grad).__name__} (dezero.is_simple_core = {dezero.is_simple_core})"
    )
    return {
        "modules": modules,
        "simple": [float(y.data), float(x.grad)],
        "simple_grad_type": type(x.grad).__name__,
        "full": [float(y_full.data), float(x_full.grad.data)],
        "full_grad_type": type(x_full.grad).__name__,
        "is_simple_core": dezero.is_simple_core,
    }


if __name__ == "__main__":
    main()
