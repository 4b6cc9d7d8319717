"""MirroredStrategy (2 logical CPUs) and MultiWorkerMirroredStrategy (2 local workers).

Each run is a subprocess: logical devices and TF_CONFIG must be set before TensorFlow starts.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(WORKER)))


def _env(**extra):
    path = os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                **extra)


def _run(mode, output, **env):
    return subprocess.Popen([sys.executable, WORKER, mode, str(output)], env=_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process, timeout=240):
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out[-4000:]


def _assert_same_training(got, want):
    for a, b in zip(got["weights"], want["weights"], strict=True):
        np.testing.assert_allclose(a, b, atol=2e-5)
    for key in ("loss", "grad_cosine", "grad_conflict_frac", "ucr", "grad_norm_a",
                "grad_norm_c"):
        np.testing.assert_allclose(got["history"][key], want["history"][key], atol=2e-5,
                                   err_msg=key)
    np.testing.assert_allclose(np.array(got["cosine"], float), np.array(want["cosine"], float),
                               atol=2e-5)


@pytest.mark.slow
def test_mirrored_two_cpus_matches_one_device(tmp_path):
    process = _run("mirrored", tmp_path / "out.json")
    _finish(process)
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["mirrored"]["num_replicas"] == 2
    assert result["single"]["history"]["grad_cosine"][0] != 0.0
    _assert_same_training(result["mirrored"], result["single"])
    # probe_every=2: steps 0 and 2 of 3 probed, on one device and on two replicas alike.
    assert result["mirrored_every2"]["probed_batches"][0][1] == 2
    _assert_same_training(result["mirrored_every2"], result["single_every2"])
    np.testing.assert_allclose(result["mirrored_every2"]["weights"][0],
                               result["mirrored"]["weights"][0], atol=2e-5)
    # Weightings combine after the cross-replica sum; UW's own parameters train once.
    for name in ("cagrad", "uw"):
        _assert_same_training(result[f"mirrored_{name}"], result[f"single_{name}"])
        for a, b in zip(result[f"mirrored_{name}"]["weighting_state"],
                        result[f"single_{name}"]["weighting_state"], strict=True):
            np.testing.assert_allclose(a, b, atol=2e-5)
    assert np.abs(result["single_uw"]["weighting_state"][0]).max() > 0  # it did train


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_fit_matches_single_process(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    workers = [
        _run("worker", tmp_path / f"worker{i}.json",
             TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        for i in range(2)
    ]
    single = _run("single", tmp_path / "single.json")
    try:
        for process in workers + [single]:
            _finish(process)
    finally:
        for process in workers + [single]:
            process.kill()
    want = json.loads((tmp_path / "single.json").read_text())
    for i in range(2):
        got = json.loads((tmp_path / f"worker{i}.json").read_text())
        assert got["num_replicas"] == 2
        _assert_same_training(got, want)
