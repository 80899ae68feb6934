"""README's two first commands are the contract with a new user and with CI."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)


def test_first_command_runs_an_existing_demo():
    first = readme_commands()[0]
    script = re.search(r"python3? (\S+\.py)", first).group(1)
    assert (ROOT / script).is_file(), f"README's first command runs {script}, which does not exist"


def test_ci_runs_readmes_test_command_verbatim():
    second = readme_commands()[1]
    assert "pytest" in second
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert second.strip() in ci_lines, f".ci/run must run README's test command: {second!r}"


def test_extras_named_in_readme_exist():
    pyproject = (ROOT / "pyproject.toml").read_text()
    for command in readme_commands()[:2]:
        for extra in re.findall(r"\.\[(\w+)\]", command):
            assert re.search(rf"^{extra} = \[", pyproject, flags=re.M), f"extra [{extra}] missing in pyproject.toml"


def test_python_snippets_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the training snippet saves weights
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)\n```", text, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block.replace("range(300)", "range(2)"), "README.md", "exec"), {})
    assert (tmp_path / "spiral.npz").is_file()
