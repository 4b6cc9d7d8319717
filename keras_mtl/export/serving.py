"""SavedModel export for TF Serving: versioned folders, named signatures, verified.

The serving contract (`serving_default`):

- each input must have exactly the shape the model declares, batch size free: a 48x48 model
  rejects a 49x49 or 40x40 image (and a wrong rank or channel count) with
  `InvalidArgumentError: Shape of tensor image [1,49,49,3] is not compatible with expected shape
  [?,48,48,3]` before the model runs. Images are not resized: a client resizes (as the training
  pipeline did), so that the served embedding is the one the model computes for that image;
- all inputs must have the same batch size, at least 1;
- task ids (`task_id`, int32 `[N]`) must lie in `[0, num_tasks)` (`validate_task_ids`,
  "Expected `task_id` values in [0, num_tasks=...)"). The signature's dtypes are part of the
  contract: TensorFlow refuses an int64 or float `task_id` tensor at the call. (A client that
  converts arrays to the signature dtype itself, as `saved_model_cli run` and TF1 sessions do
  for fed NumPy arrays, casts before the model sees the values: cast-free clients are safe.)
- float inputs must be finite: a NaN or Inf pixel is rejected ("Expected `image` to hold finite
  values"): the network can turn it into a finite, plausible-looking embedding (the package's
  nets do on CPU).

A rejected request raises `InvalidArgumentError` (TF Serving returns it to the client); the
checks run before the model and cost one pass over the inputs.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras


def next_version(base_dir: str | os.PathLike) -> int:
    """The next free numeric version under `base_dir` (1 when there is none).

    Args:
        base_dir: the model's serving folder; it need not exist.

    Returns:
        One more than the largest numeric sub-folder name, or 1.
    """
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


def _checked_inputs(inputs, specs, num_tasks, task_id_key):
    """The signature's inputs after the serving contract's checks (see the module docstring).

    Shapes are checked with `tf.ensure_shape` (a run-time op that Grappler does not fold away
    on the strength of the declared static shape, unlike an `Assert` on `tf.shape`).
    """
    import tensorflow as tf

    from keras_mtl.layers.task_ids import validate_task_ids

    checked = {
        name: tf.ensure_shape(inputs[name], spec.shape, name=f"check_{name}_shape")
        for name, spec in specs.items()
    }
    names = list(checked)
    batch = tf.shape(checked[names[0]])[0]
    checks = [
        tf.debugging.assert_positive(
            batch, message=f"Expected at least one sample. Received: an empty `{names[0]}`"
        )
    ]
    checks += [
        tf.debugging.assert_equal(
            batch,
            tf.shape(checked[name])[0],
            message=f"Expected `{names[0]}` and `{name}` to have the same batch size",
        )
        for name in names[1:]
    ]
    with tf.control_dependencies(checks):
        checked = {name: tf.identity(tensor) for name, tensor in checked.items()}
    for name, spec in specs.items():
        if spec.dtype.is_floating:
            checked[name] = tf.debugging.assert_all_finite(
                checked[name], f"Expected `{name}` to hold finite values (no NaN or Inf)"
            )
    if num_tasks and task_id_key in checked:
        checked[task_id_key] = validate_task_ids(checked[task_id_key], num_tasks, name=task_id_key)
    return checked


def _export_error(err, target, action):
    """An `OSError` of the same kind as `err` (via its errno) naming the export and the reason."""
    reason = getattr(err, "strerror", None) or getattr(err, "message", None) or str(err)
    filename = getattr(err, "filename", None)
    where = f" ('{filename}')" if filename else ""
    message = (
        f"Cannot export to '{target}': {action} failed: {reason}{where}. Nothing was changed "
        "there; pass a writable `base_dir`."
    )
    code = getattr(err, "errno", None)
    return OSError(code, message) if code else OSError(message)


def _make_base_dir(base, target):
    """Creates `base` (and missing parents); returns the folders it created, outermost first."""
    existing, missing = base, []
    while not existing.exists():
        missing.append(existing)
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR,
            f"Cannot export to '{target}': '{existing}' is a file, not a folder. Expected "
            f"`base_dir` to be a folder, or a path where one can be created. Received: "
            f"base_dir='{base}'",
        )
    created = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            if not folder.is_dir():
                _remove_empty(created)
                raise
        except OSError as err:
            _remove_empty(created)
            raise _export_error(err, target, f"creating the folder '{folder}'") from err
        else:
            created.append(folder)
    return created


def _remove_empty(folders):
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            pass


def _as_dict(outputs, names):
    if isinstance(outputs, dict):
        return {name: outputs[name] for name in names}
    if not isinstance(outputs, list | tuple):
        outputs = [outputs]
    return dict(zip(names, outputs, strict=True))


def export_for_serving(
    model: keras.Model,
    base_dir: str | os.PathLike,
    version: int | None = None,
    *,
    output_names: str | Sequence[str] | None = None,
    extra_endpoints: dict[str, tuple[Callable, Any]] | None = None,
    overwrite: bool = False,
    verify: bool = True,
    verify_inputs: dict[str, np.ndarray] | None = None,
    atol: float = 1e-5,
) -> Path:
    """Exports a Keras model as a TF Serving SavedModel in `base_dir/<version>/`.

    The model's (dict) inputs become the named inputs of the `serving_default` signature,
    e.g. `image` (float32, `[N, H, W, 3]`) and `task_id` (int32, `[N]`) for the package's
    builders, and its outputs become named outputs (`output_names`, default the output
    layers' names, e.g. `embedding`). The export is written to a temporary folder beside the
    target, loaded back with `tf.saved_model.load` and compared with `model.predict`; only
    then is it moved into place, so a failed export never leaves a partial version folder
    (nor folders it created for `base_dir`) and never touches an existing one. Loading the
    export needs TensorFlow only (no keras_mtl import).

    The signature enforces the serving contract before the model runs (see
    `keras_mtl.export.serving`): every input has exactly its declared shape, batch size free
    (a 48x48 model rejects a 49x49 image with "Shape of tensor image [1,49,49,3] is not
    compatible with expected shape [?,48,48,3]"; images are never resized), all inputs have
    the same batch size (at least 1), float inputs are finite (no NaN or Inf), and the task
    ids (the input `model.task_id_key`, default `task_id`) lie in `[0, model.num_tasks)` when
    the model has `num_tasks`. Violations raise `InvalidArgumentError` in the caller (TF
    Serving returns it to the client). `extra_endpoints` are exported as given, without these
    checks.

    Errors of the file system name the path and the reason, e.g. "Cannot export to
    'a/file.txt/1': 'a/file.txt' is a file, not a folder" (`NotADirectoryError`), or a
    `PermissionError` naming the folder that could not be created or written; they are
    `OSError`s of the kind of the underlying error, and leave what was there unchanged.

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

    num_tasks = getattr(model, "num_tasks", None)
    task_id_key = getattr(model, "task_id_key", "task_id")

    def serve(inputs):
        inputs = _checked_inputs(inputs, specs, num_tasks, task_id_key)
        return _as_dict(model(inputs, training=False), names)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve, input_signature=[specs])
    for name, (fn, signature) in (extra_endpoints or {}).items():
        archive.add_endpoint(name, fn, input_signature=signature)

    created = _make_base_dir(base, target)
    try:
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".export-{version}-", dir=base))
        except OSError as err:
            raise _export_error(err, target, f"creating a temporary folder in '{base}'") from err
        try:
            _write(archive, staging / "model", target)
            if verify:
                sample = verify_inputs or _sample_inputs(specs, num_tasks or 1)
                verify_export(staging / "model", model, sample, names, atol=atol)
            _move_into_place(staging / "model", target, version)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        _remove_empty(created)
        raise
    return target


