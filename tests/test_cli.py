"""keras_mtl.cli: validated argparse types and a --fast preset that explicit flags override."""

import argparse

import pytest

from keras_mtl import cli

PRESET = {"epochs": 1, "image_size": 48, "methods": "fsn"}


def _parser():
    parser = argparse.ArgumentParser(prog="example")
    parser.add_argument("--epochs", type=cli.positive_int, default=6)
    parser.add_argument("--image-size", type=cli.int_at_least(48, "the builder's minimum"),
                        default=64)
    parser.add_argument("--rate", type=cli.positive_float, default=0.1)
    parser.add_argument("--methods", type=cli.comma_list(("fsn", "modulation")),
                        default="fsn,modulation")
    parser.add_argument("--seed", type=int, default=0)
    cli.add_fast_flag(parser, PRESET)
    return parser


def test_defaults_presets_and_explicit_flags():
    parser = _parser()
    plain = cli.parse_args(parser, [], PRESET)
    assert (plain.epochs, plain.image_size, plain.methods) == (6, 64, ("fsn", "modulation"))
    assert plain.fast_overrides == {} and plain.fast_message is None
    fast = cli.parse_args(parser, ["--fast"], PRESET)
    assert (fast.epochs, fast.image_size, fast.methods) == (1, 48, ("fsn",))
    assert fast.fast_message == "--fast: --epochs 1 --image-size 48 --methods fsn"
    mixed = cli.parse_args(parser, ["--epochs", "3", "--fast", "--seed", "5"], PRESET)
    assert (mixed.epochs, mixed.image_size, mixed.seed) == (3, 48, 5)  # explicit flags win
    assert mixed.fast_overrides == {"image_size": 48, "methods": "fsn"}
    assert mixed.fast_message.endswith("given explicitly, so kept: --epochs 3")
    # an explicit flag equal to the default still counts as given
    same = cli.parse_args(parser, ["--fast", "--epochs", "6"], PRESET)
    assert same.epochs == 6 and "epochs" not in same.fast_overrides


def test_help_of_fast_lists_what_it_sets(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--epochs 1 --image-size 48 --methods fsn; flags given explicitly win" in text


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "argument --epochs: expected a positive integer, received '0'"),
    (["--epochs", "-1"], "expected a positive integer, received '-1'"),
    (["--epochs", "two"], "expected a positive integer, received 'two'"),
    (["--image-size", "47"], "expected an integer >= 48 (the builder's minimum), received '47'"),
    (["--rate", "0"], "argument --rate: expected a positive number, received '0'"),
    (["--rate", "inf"], "expected a positive number, received 'inf'"),
    (["--methods", "fsn,itn"], "expected names from fsn, modulation, received itn"),
    (["--methods", ","], "expected a comma-separated list, received ','"),
])
def test_bad_values_stop_with_a_clear_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.parse_args(_parser(), argv, PRESET)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_small_types():
    assert cli.non_negative_int("0") == 0 and cli.non_negative_float("0.5") == 0.5
    with pytest.raises(argparse.ArgumentTypeError):
        cli.non_negative_int("-1")
    assert cli.comma_list()("a, b,a") == ("a", "b")
