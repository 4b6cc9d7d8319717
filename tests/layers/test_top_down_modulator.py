"""TopDownModulator against an independent re-wiring of BU1 -> TD -> BU2 (Sec. 3.3)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_mtl.layers import TopDownModulator


def conv(x, layer, relu):
    kernel, bias = (w.numpy() for w in layer.weights)
    y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME") + bias
    return tf.nn.relu(y) if relu else y


def reference(block, images, ids, gate):
    """Written from the paper's description, using tf.nn ops and the block's weights."""
    n = len(block.filters)
    pool = lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID")  # noqa: E731
    bu1, x = [], images
    for i in range(n):
        x = pool(conv(x, block.bu_convs[i], relu=True))
        bu1.append(x)
    top = bu1[-1].shape[1:]
    td = tf.reshape(tf.gather(block.embedding.embeddings, ids), (-1,) + tuple(top))
    z = [None] * n
    for i in reversed(range(n)):
        if i < n - 1:
            td = tf.image.resize(td, bu1[i].shape[1:3], method="bilinear")
            td = conv(td, block.td_convs[i], relu=True)
        td = td + conv(bu1[i], block.bu_to_td[i], relu=False)  # additive TD laterals
        z[i] = conv(td, block.td_to_bu[i], relu=False)
    x = images
    for i in range(n):
        x = pool(conv(x, block.bu_convs[i], relu=True))  # BU2 shares BU1's weights
        x = gate(x, z[i])
    return x.numpy(), td.numpy()


GATES = {
    "gated": lambda x, z: x + x * tf.sigmoid(z),
    "multiply": lambda x, z: x * z,
    "add": lambda x, z: x + z,
}


@pytest.mark.parametrize("connectivity", sorted(GATES))
def test_matches_independent_wiring(connectivity, rng):
    block = TopDownModulator(
        3, filters=(4, 6, 8), connectivity=connectivity, return_td_map=True
    )
    images = rng.normal(size=(4, 20, 20, 2)).astype("float32")
    ids = np.array([0, 2, 1, 2], "int32")
    out, td_map = block([images, ids])
    exp_out, exp_td = reference(block, images, ids, GATES[connectivity])
    assert out.shape == (4, 2, 2, 8) and td_map.shape == (4, 10, 10, 4)
    np.testing.assert_allclose(out, exp_out, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(td_map, exp_td, rtol=1e-4, atol=1e-5)


def test_output_depends_on_task_and_equal_embeddings_give_equal_outputs(rng):
    block = TopDownModulator(2, filters=(4, 8))
    images = np.repeat(rng.normal(size=(1, 12, 12, 1)).astype("float32"), 2, axis=0)
    out = np.asarray(block([images, np.array([0, 1])]))
    assert np.abs(out[0] - out[1]).max() > 1e-4
    table = block.embedding.embeddings.numpy()
    block.embedding.embeddings.assign(np.stack([table[0], table[0]]))
    out = np.asarray(block([images, np.array([0, 1])]))
    np.testing.assert_array_equal(out[0], out[1])


def test_shared_weights_parameter_count():
    # BU convs counted once (BU1 = BU2), laterals both ways, TD convs, task embedding.
    block = TopDownModulator(5, filters=(10, 20), kernel_size=5)
    block.build([(None, 28, 28, 1), (None,)])
    bu = (5 * 5 * 1 * 10 + 10) + (5 * 5 * 10 * 20 + 20)
    laterals = 2 * ((10 * 10 + 10) + (20 * 20 + 20))
    td = 5 * 5 * 20 * 10 + 10
    embedding = 5 * (7 * 7 * 20)
    assert block.count_params() == bu + laterals + td + embedding
    assert block.task_specific_weights == [block.embedding.embeddings]


def test_no_pooling_keeps_resolution():
    block = TopDownModulator(2, filters=(3,), pool_size=1)
    assert block([np.zeros((1, 5, 7, 2), "float32"), np.array([1])]).shape == (1, 5, 7, 3)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"filters": ()}, r"filters"),
        ({"filters": (4, 0)}, r"filters"),
        ({"kernel_size": 0}, r"kernel_size"),
        ({"connectivity": "concat"}, r"connectivity.*Received: connectivity='concat'"),
        ({"td_connectivity": "x"}, r"td_connectivity.*Received: td_connectivity='x'"),
    ],
)
def test_invalid_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        TopDownModulator(2, **kwargs)


def test_rank2_features_rejected():
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
        TopDownModulator(2)([np.zeros((2, 8), "float32"), np.array([0, 1])])


def test_too_small_input_rejected():
    with pytest.raises(ValueError, match=r"large enough for 3 stages"):
        TopDownModulator(2, filters=(2, 2, 2))([np.zeros((1, 4, 4, 1), "float32"), np.array([0])])
