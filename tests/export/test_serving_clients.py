"""TF Serving clients: a REST `predict` body and a gRPC `PredictRequest` built from a real export
(as in docs/guides/serving.md) match the exported signature, and `saved_model_cli run` computes
the same embeddings from what they carry.

The signature is read as TF Serving reads it: the `serving_default` SignatureDef of
`saved_model.pb`'s `serve` MetaGraph (dtypes as `DataType` enums, `-1` for a free dimension).
The gRPC request uses the `tensorflow-serving-api` protos (the `serving` extra; installed by
`make install-test`); without them that test is skipped.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from export_helpers import images
from tensorflow.core.protobuf import saved_model_pb2


def serve_signatures(path):
    """The SignatureDefs TF Serving serves: those of the MetaGraph tagged `serve`."""
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    (meta_graph,) = [m for m in saved_model.meta_graphs if "serve" in m.meta_info_def.tags]
    return meta_graph.signature_def


def signature_def(path, key="serving_default"):
    return serve_signatures(path)[key]


def shape_matches(shape, tensor_shape_proto):
    """Whether a concrete `shape` fits a TensorShapeProto (`-1` = any size)."""
    dims = [d.size for d in tensor_shape_proto.dim]
    return len(dims) == len(shape) and all(d in (-1, s) for d, s in zip(dims, shape, strict=True))


def rest_body(inputs, signature_name="serving_default"):
    """The REST `predict` body in the row format: one object per example (as in the guide)."""
    names = list(inputs)
    count = len(inputs[names[0]])
    return {"signature_name": signature_name,
            "instances": [{name: inputs[name][i].tolist() for name in names}
                          for i in range(count)]}


def decode_rest(payload, signature):
    """What TF Serving's JSON decoder makes of a row-format body: one array per named input,
    the examples stacked along a new first axis, in the signature's dtype."""
    body = json.loads(payload)
    names = {name for instance in body["instances"] for name in instance}
    assert names == set(signature.inputs), "every instance holds exactly the signature's inputs"
    return {name: np.array([instance[name] for instance in body["instances"]],
                           tf.dtypes.as_dtype(signature.inputs[name].dtype).as_numpy_dtype)
            for name in signature.inputs}


def check_against_signature(arrays, signature):
    """Names, dtypes and shapes of a request's arrays against the SignatureDef's inputs."""
    assert set(arrays) == set(signature.inputs)
    for name, array in arrays.items():
        spec = signature.inputs[name]
        assert array.dtype == tf.dtypes.as_dtype(spec.dtype).as_numpy_dtype, name
        assert shape_matches(array.shape, spec.tensor_shape), (name, array.shape)


@pytest.fixture(scope="module")
def batch():
    return {"image": images(3, size=48, seed=5), "task_id": np.array([0, 3, 1], "int32")}


def test_signature_def_is_what_the_clients_build_against(served48):
    _, path, serve = served48
    signature = signature_def(path)
    assert signature.method_name == "tensorflow/serving/predict"
    assert set(signature.inputs) == {"image", "task_id"}
    assert set(signature.outputs) == {"embedding"}
    for name, spec in serve.structured_input_signature[1].items():
        assert tf.dtypes.as_dtype(signature.inputs[name].dtype) == spec.dtype
        assert [d.size for d in signature.inputs[name].tensor_shape.dim] == [
            -1 if d is None else d for d in spec.shape]


def test_rest_body_matches_the_signature_and_survives_json(served48, batch):
    _, path, _ = served48
    signature = signature_def(path)
    body = rest_body(batch)
    assert body["signature_name"] in serve_signatures(path)
    payload = json.dumps(body)
    decoded = decode_rest(payload, signature)
    check_against_signature(decoded, signature)
    for name, array in batch.items():  # float32 -> JSON -> float32 is exact
        np.testing.assert_array_equal(decoded[name], array)


def test_check_against_signature_rejects_a_wrong_size_or_dtype(served48, batch):
    _, path, _ = served48
    signature = signature_def(path)
    with pytest.raises(AssertionError):
        check_against_signature({**batch, "image": images(3, size=49)}, signature)
    with pytest.raises(AssertionError):
        check_against_signature({**batch, "task_id": batch["task_id"].astype("int64")}, signature)


def test_grpc_predict_request_matches_the_signature(served48, batch):
    predict_pb2 = pytest.importorskip(
        "tensorflow_serving.apis.predict_pb2",
        reason="tensorflow-serving-api is not installed (pip install -e '.[serving]')")
    _, path, serve = served48
    signature = signature_def(path)
    specs = serve.structured_input_signature[1]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "zappos"
    request.model_spec.signature_name = "serving_default"
    for name, array in batch.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array, dtype=specs[name].dtype))
    # The request survives the wire and names a signature of the export.
    request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert request.model_spec.signature_name in serve_signatures(path)
    assert set(request.inputs) == set(signature.inputs)
    for name, proto in request.inputs.items():
        assert proto.dtype == signature.inputs[name].dtype, name
        assert shape_matches([d.size for d in proto.tensor_shape.dim],
                             signature.inputs[name].tensor_shape), name
    decoded = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
    check_against_signature(decoded, signature)
    for name, array in batch.items():
        np.testing.assert_array_equal(decoded[name], array)


@pytest.mark.slow
def test_saved_model_cli_run_on_the_decoded_rest_body(served48, batch, tmp_path):
    model, path, serve = served48
    signature = signature_def(path)
    decoded = decode_rest(json.dumps(rest_body(batch)), signature)
    files = []
    for name, array in decoded.items():
        np.save(tmp_path / f"{name}.npy", array)
        files.append(f"{name}={tmp_path / f'{name}.npy'}")
    cli = Path(sys.executable).with_name("saved_model_cli")
    subprocess.run(
        [str(cli), "run", "--dir", str(path), "--tag_set", "serve", "--signature_def",
         "serving_default", "--inputs", ";".join(files), "--outdir", str(tmp_path / "out")],
        capture_output=True, text=True, check=True,
    )
    (output,) = signature.outputs
    got = np.load(tmp_path / "out" / f"{output}.npy")
    assert got.dtype == tf.dtypes.as_dtype(signature.outputs[output].dtype).as_numpy_dtype
    assert shape_matches(got.shape, signature.outputs[output].tensor_shape)
    want = serve(**{k: tf.constant(v) for k, v in batch.items()})[output].numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(got, model.predict(batch, verbose=0), atol=1e-5)
