"""The README's Python snippets run, in order, in one namespace (as a reader would paste them).

Blocks preceded by `<!-- not run: ... -->` need data a test machine does not have (a real
UT-Zappos50K or CelebA copy) and are skipped. Snippets run in a temporary working directory
with `KERAS_HOME` there, so generated data and outputs stay out of the checkout and the user's
cache.
"""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text):
    blocks = []
    for match in re.finditer(r"(<!-- not run:[^\n]*-->\n)?```python\n(.*?)```", text, flags=re.S):
        if match.group(1) is None:
            blocks.append(match.group(2))
    return blocks


def test_not_run_marker_skips_only_marked_blocks():
    text = "```python\na = 1\n```\n<!-- not run: data -->\n```python\nb = 2\n```\n"
    assert python_blocks(text) == ["a = 1\n"]


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 8, "README lost its runnable examples"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
