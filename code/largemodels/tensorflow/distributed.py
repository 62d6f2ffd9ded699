"""Data-parallel training in TensorFlow: ``tf.distribute`` strategies with a custom loop.

The twin of :mod:`largemodels.torch.distributed`: the same MLP, problem and batches, and the
same check, that data-parallel training ends with the weights of single-process training on
the whole (global) batches.

Two launchers:

- ``"mirrored"``: ``tf.distribute.MirroredStrategy`` in this process, one replica per device.
  On a machine without GPUs, split the CPU into logical devices *before* TensorFlow starts:
  ``largemodels.configure_tensorflow(logical_cpus=2)``.
- ``"multi_worker"``: ``tf.distribute.MultiWorkerMirroredStrategy`` in ``n_workers`` processes
  (``python -c _WORKER_PROGRAM SPEC INDEX``), each told the cluster and its own place in it
  by the ``TF_CONFIG`` environment variable, as on many machines.

Keras 3's ``model.fit`` does not run under MultiWorkerMirroredStrategy
(keras-team/keras#20585), so both use a custom loop: ``strategy.run`` on a ``tf.function``
step, the loss scaled by ``tf.nn.compute_average_loss`` to the global batch. Each replica's
input comes from ``distribute_datasets_from_function``, whose dataset is batched *per
replica*. ``input="experimental_distribute_dataset"`` feeds the same dataset to
``experimental_distribute_dataset`` instead, which takes every batch as a *global* batch and
splits it again: a different training run, without an error.
"""
import json
import os
import pickle
import shutil
import sys
import tempfile
import time

import numpy as np

from .._checks import one_of, positive_real
from .._logs import quiet_loggers
from .._data_parallel import (WorkerError, check_problem, free_port, kill_workers,
                              leftover_workers, raise_first_error, read_results,
                              regression_problem, run_commands, run_worker, split_batch)

__all__ = ["WorkerError", "leftover_workers", "mlp", "regression_problem", "split_batch",
           "train_data_parallel", "train_single_process"]

OPTIMIZERS = ("sgd", "adam")
LAUNCHERS = ("mirrored", "multi_worker")
INPUTS = ("distribute_datasets_from_function", "experimental_distribute_dataset")


def mlp(weights):
    """The MLP of :func:`regression_problem` as a Keras model, with the given NumPy weights:
    ``Dense(H, "tanh")``, ``Dense(O)``."""
    import keras
    n_features, n_hidden = weights[0].shape
    model = keras.Sequential([keras.Input((n_features,)), keras.layers.Dense(n_hidden, "tanh"),
                              keras.layers.Dense(weights[2].shape[1])])
    model.set_weights([np.asarray(w, np.float32) for w in weights])
    return model


def _optimizer(name, lr):
    import keras
    if name == "sgd":
        return keras.optimizers.SGD(lr)
    return keras.optimizers.Adam(lr, epsilon=1e-8)  # PyTorch's epsilon (Keras: 1e-7)


def train_single_process(weights, batches, lr=0.1, optimizer="sgd"):
    """Train the MLP on each whole batch on one device; return the final weights (NumPy).
    The reference that data-parallel training must reproduce."""
    import tensorflow as tf
    one_of("optimizer", optimizer, set(OPTIMIZERS))
    model, opt = mlp(weights), _optimizer(optimizer, positive_real("lr", lr))

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))

    for x, y in batches:
        step(tf.constant(x), tf.constant(y))
    return [w.copy() for w in model.get_weights()]


def _replica_dataset(batches, first_rank, n_local, n_replicas, broken=False):
    # the slices of replicas first_rank ... first_rank + n_local - 1, step by step, each
    # element one replica's batch (B / n_replicas, F): what distribute_datasets_from_function
    # hands out in turn to this pipeline's replicas
    import tensorflow as tf
    xs, ys = [], []
    for batch in batches:
        for rank in range(first_rank, first_rank + n_local):
            x, y = split_batch(batch, rank, n_replicas)
            xs.append(x[:, :-1] if broken else x)  # broken: a feature column goes missing
            ys.append(y)
    return tf.data.Dataset.from_tensor_slices((np.stack(xs), np.stack(ys)))


def _train_replicated(strategy, spec, pipeline=0, n_pipelines=1):
    """Train under ``strategy``; this process feeds input pipeline ``pipeline``."""
    import tensorflow as tf
    batches, n_replicas = spec["batches"], strategy.num_replicas_in_sync
    global_batch = len(batches[0][0])
    n_local = n_replicas // n_pipelines
    with strategy.scope():
        model, opt = mlp(spec["weights"]), _optimizer(spec["optimizer"], spec["lr"])
        opt.build(model.trainable_variables)  # Adam's m and v: mirrored, made up front

    def dataset_fn(context):
        first = context.input_pipeline_id * n_local
        return _replica_dataset(batches, first, n_local, n_replicas, spec["broken"])

    if spec["input"] == "distribute_datasets_from_function":
        data = strategy.distribute_datasets_from_function(dataset_fn)
    else:  # the trap: a per-replica batch taken as a global one, and split again
        context = tf.distribute.InputContext(n_pipelines, pipeline, n_replicas)
        data = strategy.experimental_distribute_dataset(dataset_fn(context))

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            per_example = tf.reduce_mean(tf.square(model(x, training=True) - y), axis=-1)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))  # all-reduces the sum

    @tf.function
    def step(iterator):
        strategy.run(replica_step, args=next(iterator))

    iterator = iter(data)
    step(iterator)  # the first call traces and builds the collectives: not timed
    start = time.perf_counter()
    for _ in batches[1:]:
        step(iterator)
    seconds = time.perf_counter() - start
    return {"weights": [w.copy() for w in model.get_weights()], "seconds": seconds,
            "backend": type(strategy).__name__}


