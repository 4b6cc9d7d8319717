"""argparse helpers shared by the example scripts: validated numbers and a `--fast` preset.

```python
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=cli.positive_int, default=6)
parser.add_argument("--image-size", type=cli.int_at_least(48, "the Table 2 network's minimum"))
cli.add_fast_flag(parser, FAST, what="a smoke test")
args = cli.parse_args(parser, argv, FAST)  # explicit flags win over --fast
```

A bad value stops the script before anything runs, with argparse's usual
`error: argument --epochs: expected a positive integer, received '0'` and exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence


def _number(text, kind, check, expected):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}") from None
    if not check(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
    return value


def positive_int(text) -> int:
    """argparse `type`: an int >= 1."""
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def non_negative_int(text) -> int:
    """argparse `type`: an int >= 0."""
    return _number(text, int, lambda v: v >= 0, "an integer >= 0")


def positive_float(text) -> float:
    """argparse `type`: a finite float > 0."""
    return _number(text, float, lambda v: 0 < v < float("inf"), "a positive number")


def non_negative_float(text) -> float:
    """argparse `type`: a finite float >= 0."""
    return _number(text, float, lambda v: 0 <= v < float("inf"), "a number >= 0")


def int_at_least(minimum: int, reason: str = "") -> Callable[[str], int]:
    """argparse `type`: an int >= `minimum`; `reason` says why (e.g. a builder's minimum)."""
    why = f" ({reason})" if reason else ""

    def parse(text) -> int:
        return _number(text, int, lambda v: v >= minimum, f"an integer >= {minimum}{why}")

    parse.__name__ = f"int_at_least_{minimum}"
    return parse


def comma_list(choices: Sequence[str] | None = None) -> Callable[[str], tuple[str, ...]]:
    """argparse `type`: a non-empty comma-separated list, each item from `choices` if given."""

    def parse(text) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(s.strip() for s in str(text).split(",") if s.strip()))
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, received {text!r}")
        bad = [s for s in items if choices is not None and s not in choices]
        if bad:
            raise argparse.ArgumentTypeError(
                f"expected names from {', '.join(choices)}, received {', '.join(bad)}")
        return items

    parse.__name__ = "comma_list"
    return parse


def describe_preset(parser: argparse.ArgumentParser, preset: dict) -> str:
    """`--epochs 1 --image-size 48 ...`: the flags a preset sets, as typed on the command line."""
    flags = {a.dest: a.option_strings[-1] for a in parser._actions if a.option_strings}
    parts = []
    for dest, value in preset.items():
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        parts.append(f"{flags.get(dest, '--' + dest.replace('_', '-'))} {value}")
    return " ".join(parts)


def add_fast_flag(parser: argparse.ArgumentParser, preset: dict, what: str = "a smoke test"):
    """Adds `--fast`, whose help lists exactly what it sets."""
    parser.add_argument(
        "--fast", action="store_true",
        help=f"{what}: sets {describe_preset(parser, preset)}; flags given explicitly win")


def parse_args(parser: argparse.ArgumentParser, argv=None, fast_preset: dict | None = None):
    """Parses `argv`; with `--fast`, each preset value applies unless its flag was given.

    Returns the namespace, with `fast_overrides` (dest -> value actually taken from the preset),
    `explicit` (the set of dests given on the command line) and `fast_message` (what `--fast`
    changed, to print; None without `--fast`).
    """
    unset = object()
    namespace = argparse.Namespace(**{a.dest: unset for a in parser._actions
                                      if a.dest != argparse.SUPPRESS})
    args = parser.parse_args(argv, namespace=namespace)
    explicit = {dest for dest, value in vars(args).items() if value is not unset}
    overrides = {}
    for action in parser._actions:
        dest = action.dest
        if dest == argparse.SUPPRESS or getattr(args, dest, None) is not unset:
            continue
        if getattr(args, "fast", False) is True and fast_preset and dest in fast_preset:
            value = overrides[dest] = fast_preset[dest]
        else:
            value = action.default
        if isinstance(value, str) and action.type is not None:  # as argparse does
            value = action.type(value)
        setattr(args, dest, value)
    args.fast_overrides = overrides
    args.explicit = explicit
    args.fast_message = _fast_message(parser, args, fast_preset or {})
    return args


def _fast_message(parser, args, preset) -> str | None:
    """One line saying what `--fast` set and which of its flags were given explicitly."""
    if not getattr(args, "fast", False):
        return None
    text = f"--fast: {describe_preset(parser, args.fast_overrides) or 'nothing to override'}"
    kept = sorted(d for d in args.explicit if d in preset)
    if kept:
        flags = {a.dest: a.option_strings[-1] for a in parser._actions if a.option_strings}
        text += ("; given explicitly, so kept: "
                 + ", ".join(f"{flags.get(d, d)} {getattr(args, d)}" for d in kept))
    return text
