"""RetrievalHyperModel: its search space, the models it builds, and a 2-trial search.

Sizes are tiny (48x48 images, width multiplier 0.125: conv widths 4, 8, 16, 16, 16) so that
every build is fast; nothing here checks accuracy, only wiring and the tuner contract.
"""

import ast
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import pytest

import keras_mtl
from keras_mtl import datasets
from keras_mtl.layers import CrossStitch, TaskModulation, TaskRouting
from keras_mtl.losses import TripletLoss
from keras_mtl.training import MultiTaskModel
from keras_mtl.tuning import RetrievalHyperModel, trials_summary
from keras_mtl.tuning.retrieval_hypermodel import SEARCHABLE_METHODS

SHAPE = (48, 48, 3)
NUM_TASKS = 4


def tiny(**kwargs):
    kwargs.setdefault("embedding_dims", (16, 32))
    kwargs.setdefault("input_shape", SHAPE)
    return RetrievalHyperModel(NUM_TASKS, width_multiplier=0.125, **kwargs)


def build(hypermodel, method):
    hp = keras_tuner.HyperParameters()
    hp.Fixed("method", method)
    return hp, hypermodel.build(hp)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    data = datasets.load_generated_zappos(
        num_images=120, image_size=48, num_triplets={"train": 64, "val": 64, "test": 8},
        cache_dir=str(tmp_path_factory.mktemp("tuning_data")),
    )
    train = datasets.triplet_pipeline(data, "train", batch_size=32, image_size=(48, 48))
    val = datasets.triplet_pipeline(
        data, "val", batch_size=64, image_size=(48, 48), sampling="sequential"
    )
    return data, train, val


def test_conditional_hyperparameters_follow_the_method():
    hypermodel = tiny(methods=("modulation", "routing", "cross_stitch"))
    hp, model = build(hypermodel, "routing")
    space = {p.name: p for p in hp.space}
    # ib and csn are not searched, so their settings are not registered at all
    assert list(space) == [
        "method", "modulate_from", "modulation_mode", "sharing_ratio", "stitch_same_init",
        "embedding_dim", "learning_rate",
    ]
    parents = {
        name: [(c.name, list(c.values)) for c in p.conditions] for name, p in space.items()
    }
    assert parents["modulate_from"] == [("method", ["modulation"])]
    assert parents["modulation_mode"] == [("method", ["modulation"])]
    assert parents["sharing_ratio"] == [("method", ["routing"])]
    assert parents["stitch_same_init"] == [("method", ["cross_stitch"])]
    assert parents["embedding_dim"] == parents["learning_rate"] == parents["method"] == []
    assert set(hp.values) == {"method", "sharing_ratio", "embedding_dim", "learning_rate"}
    assert not hp.is_active("modulate_from") and not hp.is_active("stitch_same_init")
    # the sampled (default = first) sharing ratio reached every routing layer
    routing = [layer for layer in model.layers if isinstance(layer, TaskRouting)]
    assert len(routing) == 13  # after conv1 and after the 3 convs of each of the 4 blocks
    assert {layer.sharing_ratio for layer in routing} == {hp.get("sharing_ratio")} == {0.2}


def test_every_method_builds_a_compiled_triplet_model():
    hypermodel = tiny(methods=SEARCHABLE_METHODS, branch_dims=(25,), learning_rate=0.02)
    for method in SEARCHABLE_METHODS:
        hp, model = build(hypermodel, method)
        assert isinstance(model, MultiTaskModel), method
        assert model.compiled and model.name == f"zhao_{method}"
        assert model.task_names == ["task_0", "task_1", "task_2", "task_3"]
        assert isinstance(model.optimizer, keras.optimizers.Adagrad)
        assert float(model.optimizer.learning_rate) == pytest.approx(0.02)
        assert isinstance(model.plan.heads[0].loss, TripletLoss)
        assert model.effective_probe == "off"
        expected_dim = 25 if method == "ib" else hp.get("embedding_dim")
        assert tuple(model.outputs[0].shape) == (None, expected_dim), method


