"""Random bad inputs to the serving signature and to `model.predict`: a clear error, or (NaN and
Inf images in `predict`, which the model may map to anything) no crash; weights never change.

Cases are drawn from a seeded generator, cycling through every kind of bad input so each kind is
exercised whatever the seed; the parameters of each case (batch size, position of the bad
entry, its value, the wrong size) are random.
"""

import numpy as np
import pytest
import tensorflow as tf
from export_helpers import images

NUM_TASKS = 4

ID_RANGE = r"Expected `task_id` values in \[0, num_tasks=4\)"
SERVING_ERRORS = {
    "id_too_large": ID_RANGE,
    "id_negative": ID_RANGE,
    "id_int64_overflow": r"expected to be a int32 tensor but is a int64 tensor",
    "id_float": r"expected to be a int32 tensor but is a float tensor",
    "image_size": r"Shape of tensor image \[.*\] is not compatible with expected shape "
                  r"\[\?,48,48,3\]",
    "image_channels": r"expected shape \[\?,48,48,3\]",
    "image_rank": r"expected shape \[\?,48,48,3\]",
    "image_nan": r"Expected `image` to hold finite values",
    "image_inf": r"Expected `image` to hold finite values",
    "batch_mismatch": r"Expected `image` and `task_id` to have the same batch size",
}
# Keras checks shapes while tracing (ValueError); once predict traces with relaxed shapes, the
# builders' InputShapeCheck layer checks them at run time (InvalidArgumentError).
SHAPE = (
    r"expected shape=\(None, 48, 48, 3\)|Expected shape \(None, 48, 48, 3\)"
    r"|expected axis -1 of input shape to have value 3|expected shape \[\?,48,48,3\]"
)
PREDICT_ERRORS = {
    "id_too_large": (tf.errors.InvalidArgumentError, ID_RANGE),
    "id_negative": (tf.errors.InvalidArgumentError, ID_RANGE),
    "id_int64_overflow": (tf.errors.InvalidArgumentError, ID_RANGE),
    "image_size": ((ValueError, tf.errors.InvalidArgumentError), SHAPE),
    "image_channels": ((ValueError, tf.errors.InvalidArgumentError), SHAPE),
    # Keras's own limit: once predict has traced images of two ranks, the trace has an unknown
    # rank and Keras fails before any layer with "as_list() is not defined on an unknown
    # TensorShape" (a ValueError, not the expected shape; the first wrong rank names it).
    "image_rank": (ValueError, SHAPE + r"|as_list\(\) is not defined on an unknown TensorShape"),
    "id_float": (TypeError, r"Expected `task_id` to have an integer dtype"),
    "image_nan": None,  # no error: non-finite or any outputs are allowed
    "image_inf": None,
}
# Not fed to predict: batch size
# mismatches (Keras's own data adapter fails with an AttributeError while building its message).


def bad_case(kind, rng):
    n = int(rng.integers(1, 5))
    x = images(n, seed=int(rng.integers(1 << 30)))
    ids = rng.integers(0, NUM_TASKS, n).astype("int32")
    pos = int(rng.integers(n))
    if kind == "id_too_large":
        ids[pos] = rng.integers(NUM_TASKS, 2**31 - 1)
    elif kind == "id_negative":
        ids[pos] = rng.integers(-(2**31), 0)
    elif kind == "id_int64_overflow":
        ids = ids.astype("int64")
        ids[pos] = rng.choice([2**32 + int(rng.integers(NUM_TASKS)),
                               -(2**32) + int(rng.integers(NUM_TASKS)),
                               int(rng.integers(2**31, 2**62))])
    elif kind == "id_float":
        ids = ids.astype("float32") + rng.choice([0.0, 0.5], n).astype("float32")
    elif kind == "image_size":
        size = int(rng.choice([s for s in range(36, 65) if s != 48]))
        x = images(n, size=size)
    elif kind == "image_channels":
        x = images(n, channels=int(rng.choice([1, 2, 4])))
    elif kind == "image_rank":
        x = x[..., 0] if rng.integers(2) else x[..., None]
    elif kind in ("image_nan", "image_inf"):
        value = np.nan if kind == "image_nan" else float(rng.choice([np.inf, -np.inf]))
        x[pos, rng.integers(48), rng.integers(48), rng.integers(3)] = value
    elif kind == "batch_mismatch":
        ids = rng.integers(0, NUM_TASKS, n + int(rng.integers(1, 3))).astype("int32")
    return {"image": x, "task_id": ids}


def cases(kinds, count, seed):
    rng = np.random.default_rng(seed)
    kinds = sorted(kinds)
    return [(kinds[i % len(kinds)], bad_case(kinds[i % len(kinds)], rng)) for i in range(count)]


def test_fuzz_serving_signature(served48):
    model, _, serve = served48
    for kind, x in cases(SERVING_ERRORS, 40, seed=12):
        with pytest.raises(tf.errors.InvalidArgumentError, match=SERVING_ERRORS[kind]):
            serve(image=tf.constant(x["image"]), task_id=tf.constant(x["task_id"]))
    clean = {"image": images(3, seed=5), "task_id": np.array([0, 3, 1], "int32")}
    got = serve(image=tf.constant(clean["image"]), task_id=tf.constant(clean["task_id"]))
    np.testing.assert_allclose(got["embedding"], model.predict(clean, verbose=0), atol=1e-5)


def test_fuzz_predict_leaves_weights_unchanged(served48):
    model, _, _ = served48
    before = [np.array(w.numpy(), copy=True) for w in model.weights]
    clean = {"image": images(3, seed=5), "task_id": np.array([0, 3, 1], "int32")}
    expected = model.predict(clean, verbose=0)
    for kind, x in cases(PREDICT_ERRORS, 16, seed=34):
        if PREDICT_ERRORS[kind] is None:
            out = model.predict(x, verbose=0)
            assert out.shape == (len(x["image"]), 8)
        else:
            error, message = PREDICT_ERRORS[kind]
            with pytest.raises(error, match=message):
                model.predict(x, verbose=0)
        for w, b in zip(model.weights, before, strict=True):
            np.testing.assert_array_equal(w.numpy(), b, err_msg=f"{kind}: {w.path} changed")
    np.testing.assert_array_equal(model.predict(clean, verbose=0), expected)
