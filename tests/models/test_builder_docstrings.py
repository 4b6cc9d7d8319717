"""The `Example:` sections of the builders' docstrings run and print what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "keras_mtl.models.cross_stitch_nets",
    "keras_mtl.models.multi_label_net",
    "keras_mtl.models.task_routing_nets",
    "keras_mtl.models.top_down_nets",
    "keras_mtl.models.zhao_retrieval_net",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
