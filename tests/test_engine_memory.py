"""Memory: a graph is freed as soon as its last output goes and costs few
objects for Python's cyclic garbage collector."""
import gc
import weakref

import numpy as np

import dezero.functions as F
from dezero import Variable


def test_a_recorded_op_leaves_four_objects_for_the_cyclic_collector():
    # The Function, its inputs tuple, the weak reference to its output and the
    # output Variable: the collector's work on long graphs grows with this count.
    x = Variable(np.array(1.0))
    y = x * 1.0
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for _ in range(1000):
            y = y * 1.0001
        grown = len(gc.get_objects()) - before
    finally:
        gc.enable()
    assert grown <= 4 * 1000 + 10, f"{grown / 1000:.2f} tracked objects per op"


def test_a_graph_is_freed_without_the_cyclic_collector():
    gc.disable()
    try:
        x = Variable(np.ones(10))
        y = x
        for _ in range(1000):
            y = F.tanh(y) * 2.0
        first = weakref.ref(y.creator.inputs[0].creator)
        y.backward()
        del y
        assert first() is None  # freed by reference counting alone: the graph holds no cycle
    finally:
        gc.enable()
