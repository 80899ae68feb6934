"""Process-wide settings dezero changes, all of them, in one place.

Memory. A training loop allocates and frees the same large arrays every step.
glibc's malloc serves big blocks with fresh ``mmap`` calls and returns freed
memory to the OS as soon as a few MB are free, so every step pays a page fault
for each 4 KiB it touches again: on a small VM that was half the time of a CNN
training step, and a 58 MB copy into a fresh array took twice as long as into
a reused one. dezero therefore asks malloc to serve every block from its heap
and to keep freed memory for reuse (``M_MMAP_MAX`` 0, ``M_MMAP_THRESHOLD``
32 MiB, ``M_TRIM_THRESHOLD`` 256 MiB). The cost: resident memory stays near
its peak instead of shrinking between steps, and a large array freed below
others on the heap (a data set loaded and dropped) stays resident until it is
reused; a process that must give memory back sets ``DEZERO_KEEP_MEMORY=0``.

Threads. dezero's heavy CPU ops split each batch across as many threads as the
BLAS library uses, holding BLAS to one thread while they do (see
:mod:`dezero.parallel`). :func:`set_op_threads` changes the count.

Python's cyclic garbage collector looks at new container objects each time 700
more of them exist than at its last pass, and every recorded op keeps four
alive until its graph is freed (the Function, its inputs tuple, the weak
reference to its output, the output Variable). On a graph of 100k small ops it
then ran hundreds of times, and its full passes, which walk every object of the
process (all of PyTorch's when it is imported too), took more than half the
time of forward and backward. dezero therefore raises that first threshold to
10,000 (:func:`raise_gc_threshold`; Python 3.13 itself moved it to 2,000). The
cost: garbage that only this collector can free, reference cycles, waits for
up to 10,000 new objects instead of 700 before it is found, and its pauses are
fewer but longer (measured on a long graph: 0.3 ms instead of 0.02 ms for the
youngest generation, 8 ms instead of 0.3 ms for the middle one; full passes
became 6 times rarer). Graphs hold no cycle: they are freed by reference
counting the moment their last output goes, whatever the threshold.

:func:`apply` runs once when ``dezero`` is imported. Opt out with
``DEZERO_TUNING=0`` in the environment (everything), ``DEZERO_KEEP_MEMORY=0``
(the allocator only), ``DEZERO_OP_THREADS=1`` (no threads of dezero's own),
``DEZERO_GC_THRESHOLD=0`` (Python's collector as it is; another number sets
that threshold), or by setting any ``MALLOC_*`` variable of your own, which
dezero then leaves alone. :func:`report` says what was changed in this process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import warnings
from typing import Optional

__all__ = ["apply", "report", "keep_freed_memory", "set_op_threads", "op_threads", "raise_gc_threshold"]

_changes: dict = {}
_applied = False
_op_threads: Optional[int] = 1  # 1 until apply(); None: as many as BLAS uses


def keep_freed_memory(trim_threshold: int = 256 * 2**20, mmap_threshold: int = 32 * 2**20) -> bool:
    """Ask glibc's malloc to serve every block from its heap and to keep freed
    blocks for reuse instead of returning them to the OS at once (see the module
    docstring for why).

    Parameters
    ----------
    trim_threshold : int
        Free memory at the top of the heap kept before it is given back (bytes).
    mmap_threshold : int
        Blocks at least this large would get their own ``mmap`` (bytes); set
        too, in case a later library raises ``M_MMAP_MAX`` again.

    Returns
    -------
    bool
        True when the settings were applied (Linux with glibc only).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold, m_mmap_max = -1, -3, -4  # from <malloc.h>
        # glibc caps M_MMAP_THRESHOLD at 32 MiB: larger arrays (a convolution's
        # columns) would still get a fresh mmap each time unless mmap is off.
        applied = (
            bool(libc.mallopt(m_mmap_threshold, mmap_threshold))
            and bool(libc.mallopt(m_trim_threshold, trim_threshold))
            and bool(libc.mallopt(m_mmap_max, 0))
        )
    except (OSError, AttributeError):  # not glibc (musl, macOS...)
        return False
    if applied:
        _changes["malloc M_MMAP_MAX"] = 0
        _changes["malloc M_MMAP_THRESHOLD"] = mmap_threshold
        _changes["malloc M_TRIM_THRESHOLD"] = trim_threshold
    return applied


