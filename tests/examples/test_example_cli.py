"""Every example validates its flags before running (issue 12): positive epochs and batch sizes,
image sizes >= the builder's minimum, a --fast that says what it sets and yields to explicit
flags."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BAD = {
    "zappos_retrieval": [
        (["--epochs", "0"], "argument --epochs: expected a positive integer, received '0'"),
        (["--epochs", "-1"], "argument --epochs: expected a positive integer"),
        (["--batch-size", "0"], "argument --batch-size: expected a positive integer"),
        (["--batch-size", "30"], "argument --batch-size: expected a multiple of 4"),
        (["--image-size", "47"], "argument --image-size: expected an integer >= 48"),
        (["--learning-rate", "0"], "argument --learning-rate: expected a positive number"),
        (["--methods", "fsn,bogus"], "argument --methods: expected names from"),
        (["--test-triplets", "0"], "argument --test-triplets: expected a positive integer"),
    ],
    "celeba_retrieval": [
        (["--epochs", "0"], "argument --epochs: expected a positive integer"),
        (["--batch-size", "50"], "argument --batch-size: expected a multiple of the number of "
                                 "tasks (20)"),
        (["--image-size", "40"], "argument --image-size: expected an integer >= 48"),
        (["--num-images", "100"], "argument --num-images: expected an integer >= 500"),
    ],
    "multi_mnist_top_down": [
        (["--epochs", "0"], "argument --epochs: expected a positive integer"),
        (["--batch-size", "1"], "argument --batch-size: expected at least --num-tasks (2)"),
        (["--image-size", "27"], "argument --image-size: expected an integer >= 28"),
    ],
    "tune_retrieval": [
        (["--epochs", "0"], "argument --epochs: expected a positive integer"),
        (["--max-trials", "-2"], "argument --max-trials: expected a positive integer"),
        (["--image-size", "32"], "argument --image-size: expected an integer >= 48"),
        (["--batch-size", "30"], "argument --batch-size: expected a multiple of 4"),
        (["--methods", "only_mask"], "argument --methods: expected names from"),
    ],
    "layers_tour": [
        (["--epochs", "0"], "argument --epochs: expected a positive integer"),
    ],
}
# (example, flag given with --fast, its dest, the value given, a dest the preset sets, value)
FAST = [
    ("zappos_retrieval", "--epochs", "epochs", 3, "image_size", 48),
    ("celeba_retrieval", "--epochs", "epochs", 2, "train_triplets", 12),
    ("multi_mnist_top_down", "--train-images", "train_images", 500, "epochs", 1),
    ("tune_retrieval", "--max-trials", "max_trials", 3, "epochs", 1),
]


@pytest.fixture(scope="module")
def examples():
    loaded = {}
    for name in BAD:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        loaded[name] = module
    return loaded


def _parse(module, argv):
    if hasattr(module, "parse_args"):
        return module.parse_args(argv)
    return module.main(argv)  # layers_tour parses inside main


@pytest.mark.parametrize("name, argv, message",
                         [(n, a, m) for n, cases in BAD.items() for a, m in cases])
def test_bad_flags_exit_with_a_clear_error(examples, name, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parse(examples[name], argv)
    assert exit_info.value.code == 2
    assert message in " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize("name, flag, dest, value, preset_dest, preset_value", FAST)
def test_explicit_flags_win_over_fast_and_fast_says_what_it_sets(
        examples, name, flag, dest, value, preset_dest, preset_value, capsys):
    module = examples[name]
    args = module.parse_args(["--fast", flag, str(value)])
    assert getattr(args, dest) == value
    assert getattr(args, preset_dest) == preset_value
    assert dest not in args.fast_overrides and preset_dest in args.fast_overrides
    assert args.fast_message.startswith("--fast: ")
    assert f"given explicitly, so kept: {flag} {value}" in args.fast_message
    plain = module.parse_args([])
    assert getattr(plain, preset_dest) != preset_value and plain.fast_message is None
    with pytest.raises(SystemExit):
        module.parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--fast" in help_text and "flags given explicitly win" in help_text
