"""export_for_serving: a TF Serving SavedModel whose signature matches the Keras model."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_mtl.export import export_for_serving, next_version
from keras_mtl.layers import TaskModulation


def small_model():
    image = keras.Input((8, 8, 3), name="image")
    task_id = keras.Input((), dtype="int32", name="task_id")
    x = keras.layers.Conv2D(4, 3, activation="relu")(image)
    x = TaskModulation(3)([x, task_id])
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(5, name="embedding")(x)
    model = keras.Model({"image": image, "task_id": task_id}, out)
    model.num_tasks = 3
    rng = np.random.default_rng(0)
    for w in model.trainable_weights:
        w.assign(w.numpy() + rng.normal(0, 0.2, w.shape).astype("float32"))
    return model


def data(n=6):
    rng = np.random.default_rng(1)
    return {
        "image": rng.uniform(size=(n, 8, 8, 3)).astype("float32"),
        "task_id": (np.arange(n) % 3).astype("int32"),
    }


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("serving") / "retrieval"
    model = small_model()
    return model, base, export_for_serving(model, base)


def test_versioned_folder_and_signature_matches_predict(exported):
    model, base, path = exported
    assert path == base / "1" and (path / "saved_model.pb").exists()
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    x = data()
    got = serve(image=tf.constant(x["image"]), task_id=tf.constant(x["task_id"]))
    assert list(got) == ["embedding"]
    np.testing.assert_allclose(got["embedding"], model.predict(x, verbose=0), atol=1e-5)
    assert next_version(base) == 2


def test_saved_model_cli_lists_signature(exported):
    _, _, path = exported
    cli = Path(sys.executable).with_name("saved_model_cli")
    out = subprocess.run(
        [str(cli), "show", "--dir", str(path), "--tag_set", "serve",
         "--signature_def", "serving_default"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "inputs['image']" in out and "inputs['task_id']" in out
    assert "DT_FLOAT" in out and "DT_INT32" in out and "(-1, 8, 8, 3)" in out
    assert "outputs['embedding']" in out


def test_export_loads_without_keras_mtl(exported):
    _, _, path = exported
    x = data(2)
    script = (
        "import json, sys, numpy as np, tensorflow as tf\n"
        f"f = tf.saved_model.load({str(path)!r}).signatures['serving_default']\n"
        f"y = f(image=tf.constant(np.array({x['image'].tolist()}, 'float32')),"
        f" task_id=tf.constant({x['task_id'].tolist()}, tf.int32))['embedding']\n"
        "assert not any(m.startswith('keras_mtl') for m in sys.modules)\n"
        "print(json.dumps(y.numpy().tolist()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    np.testing.assert_allclose(json.loads(out.strip().splitlines()[-1]),
                               exported[0].predict(x, verbose=0), atol=1e-5)


def test_refuses_to_overwrite_and_keeps_existing(exported):
    model, base, path = exported
    before = (path / "saved_model.pb").read_bytes()
    with pytest.raises(FileExistsError, match=r"already exists.*overwrite=True"):
        export_for_serving(model, base, version=1)
    assert (path / "saved_model.pb").read_bytes() == before


def test_failed_verification_leaves_nothing(tmp_path):
    model = small_model()
    bad = data(4)
    with pytest.raises(RuntimeError, match=r"differs from model.predict"):
        export_for_serving(model, tmp_path, version=3, atol=-1.0, verify_inputs=bad)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_after_verification(tmp_path):
    model = small_model()
    export_for_serving(model, tmp_path, version=1)
    model.layers[-1].bias.assign(np.full(5, 7.0, "float32"))
    path = export_for_serving(model, tmp_path, version=1, overwrite=True)
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    x = data(2)
    got = serve(image=tf.constant(x["image"]), task_id=tf.constant(x["task_id"]))["embedding"]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1"]


@pytest.mark.parametrize("version", [0, -2, "3", 1.5])
def test_invalid_version(version, tmp_path):
    with pytest.raises(ValueError, match=r"Expected `version`.*Received: version="):
        export_for_serving(small_model(), tmp_path, version=version)
