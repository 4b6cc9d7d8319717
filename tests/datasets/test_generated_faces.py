"""The generated CelebA-like faces: real raw layout, designed labels, seeded, cached."""

import os

import numpy as np
import pytest

from keras_mtl.datasets import ALL_ATTRIBUTES, ZHAO_ATTRIBUTES, load_generated_celeba
from keras_mtl.datasets.celeba import read_celeba_annotations
from keras_mtl.datasets.generated_faces import (
    attribute_correlation,
    render_face,
    sample_face_attributes,
    write_generated_celeba,
)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    data = load_generated_celeba(num_images=500, image_size=32, seed=0, cache_dir=str(cache),
                                 num_triplets={"train": 20, "val": 5, "test": 10})
    return data, cache


def test_written_in_the_raw_celeba_layout(faces):
    data, cache = faces
    (root,) = [p for p in cache.iterdir() if p.name.startswith("celeba_generated")]
    files = sorted(os.listdir(root / "img_align_celeba"))
    assert files[0] == "000001.jpg" and files[-1] == "000500.jpg" and len(files) == 500
    lines = (root / "list_attr_celeba.txt").read_text().splitlines()
    assert lines[0] == "500" and tuple(lines[1].split()) == ALL_ATTRIBUTES
    assert lines[2].split()[0] == "000001.jpg" and len(lines[2].split()) == 41
    partition = [line.split() for line in (root / "list_eval_partition.txt").read_text()
                 .splitlines()]
    assert [int(p) for _, p in partition].count(0) == 400  # 80 / 10 / 10
    assert {len(v) for v in data.splits.values()} == {400, 50}
    # read back through the real loader
    assert data.name == "celeb_a_generated" and data.task_names == ZHAO_ATTRIBUTES
    assert data.labels.shape == (500, 20) and set(np.unique(data.labels)) == {0, 1}
    assert data.triplet_counts()["test"]["Smiling"] == 10


def test_labels_follow_the_design(faces):
    data, cache = faces
    (root,) = [p for p in cache.iterdir() if p.name.startswith("celeba_generated")]
    _, names, values, _, _ = read_celeba_annotations(str(root))
    column = {n: values[:, i].astype(bool) for i, n in enumerate(names)}
    assert np.array_equal(column["No_Beard"], ~(column["Goatee"] | column["Mustache"]))
    assert not np.any(column["Goatee"] & ~column["Male"])  # beards only on men
    assert not np.any(column["Bald"] & (column["Straight_Hair"] | column["Wavy_Hair"]))
    assert not np.any(column["Straight_Hair"] & column["Wavy_Hair"])
    assert not np.any(column["Big_Nose"])  # attributes not drawn are absent
    # every attribute takes both values
    assert np.all(data.labels.min(0) == 0) and np.all(data.labels.max(0) == 1)


def test_correlated_and_independent_attribute_pairs():
    attrs = sample_face_attributes(20_000, np.random.default_rng(0))
    names = list(ZHAO_ATTRIBUTES)
    corr = attribute_correlation(np.stack([attrs[n] for n in names], axis=1))

    def c(a, b):
        return corr[names.index(a), names.index(b)]

    for a, b in [("Smiling", "High_Cheekbones"), ("Smiling", "Mouth_Slightly_Open"),
                 ("Chubby", "Double_Chin"), ("Goatee", "Mustache")]:
        assert c(a, b) > 0.3, (a, b)
    assert c("Goatee", "No_Beard") < -0.6
    assert c("Young", "Bags_Under_Eyes") < -0.3
    for a, b in [("Smiling", "Goatee"), ("Smiling", "Young"), ("Oval_Face", "Smiling"),
                 ("Mouth_Slightly_Open", "Bald"), ("Bangs", "Chubby")]:
        assert abs(c(a, b)) < 0.03, (a, b)


def test_attributes_are_drawn_where_expected():
    base = {k: bool(v[0]) for k, v in sample_face_attributes(1, np.random.default_rng(1)).items()}
    base.update(Goatee=False, Mustache=False, Wearing_Hat=False, Eyeglasses=False)
    with_goatee = dict(base, Goatee=True)
    a = render_face(base, 64, np.random.default_rng(5)).astype(int)
    b = render_face(with_goatee, 64, np.random.default_rng(5)).astype(int)
    diff = np.abs(a - b).sum(-1)
    assert diff[40:].sum() > 20 * diff[:28].sum()  # the chin changes, the forehead does not


