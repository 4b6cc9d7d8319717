"""One call to train a compiled retrieval model on a `RetrievalDataset` (the examples' loop)."""

from pathlib import Path


def fit_triplets(
    model,
    dataset,
    *,
    epochs,
    batch_size,
    image_size,
    seed=0,
    augment=True,
    output_dir=None,
    run_name="model",
    verbose=1,
    callbacks=None,
):
    """Fits a compiled retrieval `MultiTaskModel` on `dataset`'s train split, validating on val.

    Triplet batches come from `keras_mtl.datasets.triplet_pipeline` (balanced across tasks,
    Zhao et al. Sec. 4.1; reshuffled every epoch by the pipeline itself). With `output_dir`,
    also writes the per-epoch conflict matrices (`ConflictMatrixCallback`) to
    `output_dir/conflict_<run_name>/`, TensorBoard logs to `output_dir/logs/<run_name>/`, every
    epoch's logs (per-task values included) to `output_dir/<run_name>_history.csv` and a
    `.keras` checkpoint to `output_dir/<run_name>.keras`. The progress bar shows the summary
    metrics only; steps with non-finite values are skipped and stop training after
    `compile(max_skipped_steps=...)` of them (see `MultiTaskModel`).

    Args:
        model: a compiled `keras_mtl.MultiTaskModel` taking `{"image", "task_id"}`.
        dataset: a `keras_mtl.datasets.RetrievalDataset` with `train` and `val` triplets.
        epochs: training epochs.
        batch_size: triplets per batch.
        image_size: `(height, width)` of the model's input.
        seed: seed of the batch order and the augmentation.
        augment: random flips and brightness shifts on training images.
        output_dir: folder for matrices, logs and checkpoint, or None for none.
        run_name: name of this run inside `output_dir`.
        verbose: `fit` verbosity.
        callbacks: more Keras callbacks (e.g. a step timer), run after the ones above.

    Returns:
        `(history, conflicts)`: the Keras `History` and the `ConflictMatrixCallback` (its
        `history` holds each epoch's cosine and UCR matrices), None without `output_dir`.
    """
    import keras

    from keras_mtl.datasets import triplet_pipeline
    from keras_mtl.training.conflict_matrix_callback import ConflictMatrixCallback

    pipe = dict(batch_size=batch_size, image_size=tuple(image_size), seed=seed)
    train = triplet_pipeline(dataset, "train", augment=augment, **pipe)
    val = triplet_pipeline(dataset, "val", sampling="sequential", **pipe)
    extra, callbacks, conflicts = list(callbacks or []), [], None
    if output_dir is not None:
        out = Path(output_dir)
        logs = str(out / "logs" / run_name)
        conflicts = ConflictMatrixCallback(out / f"conflict_{run_name}", log_dir=logs)
        callbacks += [
            conflicts,
            keras.callbacks.TensorBoard(logs),
            keras.callbacks.CSVLogger(str(out / f"{run_name}_history.csv")),
            keras.callbacks.ModelCheckpoint(str(out / f"{run_name}.keras")),
        ]
    # The pipeline orders and reshuffles the triplets itself: shuffle=False.
    history = model.fit(train, validation_data=val, epochs=epochs, callbacks=callbacks + extra,
                        shuffle=False, verbose=verbose)
    return history, conflicts
