import os

import numpy as np

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


def test_factor_dependencies_make_related_and_unrelated_pairs():
    cls, gender, heel, closure = generated._factors(20000, np.random.default_rng(0))
    assert np.all(heel[cls == 3] == 0)  # slippers are flat
    assert _cramers_v(gender, heel) > 0.3 and _cramers_v(cls, heel) > 0.2
    for other in (cls, gender, heel):
        assert _cramers_v(closure, other) < 0.05


def test_factors_are_visible():
    rng = np.random.default_rng(0)
    # Boots have a shaft: more non-background pixels in the top half than shoes.
    boot = generated.render_shoe(1, 0, 0, 1, 32, rng)
    shoe = generated.render_shoe(0, 0, 0, 1, 32, rng)
    assert (boot[:16].mean(-1) < 0.6).sum() > (shoe[:16].mean(-1) < 0.6).sum() + 20
    # A higher heel raises the back of the sole: dark pixels reach higher rows.
    flat = generated.render_shoe(0, 1, 0, 1, 32, np.random.default_rng(1))
    high = generated.render_shoe(0, 1, 3, 1, 32, np.random.default_rng(1))
    assert np.argmax((high < 0.3).all(-1).any(1)) < np.argmax((flat < 0.3).all(-1).any(1))


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
