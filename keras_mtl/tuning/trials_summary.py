"""A tuner's trials as plain rows, for printing or saving."""


def trials_summary(tuner) -> list[dict]:
    """Returns one dict per trial of a KerasTuner tuner, best score first.

    Each row holds `trial_id`, `status` (`"COMPLETED"`, `"FAILED"`, ...), `score` (the
    objective at the trial's best epoch, `None` if the trial has none), `best_step` (that
    epoch) and the trial's hyperparameter values. A hyperparameter registered by the search
    space but inactive in the trial (a conditional one, e.g. `sharing_ratio` in a modulation
    trial) reads `None`. Trials without a score come last; ties keep the trial order.

    Args:
        tuner: a `keras_tuner.Tuner` after (or during) `search`.

    Returns:
        A list of dicts with the same keys, in the order above.

    Example:

    ```python
    tuner.search(train, validation_data=val, epochs=3)
    for row in trials_summary(tuner):
        print(row["trial_id"], row["score"], row["method"])
    ```
    """
    oracle = tuner.oracle
    direction = getattr(oracle.objective, "direction", "max")
    names = [hp.name for hp in oracle.get_space().space]
    trials = sorted(oracle.trials.values(), key=lambda t: t.trial_id)
    rows = []
    for trial in trials:
        values = trial.hyperparameters.values
        row = {
            "trial_id": trial.trial_id,
            "status": trial.status,
            "score": None if trial.score is None else float(trial.score),
            "best_step": trial.best_step,
        }
        row.update({name: values.get(name) for name in names})
        rows.append(row)

    def key(row):
        if row["score"] is None:
            return (1, 0.0)
        return (0, -row["score"] if direction == "max" else row["score"])

    return sorted(rows, key=key)