def set_op_threads(count: Optional[int] = None) -> None:
    """Choose how many threads dezero's heavy CPU ops split a batch across.

    Parameters
    ----------
    count : int or None
        None (the default on import): as many as the BLAS library is set to use,
        read at every call, so ``threadpoolctl.threadpool_limits(1)`` or
        ``OMP_NUM_THREADS=1`` makes dezero single-threaded too. 1: never split.

    Raises
    ------
    ValueError
        If ``count`` is not None or a positive int.
    """
    global _op_threads
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise ValueError(f"set_op_threads: count must be None or a positive int, got {count!r}")
    _op_threads = count
    if count == 1:
        _changes.pop("op threads", None)
    else:
        _changes["op threads"] = "as many as BLAS uses" if count is None else count


def op_threads() -> Optional[int]:
    """The setting of :func:`set_op_threads`.

    Returns
    -------
    int or None
        The thread count, or None for "as many as BLAS uses".
    """
    return _op_threads


def raise_gc_threshold(young: int = 10_000) -> bool:
    """Let Python's cyclic garbage collector look at new objects every ``young``
    allocations instead of every 700 (see the module docstring for why and
    what it costs). A threshold already at least as high, set by you or by your
    Python, is left alone, and so is a collector you turned off.

    Parameters
    ----------
    young : int
        The new first threshold of :func:`gc.set_threshold`; the other two stay.

    Returns
    -------
    bool
        True when the threshold was raised.
    """
    threshold, middle, old = gc.get_threshold()
    if not gc.isenabled() or threshold == 0 or threshold >= young:
        return False
    gc.set_threshold(young, middle, old)
    _changes["gc threshold (youngest generation)"] = young
    return True


def apply() -> dict:
    """Apply dezero's process-wide settings, once per process, unless opted out.

    Returns
    -------
    dict
        What :func:`report` returns.
    """
    global _applied
    if _applied:
        return report()
    _applied = True
    if os.environ.get("DEZERO_TUNING", "1") == "0":
        return report()
    own_malloc_settings = any(name.startswith("MALLOC_") for name in os.environ)
    if os.environ.get("DEZERO_KEEP_MEMORY", "1") != "0" and not own_malloc_settings:
        keep_freed_memory()
    threads = os.environ.get("DEZERO_OP_THREADS", "")
    if threads.isdigit() and int(threads) >= 1:
        set_op_threads(int(threads))
    else:
        if threads:
            warnings.warn(f"DEZERO_OP_THREADS={threads!r} is not a positive int: ignored", stacklevel=2)
        set_op_threads(None)
    _apply_gc_threshold(os.environ.get("DEZERO_GC_THRESHOLD", ""))
    return report()


def _apply_gc_threshold(setting: str) -> None:
    """``DEZERO_GC_THRESHOLD``: empty for dezero's choice, 0 to keep Python's, or a number."""
    if setting == "":
        raise_gc_threshold()
        return
    try:
        young = int(setting)
    except ValueError:
        raise ValueError(f"DEZERO_GC_THRESHOLD must be a whole number (0 keeps Python's), got {setting!r}") from None
    if young > 0:
        raise_gc_threshold(young)


def report() -> dict:
    """What dezero changed in this process: ``{setting: new value}``, empty when nothing.

    Returns
    -------
    dict
        A copy: changing it changes nothing.

    Examples
    --------
    >>> import dezero
    >>> dezero.tuning.report()                                  # doctest: +SKIP
    {'malloc M_MMAP_MAX': 0, 'malloc M_MMAP_THRESHOLD': 33554432,
     'malloc M_TRIM_THRESHOLD': 268435456, 'op threads': 'as many as BLAS uses',
     'gc threshold (youngest generation)': 10000}
    """
    return dict(_changes)
