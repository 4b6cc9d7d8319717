"""Makes the documentation's figures (`docs/figures/*.png`) from a run of the main job.

Runs `examples/zappos_retrieval.py` (the main job: FSN and modulation on the embedded shoes; about
4 minutes on a 2-core CPU at its defaults) into a temporary folder, or reads the outputs of a run
you already have (`--from-dir outputs/zappos_retrieval`), and copies its figures into
`docs/figures/`, each re-encoded as an optimised palette PNG under 200 KB:

- `accuracy.png`: test triplet accuracy per task and method;
- `ucr_fsn.png`, `ucr_modulation.png`: UCR and gradient-cosine matrices, last epoch;
- `retrieval_grid.png`: one query per task and its nearest neighbours (the `--method` model).

    python docs/_build/make_figures.py                          # run the main job (defaults)
    python docs/_build/make_figures.py --from-dir outputs/zappos_retrieval
    python docs/_build/make_figures.py --fast                   # a smoke test (meaningless)

Extra arguments after `--` go to the main job, e.g. `-- --epochs 8 --seed 1`.
"""

import argparse
import io
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("accuracy.png", "ucr_fsn.png", "ucr_modulation.png", "retrieval_grid.png")
MAX_BYTES = 200_000
MAX_WIDTH = 1000


def compact_png(source: Path, target: Path, max_bytes: int = MAX_BYTES) -> int:
    """Writes `source` to `target` as a palette PNG no wider than MAX_WIDTH; returns its size."""
    image = Image.open(source).convert("RGB")
    if image.width > MAX_WIDTH:
        image = image.resize((MAX_WIDTH, round(image.height * MAX_WIDTH / image.width)),
                             Image.Resampling.LANCZOS)
    for colors in (256, 128, 64):
        buffer = io.BytesIO()
        image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(
            buffer, format="PNG", optimize=True)
        if buffer.tell() <= max_bytes:
            target.write_bytes(buffer.getvalue())
            return buffer.tell()
    raise ValueError(f"Expected {source} to fit in {max_bytes} bytes as a PNG. Received: "
                     f"{buffer.tell()} bytes at 64 colours")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-dir", type=Path, help="outputs of a main-job run to use")
    parser.add_argument("--fast", action="store_true", help="run the main job with --fast")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        source = args.from_dir
        if source is None:
            source = Path(scratch) / "zappos_retrieval"
            command = [sys.executable, str(ROOT / "examples" / "zappos_retrieval.py"),
                       "--output-dir", str(source), "--no-export", "--verbose", "2",
                       *(["--fast"] if args.fast else []), *extra]
            print("running:", " ".join(command), flush=True)
            subprocess.run(command, check=True)
        args.out.mkdir(parents=True, exist_ok=True)
        for name in FIGURES:
            size = compact_png(source / name, args.out / name)
            print(f"{args.out / name}: {size:,} bytes")


if __name__ == "__main__":
    main()
