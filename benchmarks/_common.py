"""What the benchmark scripts share: the command line, interleaved timing, the
training steps of each contender and the printing (plain scripts, no pytest).

Every script takes ``--help``, ``--quick`` (a smoke run: every contender runs
once or twice, the figures mean nothing), ``--repeat N`` (timed samples per
contender) and ``--threads N`` (BLAS and PyTorch threads; default: what BLAS
uses already, normally one per core). Each script's ``main(argv)`` returns
``{workload key: {contender: value}}`` for ``run_all.py``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

# Run from any directory without installing.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


# =============================================================================
# The command line
# =============================================================================
def parser(doc: str, repeat: int) -> argparse.ArgumentParser:
    """The options every script has; ``doc`` is the script's docstring."""
    first, _, rest = doc.strip().partition("\n\n")
    p = argparse.ArgumentParser(
        description=first, epilog=rest or None, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick", action="store_true", help="smoke run: each contender runs once or twice; the figures mean nothing"
    )
    p.add_argument(
        "--repeat",
        type=_positive,
        default=repeat,
        metavar="N",
        help=f"timed samples per contender, interleaved (default {repeat})",
    )
    p.add_argument(
        "--threads",
        type=_positive,
        default=None,
        metavar="N",
        help="threads for BLAS, dezero and PyTorch (default: what BLAS uses now, normally one per core)",
    )
    return p


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


class Timing:
    """How much timing a run does: ``--quick`` turns every count down to the minimum."""

    def __init__(self, args: argparse.Namespace, warmup: int = 2, inner: int = 1):
        self.quick = args.quick
        self.repeat = 1 if args.quick else args.repeat
        self.warmup = 0 if args.quick else warmup
        self.inner = 1 if args.quick else inner
        self.settle = 0.0 if args.quick else 0.2


def set_threads(count: Optional[int]) -> int:
    """Give BLAS (so dezero too) ``count`` threads, if given; return the count in force."""
    if count is not None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            sys.exit("--threads needs threadpoolctl: pip install threadpoolctl")
        threadpool_limits(count, user_api="blas")
    return blas_threads()


def blas_threads() -> int:
    """Threads NumPy's BLAS uses (PyTorch is given the same number)."""
    try:
        from threadpoolctl import threadpool_info

        counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        if counts:
            return max(counts)
    except ImportError:
        pass
    return os.cpu_count() or 1


def blas_description() -> str:
    """``OpenBLAS 0.3.31, Haswell kernels``, plus a warning when the CPU could run
    wider kernels than the ones OpenBLAS picked (OpenBLAS falls back to its
    Haswell kernels on CPUs newer than it knows, AVX-512 ones included)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS unknown (threadpoolctl not installed)"
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not blas:
        return "BLAS unknown"
    info = blas[0]
    text = f"{info.get('internal_api')} {info.get('version')}, {info.get('architecture')} kernels"
    if info.get("internal_api") == "openblas" and info.get("architecture") in ("Haswell", "Zen", "Sandybridge"):
        try:
            with open("/proc/cpuinfo") as f:
                avx512 = " avx512f " in f.read()
        except OSError:
            avx512 = False
        if avx512:
            text += (
                " (this CPU has AVX-512: OPENBLAS_CORETYPE=SkylakeX, set before Python starts, "
                "gives OpenBLAS its AVX-512 kernels)"
            )
    return text


def try_import_torch():
    """PyTorch is an optional contender: None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(blas_threads())
    return torch


# =============================================================================
# Subprocesses
# =============================================================================
def run_process_group(
    command: Sequence[str], timeout: float, env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess:
    """Run ``command`` with its output captured, in a process group of its own, and
    kill the whole group if it outlives ``timeout`` seconds.

    ``subprocess.run(..., timeout=...)`` kills only the process it started: for
    ``mpiexec`` that leaves the ranks it forked running, each at full speed.

    Parameters
    ----------
    command : sequence of str
        The program and its arguments.
    timeout : float
        Seconds before the group (the command and everything it started, unless
        it left the group) is killed.
    env : dict, optional
        The environment; the current one by default.

    Returns
    -------
    subprocess.CompletedProcess
        The exit status, stdout and stderr (text).

    Raises
    ------
    subprocess.TimeoutExpired
        After the group was killed, with what it had written.
    """
    proc = subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException as e:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        if isinstance(e, subprocess.TimeoutExpired):
            raise subprocess.TimeoutExpired(list(command), timeout, output=out, stderr=err) from None
        raise
    return subprocess.CompletedProcess(list(command), proc.returncode, out, err)


# =============================================================================
# Timing
# =============================================================================
def interleaved_times(
    contenders: Dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 2, settle: float = 0.2, inner: int = 1
) -> Dict[str, List[float]]:
    """Time each contender ``repeats`` times, round-robin so that drift and noisy
    neighbours hit all alike; return the seconds per call of every sample, each
    sample being the mean of ``inner`` consecutive calls."""
    for _ in range(warmup):
        for fn in contenders.values():
            fn()
    samples: Dict[str, List[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            # The BLAS and OpenMP worker threads of the previous contender spin for
            # a while after its call; on 2 cores they would slow the next one down.
            time.sleep(settle)
            fn()  # wakes this contender's own worker threads up
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - start) / inner)
    return samples


def interleaved_medians(
    contenders: Dict[str, Callable[[], object]], repeats: int = 7, warmup: int = 2, inner: int = 1, settle: float = 0.2
) -> Dict[str, float]:
    """Median seconds per call of each contender, timed by :func:`interleaved_times`."""
    samples = interleaved_times(contenders, repeats, warmup, settle=settle, inner=inner)
    return {name: statistics.median(times) for name, times in samples.items()}


def time_contenders(contenders: Dict[str, Callable[[], object]], timing: Timing) -> Dict[str, float]:
    """Median seconds per call of each contender, as ``timing`` says."""
    return interleaved_medians(contenders, timing.repeat, timing.warmup, timing.inner, timing.settle)


# =============================================================================
# Training steps
# =============================================================================
def dezero_sgd_step(model, x, t, lr: float = 0.01) -> Callable[[], object]:
    """One softmax-cross-entropy SGD step of a dezero model, the user-facing way;
    the step returns the loss (a Variable) before the update."""
    import dezero.functions as F
    from dezero.optimizers import SGD

    optimizer = SGD(lr=lr).setup(model)

    def step():
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()
        return loss

    return step


def torch_sgd_step(torch, model, x, t, lr: float = 0.01) -> Callable[[], object]:
    """The same step for a torch.nn model; x and t are tensors on the model's device."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(model(x), t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return step


def loss_value(loss) -> float:
    """A step's loss as a float, whichever contender returned it."""
    if hasattr(loss, "item"):  # a PyTorch tensor, a NumPy scalar
        return float(loss.item())
    return float(getattr(loss, "data", loss))  # a dezero Variable, a float


# =============================================================================
# Printing
# =============================================================================
def print_table(title: str, rows: Dict[str, float], unit: str = "ms", scale: float = 1e3) -> None:
    print(f"{title}")
    width = max(len(name) for name in rows)
    for name, seconds in rows.items():
        print(f"  {name:<{width}}  {seconds * scale:10.3f} {unit}")


def ratios(values: Dict[str, float], of: str = "dezero") -> str:
    """``dezero/torch=1.23 dezero/numpy=1.01`` for the contenders present."""
    parts = [
        f"{of}/{name}={values[of] / values[name]:.2f}"
        for name in ("torch", "numpy", "chainer")
        if name in values and of in values and values[name]
    ]
    return " ".join(parts) if parts else "(no other contender)"
