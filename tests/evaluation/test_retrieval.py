"""Retrieval evaluation against hand-built embeddings and triplets."""

import keras
import numpy as np

from keras_mtl.datasets import RetrievalDataset
from keras_mtl.evaluation import retrieve, top_k, triplet_accuracy


def test_top_k_hand_values():
    gallery = np.array([[0.0], [1.0], [3.0], [10.0]])
    queries = np.array([[0.9], [9.0]])
    np.testing.assert_array_equal(top_k(queries, gallery, 2), [[1, 0], [3, 2]])
    np.testing.assert_array_equal(top_k(queries, gallery, 2, exclude=[1, -1]), [[0, 2], [3, 2]])


def colour_dataset():
    """Six flat-colour images; the model's embedding is the mean colour (times a task sign)."""
    grey = np.array([0, 40, 80, 130, 190, 240], "uint8")
    images = np.repeat(grey[:, None, None, None], 3, axis=-1) * np.ones((1, 4, 4, 3), "uint8")
    labels = np.zeros((6, 2), "int32")
    triplets = {
        # task 0: anchor 0 (grey 0) vs positive 1 (40) / negative 5 (240): correct
        #         anchor 2 (80) vs positive 5 (240) / negative 3 (130): wrong
        # task 1: anchor 3 (130) vs positive 4 (190) / negative 0 (0): correct
        "test": np.array([[0, 1, 5, 0], [2, 5, 3, 0], [3, 4, 0, 1]], "int64"),
    }
    return RetrievalDataset(
        name="colours", task_names=("a", "b"), images=images, labels=labels,
        label_names=(("x",), ("x",)), triplets=triplets,
        splits={"test": np.arange(6, dtype="int64")},
    )


def mean_colour_model():
    image = keras.Input((4, 4, 3), name="image")
    task_id = keras.Input((), dtype="int32", name="task_id")
    out = keras.layers.GlobalAveragePooling2D(name="embedding")(image)
    return keras.Model({"image": image, "task_id": task_id}, out)


def test_triplet_accuracy_counts_per_task():
    result = triplet_accuracy(mean_colour_model(), colour_dataset(), "test", image_size=(4, 4))
    np.testing.assert_array_equal(result["correct"], [1, 1])
    np.testing.assert_array_equal(result["total"], [2, 1])
    np.testing.assert_allclose(result["accuracy"], [0.5, 1.0])
    assert result["mean"] == 0.75  # mean over tasks, not over triplets (2/3)


def test_retrieve_excludes_the_query_itself():
    data = colour_dataset()
    neighbours = retrieve(mean_colour_model(), data, [2], np.arange(6), 0, 3, image_size=(4, 4))
    np.testing.assert_array_equal(neighbours, [[1, 3, 0]])  # distances 40, 50, 80 (and 110 for 190)