def _mirrored(n_workers, spec):
    import tensorflow as tf
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus if len(gpus) >= n_workers else tf.config.list_logical_devices("CPU")
    if len(devices) < n_workers:
        raise RuntimeError(
            f"MirroredStrategy over n_workers={n_workers} devices needs {n_workers} logical "
            f"CPUs (or GPUs), found {len(devices)}: restart, then call "
            f"largemodels.configure_tensorflow(logical_cpus={n_workers}) before importing "
            f"largemodels.tensorflow")
    strategy = tf.distribute.MirroredStrategy([d.name for d in devices[:n_workers]])
    return _train_replicated(strategy, spec)


def _run_worker_rank(index, n_workers, spec):
    """One worker process of the multi-worker run: its output already goes to its log."""
    # tf.distribute logs "INFO:tensorflow: Reduce to ..." and "Collective all_reduce ..."
    with quiet_loggers("tensorflow"):
        return _train_replicated(_STRATEGY[0], spec, pipeline=index, n_pipelines=n_workers)


_STRATEGY = []  # the worker's MultiWorkerMirroredStrategy, made before TensorFlow started
# A worker's program. The strategy comes first: importing largemodels.tensorflow starts the
# runtime, and MultiWorkerMirroredStrategy must exist before that.
_WORKER_PROGRAM = """import sys
from largemodels._tensorflow_runtime import multi_worker_strategy
strategy = multi_worker_strategy()
from largemodels.tensorflow import distributed
distributed._worker_main(strategy, sys.argv[1], int(sys.argv[2]))
"""


def _multi_worker(n_workers, spec, timeout):
    out_dir = spec["out_dir"]
    spec_path = os.path.join(out_dir, "spec.pkl")
    with open(spec_path, "wb") as f:
        pickle.dump(spec, f)
    import tensorflow as tf
    cluster = {"worker": [f"localhost:{free_port()}" for _ in range(n_workers)]}
    # one GPU per worker if there are enough, else none: two workers on one GPU would compete
    # for its memory
    own_gpu = len(tf.config.list_physical_devices("GPU")) >= n_workers
    commands, envs = [], []
    for index in range(n_workers):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        envs.append(dict(os.environ, TF_CONFIG=json.dumps(tf_config), TF_CPP_MIN_LOG_LEVEL="3",
                         OMP_NUM_THREADS="1", KERAS_BACKEND="tensorflow",
                         CUDA_VISIBLE_DEVICES=str(index) if own_gpu else ""))
        commands.append([sys.executable, "-c", _WORKER_PROGRAM, spec_path, str(index)])
    codes = run_commands(commands, out_dir, timeout, envs=envs)
    if any(codes):
        raise_first_error(out_dir, n_workers, fallback=(0, f"worker exit codes {codes}"))
    return read_results(out_dir, n_workers)[0]  # the chief's (worker 0's) weights


def train_data_parallel(weights, batches, n_workers=2, lr=0.1, optimizer="sgd",
                        launcher="mirrored", input="distribute_datasets_from_function",
                        timeout=120, broken_rank=None):
    """Train the MLP data-parallel over ``n_workers`` replicas; replica r trains on the r-th
    slice of each global batch, and the gradients are summed across replicas every step.

    Returns a dict: ``weights`` (final, NumPy), ``seconds`` (the training loop after its first,
    tracing step) and ``backend`` (the strategy's class name). ``launcher="multi_worker"``
    starts worker processes that always end: on success, on a failure (raises
    :class:`WorkerError` with the first failing worker's exception) and after ``timeout``
    seconds (``TimeoutError``); there ``broken_rank`` names a worker whose data lacks a feature
    column, to show how its error reaches the caller.
    """
    n_workers = check_problem(weights, batches, n_workers, timeout)
    one_of("optimizer", optimizer, set(OPTIMIZERS))
    one_of("launcher", launcher, set(LAUNCHERS))
    one_of("input", input, set(INPUTS))
    if broken_rank is not None and launcher != "multi_worker":
        raise ValueError("broken_rank needs launcher='multi_worker' (worker processes)")
    spec = {"weights": [np.asarray(w, np.float32) for w in weights], "batches": batches,
            "lr": positive_real("lr", lr), "optimizer": optimizer, "input": input,
            "broken": False}
    if launcher == "mirrored":
        with quiet_loggers("tensorflow"):
            return _mirrored(n_workers, spec)
    spec["out_dir"] = tempfile.mkdtemp(prefix="largemodels-mwms-")
    spec["broken_rank"] = broken_rank
    try:
        return _multi_worker(n_workers, spec, timeout)
    finally:
        kill_workers(spec["out_dir"])
        shutil.rmtree(spec["out_dir"], ignore_errors=True)


def _worker_main(strategy, spec_path, index):
    """Run worker ``index`` of a multi-worker job described by the pickled spec at
    ``spec_path``; ``strategy`` was created before TensorFlow started (see _WORKER_PROGRAM)."""
    with open(spec_path, "rb") as f:
        spec = pickle.load(f)
    spec["broken"] = spec["broken_rank"] == index
    _STRATEGY[:] = [strategy]
    run_worker(_run_worker_rank, index, strategy.num_replicas_in_sync, spec)