def test_deterministic_by_seed_and_cached(tmp_path, faces):
    one = write_generated_celeba(str(tmp_path / "a"), num_images=6, image_size=32, seed=3)
    two = write_generated_celeba(str(tmp_path / "b"), num_images=6, image_size=32, seed=3)
    for name in ("list_attr_celeba.txt", "img_align_celeba/000006.jpg"):
        with open(os.path.join(one, name), "rb") as f, open(os.path.join(two, name), "rb") as g:
            assert f.read() == g.read()
    other = write_generated_celeba(str(tmp_path / "c"), num_images=6, image_size=32, seed=4)
    with open(os.path.join(one, "list_attr_celeba.txt")) as f:
        with open(os.path.join(other, "list_attr_celeba.txt")) as g:
            assert f.read() != g.read()
    data, cache = faces
    stamp = os.path.getmtime(data.images[0])
    again = load_generated_celeba(num_images=500, image_size=32, seed=0, cache_dir=str(cache),
                                  num_triplets={"train": 20, "val": 5, "test": 10})
    assert os.path.getmtime(again.images[0]) == stamp  # read from the cache, not redrawn
    np.testing.assert_array_equal(again.labels, data.labels)
    np.testing.assert_array_equal(again.triplets["train"], data.triplets["train"])


def test_too_few_images_raise(tmp_path):
    with pytest.raises(ValueError, match="Expected `num_images` >= 500. Received"):
        load_generated_celeba(num_images=50, cache_dir=str(tmp_path))


def test_every_attribute_is_visible_at_48_pixels():
    """Each of the 20 tasks can be read from the pixels: a kernel ridge classifier on raw 48x48
    images beats the majority class on held-out faces (the marks survive the resize and are
    not drowned by skin, hair colour, hats, glasses, position or rotation)."""
    rng = np.random.default_rng(1)
    n, n_train = 800, 600
    attrs = sample_face_attributes(n, rng)
    pixels = np.stack([render_face({k: bool(v[i]) for k, v in attrs.items()}, 48, rng)
                       for i in range(n)]).reshape(n, -1) / 255.0
    pixels -= pixels[:n_train].mean(axis=0)
    train, test = pixels[:n_train], pixels[n_train:]
    gram_inverse = np.linalg.inv(train @ train.T + 30.0 * np.eye(n_train))
    for name in ZHAO_ATTRIBUTES:
        y = np.where(attrs[name], 1.0, -1.0)
        coef = gram_inverse @ (y[:n_train] - y[:n_train].mean())
        predicted = test @ (train.T @ coef) + y[:n_train].mean() > 0
        truth = y[n_train:] > 0
        balanced = np.mean([np.mean(predicted[truth == c] == c) for c in (True, False)])
        assert balanced > 0.65, f"{name}: balanced accuracy {balanced:.2f} from pixels"


def test_relations_match_the_sampled_dependence(faces):
    # Ground truth says related = dependent by construction, independent = exactly
    # independent. Check both against the labels: with n draws, the sample correlation of
    # independent attributes has standard error ~1/sqrt(n); related ones must stand out.
    from keras_mtl.datasets.generated_faces import face_relations

    n = 200_000
    attrs = sample_face_attributes(n, np.random.default_rng(3))
    names = list(ZHAO_ATTRIBUTES)
    corr = attribute_correlation(np.stack([attrs[a] for a in names], axis=1))
    relations = face_relations()
    bound = 4.5 / np.sqrt(n)
    for a, b in relations.pairs("related"):
        assert abs(corr[names.index(a), names.index(b)]) > bound, (a, b)
    for a, b in relations.pairs("independent"):
        assert abs(corr[names.index(a), names.index(b)]) < bound, (a, b)
    assert len(relations.pairs("related")) + len(relations.pairs("independent")) == 190
    assert relations.kind("Goatee", "No_Beard") == "related"
    assert relations.kind("Smiling", "Young") == "independent"
    data, _ = faces
    assert data.relations.task_names == data.task_names  # exposed on the loaded dataset
    subset = face_relations(("Smiling", "Goatee"))
    assert subset.pairs("independent") == [("Smiling", "Goatee")]
    with pytest.raises(ValueError, match="among"):
        face_relations(("Big_Nose",))
