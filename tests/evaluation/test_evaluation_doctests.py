"""The `Example:` sections of the comparison, task-pair and task-relation docstrings run."""

import doctest
import importlib

import pytest

MODULES = [
    "keras_mtl.evaluation.comparison",
    "keras_mtl.evaluation.seeds",
    "keras_mtl.evaluation.task_pairs",
    "keras_mtl.datasets.task_relations",
    "keras_mtl.datasets.generated_faces",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
