"""Running a learning-path script (steps/stepNN.py) in its own process and
reading back what its ``main()`` returned.

Every step keeps its chapter's code in ``main()``, which prints as the chapter
tells and returns the numbers it computed. The tests run each step as a
script would run (its own process, its folder first on ``sys.path``, a
foreign working directory), through a few lines that call ``main()`` and
write its result as JSON, and then check the exit code, the numbers and the
files written.
"""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS_DIR = os.path.join(REPO, "steps")

_RUNNER = r"""
import json, os, runpy, sys
import numpy as np
path, results_path = sys.argv[1], sys.argv[2]
sys.argv = [path]
sys.path.insert(0, os.path.dirname(path))
def plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"main() returned a {type(value).__name__}, which the tests cannot read")
results = runpy.run_path(path, run_name="step")["main"]()
with open(results_path, "w") as f:
    json.dump(results, f, default=plain)
"""


def run_step(name, workdir, env=None, timeout=300):
    """Run ``main()`` of steps/<name>.py in a new process from ``workdir``.

    Returns ``(process, results)``: the finished process (returncode, stdout,
    stderr) and the dict that main() returned, None if it did not return.
    """
    results_path = os.path.join(str(workdir), f"{name}_results.json")
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, os.path.join(STEPS_DIR, f"{name}.py"), results_path],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    results = None
    if proc.returncode == 0 and os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)
    return proc, results
