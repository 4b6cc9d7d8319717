"""The package surface: version, re-exports, lazy optional submodules."""

import subprocess
import sys

import keras_mtl


def test_version_matches_metadata():
    from importlib.metadata import version

    assert keras_mtl.__version__ == version("keras-mtl")


def test_public_names_resolve():
    for name in keras_mtl.__all__:
        assert getattr(keras_mtl, name) is not None
    from keras_mtl.layers import CrossStitch, TaskModulation, TaskRouting, TopDownModulator

    assert {c.__name__ for c in (CrossStitch, TaskModulation, TaskRouting, TopDownModulator)} == {
        "CrossStitch", "TaskModulation", "TaskRouting", "TopDownModulator"
    }


def test_import_does_not_pull_optional_heavy_packages():
    code = (
        "import sys, keras_mtl; "
        "print(sorted(m for m in ('keras_tuner', 'tensorflow_datasets') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == "[]"
