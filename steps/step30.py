"""Step 30: higher-order derivatives, part 1: what a gradient is made of.

From here on the steps run on ``dezero.core``, the full engine that ``from
dezero import Variable`` gives, instead of ``dezero.core_simple`` (steps 23-29).
The switch is one import; what it changes is the subject of steps 30-33: in
``dezero.core_simple`` a gradient is a plain array, in ``dezero.core`` it is a
Variable built by differentiable Functions.

To differentiate twice, the first derivative must itself be something backward
can walk through. Look at what the engine holds after one backward pass of
``y = sin(x)``:

- ``y.creator`` is the Sin Function; its ``inputs`` hold x, its ``outputs``
  hold y weakly (a Function never keeps its outputs alive: no cycles).
- ``x.grad`` is not a bare array but a Variable, computed by Sin's backward
  as ``gy * cos(x)`` with dezero's own Functions.
- Normally that computation is not recorded (``x.grad.creator`` is None):
  gradients of gradients are rarely needed, and recording costs memory.
  ``backward(create_graph=True)`` records it, and then ``x.grad`` has a
  creator, a graph of its own, which step 32 differentiates.
"""

import os
import sys

import numpy as np

try:
    import dezero  # noqa: F401  (only asks: is it installed?)
except ImportError:  # a checkout that is not installed: use the repository's copy
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import dezero.functions as F
from dezero import Variable


def creator_name(v) -> str:
    return "None" if v.creator is None else type(v.creator).__name__


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(1.0), name="x")
    y = F.sin(x)
    sin_node = y.creator
    print(
        f"y.creator: {creator_name(y)}; its inputs: {[v.name for v in sin_node.inputs]};"
        f" its output is y: {sin_node.outputs[0]() is y}; generation of y: {y.generation}"
    )

    y.backward()
    plain = {"grad_type": type(x.grad).__name__, "value": float(x.grad.data), "creator": creator_name(x.grad)}
    print(
        f"after y.backward():                   type(x.grad) = {type(x.grad).__name__}, "
        f"value {float(x.grad.data):.6f} (cos 1 = {np.cos(1.0):.6f}), "
        f"x.grad.creator = {creator_name(x.grad)}"
    )

    x.cleargrad()
    y = F.sin(x)
    y.backward(create_graph=True)
    gx = x.grad
    made_by = ", ".join(creator_name(v) for v in gx.creator.inputs)
    print(
        f"after y.backward(create_graph=True):  x.grad.creator = {creator_name(gx)}, "
        f"the creators of its inputs: {made_by}"
    )
    print("(gy, the seed of ones, has no creator; cos(x) was made by Cos)")
    print("so the gradient is the output of a graph (gy * cos(x)) that backward can walk again")

    return {
        "creator": creator_name(y),
        "plain": plain,
        "recorded_creator": creator_name(gx),
        "recorded_inputs": [creator_name(v) for v in gx.creator.inputs],
    }


if __name__ == "__main__":
    main()
