"""Step 18: saving memory: drop what nobody asked for.

Two switches:
- ``backward(retain_grad=False)``: users almost always want the gradients of
  the inputs (the parameters), not of every intermediate result. By default the
  engine now forgets an intermediate gradient as soon as it has been used.
- ``Config.enable_backprop``: when no backward will follow (inference,
  evaluation), a Function need not remember its inputs, so the intermediate
  arrays can be freed right away. ``with no_grad():`` turns the recording off
  for a block and restores it afterwards, even if the block raises.
"""

import contextlib
import tracemalloc
import weakref

import numpy as np


class Config:
    enable_backprop = True  # record the graph (creator, inputs, outputs)?


@contextlib.contextmanager
def using_config(name, value):
    old_value = getattr(Config, name)
    setattr(Config, name, value)
    try:
        yield
    finally:  # restore even when the block raises
        setattr(Config, name, old_value)


def no_grad():
    return using_config("enable_backprop", False)


class Variable:
    def __init__(self, data):
        if data is not None and not isinstance(data, np.ndarray):
            raise TypeError(f"Variable(data): expected numpy.ndarray, got {type(data).__name__}")
        self.data = data
        self.grad = None
        self.creator = None
        self.generation = 0

    def set_creator(self, func):
        self.creator = func
        self.generation = func.generation + 1

    def cleargrad(self):
        self.grad = None

    def backward(self, retain_grad=False):
        if self.grad is None:
            self.grad = np.ones_like(self.data)

        funcs = []
        seen = set()

        def add_func(f):
            if f not in seen:
                funcs.append(f)
                seen.add(f)
                funcs.sort(key=lambda func: func.generation)

        add_func(self.creator)
        while funcs:
            f = funcs.pop()
            gys = [output().grad for output in f.outputs]
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                x.grad = gx if x.grad is None else x.grad + gx
                if x.creator is not None:
                    add_func(x.creator)
            if not retain_grad:
                # Generations guarantee every user of these outputs has run,
                # so their gradients are complete and no longer needed.
                for y in f.outputs:
                    y().grad = None


def as_array(x):
    if np.isscalar(x):
        return np.array(x)
    return x


class Function:
    def __call__(self, *inputs):
        xs = [x.data for x in inputs]
        ys = self.forward(*xs)
        if not isinstance(ys, tuple):
            ys = (ys,)
        outputs = [Variable(as_array(y)) for y in ys]
        if Config.enable_backprop:
            # Only a graph that will be walked backward needs these links.
            self.generation = max(x.generation for x in inputs)
            for output in outputs:
                output.set_creator(self)
            self.inputs = inputs
            self.outputs = [weakref.ref(output) for output in outputs]
        return outputs if len(outputs) > 1 else outputs[0]

    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *gys):
        raise NotImplementedError(f"{type(self).__name__}.backward")


class Add(Function):
    def forward(self, x0, x1):
        return x0 + x1

    def backward(self, gy):
        return gy, gy


class Square(Function):
    def forward(self, x):
        return x**2

    def backward(self, gy):
        return 2 * self.inputs[0].data * gy


def add(x0, x1):
    return Add()(x0, x1)


def square(x):
    return Square()(x)


def held_megabytes(x):
    """Memory still held after computing y = square(square(square(x)))."""
    tracemalloc.start()
    try:
        y = square(square(square(x)))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del y
    return held / 1e6


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x0 = Variable(np.array(1.0))
    x1 = Variable(np.array(1.0))
    t = add(x0, x1)
    y = add(x0, t)
    y.backward()
    dropped = (y.grad, t.grad, float(x0.grad), float(x1.grad))
    print(f"retain_grad=False: y.grad = {y.grad}, t.grad = {t.grad}, x0.grad = {x0.grad}, x1.grad = {x1.grad}")

    x0.cleargrad()
    x1.cleargrad()
    t = add(x0, x1)
    y = add(x0, t)
    y.backward(retain_grad=True)
    retained = (float(y.grad), float(t.grad), float(x0.grad), float(x1.grad))
    print(f"retain_grad=True: y.grad = {y.grad}, t.grad = {t.grad}, x0.grad = {x0.grad}, x1.grad = {x1.grad}")

    with no_grad():
        y = square(Variable(np.array(2.0)))
    print(
        f"under no_grad: y = {y.data}, y.creator is None: {y.creator is None}, "
        f"recording back on afterwards: {Config.enable_backprop}"
    )

    big = Variable(np.ones(1_000_000))  # 8 MB of float64
    with_graph = held_megabytes(big)
    with no_grad():
        without_graph = held_megabytes(big)
    print(
        f"memory held by y = square(square(square(x))), x of 8 MB: "
        f"with the graph {with_graph:.0f} MB, under no_grad {without_graph:.0f} MB"
    )

    return {
        "dropped": dropped,
        "retained": retained,
        "no_grad_value": float(y.data),
        "no_grad_creator": y.creator,
        "backprop_back_on": Config.enable_backprop,
        "megabytes_with_graph": with_graph,
        "megabytes_without_graph": without_graph,
    }


if __name__ == "__main__":
    main()
