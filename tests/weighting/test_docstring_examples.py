"""The `Example:` sections of the weightings' docstrings run and print what they show."""

import doctest
import importlib

import pytest

MODULES = [
    f"keras_mtl.weighting.{name}"
    for name in (
        "aligned_mtl", "cagrad", "dwa", "famo", "fixed", "gradnorm", "gradvac", "imtl_g",
        "mgda", "nash_mtl", "pcgrad", "rlw", "uniform", "upgrad", "uw",
    )
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
