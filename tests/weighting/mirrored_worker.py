"""Runs the weightings under MirroredStrategy with two CPU replicas (a separate process: the
logical devices must be configured before TensorFlow initialises). Prints one JSON line.

The stateful methods (which assign variables in the replica context) and MGDA as the
representative solver; the other stateless solvers are plain functions of identical inputs.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from weighting_cases import case  # noqa: E402

import keras_mtl.weighting as weighting_lib  # noqa: E402

NAMES = ("mgda", "pcgrad", "gradvac", "uw", "dwa", "rlw", "famo", "gradnorm")


def make_all():
    weightings = {}
    for name in NAMES:
        cls = weighting_lib.METHODS[name]
        weighting = cls(seed=2) if name in ("pcgrad", "gradvac", "rlw") else cls()
        weighting.build(4)
        weightings[name] = weighting
    optimizer = keras.optimizers.SGD(0.1)
    trainable = [v for w in weightings.values() for v in w.trainable_weights]
    optimizer.build(trainable)
    return weightings, optimizer, trainable


def step_all(weightings, optimizer, trainable, losses, gram, present, gradient_scale=1.0):
    """One training step's weighting calls: weights, then the auxiliary losses' update."""
    outputs = {}
    with tf.GradientTape() as tape:
        aux = []
        for name, weighting in weightings.items():
            g = gram if weighting.needs_task_gradients else None
            outputs[name] = weighting.task_weights(losses, g, present)
            loss = weighting.auxiliary_loss(losses, g, present)
            if loss is not None:
                aux.append(loss)
        total = tf.add_n(aux) * gradient_scale
    optimizer.apply_gradients(zip(tape.gradient(total, trainable), trainable, strict=True))
    return outputs


def main():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    _, present, losses, gram = case("absent")
    with strategy.scope():
        distributed = make_all()
    reference = make_all()
    run = tf.function(lambda: strategy.run(lambda: step_all(*distributed, losses, gram, present)))
    # the optimizer sums the replicas' gradients: the single-device reference doubles them
    run_reference = tf.function(lambda: step_all(*reference, losses, gram, present, 2.0))
    ok = {name: True for name in distributed[0]}
    for _ in range(3):
        outputs, expected = run(), run_reference()
        for name in ok:
            for replica in strategy.experimental_local_results(outputs[name]):
                ok[name] &= bool(np.allclose(replica.numpy(), expected[name].numpy(),
                                             rtol=1e-5, atol=1e-6))
    for name, weighting in distributed[0].items():
        for mine, theirs in zip(weighting.weights, reference[0][name].weights, strict=True):
            ok[name] &= bool(np.allclose(mine.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6))
    print(json.dumps(ok))


if __name__ == "__main__":
    main()
