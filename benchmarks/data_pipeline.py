"""Throughput of the triplet data pipeline: triplet batches per second.

Measures `keras_mtl.datasets.triplet_pipeline` on the embedded generated dataset and on a
fixture written in the real UT-Zappos50K layout (136x102 JPEGs, like the dataset's originals),
with images cached in memory or streamed from disk, plus the vectorised triplet sampler.
Prints a table and writes JSON (default `outputs/benchmarks/data_pipeline.json`).

    python benchmarks/data_pipeline.py --batch-size 64 --image-size 64 --batches 100
"""

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np


def _rate(ds, batches):
    it = iter(ds)
    next(it)  # warm-up: tracing, first decode
    start = time.perf_counter()
    count = 0
    for _ in range(batches):
        try:
            next(it)
        except StopIteration:
            it = iter(ds)
            next(it)
        count += 1
    return count / (time.perf_counter() - start)


def _real_layout_fixture(directory, num_images, seed=0):
    """Writes rendered shoes as 136x102 JPEGs in the UT-Zappos50K layout."""
    from PIL import Image

    from keras_mtl.datasets import generated

    generated.write_generated_zappos(directory, num_images=num_images, image_size=136, seed=seed)
    for root, _, files in os.walk(os.path.join(directory, "ut-zap50k-images")):
        for f in files:
            path = os.path.join(root, f)
            with Image.open(path) as img:
                resized = img.resize((136, 102))
            resized.save(path, quality=90)
    return directory


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=100, help="timed batches per setting")
    parser.add_argument("--fixture-images", type=int, default=400)
    parser.add_argument("--output", default=os.path.join("outputs", "benchmarks",
                                                         "data_pipeline.json"))
    args = parser.parse_args()

    from keras_mtl import datasets

    size = (args.image_size, args.image_size)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        generated_data = datasets.load_generated_zappos(cache_dir=os.path.join(tmp, "cache"))
        real = datasets.load_zappos(
            _real_layout_fixture(os.path.join(tmp, "zappos"), args.fixture_images),
            num_triplets={"train": 8000}, split_fractions={"train": 0.8, "test": 0.2},
        )
        settings = [
            ("generated", generated_data, "balanced", False, True),
            ("generated", generated_data, "balanced", True, True),
            ("generated", generated_data, "one_task", True, True),
            ("generated", generated_data, "balanced", True, False),
            ("real_layout_136x102", real, "balanced", True, True),
            ("real_layout_136x102", real, "balanced", True, False),
        ]
        for name, data, sampling, augment, cache in settings:
            ds = datasets.triplet_pipeline(
                data, "train", batch_size=args.batch_size, image_size=size, sampling=sampling,
                augment=augment, cache_images=cache,
            )
            rate = _rate(ds, args.batches)
            results.append({
                "data": name, "sampling": sampling, "augment": augment, "cache_images": cache,
                "batches_per_s": round(rate, 2),
                "triplets_per_s": round(rate * args.batch_size, 1),
            })
            print(f"{name:22s} {sampling:9s} augment={augment!s:5s} cache={cache!s:5s} "
                  f"{rate:8.2f} batches/s  ({rate * args.batch_size:9.1f} triplets/s)")

    labels = np.random.default_rng(0).integers(0, 10, size=(50_000, 4))
    start = time.perf_counter()
    datasets.sample_triplets(labels, 50_000, seed=0)
    sample_rate = 200_000 / (time.perf_counter() - start)
    print(f"sample_triplets: {sample_rate:,.0f} triplets/s (200k over 4 tasks, 50k images)")
    report = {
        "benchmark": "data_pipeline",
        "batch_size": args.batch_size,
        "image_size": size,
        "timed_batches": args.batches,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "pipeline": results,
        "sample_triplets_per_s": round(sample_rate),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