def test_method_settings_reach_the_network():
    # modulation from block4, scale: T x (block4 + block5 + fc) = 4 x (16 + 16 + 16) extra
    # parameters over the fully shared net (Zhao Table 3 counts 20 x (128 + 128 + 256))
    hypermodel = tiny(methods=("modulation", "fsn"), modulate_from=(4,),
                      modulation_modes=("scale",), embedding_dims=(16,))
    _, modulated = build(hypermodel, "modulation")
    _, shared = build(hypermodel, "fsn")
    assert modulated.count_params() - shared.count_params() == 4 * (16 + 16 + 16)
    # projection from block3: one C x C matrix per task at block3, block4, block5 and fc
    hypermodel = tiny(methods=("modulation",), modulate_from=("block3",),
                      modulation_modes=("projection",), embedding_dims=(16,))
    _, model = build(hypermodel, "modulation")
    modulation = {layer.name: layer for layer in model.layers
                  if isinstance(layer, TaskModulation)}
    assert sorted(modulation) == [
        "modulation_block3", "modulation_block4", "modulation_block5", "modulation_fc",
    ]
    assert {layer.mode for layer in modulation.values()} == {"projection"}
    # cross-stitch units start at same_init on the diagonal, (1 - same) / (T - 1) elsewhere
    hypermodel = tiny(methods=("cross_stitch",), stitch_same_inits=(0.7,))
    _, model = build(hypermodel, "cross_stitch")
    stitches = [layer for layer in model.layers if isinstance(layer, CrossStitch)]
    assert len(stitches) == 6  # after conv1, block2..block5 and fc
    expected = np.full((4, 4), 0.1, "float32") + np.eye(4, dtype="float32") * 0.6
    for layer in stitches:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.alpha), expected, atol=1e-6)
        assert layer.get_config()["same_init"] == 0.7
    # CSN with learned masks trains them; fixed masks do not
    for masks, trainable in (("fixed", False), ("learned", True)):
        _, model = build(tiny(methods=("csn",), csn_masks=(masks,)), "csn")
        assert model.get_layer("csn_masks").trainable is trainable


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"methods": ("only_mask",)}, "methods"),
        ({"methods": ()}, "non-empty"),
        ({"methods": "fsn"}, "non-empty"),
        ({"modulate_from": ("block9",)}, "modulate_from"),
        ({"modulation_modes": ("scale", "scale")}, "distinct"),
        ({"sharing_ratios": (0.5, 1.5)}, "sharing_ratios"),
        ({"stitch_same_inits": (0.0,)}, "stitch_same_inits"),
        ({"embedding_dims": (2, 16)}, "csn"),
        ({"learning_rate": (0.1, 0.01)}, "learning_rate"),
        ({"optimizer": "adamw"}, "optimizer"),
        ({"probe": "on"}, "probe"),
        ({"input_shape": (48, 48)}, "input_shape"),
    ],
)
def test_invalid_arguments_raise_keras_style_errors(kwargs, message):
    with pytest.raises(ValueError, match="Expected") as info:
        tiny(**kwargs)
    assert message in str(info.value) and "Received" in str(info.value)


def test_invalid_sizes_stop_the_search_at_once():
    hypermodel = RetrievalHyperModel(NUM_TASKS, input_shape=(40, 40, 3), methods=("fsn",))
    with pytest.raises(keras_tuner.errors.FatalValueError, match="input_shape"):
        hypermodel.build(keras_tuner.HyperParameters())


def test_two_trial_random_search_reports_val_triplet_accuracy(tiny_data, tmp_path):
    data, train, val = tiny_data
    hypermodel = RetrievalHyperModel(
        data.num_tasks, input_shape=SHAPE, width_multiplier=0.125, task_names=data.task_names,
        methods=("fsn", "modulation"), embedding_dims=(16,),
    )
    assert (hypermodel.objective.name, hypermodel.objective.direction) == (
        "val_triplet_accuracy", "max")
    tuner = keras_tuner.RandomSearch(
        hypermodel, objective=hypermodel.objective, max_trials=2, seed=3,
        directory=str(tmp_path), project_name="search",
    )
    tuner.search(train, validation_data=val, epochs=1, shuffle=False, verbose=0)
    rows = trials_summary(tuner)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"COMPLETED"}
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    for row in rows:
        assert 0.0 <= row["score"] <= 1.0
        trial = tuner.oracle.trials[row["trial_id"]]
        assert trial.metrics.get_best_value("val_triplet_accuracy") == row["score"]
        assert row["method"] in ("fsn", "modulation")
        # conditional settings are None exactly when the method does not use them
        assert (row["modulate_from"] is None) == (row["method"] == "fsn")
    # the reported objective is the validation triplet accuracy of the saved best model
    best = tuner.get_best_models(1)[0]
    result = best.evaluate(val, verbose=0, return_dict=True)
    assert result["triplet_accuracy"] == pytest.approx(rows[0]["score"], abs=1e-6)


def test_only_keras_mtl_tuning_imports_keras_tuner_at_module_level():
    # `import keras_mtl` (and its other subpackages) must not import keras_tuner: no module
    # outside keras_mtl/tuning imports it, or keras_mtl.tuning, at module level (a lazy
    # import inside a function, e.g. a module `__getattr__`, is fine).
    package = Path(keras_mtl.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.parent.name == "tuning":
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            if any(n.split(".")[0] == "keras_tuner" or n.startswith("keras_mtl.tuning")
                   for n in names):
                offenders.append(str(path.relative_to(package)))
    assert len(list(package.rglob("*.py"))) > 20  # the walk saw the package
    assert offenders == []
