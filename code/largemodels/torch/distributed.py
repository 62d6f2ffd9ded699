"""Data-parallel training in PyTorch: DistributedDataParallel, ZeRO-1 and FSDP2, in processes.

:func:`train_data_parallel` starts ``n_workers`` processes, each a rank of one process group
(gloo on CPUs, NCCL when every rank has its own GPU), gives rank r the r-th slice of every
global batch, and trains the MLP of :func:`largemodels._data_parallel.regression_problem`.
:func:`train_single_process` trains the same MLP on the whole batches in this process: the
two must end with the same weights, to float32 rounding.

Three launchers. ``"spawn"``: ``torch.multiprocessing`` starts fresh interpreters that
import this module's :func:`_spawned` (a function defined in a notebook cannot be imported
by them) and torch, every time. ``"forkserver"`` (the default): the same, but the workers are
forked from a server process that imported torch once, so later launches start in a fraction
of a second; the server, not the notebook's process, is forked, so no thread of the notebook
is copied. ``"torchrun"``: ``python -m torch.distributed.run ... -m
largemodels.torch.distributed SPEC``, how jobs on many machines start.

Three ways to hold the training state: ``sharding=None`` (DDP, every rank holds everything),
``"zero1"`` (DDP with ``ZeroRedundancyOptimizer``: each rank keeps the Adam state of some of
the tensors) and ``"fsdp"`` (FSDP2's ``fully_shard``: weights, gradients and Adam state all
split along their first dimension).
"""
import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from .._data_parallel import (WorkerError, check_problem, free_port, kill_workers,
                              leftover_workers, output_to, raise_first_error, read_results,
                              regression_problem, run_commands, run_worker, split_batch)
from .._checks import one_of, positive_int, positive_real
from .._logs import quiet_loggers

__all__ = ["WorkerError", "leftover_workers", "mlp", "regression_problem", "split_batch",
           "train_data_parallel", "train_single_process"]

OPTIMIZERS = ("sgd", "adam")
SHARDINGS = (None, "zero1", "fsdp")
LAUNCHERS = ("spawn", "forkserver", "torchrun")
# what a forkserver imports once, so that the workers it forks start in a fraction of a second
# (building DistributedDataParallel imports torch._dynamo, about 3 s)
_PRELOAD = ["largemodels.torch.distributed", "torch._dynamo", "torch.distributed.fsdp",
            "torch.distributed.optim"]


def mlp(weights, device="cpu"):
    """The MLP of :func:`regression_problem` as a PyTorch module, with the given NumPy weights
    (Keras layout): ``Linear(F, H)``, ``Tanh``, ``Linear(H, O)``."""
    W1, b1, W2, b2 = (torch.as_tensor(w) for w in weights)
    model = nn.Sequential(nn.Linear(*W1.shape), nn.Tanh(), nn.Linear(*W2.shape))
    with torch.no_grad():  # Keras layout (in, out) -> Linear.weight (out, in)
        for layer, W, b in ((model[0], W1, b1), (model[2], W2, b2)):
            layer.weight.copy_(W.T)
            layer.bias.copy_(b)
    return model.to(device)


def _optimizer(name, params, lr, zero1=False):
    cls = torch.optim.SGD if name == "sgd" else torch.optim.Adam
    if zero1:
        from torch.distributed.optim import ZeroRedundancyOptimizer
        return ZeroRedundancyOptimizer(params, optimizer_class=cls, lr=lr)
    return cls(params, lr=lr)


def _weights_of(parameters):
    # [W1 (in, out), b1, W2, b2] as NumPy, whole tensors even when sharded (DTensor)
    full = [p.full_tensor() if hasattr(p, "full_tensor") else p for p in parameters]
    return [(t.detach().T if t.ndim == 2 else t.detach()).cpu().numpy() for t in full]


