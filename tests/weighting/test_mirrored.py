"""Weightings under MirroredStrategy (two CPU replicas, a separate process): identical
weights on every replica, state updated once per step, trainable weights updated by the
optimizer, all equal to a single-device run (see `mirrored_worker.py`)."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_weightings_under_mirrored_strategy():
    worker = os.path.join(os.path.dirname(__file__), "mirrored_worker.py")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    output = subprocess.run([sys.executable, worker], capture_output=True, text=True,
                            env=env, timeout=300, check=True).stdout
    results = json.loads(output.strip().splitlines()[-1])
    assert results == dict.fromkeys(
        ("mgda", "pcgrad", "gradvac", "uw", "dwa", "rlw", "famo", "gradnorm"), True)
