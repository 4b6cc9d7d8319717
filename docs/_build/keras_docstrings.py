"""A Griffe extension: Keras-style docstrings render well in the API reference.

The source is unchanged; when a docstring is loaded, its text is adjusted for Griffe's Google
parser:

- Keras writes the doctest of an `Example:` section at the header's indentation, often after a
  blank line. Griffe reads `Examples:` and only a section's indented block, so such examples
  would render as Markdown text (block quotes, stray links). The header becomes `Examples:`
  and its block is indented.
- An `Args:` item may document several parameters at once (`name_a, a: the baseline's name
  and its summary`). Griffe reads one parameter per item, so each name gets its own item with
  the shared description.
"""

from __future__ import annotations

import re

import griffe

_EXAMPLES = re.compile(r"^(?P<indent>\s*)Examples?:\s*$")
_ARGS = re.compile(r"^(?P<indent>\s*)(Args|Arguments|Parameters):\s*$")
_SECTION = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
_SHARED = re.compile(r"^(?P<indent>\s+)(?P<names>\w+(?:, \w+)+): (?P<text>.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def indent_examples(text: str) -> str:
    """`text` with `Example:` headers as `Examples:` and their unindented blocks indented."""
    lines = text.split("\n")
    out = []
    inside = None  # the header's indentation while in an example section
    for number, line in enumerate(lines):
        if inside is not None:
            stripped = line[len(inside):] if line.startswith(inside) else line.lstrip()
            if line.strip() and not line.startswith(inside + " ") and _SECTION.match(stripped):
                inside = None  # the next section
            else:
                out.append(inside + "    " + stripped if line.strip() else "")
                continue
        match = _EXAMPLES.match(line)
        if match:
            following = next((x for x in lines[number + 1:] if x.strip()), "")
            indent = match.group("indent")
            if following.startswith(indent) and not following.startswith(indent + " "):
                inside = indent  # not indented yet (Keras style)
            line = f"{indent}Examples:"  # the header Griffe's Google parser knows
        out.append(line)
    return "\n".join(out)


def split_shared_args(text: str) -> str:
    """`text` with each `a, b: description` item of an `Args:` section as one item per name."""
    lines = text.split("\n")
    out = []
    args_indent = None  # the header's indentation while in an Args section
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        header = _ARGS.match(line)
        if header:
            args_indent = _indent(line)
            out.append(line)
            continue
        if args_indent is not None and line.strip() and _indent(line) <= args_indent:
            args_indent = None  # the section ended
        shared = _SHARED.match(line) if args_indent is not None else None
        if not shared:
            out.append(line)
            continue
        item = [line]  # the item and its continuation lines (indented deeper)
        while number < len(lines) and (
                not lines[number].strip() or _indent(lines[number]) > _indent(line)):
            if not lines[number].strip():
                break
            item.append(lines[number])
            number += 1
        for name in shared.group("names").split(", "):
            out.append(f"{shared.group('indent')}{name}: {shared.group('text')}")
            out.extend(item[1:])
    return "\n".join(out)


class KerasExamples(griffe.Extension):
    """Adjusts Keras-style docstrings for Griffe's Google parser (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is None:
            return
        value = obj.docstring.value
        if "xample" in value:
            value = indent_examples(value)
        if ", " in value:
            value = split_shared_args(value)
        obj.docstring.value = value
