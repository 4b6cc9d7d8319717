"""The README's first screen gives the two set-up commands, and the Makefile and CI make them
true: `make demo` installs the package and runs the main job, `make test` installs the test and
docs extras and runs ruff, the strict docs build and pytest; `.ci/run` runs `make test`.
Getting started repeats the same two commands."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_SCREEN = 25  # lines


def first_bash_block(text):
    match = re.search(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    return match.start(), [line.split("#")[0].strip() for line in match.group(1).splitlines()]


def make_recipe(target):
    """The recipe lines of a Makefile target and its prerequisites."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(rf"^{target}:([^\n]*)\n((?:\t[^\n]*\n)*)", text, flags=re.M)
    assert match, f"the Makefile has no `{target}` target"
    return match.group(1).split(), [line.strip() for line in match.group(2).splitlines()]


def test_readme_first_screen_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    start, commands = first_bash_block(readme)
    assert readme.count("\n", 0, start) < FIRST_SCREEN
    assert commands == ["make demo", "make test"]
    assert len(readme.splitlines()) <= 150


def test_getting_started_gives_the_same_commands():
    _, commands = first_bash_block((ROOT / "docs" / "getting-started.md").read_text())
    assert commands == ["make demo", "make test"]


def test_make_demo_installs_and_runs_the_main_job():
    prerequisites, recipe = make_recipe("demo")
    assert prerequisites == ["install"]
    assert make_recipe("install")[1] == ["$(BIN)/python -m pip install -e ."]
    assert recipe == ["$(BIN)/python $(MAIN_JOB) $(ARGS)"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^MAIN_JOB \?= examples/zappos_retrieval.py$", makefile, flags=re.M)
    assert (ROOT / "examples" / "zappos_retrieval.py").is_file()


def test_make_test_installs_the_extras_and_runs_lint_docs_and_tests():
    prerequisites, recipe = make_recipe("test")
    assert prerequisites == ["install-test"]
    assert make_recipe("install-test")[1] == ['$(BIN)/python -m pip install -e ".[test,docs]"']
    assert any(line.endswith("-m ruff check .") for line in recipe)
    assert any("-m mkdocs build --strict" in line for line in recipe)
    assert any(re.search(r"-m pytest\b", line) for line in recipe)


def test_ci_runs_the_readme_test_command():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[-1] == "make test"
