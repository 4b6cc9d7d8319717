"""KerasTuner search space over the Zhao et al. Table 2 retrieval network."""

from collections.abc import Sequence

import keras
import keras_tuner

from keras_mtl.losses import TripletLoss
from keras_mtl.models.zhao_retrieval_net import METHODS, MODULATE_FROM, zhao_retrieval_net

# Methods a search can train from scratch. `only_mask` freezes the shared layers: it needs
# weights copied from a trained model first (see `zhao_retrieval_net`), so it is not offered.
SEARCHABLE_METHODS = tuple(m for m in METHODS if m != "only_mask")
DEFAULT_METHODS = ("modulation", "fsn", "ib", "csn", "routing", "cross_stitch")
OPTIMIZERS = {
    "adagrad": keras.optimizers.Adagrad,
    "adam": keras.optimizers.Adam,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
}
OBJECTIVE_NAME = "val_triplet_accuracy"


class RetrievalHyperModel(keras_tuner.HyperModel):
    """Searches multi-task methods and their settings for triplet retrieval.

    Each trial builds `keras_mtl.models.zhao_retrieval_net` (the Table 2 network of Zhao et
    al.) with the sampled hyperparameters and compiles it with a `TripletLoss` (Zhao Eq. 6).
    Fit it on triplet batches (`keras_mtl.datasets.triplet_pipeline`, three consecutive rows
    per triplet) with validation triplets: the objective is
    `val_triplet_accuracy`, the validation triplet accuracy averaged over tasks (the
    "average" column of Zhao Tables 3 and 6), to maximise; `objective` returns it as a
    `keras_tuner.Objective`.

    Hyperparameters (names as they appear in `trial.hyperparameters`); the conditional ones
    are registered only when their method is in `methods` and are active only in trials of
    that method (inactive values read `None`):

    - `method`: one of `methods` (Zhao Table 3 rows, plus routing and cross-stitch).
    - `modulate_from`, `modulation_mode`: first modulated stage and `"scale"` (Eq. 5) or
      `"projection"` (Eq. 4), when `method == "modulation"` (Zhao Table 5 ablation).
    - `branch_dim`: k of IB-k, when `method == "ib"` (Zhao Table 3: IB-256, IB-25).
    - `csn_masks`: `"fixed"` or `"learned"` CSN masks, when `method == "csn"`.
    - `sharing_ratio`: fraction of units each task keeps, when `method == "routing"`
      (Strezoski et al. Fig. 5: 0.2 to 0.6 beat both 0 and 1).
    - `stitch_same_init`: initial weight of a column onto itself in every cross-stitch unit
      (off-diagonal `(1 - same) / (T - 1)`), when `method == "cross_stitch"` (Misra et al.;
      Bhuin et al. Sec. 5.2 use 0.9 / 0.1), passed to `zhao_retrieval_net`.
    - `embedding_dim`: units of the fc embedding.
    - `learning_rate`: log-uniform in `learning_rate` when it is a `(min, max)` pair.

    A sequence with one value fixes that hyperparameter (`hp.Fixed`). Sizes that are not
    searched (`input_shape`, `width_multiplier`) are constructor arguments, so a small
    search (tests, CPU) uses small images and narrow convs.

    Reference:
        Zhao, Li, Shen, Liang, Wu. "A Modulation Module for Multi-task Learning with
        Applications in Image Retrieval". ECCV 2018. Table 2 (network), Table 3 (methods),
        Table 5 (`modulate_from`, projection). Strezoski, van Noord, Worring. "Many Task
        Learning with Task Routing". ICCV 2019. Fig. 5 (sharing ratio). Misra, Shrivastava,
        Gupta, Hebert. "Cross-stitch Networks for Multi-task Learning". CVPR 2016.

    Args:
        num_tasks: number of tasks T (>= 2 when `"cross_stitch"` is searched).
        input_shape: `(height, width, channels)` of the images, at least 48x48.
        width_multiplier: scales every conv width of the network (1.0 in the paper).
        task_names: optional task names (used in the per-task metric names).
        methods: methods to search, from `"modulation"`, `"fsn"`, `"itn"`, `"ib"`, `"csn"`,
            `"routing"`, `"cross_stitch"`. `"itn"` and `"cross_stitch"` hold T copies of
            the network (T times the compute).
        modulate_from: values of `modulate_from` (`"block2"`..`"block5"`, `"fc"` or 2..5).
        modulation_modes: values of `modulation_mode` (`"scale"`, `"projection"`).
        branch_dims: values of `branch_dim` for IB-k.
        csn_masks: values of `csn_masks` (`"fixed"`, `"learned"`).
        sharing_ratios: values of `sharing_ratio`, each in [0, 1].
        stitch_same_inits: values of `stitch_same_init`, each in (0, 1].
        embedding_dims: values of `embedding_dim` (each >= T when `"csn"` is searched).
        learning_rate: a `(min, max)` pair searched log-uniformly, or one positive float.
        optimizer: `"adagrad"` (Zhao Sec. 4.1, lr 0.01), `"adam"`, `"rmsprop"` or `"sgd"`.
        margin: triplet-loss margin alpha (Zhao Eq. 6).
        probe: gradient-conflict probe of `MultiTaskModel.compile` (`"off"`, `"grouped"` or
            `"full"`); `"off"` trains fastest.
        seed: seed of the task-routing masks.
        name: optional name of the hypermodel.
        tunable: whether the hyperparameters may be overridden by the tuner.

    Example:

    ```python
    import keras_tuner
    from keras_mtl import datasets
    from keras_mtl.tuning import RetrievalHyperModel

    data = datasets.load_generated_zappos()
    train = datasets.triplet_pipeline(data, "train", batch_size=64)
    val = datasets.triplet_pipeline(data, "val", batch_size=256, sampling="sequential")
    hypermodel = RetrievalHyperModel(
        data.num_tasks, input_shape=(64, 64, 3), width_multiplier=0.25,
        task_names=data.task_names,
    )
    tuner = keras_tuner.RandomSearch(
        hypermodel, objective=hypermodel.objective, max_trials=10, directory="outputs/tuning"
    )
    tuner.search(train, validation_data=val, epochs=5)
    tuner.get_best_hyperparameters()[0].values
    ```
    """

    def __init__(
        self,
        num_tasks: int,
        *,
        input_shape: Sequence[int] = (150, 150, 3),
        width_multiplier: float = 1.0,
        task_names: Sequence[str] | None = None,
        methods: Sequence[str] = DEFAULT_METHODS,
        modulate_from: Sequence[str | int] = ("block2", "block3", "block4", "block5"),
        modulation_modes: Sequence[str] = ("scale", "projection"),
        branch_dims: Sequence[int] = (25, 256),
        csn_masks: Sequence[str] = ("fixed", "learned"),
        sharing_ratios: Sequence[float] = (0.2, 0.4, 0.6, 0.8),
        stitch_same_inits: Sequence[float] = (0.9, 0.7, 0.5),
        embedding_dims: Sequence[int] = (64, 128, 256),
        learning_rate: float | tuple[float, float] = (1e-3, 1e-1),
        optimizer: str = "adagrad",
        margin: float = 0.2,
        probe: str = "off",
        seed: int = 0,
        name: str | None = None,
        tunable: bool = True,
    ):
        if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(
                f"Expected `num_tasks` to be a positive int. Received: num_tasks={num_tasks!r}"
            )
        methods = _values("methods", methods, lambda m: m in SEARCHABLE_METHODS,
                          f"one of {SEARCHABLE_METHODS}")
        modulate_from = tuple(
            f"block{v}" if isinstance(v, int) and not isinstance(v, bool) else v
            for v in _values("modulate_from", modulate_from, lambda v: True, "")
        )
        _values("modulate_from", modulate_from, lambda v: v in MODULATE_FROM,
                f"one of {MODULATE_FROM}")
        modulation_modes = _values("modulation_modes", modulation_modes,
                                   lambda v: v in ("scale", "projection"),
                                   "'scale' or 'projection'")
        branch_dims = _values("branch_dims", branch_dims, _is_positive_int, "positive ints")
        csn_masks = _values("csn_masks", csn_masks, lambda v: v in ("fixed", "learned"),
                            "'fixed' or 'learned'")
        sharing_ratios = _values("sharing_ratios", sharing_ratios,
                                 lambda v: _is_number(v) and 0.0 <= v <= 1.0, "in [0, 1]")
        stitch_same_inits = _values("stitch_same_inits", stitch_same_inits,
                                    lambda v: _is_number(v) and 0.0 < v <= 1.0, "in (0, 1]")
        embedding_dims = _values("embedding_dims", embedding_dims, _is_positive_int,
                                 "positive ints")
        if "csn" in methods and min(embedding_dims) < num_tasks:
            raise ValueError(
                "Expected every `embedding_dims` value >= num_tasks when 'csn' is searched "
                "(one mask block per task). Received: "
                f"embedding_dims={embedding_dims}, num_tasks={num_tasks}"
            )
        if "cross_stitch" in methods and num_tasks < 2:
            raise ValueError(
                "Expected `num_tasks` >= 2 when 'cross_stitch' is searched (one column per "
                f"task). Received: num_tasks={num_tasks}"
            )
        learning_rate = _check_learning_rate(learning_rate)
        if optimizer not in OPTIMIZERS:
            raise ValueError(
                f"Expected `optimizer` to be one of {tuple(OPTIMIZERS)}. "
                f"Received: optimizer={optimizer!r}"
            )
        if not _is_number(margin) or margin <= 0:
            raise ValueError(f"Expected `margin` to be a positive number. Received: {margin!r}")
        if probe not in ("off", "grouped", "full"):
            raise ValueError(
                f"Expected `probe` to be 'off', 'grouped' or 'full'. Received: probe={probe!r}"
            )
        if len(tuple(input_shape)) != 3:
            raise ValueError(
                "Expected `input_shape` to be (height, width, channels). "
                f"Received: input_shape={input_shape!r}"
            )
        super().__init__(name=name, tunable=tunable)
        self.num_tasks = num_tasks
        self.input_shape = tuple(int(d) for d in input_shape)
        self.width_multiplier = width_multiplier
        self.task_names = None if task_names is None else list(task_names)
        self.methods = methods
        self.modulate_from = modulate_from
        self.modulation_modes = modulation_modes
        self.branch_dims = branch_dims
        self.csn_masks = csn_masks
        self.sharing_ratios = sharing_ratios
        self.stitch_same_inits = stitch_same_inits
        self.embedding_dims = embedding_dims
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.margin = float(margin)
        self.probe = probe
        self.seed = seed

    @property
    def objective(self):
        """`keras_tuner.Objective("val_triplet_accuracy", "max")`."""
        return keras_tuner.Objective(OBJECTIVE_NAME, "max")

    def build(self, hp):
        """Builds and compiles the network for one trial.

        Args:
            hp: a `keras_tuner.HyperParameters`.

        Returns:
            A compiled `keras_mtl.MultiTaskModel` (inputs `{"image", "task_id"}`, output
            `"embedding"`).
        """
        method = _choice(hp, "method", self.methods)
        kwargs = {}
        conditional = (
            ("modulation", "modulate_from", self.modulate_from, "modulate_from"),
            ("modulation", "modulation_mode", self.modulation_modes, "modulation_mode"),
            ("ib", "branch_dim", self.branch_dims, "branch_dim"),
            ("csn", "csn_masks", self.csn_masks, "csn_masks"),
            ("routing", "sharing_ratio", self.sharing_ratios, "sharing_ratio"),
            ("cross_stitch", "stitch_same_init", self.stitch_same_inits, "same_init"),
        )
        for parent, hp_name, values, argument in conditional:
            if parent not in self.methods:
                continue
            with hp.conditional_scope("method", [parent]):
                value = _choice(hp, hp_name, values)
            if method == parent:
                kwargs[argument] = value
        embedding_dim = _choice(hp, "embedding_dim", self.embedding_dims)
        if isinstance(self.learning_rate, tuple):
            low, high = self.learning_rate
            learning_rate = hp.Float("learning_rate", low, high, sampling="log")
        else:
            learning_rate = hp.Fixed("learning_rate", self.learning_rate)
        try:
            model = zhao_retrieval_net(
                self.num_tasks,
                method=method,
                input_shape=self.input_shape,
                embedding_dim=embedding_dim,
                routing_seed=self.seed,
                width_multiplier=self.width_multiplier,
                task_names=self.task_names,
                **kwargs,
            )
        except ValueError as e:  # a bad fixed size: stop the search instead of retrying
            raise keras_tuner.errors.FatalValueError(str(e)) from e
        model.compile(
            optimizer=OPTIMIZERS[self.optimizer](learning_rate=learning_rate),
            loss=TripletLoss(self.margin),
            probe=self.probe,
        )
        return model


