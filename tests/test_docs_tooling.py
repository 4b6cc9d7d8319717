"""The documentation's build helpers (docs/_build/): the Griffe extension's docstring rewrites
and the figure compactor."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BUILD = Path(__file__).resolve().parents[1] / "docs" / "_build"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BUILD / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ext():
    pytest.importorskip("griffe", reason="the docs extra is not installed")
    return _load("keras_docstrings")


def test_keras_example_sections_are_indented_under_examples(ext):
    text = "Summary.\n\nArgs:\n    a: b.\n\nExample:\n\n>>> x = 1\n>>> x\n1\n"
    assert ext.indent_examples(text) == (
        "Summary.\n\nArgs:\n    a: b.\n\nExamples:\n\n    >>> x = 1\n    >>> x\n    1\n")
    indented = "Example:\n    >>> a\n    1\n"
    assert ext.indent_examples(indented) == "Examples:\n    >>> a\n    1\n"


def test_example_block_ends_at_the_next_section(ext):
    text = "Example:\n>>> a\n\nReturns:\n    x\n"
    assert ext.indent_examples(text) == "Examples:\n    >>> a\n\nReturns:\n    x\n"


def test_shared_args_become_one_item_per_name(ext):
    text = ("Args:\n    name_a, a: the baseline\n        and its summary.\n    t: a, b: c.\n"
            "\nReturns:\n    x, y: z.\n")
    assert ext.split_shared_args(text) == (
        "Args:\n    name_a: the baseline\n        and its summary.\n"
        "    a: the baseline\n        and its summary.\n    t: a, b: c.\n"
        "\nReturns:\n    x, y: z.\n")


def test_figures_are_compacted_under_the_limit(tmp_path):
    image = pytest.importorskip("PIL.Image")
    make_figures = _load("make_figures")
    rng = np.random.default_rng(0)
    pixels = (rng.uniform(size=(300, 1400, 3)) * 255).astype("uint8")  # noise: hard to compress
    image.fromarray(pixels).save(tmp_path / "big.png")
    size = make_figures.compact_png(tmp_path / "big.png", tmp_path / "small.png")
    assert size == (tmp_path / "small.png").stat().st_size <= make_figures.MAX_BYTES
    assert image.open(tmp_path / "small.png").width == make_figures.MAX_WIDTH


def test_committed_figures_are_the_generated_ones_small_and_used():
    """docs/figures/ holds what `make figures` writes (nothing else), each under the size limit
    and shown on some page (a missing one fails `mkdocs build --strict`)."""
    make_figures = _load("make_figures")
    figures = BUILD.parent / "figures"
    assert sorted(p.name for p in figures.iterdir()) == sorted(make_figures.FIGURES)
    pages = "\n".join(p.read_text() for p in BUILD.parent.rglob("*.md"))
    for name in make_figures.FIGURES:
        assert (figures / name).stat().st_size <= make_figures.MAX_BYTES, name
        assert f"figures/{name}" in pages, f"{name} is not shown on any page"
