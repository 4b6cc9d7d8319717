import io
import os

import numpy as np
import pytest

from keras_mtl.datasets import generated
from keras_mtl.datasets.generated import load_generated_zappos
from keras_mtl.datasets.zappos import DEFAULT_VOCABULARIES, TASK_NAMES, load_zappos

SMALL = {"num_images": 80, "image_size": 16,
         "num_triplets": {"train": 40, "val": 8, "test": 16}}


def test_same_schema_as_real_loader_and_cached(tmp_path):
    data = load_generated_zappos(cache_dir=str(tmp_path), **SMALL)
    assert data.task_names == TASK_NAMES == ("class", "closure", "gender", "heel")
    assert data.label_names == tuple(DEFAULT_VOCABULARIES[t] for t in TASK_NAMES)
    assert data.num_images == 80 and set(data.triplets) == {"train", "val", "test"}
    assert data.images.dtype == object and all(p.endswith(".jpg") for p in data.images)
    (folder,) = os.listdir(tmp_path)
    root = os.path.join(tmp_path, folder)
    assert os.path.isfile(os.path.join(root, "ut-zap50k-data", "meta-data.csv"))
    real = load_zappos(root, triplets="sample", num_triplets=SMALL["num_triplets"])
    np.testing.assert_array_equal(real.labels, data.labels)
    mtime = os.path.getmtime(data.images[0])
    again = load_generated_zappos(cache_dir=str(tmp_path), **SMALL)
    assert os.path.getmtime(again.images[0]) == mtime  # reused, not regenerated
    np.testing.assert_array_equal(again.triplets["train"], data.triplets["train"])


def test_deterministic_across_cache_dirs(tmp_path):
    a = load_generated_zappos(cache_dir=str(tmp_path / "a"), **SMALL)
    b = load_generated_zappos(cache_dir=str(tmp_path / "b"), **SMALL)
    np.testing.assert_array_equal(a.labels, b.labels)
    for pa, pb in zip(a.images[:5], b.images[:5], strict=True):
        with open(pa, "rb") as fa, open(pb, "rb") as fb:
            assert fa.read() == fb.read()


def _cramers_v(x, y):
    table = np.zeros((x.max() + 1, y.max() + 1))
    np.add.at(table, (x, y), 1)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    chi2 = ((table - expected) ** 2 / expected).sum()
    return np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1)))


def test_relations_are_exposed_and_match_the_drawn_dependencies():
    relations = generated.shoe_relations()
    assert relations.task_names == TASK_NAMES
    assert relations.pairs("related") == [("class", "closure"), ("gender", "heel")]
    assert relations.pairs("independent") == [("class", "gender"), ("class", "heel"),
                                              ("closure", "gender"), ("closure", "heel")]
    factors = generated.sample_shoe_factors(40_000, np.random.default_rng(0))
    index = {name: k for k, name in enumerate(TASK_NAMES)}
    for a, b in relations.pairs("related"):
        # for uniform marginals Cramer's V of the mixture equals the coupling (0.8)
        assert abs(_cramers_v(factors[:, index[a]], factors[:, index[b]]) - 0.8) < 0.02, (a, b)
    for a, b in relations.pairs("independent"):
        assert _cramers_v(factors[:, index[a]], factors[:, index[b]]) < 0.03, (a, b)
    for k in range(4):  # every value of every task is common
        assert np.bincount(factors[:, k], minlength=4).min() > 0.2 * len(factors)
    # the typical values: shoes lace up, boots zip; men flat, women 5in
    cls, closure, gender, heel = factors.T
    assert np.mean(closure[cls == 1] == generated.CLOSURES.index("Zipper")) > 0.8
    assert np.mean(heel[gender == 1] == generated.HEELS.index("5in & over")) > 0.8
    independent = generated.sample_shoe_factors(40_000, np.random.default_rng(0), coupling=0.0)
    assert _cramers_v(independent[:, 0], independent[:, 1]) < 0.03
    assert generated.shoe_relations(0.0).pairs("related") == []
    with pytest.raises(ValueError, match="coupling"):
        generated.sample_shoe_factors(4, np.random.default_rng(0), coupling=1.5)


def test_loaded_dataset_carries_relations_and_labels_follow_them(tmp_path):
    data = load_generated_zappos(cache_dir=str(tmp_path), num_images=400, image_size=16,
                                 num_triplets={"train": 40, "val": 8, "test": 16})
    assert data.relations.pairs("related") == [("class", "closure"), ("gender", "heel")]
    (folder,) = os.listdir(tmp_path)
    assert folder.startswith(f"zappos_generated_v{generated.GENERATOR_VERSION}_")
    assert generated.GENERATOR_VERSION >= 2  # bumped for the redesign (issue 10)
    labels = data.labels
    names = data.label_names
    closure_of = [names[1].index(c) for c in generated.CLOSURES]
    typical = np.array(closure_of)[np.array(generated.TYPICAL_CLOSURE)[labels[:, 0]]]
    assert 0.75 < np.mean(labels[:, 1] == typical) < 0.95  # 0.8 + 0.2 / 4 expected
    # real data has no known relations
    real = load_zappos(os.path.join(tmp_path, folder), triplets="sample",
                       num_triplets={"train": 8, "val": 4, "test": 4})
    assert real.relations is None


