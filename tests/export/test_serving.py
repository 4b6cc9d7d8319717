"""export_for_serving: a TF Serving SavedModel whose signature matches the Keras model."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from export_helpers import images

from keras_mtl.export import export_for_serving
from keras_mtl.export.serving import next_version
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


# --- the serving contract: declared shapes, same batch, finite floats, valid task ids --------


@pytest.mark.parametrize("size", [40, 47, 49, 56, 60, 61, 64])
def test_wrong_image_size_is_rejected_with_the_expected_shape(served48, size):
    # Before: 49-60 px gave finite (meaningless) embeddings, other sizes a reshape error.
    _, _, serve = served48
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=rf"image \[2,{size},{size},3\].*expected shape \[\?,48,48,3\]"):
        serve(image=tf.constant(images(2, size)), task_id=tf.constant([0, 1]))


@pytest.mark.parametrize("shape", [(2, 48, 48), (2, 48, 48, 1), (2, 48, 48, 4), (2, 48, 48, 3, 1)])
def test_wrong_image_rank_or_channels_is_rejected(served48, shape):
    # A rank-3 image used to abort the whole process in the oneDNN conv kernel.
    _, _, serve = served48
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected shape \[\?,48,48,3\]"):
        serve(image=tf.zeros(shape), task_id=tf.constant([0, 1]))


def test_declared_size_serves_the_models_outputs(served48):
    model, _, serve = served48
    x = {"image": images(5, seed=3), "task_id": np.array([3, 0, 1, 2, 3], "int32")}
    got = serve(image=tf.constant(x["image"]), task_id=tf.constant(x["task_id"]))["embedding"]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("bad", [4, -1, 2**31 - 1, -(2**31)])
def test_out_of_range_task_id_is_rejected(served48, bad):
    _, _, serve = served48
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Expected `task_id` values in \[0, num_tasks=4\)"):
        serve(image=tf.constant(images(2)), task_id=tf.constant([0, bad]))


@pytest.mark.parametrize("ids", [tf.constant([0, 2**32 + 1], tf.int64), tf.constant([0.0, 1.0])])
def test_task_id_dtype_other_than_int32_is_refused(served48, ids):
    _, _, serve = served48
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected to be a int32 tensor"):
        serve(image=tf.constant(images(2)), task_id=ids)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_image_is_rejected(served48, value):
    # Before: a NaN or Inf pixel gave a finite, plausible-looking embedding.
    _, _, serve = served48
    x = images(2)
    x[1, 10, 10, 0] = value
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Expected `image` to hold finite"):
        serve(image=tf.constant(x), task_id=tf.constant([0, 1]))


@pytest.mark.parametrize("n_images, n_ids", [(2, 3), (3, 1), (0, 0)])
def test_batch_sizes_must_match_and_be_positive(served48, n_images, n_ids):
    _, _, serve = served48
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"same batch size|at least one sample"):
        serve(image=tf.constant(images(n_images)), task_id=tf.zeros((n_ids,), tf.int32))


def test_saved_model_cli_run_rejects_out_of_range_task_id(served48, tmp_path):
    # The TF1-session runtime (what saved_model_cli and TF Serving execute) keeps the checks.
    _, path, _ = served48
    np.save(tmp_path / "image.npy", images(1))
    np.save(tmp_path / "task_id.npy", np.array([7], "int32"))
    cli = Path(sys.executable).with_name("saved_model_cli")
    run = subprocess.run(
        [str(cli), "run", "--dir", str(path), "--tag_set", "serve", "--signature_def",
         "serving_default", "--inputs",
         f"image={tmp_path / 'image.npy'};task_id={tmp_path / 'task_id.npy'}"],
        capture_output=True, text=True,
    )
    assert run.returncode != 0
    assert "Expected `task_id` values in [0, num_tasks=4)" in run.stderr


# --- export errors: name the path and the reason, never lose what is there --------------------


def test_parent_is_a_file_names_the_path(tmp_path):
    blocker = tmp_path / "models.txt"
    blocker.write_text("user data")
    with pytest.raises(NotADirectoryError,
                       match=rf"Cannot export to '{blocker}/zhao/1'.*'{blocker}' is a file"):
        export_for_serving(small_model(), blocker / "zhao")
    assert blocker.read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.txt"]


def test_base_dir_is_a_file_names_the_path(tmp_path):
    blocker = tmp_path / "zhao"
    blocker.write_text("user data")
    with pytest.raises(NotADirectoryError, match=rf"'{blocker}' is a file, not a folder"):
        export_for_serving(small_model(), blocker, version=2)
    assert blocker.read_text() == "user data"


def test_unwritable_place_names_the_path_and_reason():
    # /sys refuses new folders even to root (a chmod'ed folder would not stop root).
    base = Path("/sys/keras_mtl_export_test/zhao")
    if not Path("/sys").is_dir():
        pytest.skip("needs Linux /sys")
    with pytest.raises(PermissionError,
                       match=r"Cannot export to '/sys/keras_mtl_export_test/zhao/1': creating "
                             r"the folder '/sys/keras_mtl_export_test' failed: Operation not "
                             r"permitted"):
        export_for_serving(small_model(), base)


def test_failed_export_removes_the_folders_it_created(tmp_path):
    with pytest.raises(RuntimeError, match=r"differs from model.predict"):
        export_for_serving(small_model(), tmp_path / "a" / "b", atol=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_failed_move_keeps_the_existing_version(tmp_path, monkeypatch):
    from keras_mtl.export import serving

    model = small_model()
    path = export_for_serving(model, tmp_path, version=1)
    before = {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == path and ".export-" in str(src):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(serving.os, "replace", replace)
    with pytest.raises(OSError, match=rf"Cannot export to '{path}': moving the verified export "
                                      r"into place failed: No space left on device"):
        export_for_serving(model, tmp_path, version=1, overwrite=True)
    after = {p.relative_to(path): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1"]
