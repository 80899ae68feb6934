"""Running an op's work on a batch in slices, one slice per CPU core.

NumPy runs every copy and every elementwise loop on one core; only matrix
products use more (BLAS has its own threads). So in a CNN step the im2col
copies, the col2im sums and the pooling loops leave the other cores idle.
:func:`for_each_slice` cuts the batch axis into a few slices per thread and
runs ``work(start, stop)`` on them side by side: the calling thread and a small
pool of worker threads each take the next slice left until none is. NumPy
releases the GIL inside copies, ufunc loops and matrix products on large
arrays, so the slices really do run at the same time.

While slices run, the BLAS library is held to one thread, so that each slice's
matrix product runs on its own core instead of every slice asking BLAS for all
of them. (This also keeps OpenBLAS's own worker threads asleep: after any
multi-threaded product they spin for about a tenth of a second, taking the
core a slice would run on.)

How many threads: :func:`dezero.tuning.set_op_threads`; by default as many as
the BLAS library is set to use (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``
or ``threadpoolctl.threadpool_limits`` change it), read at every call. Holding
BLAS to one thread needs ``threadpoolctl``; without it everything runs in one
slice, as it would with one thread. Only NumPy arrays are ever split: on the
GPU one kernel already uses the whole device.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional, TypeVar

import numpy as np

from dezero import tuning

__all__ = ["for_each_slice", "matmul", "elementwise", "add_scaled", "slice_count", "blas_threads"]

T = TypeVar("T")

# Handing a slice to another thread and waiting for it costs about 20 us: less
# work per slice than this many array elements (about that long to copy) stays
# on the calling thread.
MIN_SLICE_ELEMENTS = 1 << 16
# The batch is cut into up to this many slices per thread (see for_each_slice).
SLICES_PER_THREAD = 4

# BLAS libraries run products of fewer multiply-adds than this on one thread
# anyway (OpenBLAS: 65536 * 4), so there is no thread count to hold down.
BLAS_SERIAL_PRODUCT = 1 << 18
# From this many multiply-adds on (about 0.3 ms on one core), matmul lets BLAS
# use its own threads.
BLAS_THREADED_PRODUCT = 1 << 25

_marks = threading.local()  # .inside: this thread is running a slice right now


def for_each_slice(work: Callable[[int, int], T], batch: int, elements: int, xp=np) -> List[T]:
    """Run ``work(start, stop)`` over slices covering ``range(batch)``, in parallel
    when the work is large enough to pay for the threads.

    The batch is cut into a few slices per thread, handed out one at a time to
    whichever thread is free: the calling thread starts at once, and a worker
    thread that is slow to wake up (an idle core of a virtual machine took up to
    0.3 ms) only takes what is left when it does, instead of holding up a half
    of the batch that was set aside for it.

    Parameters
    ----------
    work : callable
        ``work(start, stop)`` handles samples ``start:stop`` of the batch. The
        slices must be independent: each one writes only its own part of any
        shared output array.
    batch : int
        The length of the batch axis.
    elements : int
        About how many array elements the whole work touches; small work is
        not worth a thread.
    xp : module
        The array module of the work's arrays: only NumPy work is ever split.

    Returns
    -------
    list
        What ``work`` returned for each slice, in batch order (one element when
        the work ran in one piece).
    """
    count = slice_count(batch, elements) if xp is np else 1
    if count <= 1:
        return [work(0, batch)]
    with _blas_held_to_one_thread() as held:
        if not held:  # another Python thread controls BLAS's thread count
            return [work(0, batch)]
        pieces = min(batch, SLICES_PER_THREAD * count, max(count, elements // MIN_SLICE_ELEMENTS))
        bounds = [batch * i // pieces for i in range(pieces + 1)]
        queue = _SliceQueue(work, bounds)
        pool = _pool(count - 1)
        for _ in range(count - 1):
            pool.submit(queue.drain)
        queue.drain()
        # Whatever happened, slices another thread took may still be writing
        # into the caller's arrays: wait for them before returning or raising.
        return queue.results_when_done()


class _SliceQueue:
    """The slices of one :func:`for_each_slice` call, handed out in order to
    whichever thread asks; after an error no new slice is handed out."""

    def __init__(self, work: Callable, bounds: List[int]):
        self.work, self.bounds = work, bounds
        self.results: list = [None] * (len(bounds) - 1)
        self.next = 0
        self.running = 0
        self.error: Optional[BaseException] = None
        self.lock = threading.Condition(threading.Lock())

    def drain(self) -> None:
        while True:
            with self.lock:
                if self.error is not None or self.next == len(self.results):
                    return
                index = self.next
                self.next += 1
                self.running += 1
            try:
                self.results[index] = _run_slice(self.work, self.bounds[index], self.bounds[index + 1])
            except BaseException as error:  # handed to the caller, in its thread
                with self.lock:
                    if self.error is None:
                        self.error = error
            finally:
                with self.lock:
                    self.running -= 1
                    if self.running == 0:
                        self.lock.notify_all()

    def results_when_done(self) -> list:
        with self.lock:
            # The caller has drained the queue (or stopped it with an error):
            # only slices already taken by other threads can still be running.
            while self.running:
                self.lock.wait()
            if self.error is not None:
                raise self.error
        return self.results


def matmul(a, b):
    """``a @ b`` for two 2-D NumPy arrays, with BLAS's threads used only where
    they pay.

    - Small products run as BLAS runs them (on one thread anyway).
    - Mid-sized ones run with BLAS held to one thread: waking BLAS's own
      threads would cost about as much as they save, and OpenBLAS's would then
      spin for a tenth of a second on the core a split needs.
    - Large ones (an MLP's layers) go to BLAS's own threads. Split by dezero
      instead, one product alone ran as fast, but a whole MLP step ran slower
      (7.5 against 5.4 ms on a quiet 2-core machine): BLAS's threads spin
      between products and take the next one at once.

    Anything else (CuPy arrays, stacks of matrices) is plain ``a @ b``.

    Parameters
    ----------
    a, b : numpy.ndarray
        Shapes (M, K) and (K, N).

    Returns
    -------
    numpy.ndarray
        The (M, N) product, as ``a @ b`` computes it.
    """
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim != 2 or b.ndim != 2:
        return a @ b
    product = a.shape[0] * a.shape[1] * b.shape[1]
    if product < BLAS_SERIAL_PRODUCT or product >= BLAS_THREADED_PRODUCT or tuning.op_threads() == 1:
        return a @ b
    with _blas_held_to_one_thread():
        return a @ b


def elementwise(fn: Callable, out, *arrays):
    """``fn(*arrays, out=out)`` for an elementwise ``fn``, cut into one slice per
    thread when the arrays are large NumPy arrays of one shape, laid out in C
    order; in one call otherwise.

    Parameters
    ----------
    fn : callable
        Elementwise: ``fn(*parts, out=part_of_out)`` on matching parts of the
        arrays fills that part of ``out`` (a ufunc, or a function of ufuncs).
    out : array
        Where the result goes.
    *arrays : array
        The inputs.

    Returns
    -------
    array
        ``out``.
    """
    flat = all(type(a) is np.ndarray and a.shape == out.shape and a.flags.c_contiguous for a in (out,) + arrays)
    if not flat or out.size < 2 * MIN_SLICE_ELEMENTS:
        fn(*arrays, out=out)
        return out
    flat_arrays = [a.reshape(-1) for a in arrays]
    flat_out = out.reshape(-1)

    def part(start: int, stop: int) -> None:
        fn(*[a[start:stop] for a in flat_arrays], out=flat_out[start:stop])

    for_each_slice(part, out.size, out.size * (1 + len(arrays)))
    return out


# Elements of one block of add_scaled: 256 KiB of float32, so that a block's
# scaled copy is still in the core's cache when it is added.
_BLOCK = 1 << 16


def add_scaled(target, scale: float, delta) -> None:
    """``target += scale * delta`` in place (an optimizer's update).

    ``target -= lr * grad`` in NumPy first writes all of ``lr * grad`` to a new
    array, then reads it back: for a large weight matrix that is twice the
    memory traffic of the update itself. Here the product is formed one
    cache-sized block at a time. The result is the same to the last bit. (It
    stays on one thread: after an MLP's large products BLAS's threads still
    spin on the other cores, and a split would have to wait for them.)

    Parameters
    ----------
    target : array
        Updated in place.
    scale : float
        A Python float, so that float32 stays float32.
    delta : array
        Same shape as ``target``.
    """
    if (
        type(target) is not np.ndarray
        or type(delta) is not np.ndarray
        or target.shape != delta.shape
        or target.size < 2 * _BLOCK
        or not target.flags.c_contiguous
        or not delta.flags.c_contiguous
    ):
        target += scale * delta
        return
    flat_target, flat_delta = target.reshape(-1), delta.reshape(-1)
    dtype = np.result_type(flat_delta, scale)

    scaled = np.empty(_BLOCK, dtype=dtype)
    for lo in range(0, target.size, _BLOCK):
        hi = min(lo + _BLOCK, target.size)
        block = scaled[: hi - lo]
        np.multiply(flat_delta[lo:hi], scale, out=block)
        np.add(flat_target[lo:hi], block, out=flat_target[lo:hi])


def slice_count(batch: int, elements: int) -> int:
    """How many slices :func:`for_each_slice` would cut this work into.

    Parameters
    ----------
    batch : int
        The length of the batch axis.
    elements : int
        About how many array elements the whole work touches.

    Returns
    -------
    int
        1 when the work would run in one piece: one op thread, a batch of one,
        too little work, or a call from inside a slice.
    """
    if getattr(_marks, "inside", False):
        return 1  # a slice never splits again: its thread is already one of the cores
    threads = tuning.op_threads()
    if threads is None:
        threads = _blas_threads_outside_our_hold()
    return max(1, min(threads, batch, elements // MIN_SLICE_ELEMENTS))


def _run_slice(work: Callable[[int, int], T], start: int, stop: int) -> T:
    _marks.inside = True
    try:
        return work(start, stop)
    finally:
        _marks.inside = False


# =============================================================================
# The worker threads
# =============================================================================
_executor: Optional[ThreadPoolExecutor] = None
_executor_pid = -1
_executor_lock = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The shared pool with at least ``workers`` threads, made anew in a forked
    child (a fork copies the pool object but not its threads)."""
    global _executor, _executor_pid
    with _executor_lock:
        if _executor is None or _executor_pid != os.getpid() or _executor._max_workers < workers:
            if _executor is not None and _executor_pid == os.getpid():
                _executor.shutdown(wait=False)
            _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dezero-slice")
            _executor_pid = os.getpid()
        return _executor


# =============================================================================
# BLAS's own thread count
# =============================================================================
_blas_libraries: Optional[list] = None  # threadpoolctl controllers, found on first use
_blas_lock = threading.Lock()
_blas_holders = 0
_blas_saved: list = []


def _blas_controllers() -> list:
    global _blas_libraries
    if _blas_libraries is None:
        try:
            import threadpoolctl
        except ImportError:
            _blas_libraries = []
        else:
            _blas_libraries = threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libraries


def blas_threads() -> int:
    """The number of threads NumPy's BLAS library is set to use now.

    Returns
    -------
    int
        The largest count among the BLAS libraries loaded; 1 when it cannot be
        controlled (``threadpoolctl`` is not installed).
    """
    counts = [lib.num_threads for lib in _blas_controllers()]
    return max([c for c in counts if c] or [1])


def _blas_threads_outside_our_hold() -> int:
    """BLAS's thread count as the user set it: while dezero holds BLAS to one
    thread (matmul does around its slices), the count it will get back."""
    with _blas_lock:
        if _blas_holders:
            return max([threads for _, threads in _blas_saved if threads] or [1])
    return blas_threads()


class _blas_held_to_one_thread:
    """Context manager: BLAS runs on one thread inside it (the outermost entry
    sets it, the last exit restores what was there). ``as`` gives False when the
    limit could not be set, so the caller should not split."""

    def __enter__(self) -> bool:
        global _blas_holders, _blas_saved
        with _blas_lock:
            if _blas_holders == 0:
                libraries = _blas_controllers()
                _blas_saved = [(lib, lib.num_threads) for lib in libraries]
                for lib in libraries:
                    _set_threads(lib, 1)
            _blas_holders += 1
            # threadpoolctl ignores the other Python threads while one of them
            # holds OpenBLAS's count (a threadpool_limits block of the user's,
            # say): check that it took.
            return bool(_blas_saved) and all(lib.num_threads == 1 for lib, _ in _blas_saved)

    def __exit__(self, *exc) -> None:
        global _blas_holders
        with _blas_lock:
            _blas_holders -= 1
            if _blas_holders == 0:
                for lib, threads in _blas_saved:
                    if threads:
                        _set_threads(lib, threads)


def _set_threads(lib, count: int) -> None:
    lib.set_num_threads(count)
    # threadpoolctl makes the first Python thread that sets OpenBLAS's count its
    # only controller from then on; give control back, or a later split (or the
    # user's own threadpool_limits) from another thread would be ignored.
    clear = getattr(lib, "clear_controlling_thread", None)
    if clear is not None:
        clear()
