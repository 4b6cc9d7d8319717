"""UT-Zappos50K as a tensorflow-datasets builder reading `manual_dir` (never downloads).

Importing this module imports `tensorflow_datasets` and registers the builder
`ut_zappos50k_retrieval`; `keras_mtl.datasets` imports it only on first access of
`keras_mtl.datasets.zappos_tfds`.

The builder prepares one example per image, split into `train` / `val` / `test` the way
`keras_mtl.datasets.load_zappos` splits them (CSN files when present in `manual_dir`, else a
seeded 70/10/20 image split). Features: `image` (JPEG), `image_id` (int64, row in
`load_zappos`'s result), `filename` (text) and `labels` (`class`, `closure`, `gender`, `heel`:
int32 value index, `-1` = unknown; value names in `zappos.DEFAULT_VOCABULARIES`).

Example:

```python
from keras_mtl.datasets import zappos_tfds
data = zappos_tfds.load_zappos_tfds(data_dir="~/tensorflow_datasets", manual_dir="/data/ut-zap50k")
```
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from keras_mtl.datasets.retrieval_dataset import RetrievalDataset
from keras_mtl.datasets.triplets import sample_triplets
from keras_mtl.datasets.zappos import (
    DEFAULT_NUM_TRIPLETS,
    DEFAULT_VOCABULARIES,
    TASK_NAMES,
    load_zappos,
)


class UtZappos50kRetrieval(tfds.core.GeneratorBasedBuilder):
    """UT-Zappos50K images with the four retrieval attributes, prepared from `manual_dir`."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """
    Download UT-Zappos50K (ut-zap50k-images.zip and ut-zap50k-data.zip) from
    https://vision.cs.utexas.edu/projects/finegrained/utzap50k/ and unzip both into
    `manual_dir`, giving `manual_dir/ut-zap50k-images/` and
    `manual_dir/ut-zap50k-data/meta-data.csv`. Optionally add Conditional Similarity
    Networks' `filenames.json` and `tripletlists/` to `manual_dir`.
    """

    def _info(self):
        import tensorflow as tf

        return self.dataset_info_from_configs(
            description="UT-Zappos50K shoe images with class/closure/gender/heel labels.",
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
                "image_id": tf.int64,
                "filename": tfds.features.Text(),
                "labels": tfds.features.FeaturesDict({t: tf.int32 for t in TASK_NAMES}),
            }),
            homepage="https://vision.cs.utexas.edu/projects/finegrained/utzap50k/",
        )

    def _split_generators(self, dl_manager):
        data = load_zappos(
            str(dl_manager.manual_dir), num_triplets={"train": 0, "val": 0, "test": 0},
            check_images="exists",
        )
        return {split: self._generate_examples(data, idx) for split, idx in data.splits.items()}

    def _generate_examples(self, data, indices):
        for i in indices:
            yield int(i), {
                "image": data.images[i],
                "image_id": int(i),
                "filename": str(data.images[i]),
                "labels": {t: int(data.labels[i, k]) for k, t in enumerate(TASK_NAMES)},
            }


def load_zappos_tfds(
    data_dir: str | None = None,
    *,
    manual_dir: str | None = None,
    image_size: tuple[int, int] = (64, 64),
    num_triplets: dict[str, int] | None = None,
    seed: int = 0,
) -> RetrievalDataset:
    """Loads the prepared `ut_zappos50k_retrieval` TFDS dataset as a `RetrievalDataset`.

    Prepares it first from `manual_dir` when it is not prepared under `data_dir`. Images are
    decoded and resized to `image_size` into memory (uint8); triplets are sampled within each
    split with `keras_mtl.datasets.sample_triplets` (CSN triplet files are not carried by the
    TFDS dataset; only its image split is).

    Args:
        data_dir: TFDS data_dir (TFDS's default when `None`).
        manual_dir: UT-Zappos50K root in its own layout, used to prepare the dataset.
        image_size: `(height, width)` to resize to.
        num_triplets: split -> total triplets over the 4 tasks; defaults 200k / 80k / 160k.
        seed: int seed of triplet sampling.

    Returns:
        A `keras_mtl.datasets.RetrievalDataset` with uint8 image arrays.
    """
    import tensorflow as tf

    builder = UtZappos50kRetrieval(data_dir=data_dir)
    if manual_dir is not None:
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
        )
    images, labels, splits, start = [], [], {}, 0
    for split in ("train", "val", "test"):
        ds = builder.as_dataset(split=split).map(lambda ex: (
            tf.cast(tf.image.resize(ex["image"], image_size, antialias=True) + 0.5, tf.uint8),
            tf.stack([ex["labels"][t] for t in TASK_NAMES]),
        )).batch(512)
        count = 0
        for x, y in tfds.as_numpy(ds):
            images.append(x)
            labels.append(y)
            count += len(y)
        splits[split] = np.arange(start, start + count)
        start += count
    labels = np.concatenate(labels).astype(np.int32)
    triplets = {}
    for k, (split, total) in enumerate((num_triplets or DEFAULT_NUM_TRIPLETS).items()):
        if total:
            triplets[split] = sample_triplets(
                labels, total // len(TASK_NAMES), seed=seed * 1000 + k,
                candidates=splits[split], task_names=TASK_NAMES,
            )
    return RetrievalDataset(
        name="ut_zappos50k_tfds",
        task_names=TASK_NAMES,
        images=np.concatenate(images),
        labels=labels,
        label_names=tuple(DEFAULT_VOCABULARIES[t] for t in TASK_NAMES),
        triplets=triplets,
        splits=splits,
    )
