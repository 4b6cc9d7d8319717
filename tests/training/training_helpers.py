"""Small task-conditioned models shared by the training tests."""

import keras
import numpy as np

from keras_mtl import MultiTaskModel
from keras_mtl.layers import TaskModulation
from keras_mtl.losses import interleave_triplets


def build_embedding_model(num_tasks=3, batch_norm=False, task_names=None, seed=0):
    """Flatten -> Dense(6, tanh) [-> BN] -> TaskModulation -> Dense(4): a tiny retrieval net."""
    image = keras.Input((3, 3, 2), name="image")
    task_id = keras.Input((), dtype="int32", name="task_id")
    x = keras.layers.Flatten()(image)
    x = keras.layers.Dense(6, activation="tanh", name="shared",
                           kernel_initializer=keras.initializers.GlorotUniform(seed))(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="bn")(x)
    x = TaskModulation(num_tasks, mode="scale", name="mod")([x, task_id])
    x = keras.layers.Dense(4, name="embed",
                           kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(x)
    return MultiTaskModel({"image": image, "task_id": task_id}, x, num_tasks=num_tasks,
                          task_names=task_names)


def triplet_batch(size=12, num_tasks=3, seed=0):
    rng = np.random.default_rng(seed)
    shape = (size, 3, 3, 2)
    batch = {k: rng.normal(size=shape).astype("float32") for k in
             ("anchor", "positive", "negative")}
    batch["task_id"] = (np.arange(size) % num_tasks).astype("int32")
    return batch


def triplet_inputs(size=12, num_tasks=3, seed=0):
    """`triplet_batch` as model inputs: three consecutive rows per triplet (fit with
    `batch_size=3 * triplets` and `shuffle=False`)."""
    return interleave_triplets(triplet_batch(size, num_tasks, seed))
