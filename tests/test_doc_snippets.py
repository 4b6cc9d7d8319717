"""Every Python snippet of the README and the documentation site runs.

Each page's ```python blocks run in order in one namespace, as a reader would paste them, in a
temporary working directory with `KERAS_HOME` there (generated data and outputs stay out of the
checkout and the user's cache). A block right after `<!-- not run: reason -->` is skipped: it
needs something a test machine lacks (a real UT-Zappos50K or CelebA copy, a running
`tensorflow_model_server`, several machines). Pages whose snippets train or generate data are
marked `slow` (they still run in CI, `make test`).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
# Pages whose snippets take more than a few seconds (training on generated data, exports,
# KerasTuner trials); the others run in about two seconds each.
SLOW = {
    "README.md",
    "docs/guides/datasets.md",
    "docs/guides/distributed.md",
    "docs/guides/serving.md",
    "docs/guides/tuning.md",
    "docs/index.md",
}
# Optional packages a page may import: without them its test is skipped, not failed (CI
# installs them with `.[test,docs]`).
OPTIONAL = {"tensorflow_serving": ".[serving]", "grpc": ".[serving]"}
BLOCK = re.compile(r"^(<!-- not run:[^\n]*-->\n)?```python\n(.*?)^```", flags=re.S | re.M)


def python_blocks(text):
    """`(line, code)` of each runnable ```python block of a Markdown text, in order."""
    return [(text.count("\n", 0, m.start(2)) + 1, m.group(2))
            for m in BLOCK.finditer(text) if m.group(1) is None]


def _name(page):
    return page.relative_to(ROOT).as_posix()


def test_not_run_marker_skips_only_marked_blocks():
    text = "```python\na = 1\n```\n<!-- not run: data -->\n```python\nb = 2\n```\n"
    assert python_blocks(text) == [(2, "a = 1\n")]
    assert python_blocks("```bash\nmake test\n```\n") == []


def test_slow_pages_exist():
    assert SLOW <= {_name(p) for p in PAGES}


def test_guides_have_runnable_snippets():
    """A guide that loses its examples (e.g. an unclosed fence swallowing them) fails here."""
    for page in ["README.md", "docs/guides/layers.md", "docs/guides/training.md",
                 "docs/guides/serving.md", "docs/guides/datasets.md", "docs/guides/weighting.md"]:
        assert python_blocks((ROOT / page).read_text()), page


@pytest.mark.parametrize("page", [
    pytest.param(p, id=_name(p), marks=[pytest.mark.slow] if _name(p) in SLOW else [])
    for p in PAGES if python_blocks(p.read_text())
])
def test_page_snippets_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    namespace = {"__name__": "__doc_snippet__"}
    for line, block in python_blocks(page.read_text()):
        # Line numbers in tracebacks point into the page.
        code = compile("\n" * (line - 1) + block, str(page), "exec")
        try:
            exec(code, namespace)  # noqa: S102
        except ModuleNotFoundError as err:
            if err.name not in OPTIONAL:
                raise
            pytest.skip(f"{_name(page)} needs {err.name}: pip install -e '{OPTIONAL[err.name]}'")
