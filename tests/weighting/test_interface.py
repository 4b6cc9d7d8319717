"""What every weighting shares: `get`, configs, validation, masking, graph/XLA, no NaN."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from weighting_cases import case

import keras_mtl.weighting as weighting_lib
from keras_mtl.weighting import (
    FixedWeighting,
    MGDAWeighting,
    PCGradWeighting,
    UniformWeighting,
)

NAMES = sorted(weighting_lib.METHODS)


def make(name, num_tasks):
    """A built weighting with a fixed seed where it takes one."""
    cls = weighting_lib.METHODS[name]
    weighting = cls(seed=3) if name in ("pcgrad", "gradvac", "rlw") else cls()
    weighting.build(num_tasks)
    return weighting


def call(weighting, losses, gram, present):
    return weighting.task_weights(
        losses, gram if weighting.needs_task_gradients else None, present
    )


def test_get_names_lists_instances_and_configs():
    for name in NAMES:
        assert isinstance(weighting_lib.get(name), weighting_lib.METHODS[name])
    assert isinstance(weighting_lib.get(None), UniformWeighting)
    assert isinstance(weighting_lib.get("MGDA"), MGDAWeighting)
    assert isinstance(weighting_lib.get("mgda_ub"), MGDAWeighting)  # first release's name
    fixed = weighting_lib.get([1, 2])
    assert isinstance(fixed, FixedWeighting) and fixed.get_config()["weights"] == [1.0, 2.0]
    instance = PCGradWeighting(seed=1)
    assert weighting_lib.get(instance) is instance
    config = keras.saving.serialize_keras_object(weighting_lib.CAGradWeighting(c=0.2))
    restored = weighting_lib.get(config)
    assert isinstance(restored, weighting_lib.CAGradWeighting) and restored.c == 0.2


def test_get_errors_name_the_valid_choices():
    with pytest.raises(ValueError, match="Received: loss_weighting='nash'") as error:
        weighting_lib.get("nash")
    assert "nash_mtl" in str(error.value) and "'fixed'" in str(error.value)
    with pytest.raises(ValueError, match="list of T floats"):
        weighting_lib.get("fixed")
    with pytest.raises(TypeError, match="Received: loss_weighting=3"):
        weighting_lib.get(3)


@pytest.mark.parametrize("name", NAMES + ["fixed"])
def test_config_round_trip(name):
    weighting = FixedWeighting([1.0, 0.5]) if name == "fixed" else weighting_lib.get(name)
    config = weighting.get_config()
    copy = type(weighting).from_config(config)
    assert copy.get_config() == config
    serialized = keras.saving.serialize_keras_object(weighting)
    assert serialized["registered_name"] == f"keras_mtl>{type(weighting).__name__}"
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: FixedWeighting([-1.0]), "non-negative"),
        (lambda: FixedWeighting("ab"), "Received: weights='ab'"),
        (lambda: MGDAWeighting(normalization="max"), "Received: normalization='max'"),
        (lambda: MGDAWeighting(iterations=0), "Received: iterations=0"),
        (lambda: weighting_lib.CAGradWeighting(c=-0.1), "Received: c=-0.1"),
        (lambda: weighting_lib.CAGradWeighting(rescale=3), "Received: rescale=3"),
        (lambda: weighting_lib.GradVacWeighting(beta=1.5), "Received: beta=1.5"),
        (lambda: PCGradWeighting(seed=1.5), "Received: seed=1.5"),
        (lambda: weighting_lib.NashMTLWeighting(max_norm=-1), "Received: max_norm=-1"),
        (lambda: weighting_lib.AlignedMTLWeighting(scale_mode="max"), "scale_mode='max'"),
        (lambda: weighting_lib.UPGradWeighting(reg_eps=-1.0), "Received: reg_eps=-1.0"),
        (lambda: weighting_lib.DWAWeighting(temperature=0.0), "Received: temperature=0.0"),
        (lambda: weighting_lib.DWAWeighting(window=0), "Received: window=0"),
        (lambda: weighting_lib.FAMOWeighting(beta=0.0), "Received: beta=0.0"),
        (lambda: weighting_lib.GradNormWeighting(alpha="x"), "Received: alpha='x'"),
        (lambda: weighting_lib.UncertaintyWeighting(initial_log_variance=None),
         "initial_log_variance=None"),
    ],
)
def test_invalid_arguments_raise_with_the_received_value(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_input_validation():
    with pytest.raises(ValueError, match="Received: num_tasks=0"):
        UniformWeighting().build(0)
    with pytest.raises(ValueError, match="Expected one weight per task"):
        FixedWeighting([1.0, 2.0]).task_weights([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="Received: gram=None"):
        MGDAWeighting().task_weights([1.0, 1.0])
    with pytest.raises(ValueError, match=r"Received: gram.shape=\(3, 3\)"):
        MGDAWeighting().task_weights([1.0, 1.0], np.eye(3, dtype="float32"))
    with pytest.raises(ValueError, match="built with `build"):
        PCGradWeighting().task_weights([1.0, 1.0], np.eye(2, dtype="float32"))
    built = make("dwa", 3)
    with pytest.raises(ValueError, match=r"Received: task_losses.shape=\(2,\)"):
        built.task_weights([1.0, 1.0])
    with pytest.raises(NotImplementedError, match="not called as a layer"):
        UniformWeighting()(np.ones(2))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case_name", ["zero_gradient", "absent", "one_task"])
def test_no_nan_and_absent_tasks_get_zero(name, case_name):
    _, present, losses, gram = case(case_name)
    weighting = make(name, len(present))
    for _ in range(3):  # stateful methods: also after their state has moved
        weights = call(weighting, losses, gram, present).numpy()
        assert weights.shape == (len(present),) and np.all(np.isfinite(weights))
        assert np.all(weights[~present] == 0.0)
        assert all(np.all(np.isfinite(v.numpy())) for v in weighting.weights)


@pytest.mark.parametrize("name", NAMES)
def test_nothing_present_gives_zeros(name):
    weighting = make(name, 3)
    weights = call(weighting, np.zeros(3, "float32"), np.zeros((3, 3), "float32"),
                   np.zeros(3, bool)).numpy()
    np.testing.assert_array_equal(weights, np.zeros(3))


@pytest.mark.parametrize("name", NAMES)
def test_graph_matches_eager(name):
    _, present, losses, gram = case("absent")
    eager, graph = make(name, 4), make(name, 4)
    graph_fn = tf.function(lambda losses, gram, present: call(graph, losses, gram, present))
    for step in range(2):
        step_losses = losses * (1.0 - 0.3 * step)
        np.testing.assert_allclose(graph_fn(step_losses, gram, present).numpy(),
                                   call(eager, step_losses, gram, present).numpy(),
                                   rtol=2e-4, atol=2e-5)


RANDOM = ("pcgrad", "gradvac", "rlw")  # XLA's Philox draws differ from TensorFlow's kernels


@pytest.mark.slow
def test_xla_matches_eager():
    """Every method compiles with `jit_compile=True` (one function: XLA compiles on the CPU
    take seconds per solver) and gives the eager result; randomised methods match another
    XLA run with the same seed (XLA's random draws differ from TensorFlow's kernels)."""
    _, present, losses, gram = case("absent")
    eager = {name: make(name, 4) for name in NAMES}
    compiled = [{name: make(name, 4) for name in names} for names in (NAMES, RANDOM)]
    functions = [
        tf.function(lambda losses, gram, present, ws=ws: {
            n: call(w, losses, gram, present) for n, w in ws.items()}, jit_compile=True)
        for ws in compiled
    ]
    for step in range(2):
        step_losses = losses * (1.0 - 0.3 * step)
        first, second = (fn(step_losses, gram, present) for fn in functions)
        for name in NAMES:
            expected = (second[name] if name in RANDOM
                        else call(eager[name], step_losses, gram, present)).numpy()
            np.testing.assert_allclose(first[name].numpy(), expected, rtol=2e-4, atol=2e-5,
                                       err_msg=name)
