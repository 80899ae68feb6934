"""Memory: a graph is freed as soon as its last output goes, costs few objects
for Python's cyclic garbage collector, and cycles users make are still collected."""

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


def test_a_reference_cycle_made_by_the_user_is_collected_by_the_automatic_collector():
    # A cycle through a graph (a Layer-like holder that keeps its own output)
    # is garbage only the cyclic collector can free; with dezero's thresholds
    # it must still be freed without an explicit gc.collect().
    class Holder:
        pass

    gc.collect()
    dead = []
    for _ in range(20):
        holder = Holder()
        holder.self = holder
        holder.out = F.sum(Variable(np.ones(1000)) * 2.0)
        dead.append(weakref.ref(holder))
        del holder
    # Ordinary work keeps allocating objects; the automatic collector runs on its
    # own once enough of them pile up (enough here for the two young generations).
    young, middle, _ = gc.get_threshold()
    kept = [[] for _ in range(2 * young * (middle + 1))]
    assert all(ref() is None for ref in dead), "cycles survived the automatic collections"
    del kept
