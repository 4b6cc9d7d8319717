"""Zhao et al. Table 2 retrieval net: every method, Table 3 parameter counts, errors."""

import numpy as np
import pytest

from keras_mtl.layers import task_specific_variables
from keras_mtl.models import copy_weights_by_layer_name, zhao_retrieval_net

SMALL = dict(input_shape=(48, 48, 3), width_multiplier=0.125, embedding_dim=16)
FSN_PARAMS = 2_953_664  # conv1 896 + block2 92,352 + block3 369,024 + 2 x 442,752 + fc 1,605,888


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(method="fsn"),
        dict(method="modulation"),
        dict(method="modulation", modulate_from="block2", modulation_mode="projection"),
        dict(method="itn"),
        dict(method="ib", branch_dim=8),
        dict(method="csn", csn_masks="fixed"),
        dict(method="csn", csn_masks="learned"),
        dict(method="only_mask"),
        dict(method="routing", sharing_ratio=0.5),
        dict(method="cross_stitch", granularity="channel", same_init=0.8),
    ],
    ids=lambda kw: "-".join(str(v) for v in kw.values()),
)
def test_builds_trains_and_round_trips(kwargs, exercise):
    num_tasks = 2 if kwargs["method"] in ("itn", "cross_stitch") else 3  # columns cost time
    model = zhao_retrieval_net(num_tasks, **SMALL, **kwargs)
    outputs, _ = exercise(model, num_tasks=num_tasks)
    dim = kwargs.get("branch_dim", SMALL["embedding_dim"])
    assert model.output_names == ["embedding"]
    assert tuple(outputs.shape) == (4, dim)


def test_trains_in_graph_mode(exercise):
    exercise(zhao_retrieval_net(2, method="modulation", **SMALL), num_tasks=2, run_eagerly=False)


def test_output_depends_on_task_only_where_the_method_says_so():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 48, 48, 3)).astype("float32")
    for method, conditioned in (("fsn", False), ("csn", True), ("routing", True)):
        model = zhao_retrieval_net(2, method=method, **SMALL)
        a = model({"image": images, "task_id": np.array([0, 0], "int32")})
        b = model({"image": images, "task_id": np.array([1, 1], "int32")})
        assert (not np.allclose(a, b)) == conditioned, method


def test_table3_parameter_counts_for_20_tasks():
    fsn = zhao_retrieval_net(20, method="fsn").count_params()
    assert fsn == FSN_PARAMS  # "3M"
    extra = {
        ("modulation", "block4"): 20 * (128 + 128 + 256),  # 10,240, "10k"
        ("modulation", "block5"): 20 * (128 + 256),
        ("modulation", "block3"): 20 * (128 + 128 + 128 + 256),
        ("modulation", "block2"): 20 * (64 + 128 + 128 + 128 + 256),
        ("only_mask", "block4"): 10_240,  # "10k", all of it the only trainable part
    }
    for (method, start), added in extra.items():
        model = zhao_retrieval_net(20, method=method, modulate_from=start)
        assert model.count_params() - fsn == added, (method, start)
    only_mask = zhao_retrieval_net(20, method="only_mask")
    assert sum(int(np.prod(w.shape)) for w in only_mask.trainable_weights) == 10_240
    ib256 = zhao_retrieval_net(20, method="ib", branch_dim=256).count_params() - fsn
    ib25 = zhao_retrieval_net(20, method="ib", branch_dim=25).count_params() - fsn
    assert ib256 == 20 * (256 * 256 + 256) == 1_315_840  # "1.3M"
    assert ib25 == 20 * (256 * 25 + 25) == 128_500  # "128k"
    csn = zhao_retrieval_net(20, method="csn").count_params() - fsn
    assert csn == 20 * 256  # paper "3k": see docs
    routing = zhao_retrieval_net(20, method="routing")
    assert sum(int(np.prod(w.shape)) for w in routing.trainable_weights) == fsn


def test_itn_columns_are_task_specific():
    model = zhao_retrieval_net(2, method="itn", **SMALL)
    assert {"task_0_fc", "task_1_fc", "task_1_block3_res_2_conv"} <= set(model.task_specific_layers)
    assert len(model.task_specific_layers) == len(
        [x for x in model.layers if x.name.startswith("task_") and x.name != "task_id"]
    )


def test_modulation_parameters_are_task_specific():
    model = zhao_retrieval_net(20, method="modulation")
    assert sum(int(np.prod(v.shape)) for v in task_specific_variables(model)) == 10_240


@pytest.mark.slow
def test_itn_and_cross_stitch_counts_for_20_tasks():
    itn = zhao_retrieval_net(20, method="itn").count_params()
    assert itn == 20 * FSN_PARAMS  # +56.1M (paper "51M")
    stitched = zhao_retrieval_net(20, method="cross_stitch").count_params()
    assert stitched == 20 * FSN_PARAMS + 6 * 20 * 20


def test_csn_fixed_masks_are_disjoint_and_frozen():
    model = zhao_retrieval_net(4, method="csn", **SMALL)
    masks = model.get_layer("csn_masks").task_kernel
    assert not masks.trainable
    np.testing.assert_array_equal(np.asarray(masks).sum(axis=0), np.ones(16))
    np.testing.assert_array_equal(np.asarray(masks).sum(axis=1), np.full(4, 4.0))


def test_only_mask_freezes_shared_layers_and_copies_weights():
    source = zhao_retrieval_net(2, method="fsn", **SMALL)
    target = zhao_retrieval_net(2, method="only_mask", **SMALL)
    copied = copy_weights_by_layer_name(source, target)
    assert "fc" in copied and "block4_res_1_conv" in copied
    np.testing.assert_array_equal(
        source.get_layer("fc").get_weights()[0], target.get_layer("fc").get_weights()[0]
    )
    assert {w.path.split("/")[0] for w in target.trainable_weights} == {
        "modulation_block4",
        "modulation_block5",
        "modulation_fc",
    }


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(method="unknown"), "Expected `method` to be one of"),
        (dict(method="modulation", modulate_from="block6"), "Received: modulate_from='block6'"),
        (dict(method="modulation", modulate_from=1), "Received: modulate_from='block1'"),
        (dict(method="modulation", modulation_mode="x"), "Expected `modulation_mode`"),
        (dict(method="csn", csn_masks="random"), "Expected `csn_masks`"),
        (dict(method="fsn", input_shape=(32, 32, 3)), "Expected `input_shape` of at least"),
        (dict(method="fsn", width_multiplier=0), "Expected `width_multiplier`"),
    ],
)
def test_errors_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        zhao_retrieval_net(3, **kwargs)


def test_cross_stitch_needs_two_tasks():
    with pytest.raises(ValueError, match="Expected `num_tasks` >= 2 for method='cross_stitch'"):
        zhao_retrieval_net(1, method="cross_stitch", **SMALL)


def test_smallest_input_is_48():
    # 48 -> conv1 46 -> blocks: (46-2)//2=22 -> 10 -> 4 -> 1; 47 ends at 0 after block5.
    model = zhao_retrieval_net(2, input_shape=(48, 48, 3), width_multiplier=0.125,
                               embedding_dim=8)
    assert model.output.shape == (None, 8)
    with pytest.raises(ValueError, match=r"at least 48x48.*Received: input_shape=\(47, 47, 3\)"):
        zhao_retrieval_net(2, input_shape=(47, 47, 3), width_multiplier=0.125)
    from keras_mtl.models.zhao_retrieval_net import ZHAO_MIN_INPUT_SIZE

    assert ZHAO_MIN_INPUT_SIZE == 48  # what the examples' --image-size check uses
