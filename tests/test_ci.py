"""What CI promises: a test skipped for a missing package fails the run."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_tests_without(package: str, test_file: str, tmp_path, strict: bool) -> subprocess.CompletedProcess:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / f"{package}.py").write_text(
        f"raise ModuleNotFoundError('{package} is hidden for this test', name='{package}')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "DEZERO_STRICT_SKIPS", "PYTEST_XDIST_WORKER")}
    env["PYTHONPATH"] = os.pathsep.join([str(hidden), REPO])
    if strict:
        env["DEZERO_STRICT_SKIPS"] = "1"
    one_passing_test = os.path.join(REPO, "tests", "test_architecture.py") + "::test_core_depends_on_the_backend_only"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            os.path.join(REPO, "tests", test_file),
            one_passing_test,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("strict", [True, False], ids=["ci", "developer"])
def test_a_test_file_skipped_for_a_missing_package_fails_only_in_ci(tmp_path, strict):
    proc = _run_tests_without("torch", "test_torch_parity.py", tmp_path, strict)
    if strict:
        assert proc.returncode == 1, proc.stdout
        assert "skipped because these packages are missing: torch" in proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout
        assert "1 passed, 1 skipped" in proc.stdout


def test_the_mpi_tests_skipped_without_mpi4py_fail_in_ci(tmp_path):
    proc = _run_tests_without(
        "mpi4py", "test_distributed.py::test_communicator_reports_rank_size_and_machine_under_mpiexec", tmp_path, True
    )
    assert proc.returncode == 1, proc.stdout
    assert "skipped because these packages are missing: mpi4py" in proc.stdout
