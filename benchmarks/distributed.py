"""Data-parallel scaling on this machine: SGD training steps of an MLP
784-1000-1000-10 (sigmoid, float32, batch 100 per rank) on 1 and 2 MPI ranks,
and the gradient all-reduce timed on its own.

    python benchmarks/distributed.py               # 1 and 2 ranks: the README table
    python benchmarks/distributed.py --ranks 1 2 4

Every configuration uses the whole machine: each of N ranks gets cores/N BLAS
threads. The ranks run on this machine only (``dezero.distributed.local_launcher``).
The configurations are launched in turn, ``--rounds`` times, so that a change in
the machine's load hits them alike; each launch times ``--repeats`` runs of
``--steps`` steps, and the table gives the median over all runs. A step's time is
that of the slowest rank (they wait for each other at the all-reduce).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import _common  # also puts the repo on sys.path
import numpy as np

SIZES = (784, 1000, 1000, 10)
BATCH = 100  # per rank


def worker(steps: int, repeats: int) -> None:
    """What every rank runs (started by mpiexec); rank 0 prints one JSON line."""
    import dezero.distributed as dist
    import dezero.functions as F
    from dezero.models import MLP
    from dezero.optimizers import SGD

    comm = dist.create_communicator()
    rng = np.random.default_rng(comm.rank)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    t = rng.integers(0, SIZES[-1], BATCH)
    model = MLP(SIZES[1:], activation=F.sigmoid)
    model(x[:1])
    comm.bcast_data(model)
    actual = SGD(lr=0.01)
    multi = dist.create_multi_node_optimizer(actual, comm).setup(model)

    def step(optimizer) -> None:
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()

    def timed(fn, n: int) -> float:
        """Seconds per call of the slowest rank."""
        comm.barrier()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        comm.barrier()
        return comm.allreduce_obj(time.perf_counter() - start, op="max") / n

    for _ in range(3):
        step(multi)
    results = {"step": [], "compute": [], "allreduce": []}
    for _ in range(repeats):
        results["step"].append(timed(lambda: step(multi), steps))
        # The same step without the all-reduce, all ranks at once: what sharing the machine costs.
        results["compute"].append(timed(lambda: step(actual), steps))
        # The all-reduce alone (the gradients are those of the last step).
        results["allreduce"].append(timed(lambda: comm.multi_node_mean_grad(model), steps))
    if comm.rank == 0:
        results.update(ranks=comm.size, bytes=comm.last_allreduce_bytes)
        print("RESULT " + json.dumps(results), flush=True)


def run(ranks: int, steps: int, repeats: int, timeout: float) -> dict:
    from dezero.distributed import local_launcher

    threads = str(threads_per_rank(ranks))
    prefix, extra = local_launcher(ranks)
    env = {
        **os.environ,
        **extra,
        "OPENBLAS_NUM_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
    }
    command = prefix + [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "--steps",
        str(steps),
        "--repeats",
        str(repeats),
    ]
    try:
        proc = _common.run_process_group(command, timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise SystemExit(
            f"{ranks} rank(s) did not finish within {timeout:g} s (killed):\n{e.output}\n{e.stderr}"
        ) from None
    if proc.returncode != 0:
        raise SystemExit(f"{ranks} rank(s) failed:\n{proc.stdout}\n{proc.stderr}")
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def threads_per_rank(ranks: int) -> int:
    return max(1, (os.cpu_count() or 1) // ranks)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=20, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per launch")
    parser.add_argument("--rounds", type=int, default=5, help="launches per configuration, interleaved")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds per launch before its ranks are killed (default 600)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.steps, args.repeats)
        return 0
    load = " (1-minute load average before: {:.2f})".format(os.getloadavg()[0]) if hasattr(os, "getloadavg") else ""
    print(
        f"MLP {'-'.join(map(str, SIZES))}, SGD, float32, batch {BATCH} per rank, {os.cpu_count()} cores{load}; "
        f"medians of {args.rounds} x {args.repeats} runs of {args.steps} steps\n"
    )
    runs: dict = {ranks: {"step": [], "compute": [], "allreduce": []} for ranks in args.ranks}
    for _ in range(args.rounds):
        for ranks in args.ranks:
            result = run(ranks, args.steps, args.repeats, args.timeout)
            for key in ("step", "compute", "allreduce"):
                runs[ranks][key].extend(result[key])
            runs[ranks]["bytes"] = result["bytes"]
    print(
        "| ranks | BLAS threads per rank | items per step | steps/s | items/s | items/s vs 1 rank "
        "| step without all-reduce | all-reduce per step |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = None
    for ranks in args.ranks:
        r = {key: statistics.median(v) if isinstance(v, list) else v for key, v in runs[ranks].items()}
        r["threads"] = threads_per_rank(ranks)
        items = BATCH * ranks / r["step"]
        base = base or items
        if ranks == 1:
            comm = "none (1 rank)"
        else:
            comm = f"{r['bytes'] / 2**20:.2f} MiB in {1e3 * r['allreduce']:.2f} ms"
        print(
            f"| {ranks} | {r['threads']} | {BATCH * ranks} | {1 / r['step']:.1f} | {items:,.0f} | "
            f"{items / base:.2f} | {1e3 * r['compute']:.1f} ms | {comm} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
