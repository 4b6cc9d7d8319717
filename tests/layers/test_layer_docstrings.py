"""The `Example:` sections of the layers', losses' and metrics' docstrings run and print what they
show (named apart from tests/weighting/test_docstring_examples.py: without `__init__.py` files,
pytest needs unique test-file basenames to collect both in one run)."""

import doctest
import importlib

import pytest

MODULES = [
    "keras_mtl.layers.column_conv2d",
    "keras_mtl.layers.column_dense",
    "keras_mtl.layers.cross_stitch",
    "keras_mtl.layers.input_shape_check",
    "keras_mtl.layers.select_task_column",
    "keras_mtl.layers.task_conditioned_layer",
    "keras_mtl.layers.task_embedding",
    "keras_mtl.layers.task_id_validation",
    "keras_mtl.layers.task_ids",
    "keras_mtl.layers.task_modulation",
    "keras_mtl.layers.task_routing",
    "keras_mtl.layers.tensor_modulation",
    "keras_mtl.layers.top_down_modulator",
    "keras_mtl.layers.unstack_columns",
    "keras_mtl.training.conflict_tracker",
    "keras_mtl.training.per_task_mean",
    "keras_mtl.training.gradient_probe",
    "keras_mtl.losses.related_weights_loss",
    "keras_mtl.losses.task_relevance_loss",
    "keras_mtl.losses.triplet_loss",
    "keras_mtl.losses.weight_penalty",
    "keras_mtl.metrics.per_task_classification",
    "keras_mtl.metrics.triplet_accuracy",
    "keras_mtl.layers.task_specific",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