def _jpeg(pixels):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((pixels * 255 + 0.5).astype(np.uint8)).save(buffer, "JPEG", quality=92)
    return np.asarray(Image.open(buffer), np.float32) / 255.0


def test_every_attribute_is_visible_at_the_default_size():
    """Each of the four tasks can be read from raw 64x64 pixels (as written: JPEG quality 92):
    a linear (ridge) one-vs-rest classifier reaches balanced accuracy >= 0.85 on held-out
    shoes for every task, closure included. The attributes are drawn independently here
    (coupling 0), so no task can be read through a related one."""
    rng = np.random.default_rng(1)
    n, n_train = 1200, 900
    factors = generated.sample_shoe_factors(n, rng, coupling=0.0)
    pixels = np.stack([_jpeg(generated.render_shoe(*f, 64, rng)) for f in factors])
    pixels = pixels.reshape(n, -1)
    pixels -= pixels[:n_train].mean(axis=0)
    train, test = pixels[:n_train], pixels[n_train:]
    gram_inverse = np.linalg.inv(train @ train.T + 10.0 * np.eye(n_train))
    for k, name in enumerate(TASK_NAMES):
        onehot = np.eye(4)[factors[:n_train, k]]
        coef = gram_inverse @ (onehot - onehot.mean(axis=0))
        predicted = np.argmax(test @ (train.T @ coef), axis=1)
        truth = factors[n_train:, k]
        balanced = np.mean([np.mean(predicted[truth == c] == c) for c in range(4)])
        assert balanced >= 0.85, f"{name}: balanced accuracy {balanced:.2f} from pixels"


def test_factors_are_drawn_where_expected():
    def render(cls=0, closure=1, gender=0, heel=0, seed=0):
        return generated.render_shoe(cls, closure, gender, heel, 64, np.random.default_rng(seed))

    base = render()
    # Boots have a shaft: many more coloured pixels in the top third than shoes.
    boot = render(cls=1)
    assert (boot[:21].mean(-1) < 0.6).sum() > (base[:21].mean(-1) < 0.6).sum() + 100
    # A higher heel raises the back of the sole: dark pixels reach higher rows at the back.
    high = render(heel=3)
    dark_rows = [np.flatnonzero((img[:, 8:14] < 0.2).all(-1).any(1)) for img in (base, high)]
    assert dark_rows[1].min() < dark_rows[0].min() - 10
    # The closure mark changes the instep only (same nuisance draws: same seed).
    for closure in (0, 2, 3):
        diff = np.abs(render(closure=closure) - base).sum(-1)
        assert diff[:, 26:48].sum() > 0.99 * diff.sum() and diff.sum() > 40, closure
    # Gender is the colour of the upper: the same shoe in red has more red than in blue.
    red, blue = render(gender=1), render(gender=2)
    assert red[..., 0].sum() - red[..., 2].sum() > blue[..., 0].sum() - blue[..., 2].sum() + 200


def test_interrupted_cache_is_regenerated(tmp_path):
    data = load_generated_zappos(cache_dir=str(tmp_path), **SMALL)
    (folder,) = os.listdir(tmp_path)
    root = os.path.join(tmp_path, folder)
    os.remove(os.path.join(root, "COMPLETE"))
    os.remove(data.images[0])  # as if generation had been interrupted
    again = load_generated_zappos(cache_dir=str(tmp_path), **SMALL)
    assert os.path.isfile(again.images[0]) and os.path.isfile(os.path.join(root, "COMPLETE"))
    assert not [d for d in os.listdir(tmp_path) if d.startswith(".tmp")]


def test_load_zappos_or_generated_picks_by_data_dir(tmp_path, monkeypatch):
    from keras_mtl.datasets import load_zappos_or_generated

    generated_data = load_zappos_or_generated(None, num_images=60, image_size=32,
                                              num_triplets={"train": 8, "val": 4, "test": 4},
                                              cache_dir=str(tmp_path / "cache"))
    assert generated_data.name == "zappos_generated"
    assert len(generated_data.triplets["train"]) == 8
    calls = []
    monkeypatch.setattr(generated, "load_zappos", lambda d, **kw: calls.append((d, kw)) or "real")
    assert load_zappos_or_generated("/data/ut-zap50k", num_images=60, seed=3) == "real"
    assert calls == [("/data/ut-zap50k", {"seed": 3})]
