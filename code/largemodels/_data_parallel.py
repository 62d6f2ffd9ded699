"""The framework-neutral half of data-parallel training: the problem, and the worker processes.

Both :mod:`largemodels.torch.distributed` and :mod:`largemodels.tensorflow.distributed` train
the same small regression MLP on the same batches, once in one process on each whole (global)
batch and once split over worker processes. This module holds what they share:

- the problem: initial weights and global batches as NumPy arrays (Keras layout, kernels
  ``(in, out)``), and each rank's contiguous slice of a batch;
- the workers' plumbing. A worker writes its output (C++ logs included) to a log file, never
  to the notebook; its result to ``rank{r}.pkl``; an exception to ``rank{r}.error``, with the
  time it happened. The parent kills every worker on success, failure and timeout alike, and
  raises :class:`WorkerError` with the message of the worker that failed *first*: the others
  usually fail only because a peer vanished in the middle of a collective.
"""
import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import traceback as traceback_module

import numpy as np

from ._checks import positive_int, positive_real

__all__ = ["WorkerError", "leftover_workers", "regression_problem", "split_batch"]


class WorkerError(RuntimeError):
    """A worker process failed. ``rank``: which one failed first; ``error``: its exception as
    ``"Type: message"``; ``traceback``: its traceback; ``log``: the end of its output."""

    def __init__(self, rank, n_workers, error, traceback="", log=""):
        super().__init__(f"worker {rank} of {n_workers} failed: {error}")
        self.rank, self.n_workers, self.error = rank, n_workers, error
        self.traceback, self.log = traceback, log


def regression_problem(n_steps=10, batch_size=16, n_features=16, n_hidden=64, n_outputs=4,
                       seed=0):
    """Initial MLP weights and ``n_steps`` global batches of a smooth regression task.

    Returns ``(weights, batches)``: weights ``[W1 (F, H), b1 (H,), W2 (H, O), b2 (O,)]`` in
    float32 (Keras layout; PyTorch's ``Linear.weight`` is the transpose), and batches, a list
    of ``(x (B, F), y (B, O))``. The model is ``tanh(x W1 + b1) W2 + b2``, trained with the
    mean squared error.
    """
    n_steps, batch_size = positive_int("n_steps", n_steps), positive_int("batch_size", batch_size)
    sizes = [positive_int(name, v) for name, v in
             (("n_features", n_features), ("n_hidden", n_hidden), ("n_outputs", n_outputs))]
    F, H, O = sizes
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, F**-0.5, (F, H)), np.zeros(H), rng.normal(0, H**-0.5, (H, O)),
               np.zeros(O)]
    teacher = rng.normal(0, 1, (F, O))
    batches = []
    for _ in range(n_steps):
        x = rng.normal(0, 1, (batch_size, F))  # (B, F)
        y = np.sin(x @ teacher) + 0.1 * rng.normal(0, 1, (batch_size, O))  # (B, O)
        batches.append((x.astype(np.float32), y.astype(np.float32)))
    return [w.astype(np.float32) for w in weights], batches