def _write(archive, path, target):
    import tensorflow as tf

    try:
        archive.write_out(str(path), verbose=False)
    except (OSError, tf.errors.PermissionDeniedError, tf.errors.ResourceExhaustedError) as err:
        raise _export_error(err, target, f"writing the SavedModel to '{path.parent}'") from err


def _move_into_place(staged, target, version):
    """Moves `staged` to `target`; an existing `target` is restored if the move fails."""
    base = target.parent
    try:
        if not target.exists():
            os.replace(staged, target)
            return
        backup = Path(tempfile.mkdtemp(prefix=f".replaced-{version}-", dir=base))
        os.replace(target, backup / "old")
        try:
            os.replace(staged, target)
        except OSError:
            os.replace(backup / "old", target)
            backup.rmdir()
            raise
        shutil.rmtree(backup)
    except OSError as err:
        raise _export_error(err, target, "moving the verified export into place") from err


def verify_export(
    path: str | os.PathLike,
    model: keras.Model,
    inputs: dict[str, np.ndarray],
    output_names: Sequence[str],
    atol: float = 1e-5,
) -> None:
    """Loads `path` with `tf.saved_model.load` and compares `serving_default` with `model`.

    Args:
        path: the SavedModel folder.
        model: the Keras model it was exported from.
        inputs: a batch of inputs, keyed by the signature's input names.
        output_names: the signature outputs to compare with the model's outputs (in the
            order of the model's outputs, or its dict keys).
        atol: the largest absolute difference allowed.

    Raises:
        RuntimeError: an output is missing from the signature or differs by more than `atol`.
    """
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
