"""Scale-out: `MultiWorkerMirroredStrategy` with 2 local workers against 1 worker.

Each run trains the modulated Zhao et al. Table 2 network with the grouped probe on the same
global batches of random triplets (one dataset, sharded by the strategy), under
`MultiWorkerMirroredStrategy` with `TF_CONFIG` pointing at worker processes on 127.0.0.1 ports.
The same script runs unchanged on several machines: only `TF_CONFIG` differs (see the README's
distributed-training section). Reported: global examples (triplets) per second over the timed
steps, the first step, and whether the two runs' gradient-cosine and UCR matrices and final
weights agree (the probe all-reduces per-task gradients before its cosines, so they must).

On a single machine the workers share its cores, so this measures the cost of the collective
all-reduces and of the second process, not a speed-up; on several machines the throughput
scales with them.

    python benchmarks/multi_worker.py
    python benchmarks/multi_worker.py --quick
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # _common.py lives next to this script
    sys.path.insert(0, HERE)
import _common  # noqa: E402

NAME = "multi_worker"
QUICK = {"image_size": 48, "width": 0.125, "num_tasks": 3, "triplets": 12, "steps": 3}


def parse_args(argv=None):
    parser = _common.base_parser(__doc__, NAME)
    parser.add_argument("--num-tasks", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--triplets", type=int, default=64, help="global triplets per step")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return _common.parse_args(parser, argv, QUICK)


def run_worker(args, output):
    """One worker of the cluster in TF_CONFIG; the chief (index 0) writes `output`."""
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_mtl.losses import TripletLoss
    from keras_mtl.models import zhao_retrieval_net

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = zhao_retrieval_net(args.num_tasks, width_multiplier=args.width,
                                   input_shape=(args.image_size, args.image_size, 3))
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss=TripletLoss(0.2),
                      probe="grouped")
    batches = [_common.random_triplet_batch(args.triplets, args.image_size, args.num_tasks,
                                            seed=s) for s in range(1 + args.steps)]
    data = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(3 * args.triplets)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    times = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            float(np.ravel(logs["loss"])[0])
            times.append(time.perf_counter() - self.start)

    model.fit(dataset.with_options(options), epochs=1, verbose=0, callbacks=[Timer()])
    # Every worker reads the (all-reduced) metric state: reading is a collective operation.
    matrices = model.conflict_matrices()
    result = {
        "workers": strategy.num_replicas_in_sync,
        "first_step_s": times[0], "step_times_s": times[1:],
        "cosine": np.nan_to_num(matrices["cosine"]).tolist(),
        "ucr": np.nan_to_num(matrices["ucr"]).tolist(),
        "weights_checksum": float(sum(np.abs(w.numpy()).sum() for w in model.trainable_weights)),
    }
    if json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 0:  # the chief writes
        with open(output, "w", encoding="utf-8") as handle:
            json.dump(result, handle)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_cluster(args, argv, workers, output):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(workers)]}
    processes = []
    for index in range(workers):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                   TF_CONFIG=json.dumps({"cluster": cluster,
                                         "task": {"type": "worker", "index": index}}))
        command = [sys.executable, os.path.abspath(__file__), "--worker", output] + argv
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [process.communicate(timeout=args.timeout)[0] for process in processes]
        failed = [(i, out) for i, (p, out) in enumerate(zip(processes, outputs, strict=True))
                  if p.returncode != 0]
        if failed:
            raise RuntimeError("worker(s) failed: " + " | ".join(
                f"worker {i}: {out[-1500:]}" for i, out in failed))
    finally:
        for process in processes:
            process.kill()
    with open(output, encoding="utf-8") as handle:
        return json.load(handle)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.worker:
        run_worker(args, args.worker)
        return None
    import numpy as np

    path = _common.output_path(args.output, NAME)
    scratch = os.path.splitext(path)[0]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    runs = {}
    for workers in (1, 2):
        result = run_cluster(args, argv, workers, f"{scratch}_{workers}w.json")
        result["triplets_per_s"] = args.triplets / float(np.median(result["step_times_s"]))
        result.update(_common.summarize(result["step_times_s"]))
        runs[workers] = result
    one, two = runs[1], runs[2]
    rows = [{"workers": w, "first_step_s": r["first_step_s"], "median_s": r["median_s"],
             "triplets_per_s": r["triplets_per_s"]} for w, r in runs.items()]
    agreement = {
        "max_cosine_difference": float(np.max(np.abs(np.array(one["cosine"])
                                                     - np.array(two["cosine"])))),
        "max_ucr_difference": float(np.max(np.abs(np.array(one["ucr"])
                                                  - np.array(two["ucr"])))),
        "weights_checksum_relative_difference": abs(
            one["weights_checksum"] - two["weights_checksum"]) / one["weights_checksum"],
        "throughput_2_vs_1": two["triplets_per_s"] / one["triplets_per_s"],
    }
    print(_common.format_table(rows, [("workers", "workers", "d"),
                                      ("first step s", "first_step_s", ".1f"),
                                      ("step s", "median_s", ".3f"),
                                      ("triplets/s", "triplets_per_s", ".1f")]))
    print(json.dumps(agreement))
    return _common.write_report(path, NAME, args, rows, agreement=agreement)


if __name__ == "__main__":
    main()
