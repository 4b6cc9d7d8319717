"""SavedModel export for TF Serving: versioned folders, named signatures, verified."""

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np


def next_version(base_dir):
    """The next free numeric version under `base_dir` (1 when there is none)."""
    base = Path(base_dir)
    versions = [int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit()] if (
        base.is_dir()
    ) else []
    return max(versions, default=0) + 1


def _input_specs(model):
    import tensorflow as tf

    structure = model.input
    if isinstance(structure, dict):
        named = structure.items()
    else:
        tensors = structure if isinstance(structure, list | tuple) else [structure]
        named = [(t.name, t) for t in tensors]
    specs = {}
    for name, tensor in named:
        dtype = "int32" if "int" in tensor.dtype else "float32"
        specs[name] = tf.TensorSpec((None,) + tuple(tensor.shape[1:]), dtype, name=name)
    return specs


def _output_names(model, output_names):
    outputs = model.outputs
    if output_names is None:
        structure = model.output
        if isinstance(structure, dict):
            return list(structure.keys())
        output_names = list(getattr(model, "output_names", None) or [])
        if len(output_names) != len(outputs):
            output_names = [f"output_{i}" for i in range(len(outputs))]
    if isinstance(output_names, str):
        output_names = [output_names]
    if len(output_names) != len(outputs):
        raise ValueError(
            f"Expected {len(outputs)} `output_names` (one per model output). "
            f"Received: output_names={output_names}"
        )
    return list(output_names)


def _sample_inputs(specs, num_tasks, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    sample = {}
    for name, spec in specs.items():
        shape = (batch,) + tuple(spec.shape[1:])
        if spec.dtype.is_integer:
            sample[name] = rng.integers(0, max(1, num_tasks), shape).astype("int32")
        else:
            sample[name] = rng.uniform(0, 1, shape).astype("float32")
    return sample


def _as_dict(outputs, names):
    if isinstance(outputs, dict):
        return {name: outputs[name] for name in names}
    if not isinstance(outputs, list | tuple):
        outputs = [outputs]
    return dict(zip(names, outputs, strict=True))


def export_for_serving(
    model,
    base_dir,
    version=None,
    *,
    output_names=None,
    extra_endpoints=None,
    overwrite=False,
    verify=True,
    verify_inputs=None,
    atol=1e-5,
):
    """Exports a Keras model as a TF Serving SavedModel in `base_dir/<version>/`.

    The model's (dict) inputs become the named inputs of the `serving_default` signature,
    e.g. `image` (float32, `[N, H, W, 3]`) and `task_id` (int32, `[N]`) for the package's
    builders, and its outputs become named outputs (`output_names`, default the output
    layers' names, e.g. `embedding`). The export is written to a temporary folder beside the
    target, loaded back with `tf.saved_model.load` and compared with `model.predict`; only
    then is it moved into place, so a failed export never leaves a partial version folder
    and never touches an existing one. Loading the export needs TensorFlow only (no keras_mtl
    import).

    Args:
        model: a functional `keras.Model` (e.g. a `keras_mtl.MultiTaskModel`).
        base_dir: the model's serving folder, e.g. `saved_models/zappos_retrieval`.
        version: positive int version (TF Serving's numeric sub-folder); None for the next
            free one.
        output_names: names of the signature outputs (one per model output).
        extra_endpoints: optional dict `name -> (fn, input_signature)` of further signatures
            (see `keras.export.ExportArchive.add_endpoint`).
        overwrite: replace an existing version folder (only after the new export verified).
        verify: load the export back and compare it with the Keras model.
        verify_inputs: optional dict of inputs for the verification (default: random data,
            task ids drawn from `[0, model.num_tasks)` when the model has `num_tasks`).
        atol: tolerance of the verification.

    Returns:
        The `pathlib.Path` of the version folder.

    Example:

    >>> path = export_for_serving(model, "saved_models/zappos_retrieval")  # doctest: +SKIP
    >>> # tensorflow_model_server --model_base_path=$PWD/saved_models/zappos_retrieval
    """
    import keras

    if version is None:
        version = next_version(base_dir)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            f"Expected `version` to be a positive int (TF Serving's folder name). "
            f"Received: version={version!r}"
        )
    base = Path(base_dir)
    target = base / str(version)
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"Expected a new version folder. Received: {target} already exists; pass "
            "overwrite=True to replace it, or another `version`."
        )
    specs = _input_specs(model)
    names = _output_names(model, output_names)

    def serve(inputs):
        return _as_dict(model(inputs, training=False), names)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=[specs])
    for name, (fn, signature) in (extra_endpoints or {}).items():
        archive.add_endpoint(name, fn, input_signature=signature)

    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".export-{version}-", dir=base))
    try:
        archive.write_out(str(staging / "model"), verbose=False)
        if verify:
            sample = verify_inputs or _sample_inputs(specs, getattr(model, "num_tasks", 1) or 1)
            verify_export(staging / "model", model, sample, names, atol=atol)
        if target.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".replaced-{version}-", dir=base))
            os.replace(target, backup / "old")
            os.replace(staging / "model", target)
            shutil.rmtree(backup)
        else:
            os.replace(staging / "model", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def verify_export(path, model, inputs, output_names, atol=1e-5):
    """Loads `path` with `tf.saved_model.load` and compares `serving_default` with `model`."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    served = loaded.signatures["serving_default"](
        **{k: tf.constant(v) for k, v in inputs.items()}
    )
    expected = _as_dict(model.predict(inputs, verbose=0), output_names)
    for name in output_names:
        if name not in served:
            raise RuntimeError(
                f"Export verification failed: expected output '{name}' in the signature. "
                f"Received outputs: {sorted(served)}"
            )
        diff = np.max(np.abs(np.asarray(served[name]) - np.asarray(expected[name])))
        if not diff <= atol:
            raise RuntimeError(
                f"Export verification failed: output '{name}' differs from model.predict by "
                f"{diff:.3g} (expected <= {atol})."
            )
