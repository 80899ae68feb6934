"""Step 16: generations put backward in the right order.

Give every node a *generation*: an input Variable is generation 0, a Function
takes the largest generation among its inputs, and its outputs are one more.
A Function's generation is then always larger than that of every Function
before it on any path. Processing the pending Functions largest generation
first therefore finishes all users of a Variable before the Function that
created it. Each Function is also queued only once (``seen``), so nothing runs
twice. (Sorting the short list is enough here; dezero's engine uses a heap.)
"""

import numpy as np

backward_log = []  # instrumentation for this demo, as in step 15


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
                funcs.sort(key=lambda func: func.generation)  # newest last: pop() takes it

        add_func(self.creator)
        while funcs:
            f = funcs.pop()
            backward_log.append(f)
            gys = [output.grad for output in f.outputs]
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
        self.outputs = outputs
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


def diamond(x):
    a = square(x)
    return add(square(a), square(a))


def main() -> dict:
    """Run the step; return the numbers it computes (the tests check them)."""
    x = Variable(np.array(2.0))
    y = diamond(x)
    y.backward()
    diamond_grad = float(x.grad)
    processed = [(type(f).__name__, f.generation) for f in backward_log]
    print(f"y = 2 x^4 at 2.0: y = {y.data}, x.grad = {x.grad} (8 x^3 = {8 * 2.0**3})")
    print("functions processed:", ", ".join(f"{type(f).__name__}(gen {f.generation})" for f in backward_log))

    # Uneven branches: a = x^2 reaches the Add directly and through two more
    # Squares; a's creator must wait for the long path too.
    backward_log.clear()
    x = Variable(np.array(1.5))
    a = square(x)
    z = add(a, square(square(a)))  # x^2 + x^8: dz/dx = 2x + 8x^7
    z.backward()
    print(f"z = x^2 + x^8 at 1.5: x.grad = {x.grad} (2x + 8x^7 = {2 * 1.5 + 8 * 1.5**7})")

    return {"y": float(y.data), "diamond_grad": diamond_grad, "processed": processed, "z_grad": float(x.grad)}


if __name__ == "__main__":
    main()
