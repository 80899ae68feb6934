"""The configuration switches (``dezero.Config``): per thread, restored on exit."""

import threading

import numpy as np
import pytest

import dezero
from dezero import Variable

TIMEOUT = 10  # seconds any thread waits for another before the test gives up


def _in_thread(target):
    """Run ``target`` in a fresh thread and return what it returned (or raise what it raised)."""
    result = {}

    def run():
        try:
            result["value"] = target()
        except BaseException as e:  # handed to the test's thread
            result["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "the thread did not finish in time"
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_overlapping_no_grad_blocks_in_two_threads_leave_backprop_on():
    # A enters no_grad, B enters no_grad, A leaves, B leaves: with one shared
    # switch, B's exit restored the False it saw on entry, for the whole process.
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()

    def thread_a():
        with dezero.no_grad():
            a_inside.set()
            assert b_inside.wait(TIMEOUT)
        a_left.set()

    def thread_b():
        assert a_inside.wait(TIMEOUT)
        with dezero.no_grad():
            b_inside.set()
            assert a_left.wait(TIMEOUT)

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    assert dezero.Config.enable_backprop
    x = Variable(np.array(2.0))
    y = x * x
    assert y.creator is not None
    y.backward()
    assert x.grad.data == 4.0


def test_training_in_one_thread_while_another_runs_under_no_grad():
    # The training thread must record its graph and get gradients while the
    # other thread sits inside no_grad / test_mode.
    inference_inside, training_done = threading.Event(), threading.Event()
    seen = {}

    def inference():
        with dezero.no_grad(), dezero.test_mode():
            inference_inside.set()
            assert training_done.wait(TIMEOUT)
            y = Variable(np.array(3.0)) * 2.0
            seen["inference"] = (y.creator, dezero.Config.enable_backprop, dezero.Config.train)

    def training():
        assert inference_inside.wait(TIMEOUT)
        try:
            w = Variable(np.array(3.0))
            loss = w * w
            loss.backward()
            seen["training"] = (
                loss.creator is not None,
                w.grad.data.item(),
                dezero.Config.enable_backprop,
                dezero.Config.train,
            )
        finally:
            training_done.set()

    threads = [threading.Thread(target=inference), threading.Thread(target=training)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    assert seen["training"] == (True, 6.0, True, True)
    assert seen["inference"] == (None, False, False)


def test_setting_a_switch_by_assignment_affects_the_current_thread_only():
    def assign_and_read():
        dezero.Config.enable_backprop = False
        dezero.Config.train = False
        return (Variable(np.array(1.0)) * 2.0).creator, dezero.Config.enable_backprop, dezero.Config.train

    assert _in_thread(assign_and_read) == (None, False, False)
    assert dezero.Config.enable_backprop and dezero.Config.train
    assert (Variable(np.array(1.0)) * 2.0).creator is not None


def test_a_new_thread_starts_with_the_defaults():
    with dezero.no_grad(), dezero.test_mode():
        assert _in_thread(lambda: (dezero.Config.enable_backprop, dezero.Config.train)) == (True, True)


def test_assignment_in_the_book_style_and_restore():
    dezero.Config.enable_backprop = False
    try:
        assert (Variable(np.array(1.0)) * 2.0).creator is None
    finally:
        dezero.Config.enable_backprop = True
    assert (Variable(np.array(1.0)) * 2.0).creator is not None


@pytest.mark.parametrize("name", ["enable_backprop", "train"])
def test_using_config_sets_and_restores_by_name(name):
    with dezero.using_config(name, False):
        assert getattr(dezero.Config, name) is False
        with dezero.using_config(name, True):
            assert getattr(dezero.Config, name) is True
        assert getattr(dezero.Config, name) is False
    assert getattr(dezero.Config, name) is True


def test_using_config_rejects_an_unknown_switch_by_name():
    with pytest.raises(AttributeError, match="no_such_switch"):
        with dezero.using_config("no_such_switch", True):
            pass