def _choice(hp, name, values):
    if len(values) == 1:
        return hp.Fixed(name, values[0])
    return hp.Choice(name, list(values))


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _values(name, values, valid, expected):
    """Validates a non-empty sequence of distinct candidate values; returns it as a tuple."""
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise ValueError(
            f"Expected `{name}` to be a non-empty list or tuple of candidate values. "
            f"Received: {name}={values!r}"
        )
    values = tuple(values)
    bad = [v for v in values if not valid(v)]
    if bad or len(set(values)) != len(values):
        raise ValueError(
            f"Expected `{name}` to hold distinct values{', each ' + expected if expected else ''}"
            f". Received: {name}={values!r}"
        )
    return values


def _check_learning_rate(learning_rate):
    if _is_number(learning_rate) and learning_rate > 0:
        return float(learning_rate)
    if (
        isinstance(learning_rate, Sequence)
        and len(learning_rate) == 2
        and all(_is_number(v) for v in learning_rate)
        and 0 < learning_rate[0] < learning_rate[1]
    ):
        return (float(learning_rate[0]), float(learning_rate[1]))
    raise ValueError(
        "Expected `learning_rate` to be a positive float or a (min, max) pair with "
        f"0 < min < max. Received: learning_rate={learning_rate!r}"
    )
