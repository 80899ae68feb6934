"""Peak memory of training the MLP of benchmarks/mlp.py (784-1000-1000-10, batch
100, SGD), for dezero, NumPy by hand and PyTorch CPU.

    python benchmarks/memory.py [--quick] [--steps N] [--threads N]

Each contender runs in a fresh process of its own, which first trains a tiny
net for one step (libraries load code and start thread pools on first use:
resident memory too, but not what training needs). The figure is the peak
resident set size (RSS) during a run of training steps minus the RSS just
before the model was built, so it counts everything training needs: the
parameters, their gradients (every contender keeps them between steps), the
activations of a step and whatever freed memory the allocator keeps.

- cold: the first N steps of a fresh model (dezero creates its parameters at
  the first step, PyTorch when the model is built: both are counted);
- warm: the next N steps, after those; the fair steady-state figure.

dezero keeps freed memory for reuse (see ``dezero.tuning``); the other
contenders run with the allocator as they find it (``DEZERO_TUNING=0``, since
the script imports dezero in every process). The peak is the kernel's own
high-water mark (VmHWM, reset between the runs through /proc/self/clear_refs),
or where that is not available, the RSS sampled every millisecond.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import _common  # noqa: F401  (puts the repo on sys.path)
from _common import parser, set_threads

HERE = os.path.dirname(os.path.abspath(__file__))
CONTENDERS = ("dezero", "numpy", "torch")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def _reset_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_bytes("VmHWM") <= rss_bytes() + 2**20
    except OSError:
        return False


def peak_during(run) -> int:
    """The peak RSS in bytes while ``run()`` runs."""
    if _reset_high_water_mark():
        run()
        return _status_bytes("VmHWM")
    peak = [rss_bytes()]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        run()
    finally:
        done.set()
        sampler.join()
    return max(peak[0], rss_bytes())


def measure(contender: str, steps: int) -> dict:
    """Runs inside the child process: {"cold": bytes, "warm": bytes}."""
    import gc

    import mlp

    torch = _common.try_import_torch() if contender == "torch" else None

    def make_step(x, t, sizes):
        if contender == "dezero":
            return mlp.make_dezero_step(x, t, sizes)
        if contender == "numpy":
            return mlp.make_numpy_step(x, t, sizes)
        return mlp.make_torch_step(torch, x, t, sizes)

    # One step of a tiny net first: libraries load code and start thread pools
    # on their first use, which is resident memory too, but not training's.
    tiny = (8, 4, 4, 2)
    make_step(*mlp.make_data(batch=2, sizes=tiny), tiny)()
    gc.collect()
    x, t = mlp.make_data()
    baseline = rss_bytes()
    step = make_step(x, t, mlp.SIZES)

    def run() -> None:
        for _ in range(steps):
            step()

    cold = peak_during(run) - baseline
    warm = peak_during(run) - baseline
    return {"cold": cold, "warm": warm}


def main(argv=None) -> dict:
    p = parser(__doc__, repeat=1)
    p.add_argument("--steps", type=int, default=20, metavar="N", help="training steps per run (default 20)")
    p.add_argument("--child", choices=CONTENDERS, help=argparse_suppress())
    args = p.parse_args(argv)
    steps = 2 if args.quick else args.steps
    if args.child:
        set_threads(args.threads)
        print(json.dumps(measure(args.child, steps)))
        return {}

    contenders = ["dezero", "numpy"]
    try:
        import torch  # noqa: F401

        contenders.append("torch")
    except ImportError:
        pass
    results = {}
    for name in contenders:
        env = dict(os.environ)
        if name != "dezero":
            env["DEZERO_TUNING"] = "0"
        command = [sys.executable, __file__, "--child", name, "--steps", str(steps)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        out = subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=HERE)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"memory: peak RSS over {steps} MLP training steps, from before the model was built")
    print(f"  {'':<7} {'cold':>9} {'warm':>9}")
    for name, value in results.items():
        print(f"  {name:<7} {value['cold'] / 2**20:7.1f} MiB {value['warm'] / 2**20:5.1f} MiB")
    for kind in ("cold", "warm"):
        print(f"memory ({kind}): " + _common.ratios({name: v[kind] for name, v in results.items()}))
    return {f"memory_{kind}": {name: v[kind] / 2**20 for name, v in results.items()} for kind in ("cold", "warm")}


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
