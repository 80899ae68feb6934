"""Process-wide settings dezero changes, all of them, in one place.

A training loop allocates and frees the same large arrays every step. glibc's
malloc serves blocks above a (dynamic) threshold with fresh ``mmap`` calls and
returns freed memory to the OS as soon as a few MB are free, so every step pays
a page fault for each 4 KiB it touches again: on a small VM that was half the
time of a CNN training step. dezero therefore asks malloc to keep freed memory
(``M_MMAP_THRESHOLD`` 32 MiB, ``M_TRIM_THRESHOLD`` 256 MiB). The cost: resident
memory stays at its peak instead of shrinking between steps.

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
(the allocator only), or by setting any ``MALLOC_*`` variable of your own, which
dezero then leaves alone; ``DEZERO_GC_THRESHOLD=0`` keeps Python's collector as
it is (another number sets that threshold). :func:`report` says what was
changed in this process.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys

__all__ = ["apply", "report", "keep_freed_memory", "raise_gc_threshold"]

_changes: dict = {}
_applied = False


def keep_freed_memory(trim_threshold: int = 256 * 2**20, mmap_threshold: int = 32 * 2**20) -> bool:
    """Ask glibc's malloc to keep freed blocks for reuse instead of returning
    them to the OS at once (see the module docstring for why).

    Parameters
    ----------
    trim_threshold : int
        Free memory at the top of the heap kept before it is given back (bytes).
    mmap_threshold : int
        Blocks at least this large get their own ``mmap`` (bytes).

    Returns
    -------
    bool
        True when the settings were applied (Linux with glibc only).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
        applied = bool(libc.mallopt(m_mmap_threshold, mmap_threshold)) and bool(
            libc.mallopt(m_trim_threshold, trim_threshold))
    except (OSError, AttributeError):  # not glibc (musl, macOS...)
        return False
    if applied:
        _changes["malloc M_MMAP_THRESHOLD"] = mmap_threshold
        _changes["malloc M_TRIM_THRESHOLD"] = trim_threshold
    return applied


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

    Examples
    --------
    >>> import dezero
    >>> dezero.tuning.report()                                  # doctest: +SKIP
    {'malloc M_MMAP_THRESHOLD': 33554432, 'malloc M_TRIM_THRESHOLD': 268435456,
     'gc threshold (youngest generation)': 10000}
    """
    return dict(_changes)