def split_batch(batch, rank, n_workers):
    """Rank ``rank``'s contiguous slice of a global batch ``(x, y)``: rows
    ``[rank * B / n, (rank + 1) * B / n)``. The batch size must divide evenly, so that the mean
    of the ranks' mean losses is the mean loss of the whole batch."""
    n_workers = positive_int("n_workers", n_workers)
    x, y = batch
    if len(x) % n_workers:
        raise ValueError(f"the batch size ({len(x)}) must be a multiple of n_workers={n_workers}")
    if not 0 <= rank < n_workers:
        raise ValueError(f"rank must be in [0, {n_workers}), got {rank}")
    rows = slice(rank * len(x) // n_workers, (rank + 1) * len(x) // n_workers)
    return x[rows], y[rows]


def check_problem(weights, batches, n_workers, timeout):
    """Validate the arguments of a ``train_data_parallel`` call before any process starts."""
    n_workers = positive_int("n_workers", n_workers)
    positive_real("timeout", timeout)
    if not isinstance(weights, (list, tuple)) or len(weights) != 4:
        raise TypeError("weights must be the list [W1, b1, W2, b2] from regression_problem")
    if not batches:
        raise ValueError("batches must be a non-empty list of (x, y) from regression_problem")
    for x, _ in batches:
        split_batch((x, x), 0, n_workers)  # raises if the batch does not split evenly
    return n_workers


def free_port():
    """A TCP port on localhost that was free a moment ago (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def output_to(log_path):
    """In the parent, while starting workers: descriptors 1 and 2 go to ``log_path``, so what
    a child prints before it redirects itself (or a fork server prints) stays out of the
    notebook (ipykernel forwards both descriptors into the cell)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for d in (fd, *saved):
            os.close(d)


# --- inside a worker ---------------------------------------------------------------------

def redirect_output(log_path):
    """Point file descriptors 1 and 2 (Python, C++ and child output) at ``log_path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def run_worker(run_rank, rank, n_workers, spec):
    """Run ``run_rank(rank, n_workers, spec)`` in a worker: output to ``rank{r}.log``, result
    to ``rank{r}.pkl``; on an exception write ``rank{r}.error`` and leave at once with exit
    code 1, skipping the teardown that could wait for peers that are gone."""
    out_dir = spec["out_dir"]
    redirect_output(os.path.join(out_dir, f"rank{rank}.log"))
    with open(os.path.join(out_dir, f"rank{rank}.pid"), "w") as f:
        f.write(str(os.getpid()))  # for kill_workers, should a launcher leave this one behind
    try:
        result = run_rank(rank, n_workers, spec)
        with open(os.path.join(out_dir, f"rank{rank}.pkl"), "wb") as f:
            pickle.dump(result, f)
    except BaseException as error:  # noqa: BLE001 -- reported to the parent, then exit 1
        report = {"time": time.time(), "error": f"{type(error).__name__}: {error}",
                  "traceback": traceback_module.format_exc()}
        with open(os.path.join(out_dir, f"rank{rank}.error"), "wb") as f:
            pickle.dump(report, f)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


# --- in the parent -----------------------------------------------------------------------

def _tail(path, n_chars=4000):
    with contextlib.suppress(OSError), open(path, "rb") as f:
        return f.read().decode(errors="replace")[-n_chars:]
    return ""


def raise_first_error(out_dir, n_workers, fallback=None):
    """Raise :class:`WorkerError` for the worker whose error came first; ``fallback``
    (``(rank, text)``) if no worker wrote one, e.g. it was killed or the launcher failed."""
    reports = []
    for rank in range(n_workers):
        path = os.path.join(out_dir, f"rank{rank}.error")
        if os.path.exists(path):
            with open(path, "rb") as f:
                reports.append((pickle.load(f), rank))
    if reports:
        report, rank = min(reports, key=lambda item: item[0]["time"])
        log = _tail(os.path.join(out_dir, f"rank{rank}.log"))
        raise WorkerError(rank, n_workers, report["error"], report["traceback"], log)
    if fallback is not None:
        rank, text = fallback
        raise WorkerError(rank, n_workers, text, log=_tail(os.path.join(out_dir, "launcher.log")))


def read_results(out_dir, n_workers):
    """Each rank's result, in rank order (after every worker succeeded)."""
    results = []
    for rank in range(n_workers):
        with open(os.path.join(out_dir, f"rank{rank}.pkl"), "rb") as f:
            results.append(pickle.load(f))
    return results


def run_commands(commands, out_dir, timeout, envs=None):
    """Run the commands as processes (each in its own process group, output to
    ``launcher{i}.log`` in ``out_dir``) until all end, one fails, or ``timeout`` seconds
    pass. Always kills every process group before returning. Returns the exit codes."""
    envs = envs or [None] * len(commands)
    processes = []
    deadline = time.monotonic() + timeout
    try:
        for i, (command, env) in enumerate(zip(commands, envs)):
            log_name = "launcher.log" if len(commands) == 1 else f"launcher{i}.log"
            with open(os.path.join(out_dir, log_name), "wb") as log:
                processes.append(subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=env, start_new_session=True))
        while True:
            codes = [p.poll() for p in processes]
            if all(c is not None for c in codes) or any(c not in (None, 0) for c in codes):
                return codes
            if time.monotonic() > deadline:
                raise TimeoutError(f"the workers did not finish within timeout={timeout} s; "
                                   f"they were killed")
            time.sleep(0.05)
    finally:
        for p in processes:  # SIGTERM first: torchrun then stops its workers itself
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)  # the process and everything it started
                p.wait()
        kill_workers(out_dir)


def kill_workers(out_dir):
    """SIGKILL every worker of ``out_dir`` still alive (found by the pid files the workers
    wrote; a pid counts only while its command line names ``out_dir``). Returns how many."""
    killed = 0
    for name in os.listdir(out_dir):
        if not (name.startswith("rank") and name.endswith(".pid")):
            continue
        with open(os.path.join(out_dir, name)) as f:
            pid = int(f.read() or 0)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                alive_and_ours = out_dir.encode() in f.read()
        except OSError:
            alive_and_ours = False
        if alive_and_ours:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    return killed


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def leftover_workers():
    """Process ids of every live descendant of this process, except the helpers that
    ``multiprocessing`` keeps for the process's lifetime (its fork server and resource
    tracker; the fork server's own children *are* counted). Empty after a clean run. Linux."""
    found, stack = [], []
    for child in _children(os.getpid()):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                command = f.read()
        except OSError:
            continue
        if b"forkserver" in command or b"resource_tracker" in command:
            stack.extend(_children(child))  # a helper: only its children count
        else:
            stack.append(child)
    while stack:
        pid = stack.pop()
        if os.path.exists(f"/proc/{pid}") and _state(pid) != "Z":
            found.append(pid)
        stack.extend(_children(pid))
    return sorted(found)


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"
