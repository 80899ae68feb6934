"""The garbage-collector setting dezero applies on import (dezero.tuning)."""

import ast
import os
import subprocess
import sys

import pytest

KEY = "gc threshold (youngest generation)"


def _after_import(code_before: str = "", env: dict = None) -> tuple:
    """(tuning report, gc.get_threshold(), gc.isenabled()) in a fresh interpreter."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "DEZERO_"))}
    code = (
        f"import gc\n{code_before}\nimport dezero\n"
        "print(repr((dezero.tuning.report(), gc.get_threshold(), gc.isenabled())))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**clean, **(env or {})},
        timeout=60,
    )
    return ast.literal_eval(out.stdout.strip())


def test_import_raises_the_young_generation_threshold_and_reports_it():
    report, threshold, enabled = _after_import("gc.set_threshold(700, 10, 10)")
    assert report[KEY] == 10_000 and threshold == (10_000, 10, 10) and enabled


@pytest.mark.parametrize("env", [{"DEZERO_GC_THRESHOLD": "0"}, {"DEZERO_TUNING": "0"}])
def test_the_threshold_setting_can_be_turned_off(env):
    report, threshold, _ = _after_import("gc.set_threshold(700, 10, 10)", env)
    assert KEY not in report and threshold == (700, 10, 10)


def test_the_threshold_can_be_chosen():
    report, threshold, _ = _after_import("gc.set_threshold(700, 10, 10)", {"DEZERO_GC_THRESHOLD": "5000"})
    assert report[KEY] == 5000 and threshold == (5000, 10, 10)


def test_a_bad_threshold_setting_is_named():
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DEZERO_")}
    out = subprocess.run(
        [sys.executable, "-c", "import dezero"],
        capture_output=True,
        text=True,
        env={**clean, "DEZERO_GC_THRESHOLD": "lots"},
        timeout=60,
    )
    assert out.returncode != 0 and "DEZERO_GC_THRESHOLD must be a whole number" in out.stderr


@pytest.mark.parametrize(
    "before, expected_threshold, expected_enabled",
    [
        ("gc.set_threshold(50_000, 20, 30)", (50_000, 20, 30), True),  # already higher: yours stays
        ("gc.disable()", None, False),  # turned off: stays off, untouched
    ],
)
def test_your_own_collector_settings_are_left_alone(before, expected_threshold, expected_enabled):
    report, threshold, enabled = _after_import(before)
    assert KEY not in report and enabled is expected_enabled
    if expected_threshold is not None:
        assert threshold == expected_threshold
    else:
        assert threshold[0] != 10_000
