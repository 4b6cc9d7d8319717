"""The supported surface: every name in an `__all__` exists, is documented, and is listed in the
API reference (`docs/api/index.md`), which lists nothing else.

A docstring counts when the object owns it: a class's own `__doc__` (not one inherited from a
Keras base class), a function's or module's `__doc__`, and for a constant the string literal
right after its assignment (an attribute docstring, which the API reference renders).
"""

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import keras_mtl

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["keras_mtl"] + [f"keras_mtl.{name}" for name in (
    "layers", "models", "training", "weighting", "losses", "metrics", "datasets", "evaluation",
    "export", "tuning",
)]


def public_names():
    return [(package, name) for package in PACKAGES
            for name in importlib.import_module(package).__all__]


def _source_module(package, name):
    """The module that assigns `name`: the one `package/__init__.py` imports it from, or itself."""
    init = Path(importlib.import_module(package).__file__)
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name
                                                    for a in node.names):
            return node.module
    return package


def attribute_docstring(module_name, name):
    """The string literal that follows the module-level assignment of `name`, or None."""
    tree = ast.parse(Path(importlib.import_module(module_name).__file__).read_text())
    body = tree.body
    for node, following in zip(body, body[1:] + [None], strict=True):
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            if (isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)):
                return following.value.value
            return None
    return None


def own_docstring(obj):
    """The docstring `obj` itself holds (a class's is not inherited), or None for a constant."""
    if inspect.isclass(obj):
        return obj.__dict__.get("__doc__")
    if inspect.ismodule(obj) or inspect.isroutine(obj):
        return obj.__doc__
    return None


def docstring(package, name):
    obj = getattr(importlib.import_module(package), name)
    if inspect.isclass(obj) or inspect.ismodule(obj) or inspect.isroutine(obj):
        return own_docstring(obj)
    return attribute_docstring(_source_module(package, name), name)


def packages_declaring_all():
    """Every module of keras_mtl whose source assigns `__all__` (found without importing)."""
    found = set()
    for path in (ROOT / "keras_mtl").rglob("*.py"):
        tree = ast.parse(path.read_text())
        if any(isinstance(node, ast.Assign | ast.AnnAssign) and any(
                isinstance(t, ast.Name) and t.id == "__all__"
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))
               for node in tree.body):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def test_every_subpackage_declares_its_surface():
    for package in PACKAGES:
        module = importlib.import_module(package)
        assert module.__doc__ and module.__doc__.strip(), f"{package} has no docstring"
        assert len(module.__all__) == len(set(module.__all__)), f"{package}.__all__ repeats"


@pytest.mark.parametrize(("package", "name"), public_names(),
                         ids=[f"{p}.{n}" for p, n in public_names()])
def test_public_name_exists_and_has_a_docstring(package, name):
    module = importlib.import_module(package)
    assert hasattr(module, name), f"{package}.__all__ lists {name!r}, which does not exist"
    text = docstring(package, name)
    assert text and text.strip(), f"{package}.{name} is public (in __all__) but has no docstring"


def test_every_module_with_an_all_is_checked():
    """A new package (or module) declaring `__all__` joins PACKAGES, so its names are checked."""
    assert packages_declaring_all() == set(PACKAGES)


@pytest.mark.parametrize(("package", "name"), [
    (p, n) for p, n in public_names() if inspect.ismodule(getattr(importlib.import_module(p), n))
    and p != "keras_mtl"
])
def test_public_submodules_document_their_public_members(package, name):
    """A submodule exported by name (e.g. `datasets.zappos_tfds`) is rendered whole in the API
    reference: each class and function it defines without a leading underscore is public."""
    module = getattr(importlib.import_module(package), name)
    members = [(n, obj) for n, obj in vars(module).items()
               if not n.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
               and obj.__module__ == module.__name__]
    assert members, f"{module.__name__} defines no public class or function"
    for member_name, obj in members:
        text = own_docstring(obj)
        assert text and text.strip(), f"{module.__name__}.{member_name} has no docstring"


def test_docstring_finder_does_not_count_inherited_docstrings():
    import keras

    class Documented(keras.layers.Layer):
        """Has its own."""

    class Undocumented(keras.layers.Layer):
        pass

    def undocumented_function():
        pass

    assert own_docstring(Documented) == "Has its own."
    assert keras.layers.Layer.__doc__ and Undocumented.__doc__ is None
    assert own_docstring(Undocumented) is None
    assert own_docstring(undocumented_function) is None


def test_attribute_docstring_finder():
    assert attribute_docstring("keras_mtl.version", "__version__")
    assert attribute_docstring("keras_mtl.weighting", "_ALIASES") is None


def test_api_reference_lists_exactly_the_public_surface():
    """Each package has a `## <package>` section in docs/api/index.md listing its names as
    `` `name` `` in the first column of a table."""
    text = (ROOT / "docs" / "api" / "index.md").read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    listed = {}
    for section in sections:
        title, _, body = section.partition("\n")
        package = re.search(r"keras_mtl(\.\w+)?", title).group(0)
        listed[package] = re.findall(r"^\| \[?`([\w.]+)`", body, flags=re.M)
    assert sorted(listed) == sorted(PACKAGES)
    for package in PACKAGES:
        names = [n.rsplit(".", 1)[-1] for n in listed[package]]
        assert sorted(names) == sorted(importlib.import_module(package).__all__), package


def test_top_level_exports_are_the_subpackages_and_the_model():
    submodules = {n for n in keras_mtl.__all__ if inspect.ismodule(getattr(keras_mtl, n))}
    assert submodules == {p.rsplit(".", 1)[-1] for p in PACKAGES[1:]}
