"""Subprocess entry point for the distribution tests (not collected by pytest).

Usage: python distributed_worker.py MODE OUTPUT_JSON
  single     train on one device
  mirrored   2 logical CPU devices: train with the default strategy and MirroredStrategy
  worker     one MultiWorkerMirroredStrategy worker (TF_CONFIG from the environment)
"""

import json
import os
import sys

import tensorflow as tf

STEPS, GLOBAL_BATCH = 3, 12


def _train(strategy=None, dataset=False, probe_every=1, weighting="uniform"):
    import keras
    from training_helpers import build_embedding_model, triplet_inputs

    from keras_mtl.losses import TripletLoss

    scope = strategy.scope() if strategy is not None else tf.name_scope("single")
    with scope:
        model = build_embedding_model(task_names=["a", "b", "c"])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=TripletLoss(1.0),
                      probe="grouped", probe_every=probe_every, loss_weighting=weighting)
    batch = triplet_inputs(size=STEPS * GLOBAL_BATCH)
    if dataset:
        data = tf.data.Dataset.from_tensor_slices(batch).batch(3 * GLOBAL_BATCH)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        history = model.fit(data.with_options(options), epochs=1, verbose=0)
    else:
        history = model.fit(batch, batch_size=3 * GLOBAL_BATCH, epochs=1, verbose=0,
                            shuffle=False)
    matrices = model.conflict_matrices()
    return {
        "weights": [w.numpy().tolist() for w in model.trainable_weights],
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "num_replicas": strategy.num_replicas_in_sync if strategy is not None else 1,
        "cosine": [[None if x != x else float(x) for x in row] for row in matrices["cosine"]],
        "probed_batches": matrices["probed_batches"].tolist(),
        "weighting_state": [w.numpy().tolist() for w in model.task_weighting.weights],
    }


def main():
    mode, output = sys.argv[1], sys.argv[2]
    if mode == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        # One strategy for every run: separate MirroredStrategy objects in one process reuse
        # collective instance keys, which clash when their all-reduces differ in shape.
        mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        result = {"single": _train(), "mirrored": _train(mirrored),
                  "single_every2": _train(probe_every=2),
                  "mirrored_every2": _train(mirrored, probe_every=2)}
        for name in ("cagrad", "uw"):  # a gradient method; a learnable loss weighting
            result[f"single_{name}"] = _train(weighting=name)
            result[f"mirrored_{name}"] = _train(mirrored, weighting=name)
    elif mode == "worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        result = _train(strategy, dataset=True)
    else:
        result = _train(dataset=True)
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
