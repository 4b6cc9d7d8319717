"""Packed logs: the compiled step returns a handful of outputs whatever T; names come back."""

import numpy as np
import tensorflow as tf
from training_helpers import build_embedding_model, triplet_inputs

from keras_mtl.losses import TripletLoss
from keras_mtl.training.packed_logs import PACKED_KEY, pack, unpack

MARGIN = 0.3


def test_packed_then_unpacked_restores_names_order_and_values():
    logs = {"loss": tf.constant(1.5), "steps": tf.constant(3, tf.int64),
            "loss_a": tf.constant(0.25), "matrix": tf.ones([2, 2]), "loss_b": tf.constant(-2.0)}
    layout = {}
    out = pack(logs, layout)
    assert sorted(out) == [PACKED_KEY, "matrix", "steps"]
    np.testing.assert_array_equal(out[PACKED_KEY].numpy(), [1.5, 0.25, -2.0])
    restored = unpack(out, layout)
    assert list(restored) == list(logs)
    for key, value in logs.items():
        np.testing.assert_array_equal(np.asarray(restored[key]), value.numpy())
        assert restored[key].dtype == value.dtype


def test_unpack_passes_logs_without_a_packed_vector_through():
    logs = {"steps": tf.constant(1, tf.int64)}
    assert unpack(logs, {}) is logs
    assert pack(logs, {}) is logs


def _output_count(num_tasks):
    model = build_embedding_model(num_tasks=num_tasks)
    model.compile(optimizer="sgd", loss=TripletLoss(MARGIN))
    model.optimizer.build(model.trainable_variables)
    spec = {"image": tf.TensorSpec((None, 3, 3, 2)), "task_id": tf.TensorSpec((None,), "int32")}
    function = tf.function(model.train_step)
    model._log_packing.active = True  # as inside the function `fit` compiles
    try:
        outputs = function.get_concrete_function((spec,)).structured_outputs
    finally:
        model._log_packing.active = False
    return len(tf.nest.flatten(outputs)), len(model._log_packing.layouts["train"]["keys"])


def test_compiled_step_outputs_do_not_grow_with_the_number_of_tasks():
    # Each output is one component of Keras' Optional; their number drove the first step
    # from 4 s to 30-180 s at T=312 (issue 15).
    small, small_logs = _output_count(4)
    large, large_logs = _output_count(312)
    assert small == large <= 3
    assert large_logs - small_logs == 2 * (312 - 4)  # loss_<task> and grad_norm_<task>


def test_evaluate_and_fit_logs_name_every_per_task_value_correctly():
    model = build_embedding_model(num_tasks=3, task_names=["a", "b", "c"])
    model.compile(optimizer="sgd", loss=TripletLoss(MARGIN))
    x = triplet_inputs(size=12, num_tasks=3)
    tensors = tf.nest.map_structure(tf.convert_to_tensor, x)
    eager = {k: float(v) for k, v in model.test_step((tensors,)).items()}  # not packed
    model.reset_metrics()
    logs = model.evaluate(x, batch_size=36, return_dict=True, verbose=0)
    assert set(logs) == set(eager)
    assert len({round(eager[f"loss_{t}"], 6) for t in "abc"}) == 3  # distinct: order matters
    for key, value in eager.items():
        np.testing.assert_allclose(logs[key], value, rtol=1e-6, err_msg=key)
    history = model.fit(x, batch_size=36, epochs=1, shuffle=False, verbose=0).history
    assert {"loss_a", "loss_b", "loss_c", "grad_norm_a", "grad_cosine", "ucr"} <= set(history)


def test_unpack_takes_the_leading_worker_axis_of_multi_worker_logs():
    # Under MultiWorkerMirroredStrategy every log gets a leading axis (`for_strategy`); with one
    # worker Keras returns it unreduced: (1, n).
    logs = {"loss": tf.constant(1.0), "loss_a": tf.constant(2.0)}
    layout = {}
    out = pack(logs, layout)
    out[PACKED_KEY] = tf.expand_dims(out[PACKED_KEY], 0)
    restored = unpack(out, layout)
    assert {k: float(v) for k, v in restored.items()} == {"loss": 1.0, "loss_a": 2.0}
    assert restored["loss"].shape == ()
