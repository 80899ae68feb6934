"""Shared timing helpers for the benchmark scripts (plain scripts, no pytest)."""
from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Callable, Dict, List

# Run from any directory without installing.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


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


def try_import_torch():
    """PyTorch is an optional contender: None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(blas_threads())
    return torch


def interleaved_times(contenders: Dict[str, Callable[[], None]], repeats: int = 7,
                      warmup: int = 2, settle: float = 0.2, inner: int = 1) -> Dict[str, List[float]]:
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


def interleaved_medians(contenders: Dict[str, Callable[[], None]], repeats: int = 7,
                        warmup: int = 2, inner: int = 1) -> Dict[str, float]:
    """Median seconds per call of each contender, timed by :func:`interleaved_times`."""
    samples = interleaved_times(contenders, repeats, warmup, inner=inner)
    return {name: statistics.median(times) for name, times in samples.items()}


def dezero_sgd_step(model, x, t, lr: float = 0.01) -> Callable[[], None]:
    """One softmax-cross-entropy SGD step of a dezero model, the user-facing way."""
    import dezero.functions as F
    from dezero.optimizers import SGD

    optimizer = SGD(lr=lr).setup(model)

    def step() -> None:
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()

    return step


def torch_sgd_step(torch, model, x, t, lr: float = 0.01) -> Callable[[], None]:
    """The same step for a torch.nn model; x and t are tensors on the model's device."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        loss = loss_fn(model(x), t)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def print_table(title: str, rows: Dict[str, float], unit: str = "ms", scale: float = 1e3) -> None:
    print(f"{title}")
    width = max(len(name) for name in rows)
    for name, seconds in rows.items():
        print(f"  {name:<{width}}  {seconds * scale:10.3f} {unit}")
