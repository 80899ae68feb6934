"""The engine's benchmark scripts stay runnable and measure what they say
(no timing assertions: speed is reported by the scripts, never asserted here)."""

import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import overhead  # noqa: E402
import scaling  # noqa: E402


def test_the_scaling_chain_has_the_right_length_and_gradient():
    x, y = scaling.build("dezero", 200)
    assert y.generation == 200
    y.backward()
    assert np.isclose(x.grad.data, 1.0001**100)


def test_the_scaling_child_reports_graph_memory_and_rounds():
    report = scaling.child("dezero", 2000)
    assert set(report) == {"graph_bytes", "rounds"} and isinstance(report["graph_bytes"], int)
    assert report["rounds"] == []  # rounds only for 1M-op graphs


def test_the_anomaly_runner_runs_with_the_mode_on_and_off():
    for anomaly in (False, True):
        overhead.make_anomaly_runner((3,), 10, anomaly)()
