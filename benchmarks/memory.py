"""Peak memory of 20 training steps of the MLP of benchmarks/mlp.py, for dezero,
NumPy by hand and PyTorch CPU. Each contender runs in its own fresh process; a
sampling thread reads the resident set size (RSS) every millisecond, and the
figure is the peak during the 20 steps minus the RSS just before the first.

    python benchmarks/memory.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 20


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(contender: str) -> int:
    """Runs inside the child process: returns peak RSS growth in bytes."""
    sys.path.insert(0, HERE)
    import mlp

    x, t = mlp.make_data()
    if contender == "dezero":
        step = mlp.make_dezero_step(x, t)
    elif contender == "numpy":
        step = mlp.make_numpy_step(x, t)
    else:
        import torch

        torch.set_num_threads(1)
        step = mlp.make_torch_step(torch, x, t)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.001)

    before = rss_bytes()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for _ in range(STEPS):
        step()
    done.set()
    sampler.join()
    peak[0] = max(peak[0], rss_bytes())
    return peak[0] - before


def main() -> dict:
    contenders = ["dezero", "numpy"]
    try:
        import torch  # noqa: F401

        contenders.append("torch")
    except ImportError:
        pass
    results = {}
    for name in contenders:
        out = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"memory: peak RSS growth over {STEPS} MLP training steps")
    for name, value in results.items():
        print(f"  {name:<7} {value / 2**20:9.1f} MiB")
    parts = [f"dezero/numpy={results['dezero'] / max(results['numpy'], 1):.2f}"]
    if "torch" in results:
        parts.insert(0, f"dezero/torch={results['dezero'] / max(results['torch'], 1):.2f}")
    print("memory: " + " ".join(parts))
    return results


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2])))
    else:
        main()
