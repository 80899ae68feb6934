"""The code stays lint-clean under the rules in setup.cfg (flake8 is in the test extra)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_flake8_is_clean():
    pytest.importorskip("flake8")
    result = subprocess.run([sys.executable, "-m", "flake8", "dezero", "tests", "benchmarks", "examples", "steps"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
