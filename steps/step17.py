"""Step 17: memory, and weak references.

Python frees an object as soon as nothing refers to it (reference counting).
Our graph had a cycle: a Function holds its outputs, and each output holds the
Function as its creator. Objects in a cycle keep each other alive after the
user has dropped them, until Python's slower cycle collector happens to run,
so a training loop could pile up graphs full of large arrays.

The fix: a Function refers to its outputs *weakly* (``weakref.ref``), which
does not keep them alive; the engine calls the reference to get the output
back. The graph is then a tree of strong references from the output down to
the inputs, and dropping the output frees it all at once.
"""

import gc
import weakref

import numpy as np


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

    def backward(self):
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
            gys = [output().grad for output in f.outputs]  # output() dereferences
            gxs = f.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                x.grad = gx if x.grad is None else x.grad + gx
                if x.creator is not None:
                    add_func(x.creator)


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
        self.generation = max(x.generation for x in inputs)
        for output in outputs:
            output.set_creator(self)
        self.inputs = inputs
        # Weak: the output holds the Function (its creator), not the other way round.
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


def freed_by_del(strong_outputs):
    """Build a graph, drop it, and report whether its output was freed at once."""
    x = Variable(np.ones(1000))
    y = square(square(x))
    if strong_outputs:
        # What step 16 did: the creator holds its output strongly (a cycle).
        y.creator.outputs_strong = [y]
    probe = weakref.ref(y)
    del y
    freed_now = probe() is None
    gc.collect()
    return freed_now, probe() is None


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0))
    a = square(x)
    y = add(square(a), square(a))
    y.backward()
    x_grad = float(x.grad)
    print(f"backward still works through weak references: x.grad = {x.grad}")

    # Switch off the cycle collector so that only reference counting acts:
    # that is what happens between two of the collector's (irregular) runs.
    gc.disable()
    try:
        strong = now, later = freed_by_del(strong_outputs=True)
        print(f"strong outputs (a cycle): freed by del: {now}, after gc.collect(): {later}")
        weak = now, later = freed_by_del(strong_outputs=False)
        print(f"weak outputs: freed by del: {now}")
    finally:
        gc.enable()

    return {"x_grad": x_grad, "strong_freed": strong, "weak_freed": weak}


if __name__ == "__main__":
    main()