def train_single_process(weights, batches, lr=0.1, optimizer="sgd"):
    """Train the MLP on each whole batch in this process; return the final weights (NumPy,
    Keras layout). The reference that data-parallel training must reproduce."""
    one_of("optimizer", optimizer, set(OPTIMIZERS))
    model = mlp(weights)
    opt = _optimizer(optimizer, model.parameters(), positive_real("lr", lr))
    for x, y in batches:
        loss = nn.functional.mse_loss(model(torch.as_tensor(x)), torch.as_tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return _weights_of(model.parameters())


def _local_bytes(tensors):
    # bytes this rank holds: the local shard of a DTensor, the whole of a plain tensor
    local = (t.to_local() if hasattr(t, "to_local") else t for t in tensors if t is not None)
    return sum(t.numel() * t.element_size() for t in local)


def _optimizer_state(opt):
    inner = getattr(opt, "optim", opt)  # ZeroRedundancyOptimizer keeps its shard's optimizer
    return [v for state in inner.state.values() for k, v in state.items()
            if k != "step" and torch.is_tensor(v)]  # Adam's m and v (not the step count)


def _run_rank(rank, n_workers, spec):
    """One rank's whole job: join the group, train on its slices, measure, leave cleanly."""
    torch.set_num_threads(1)  # n_workers processes share this machine's cores
    use_cuda = torch.cuda.is_available() and torch.cuda.device_count() >= n_workers
    device = torch.device(f"cuda:{rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=n_workers)
    model = mlp(spec["weights"], device)
    if spec["sharding"] == "fsdp":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard
        model = fully_shard(model, mesh=init_device_mesh(device.type, (n_workers,)))
        module = model
    else:
        model = nn.parallel.DistributedDataParallel(model)
        module = model.module
    opt = _optimizer(spec["optimizer"], model.parameters(), spec["lr"],
                     zero1=spec["sharding"] == "zero1")
    dist.barrier()
    start = time.perf_counter()
    for step, batch in enumerate(spec["batches"]):
        x, y = (torch.as_tensor(a, device=device) for a in split_batch(batch, rank, n_workers))
        if rank == spec["broken_rank"] and step >= 1:
            x = x[:, :-1]  # a data bug on one rank: a feature column goes missing
        loss = nn.functional.mse_loss(model(x), y)  # this rank's mean; DDP averages gradients
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    params = list(module.parameters())
    result = {
        "seconds": seconds,
        "backend": dist.get_backend(),
        "bytes": {"weights": _local_bytes(params),
                  "gradients": _local_bytes(p.grad for p in params),
                  "optimizer": _local_bytes(_optimizer_state(opt))},
        "weights": _weights_of(params),  # collective under FSDP: every rank calls it
        "allreduce_seconds": _time_allreduce(params, device),
    }
    dist.barrier()  # clean exit: no rank tears down while another still communicates
    del opt, model, module, params
    dist.destroy_process_group()
    return result


def _time_allreduce(params, device, repeats=10):
    # median seconds to all-reduce one float32 buffer the size of the whole gradient
    n = sum(p.numel() for p in params)  # a DTensor's numel is the whole tensor's
    buffer = torch.ones(n, device=device)
    times = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(buffer)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _spawned(rank, n_workers, spec):
    """Entry point of a process started by ``torch.multiprocessing`` (must be importable)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(spec["port"]))
    run_worker(_run_rank, rank, n_workers, spec)


def _launch_processes(n_workers, spec, timeout, start_method):
    if start_method == "forkserver":
        multiprocessing.get_context("forkserver").set_forkserver_preload(_PRELOAD)
    with (quiet_loggers("torch.multiprocessing.spawn"),  # "Terminating process ..."
          output_to(os.path.join(spec["out_dir"], "launcher.log"))):
        _join(mp.start_processes(_spawned, args=(n_workers, spec), nprocs=n_workers,
                                 join=False, start_method=start_method),
              n_workers, spec, timeout)


def _join(context, n_workers, spec, timeout):
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if context.join(timeout=0.1):
                    return
            except (mp.ProcessRaisedException, mp.ProcessExitedException) as error:
                raise_first_error(spec["out_dir"], n_workers,
                                  fallback=(getattr(error, "error_index", 0), str(error)))
                raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"the workers did not finish within timeout={timeout} s; "
                                   f"they were killed")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
            process.join()


def torchrun_commands(n_workers, spec_path, nodes=1, master="127.0.0.1", port=29500):
    """The ``torchrun`` command lines that start ``n_workers`` ranks on ``nodes`` machines,
    one command per machine, each running ``python -m largemodels.torch.distributed SPEC``.

    One machine uses ``--standalone`` (a rendezvous of its own). On several, every machine
    runs the same command but its ``--node-rank``; machine 0, at ``master:port``, hosts the
    rendezvous. Here all "machines" are processes on this one (``master`` 127.0.0.1), as a
    cluster's are on theirs.
    """
    nodes = positive_int("nodes", nodes)
    if n_workers % nodes:
        raise ValueError(f"n_workers must be a multiple of nodes, got {n_workers} and {nodes}")
    start = [sys.executable, "-m", "torch.distributed.run"]
    worker = [f"--nproc-per-node={n_workers // nodes}", "-m", "largemodels.torch.distributed",
              spec_path]
    if nodes == 1:
        return [start + ["--standalone"] + worker]
    return [start + [f"--nnodes={nodes}", f"--node-rank={rank}", f"--master-addr={master}",
                     f"--master-port={port}"] + worker for rank in range(nodes)]


def _launch_torchrun(n_workers, spec, timeout, nodes=1):
    spec_path = os.path.join(spec["out_dir"], "spec.pkl")
    with open(spec_path, "wb") as f:
        pickle.dump(spec, f)
    commands = torchrun_commands(n_workers, spec_path, nodes, port=free_port())
    env = dict(os.environ, OMP_NUM_THREADS="1")  # torchrun warns unless this is set
    codes = run_commands(commands, spec["out_dir"], timeout, envs=[env] * len(commands))
    if any(codes):
        raise_first_error(spec["out_dir"], n_workers,
                          fallback=(0, f"torchrun exit codes {codes}"))


def train_data_parallel(weights, batches, n_workers=2, lr=0.1, optimizer="sgd", sharding=None,
                        launcher="forkserver", timeout=120, broken_rank=None, nodes=1):
    """Train the MLP data-parallel in ``n_workers`` processes; rank r trains on the r-th slice
    of each global batch, and the gradients are averaged across ranks every step.

    Returns a dict: ``weights`` (final, NumPy, Keras layout, from rank 0), ``seconds`` (the
    training loop, slowest rank), ``backend`` ("gloo" or "nccl"), ``bytes`` (per rank: the
    weights, gradients and optimizer state it holds, read from its local tensors or shards)
    and ``allreduce_seconds`` (median time to all-reduce one gradient-sized float32 buffer).

    The processes always end: on success, on a failure (raises :class:`WorkerError` with the
    first failing worker's exception) and after ``timeout`` seconds (``TimeoutError``).
    ``broken_rank``: that rank loses a feature column from the second step on, a data bug to
    show how a worker's error reaches the caller. ``nodes`` (``launcher="torchrun"`` only):
    start the ranks as that many "machines", one ``torchrun`` each, all on this one
    (:func:`torchrun_commands`).
    """
    n_workers = check_problem(weights, batches, n_workers, timeout)
    one_of("optimizer", optimizer, set(OPTIMIZERS))
    if sharding not in SHARDINGS:
        raise ValueError(f"sharding must be one of {SHARDINGS}, got {sharding!r}")
    one_of("launcher", launcher, set(LAUNCHERS))
    if nodes != 1 and launcher != "torchrun":
        raise ValueError(f"nodes={nodes!r} needs launcher='torchrun', got {launcher!r}")
    if sharding is not None and optimizer == "sgd":
        raise ValueError(f"sharding={sharding!r} shards optimizer state; use optimizer='adam'")
    spec = {"weights": [np.asarray(w, np.float32) for w in weights], "batches": batches,
            "lr": positive_real("lr", lr), "optimizer": optimizer, "sharding": sharding,
            "broken_rank": broken_rank, "port": free_port(),
            "out_dir": tempfile.mkdtemp(prefix="largemodels-ddp-")}
    try:
        if launcher == "torchrun":
            _launch_torchrun(n_workers, spec, timeout, nodes)
        else:
            _launch_processes(n_workers, spec, timeout, start_method=launcher)
        results = read_results(spec["out_dir"], n_workers)
    finally:
        kill_workers(spec["out_dir"])
        shutil.rmtree(spec["out_dir"], ignore_errors=True)
    return {"weights": results[0]["weights"], "backend": results[0]["backend"],
            "seconds": max(r["seconds"] for r in results),
            "allreduce_seconds": max(r["allreduce_seconds"] for r in results),
            "bytes": [r["bytes"] for r in results]}


def _torchrun_main(spec_path):
    # a worker started by torchrun: rank and world size come from its environment
    with open(spec_path, "rb") as f:
        spec = pickle.load(f)
    run_worker(_run_rank, int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), spec)


if __name__ == "__main__":
    _torchrun_main(sys.argv[1])
