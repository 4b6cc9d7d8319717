"""Datasets for task-conditioned multi-task learning, read from local files only.

Retrieval loaders (`load_zappos`, `load_generated_zappos`, `load_celeba`,
`load_generated_celeba`) return a
`RetrievalDataset`; `triplet_pipeline` turns one of its splits into `tf.data` batches of model
inputs `{"image": float32 [3B, H, W, 3] in [0, 1], "task_id": int32 [3B]}`, the anchor,
positive and negative of each triplet in consecutive rows.
Multi-MNIST (`make_multi_mnist`, `load_multi_mnist`; `generate_digits` renders offline digits
for it) is classification and feeds
`classification_pipeline`. The TFDS builder lives in `keras_mtl.datasets.zappos_tfds`, imported
on first access so that `tensorflow_datasets` is not imported with `keras_mtl`.

The supported surface is `__all__`. The readers and samplers behind the loaders
(`zappos.read_zappos_metadata`, `zappos.read_csn_triplets`, `triplets.split_indices`,
`pipeline.batch_indices`, `generated.default_cache_dir`) are internal.
"""

import importlib

from keras_mtl.datasets.celeba import ALL_ATTRIBUTES, ZHAO_ATTRIBUTES, load_celeba
from keras_mtl.datasets.generated import load_generated_zappos, load_zappos_or_generated
from keras_mtl.datasets.generated_digits import generate_digits
from keras_mtl.datasets.generated_faces import load_generated_celeba
from keras_mtl.datasets.multi_mnist import MultiDigitDataset, load_multi_mnist, make_multi_mnist
from keras_mtl.datasets.non_finite import drop_non_finite
from keras_mtl.datasets.pipeline import classification_pipeline, image_pipeline, triplet_pipeline
from keras_mtl.datasets.retrieval_dataset import RetrievalDataset
from keras_mtl.datasets.task_relations import TaskRelations
from keras_mtl.datasets.triplets import sample_triplets
from keras_mtl.datasets.zappos import load_zappos

__all__ = [
    "ALL_ATTRIBUTES",
    "MultiDigitDataset",
    "RetrievalDataset",
    "TaskRelations",
    "ZHAO_ATTRIBUTES",
    "classification_pipeline",
    "drop_non_finite",
    "generate_digits",
    "image_pipeline",
    "load_celeba",
    "load_generated_celeba",
    "load_generated_zappos",
    "load_multi_mnist",
    "load_zappos",
    "load_zappos_or_generated",
    "make_multi_mnist",
    "sample_triplets",
    "triplet_pipeline",
    "zappos_tfds",
]


def __getattr__(name):
    if name == "zappos_tfds":  # imports tensorflow_datasets only when asked for
        return importlib.import_module("keras_mtl.datasets.zappos_tfds")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
