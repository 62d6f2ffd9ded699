"""Data-parallel training (largemodels.{torch,tensorflow}.distributed), the TensorFlow
configure hook, and the sharding and all-reduce formulas in largemodels.costs.

Everything that starts worker processes runs inside a fresh Python subprocess per framework
(one module-scoped fixture each), so this test process never holds a process group or a
TensorFlow runtime with logical devices, and the fixtures' costs are paid once.
"""
import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from largemodels import costs
from largemodels._data_parallel import (WorkerError, check_problem, raise_first_error,
                                        regression_problem, split_batch)


def run_python(code, timeout=600):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


def last_json(out):
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- formulas ------------------------------------------------------------------------------

def test_zero_stages_match_the_paper():
    # Rajbhandari et al. (2020), Figure 1: 7.5B parameters, 64 devices, mixed-precision Adam
    paper_gb = {0: 120, 1: 31.4, 2: 16.6, 3: 1.9}
    for stage, gb in paper_gb.items():
        per_device = sum(costs.sharded_training_state_bytes(7.5e9, 64, stage).values())
        assert round(per_device / 1e9, 1) == gb
    # stage 0 is unsharded training state, whatever the device count
    assert (costs.sharded_training_state_bytes(1000, 8, 0, "fp32")
            == costs.training_state_bytes(1000, "fp32"))


@pytest.mark.parametrize("kwargs, message", [
    (dict(stage=4), "stage"), (dict(n_devices=0), "n_devices"),
    (dict(precision="fp8"), "precision"),
])
def test_sharded_state_rejects_bad_input(kwargs, message):
    args = dict(n_params=1000, n_devices=8, stage=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        costs.sharded_training_state_bytes(**args)


def simulated_ring_allreduce(chunks_per_device):
    # the ring algorithm, step by step: returns the reduced arrays and the elements each
    # device sent. Device i sends chunk (i - s) mod p in reduce-scatter step s.
    data = [np.array_split(np.asarray(x, float).copy(), len(chunks_per_device))
            for x in chunks_per_device]
    p, sent = len(data), [0] * len(data)
    for s in range(p - 1):  # reduce-scatter
        for i in range(p):
            c = (i - s) % p
            data[(i + 1) % p][c] = data[(i + 1) % p][c] + data[i][c]
            sent[i] += data[i][c].size
    for s in range(p - 1):  # all-gather: device i owns the sum of chunk (i + 1) mod p
        for i in range(p):
            c = (i + 1 - s) % p
            data[(i + 1) % p][c] = data[i][c].copy()
            sent[i] += data[i][c].size
    return [np.concatenate(d) for d in data], sent


@pytest.mark.parametrize("p", [2, 3, 4, 8])
def test_ring_allreduce_bytes_match_a_simulated_ring(p):
    rng = np.random.default_rng(p)
    arrays = [rng.normal(size=24) for _ in range(p)]
    reduced, sent = simulated_ring_allreduce(arrays)
    for r in reduced:
        np.testing.assert_allclose(r, np.sum(arrays, axis=0))
    assert sent == [costs.ring_allreduce_bytes(24, p)] * p


# --- plumbing, no processes ------------------------------------------------------------------

def test_split_batch_and_its_errors():
    _, batches = regression_problem(n_steps=1, batch_size=6)
    x, _ = split_batch(batches[0], 2, 3)
    np.testing.assert_array_equal(x, batches[0][0][4:6])
    with pytest.raises(ValueError, match="n_workers=4"):
        check_problem(*regression_problem(n_steps=1, batch_size=6), n_workers=4, timeout=1)
    with pytest.raises(ValueError, match="rank"):
        split_batch(batches[0], 3, 3)


def test_the_first_error_wins(tmp_path):
    # worker 0 fails later (a peer vanished), worker 1 first (the cause)
    for rank, when, error in ((0, 2.0, "RuntimeError: Connection closed by peer"),
                              (1, 1.0, "ValueError: the real cause")):
        with open(tmp_path / f"rank{rank}.error", "wb") as f:
            pickle.dump({"time": when, "error": error, "traceback": "tb"}, f)
    with pytest.raises(WorkerError, match="worker 1 of 2 failed: ValueError: the real cause"):
        raise_first_error(str(tmp_path), 2)


def test_configure_tensorflow_rejects_bad_input():
    import largemodels
    with pytest.raises(ValueError, match="logical_cpus"):
        largemodels.configure_tensorflow(logical_cpus=0)


def numpy_sgd(weights, batches, lr):
    # an independent reference: the MLP's forward and backward by hand
    W1, b1, W2, b2 = (w.astype(np.float64) for w in weights)
    for x, y in batches:
        h = np.tanh(x @ W1 + b1)  # (B, H)
        out = h @ W2 + b2  # (B, O)
        d_out = 2 * (out - y) / out.size  # d mean((out - y)^2)
        d_h = d_out @ W2.T * (1 - h**2)
        grads = (x.T @ d_h, d_h.sum(0), h.T @ d_out, d_out.sum(0))
        W1, b1, W2, b2 = (w - lr * g for w, g in zip((W1, b1, W2, b2), grads))
    return [W1, b1, W2, b2]


def test_torch_single_process_matches_numpy():
    from largemodels.torch import distributed
    weights, batches = regression_problem(n_steps=5, batch_size=8)
    trained = distributed.train_single_process(weights, batches, lr=0.1)
    for a, b in zip(trained, numpy_sgd(weights, batches, lr=0.1)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_torch_rejects_bad_arguments_before_starting_processes():
    from largemodels.torch import distributed
    weights, batches = regression_problem(n_steps=1, batch_size=4)
    with pytest.raises(ValueError, match="sharding"):
        distributed.train_data_parallel(weights, batches, optimizer="adam", sharding="zero2")
    with pytest.raises(ValueError, match="optimizer='adam'"):
        distributed.train_data_parallel(weights, batches, sharding="fsdp")
    with pytest.raises(ValueError, match="launcher"):
        distributed.train_data_parallel(weights, batches, launcher="mpirun")


# --- PyTorch workers, in one subprocess ----------------------------------------------------

TORCH_SCRIPT = """
import json, time
import numpy as np
from largemodels import costs
from largemodels.torch import distributed as D

def diff(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))

if __name__ == "__main__":
    w, b = D.regression_problem(n_steps=4, batch_size=8)
    out = {}
    ref = D.train_single_process(w, b, lr=0.1)
    out["ddp"] = diff(ref, D.train_data_parallel(w, b, lr=0.1, timeout=120)["weights"])
    out["control"] = diff(ref, D.train_single_process(w, b[:3], lr=0.1))
    two_nodes = D.train_data_parallel(w, b, lr=0.1, launcher="torchrun", nodes=2)
    out["two_nodes"] = diff(ref, two_nodes["weights"])
    ref = D.train_single_process(w, b, lr=0.01, optimizer="adam")
    for sharding in ("zero1", "fsdp"):
        run = D.train_data_parallel(w, b, lr=0.01, optimizer="adam", sharding=sharding)
        out[sharding] = {"diff": diff(ref, run["weights"]), "bytes": run["bytes"]}
    try:
        D.train_data_parallel(w, b, lr=0.1, broken_rank=1)
    except D.WorkerError as e:
        out["failure"] = {"rank": e.rank, "message": str(e), "traceback": e.traceback}
    out["leftover_after_failure"] = D.leftover_workers()
    start = time.monotonic()
    try:
        D.train_data_parallel(w, b, lr=0.1, timeout=0.05)
    except TimeoutError as e:
        out["timeout"] = {"message": str(e), "seconds": time.monotonic() - start}
    out["leftover_after_timeout"] = D.leftover_workers()
    print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def torch_runs(tmp_path_factory):
    script = tmp_path_factory.mktemp("torch_ddp") / "runs.py"
    script.write_text(TORCH_SCRIPT)  # a file: spawned workers re-import the main module
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=600)
    return last_json(out)


def test_ddp_equals_single_process_on_the_whole_batch(torch_runs):
    assert torch_runs["ddp"] <= 1e-6
    assert torch_runs["control"] > 1e-3  # fewer steps: the comparison can fail


def test_two_machines_on_loopback_equal_one_process(torch_runs):
    # Appendix C: two torchrun agents, as two "machines" with one rank each, on this one
    assert torch_runs["two_nodes"] <= 1e-6


def test_torchrun_commands_for_several_machines():
    from largemodels.torch import distributed
    (single,) = distributed.torchrun_commands(4, "spec.pkl")
    assert "--standalone" in single and "--nproc-per-node=4" in single
    commands = distributed.torchrun_commands(4, "spec.pkl", nodes=2, master="10.0.0.1",
                                             port=1234)
    assert [c[c.index("--nnodes=2") + 1] for c in commands] == ["--node-rank=0",
                                                                "--node-rank=1"]
    for command in commands:
        assert {"--master-addr=10.0.0.1", "--master-port=1234", "--nproc-per-node=2"} <= set(
            command)
        assert command[-3:] == ["-m", "largemodels.torch.distributed", "spec.pkl"]
    with pytest.raises(ValueError, match="multiple of nodes"):
        distributed.torchrun_commands(3, "spec.pkl", nodes=2)
    weights, batches = regression_problem(n_steps=1, batch_size=4)
    with pytest.raises(ValueError, match="launcher='torchrun'"):
        distributed.train_data_parallel(weights, batches, nodes=2)


def test_zero1_and_fsdp_train_the_same_model(torch_runs):
    assert torch_runs["zero1"]["diff"] <= 1e-6
    assert torch_runs["fsdp"]["diff"] <= 1e-6


def test_per_rank_bytes_match_the_zero_formula(torch_runs):
    n_params = sum(w.size for w in regression_problem()[0])
    fsdp = costs.sharded_training_state_bytes(n_params, 2, stage=3, precision="fp32")
    assert torch_runs["fsdp"]["bytes"] == [{k: int(v) for k, v in fsdp.items()}] * 2
    zero1 = costs.sharded_training_state_bytes(n_params, 2, stage=1, precision="fp32")
    measured = torch_runs["zero1"]["bytes"]
    assert all(b["weights"] == zero1["weights"] and b["gradients"] == zero1["gradients"]
               for b in measured)
    assert sum(b["optimizer"] for b in measured) == 2 * zero1["optimizer"]


def test_a_failing_worker_raises_in_the_parent_with_its_message(torch_runs):
    failure = torch_runs["failure"]
    assert failure["rank"] == 1
    assert "worker 1 of 2 failed: RuntimeError: mat1 and mat2 shapes" in failure["message"]
    assert "_run_rank" in failure["traceback"]


def test_no_worker_outlives_a_failure_or_a_timeout(torch_runs):
    assert torch_runs["leftover_after_failure"] == []
    assert "timeout=0.05" in torch_runs["timeout"]["message"]
    assert torch_runs["timeout"]["seconds"] < 30
    assert torch_runs["leftover_after_timeout"] == []


# --- TensorFlow, in one subprocess ----------------------------------------------------------

TF_SCRIPT = """
import json, sys
import numpy as np
import largemodels

out = {"devices": largemodels.configure_tensorflow(logical_cpus=2)}
out["again"] = largemodels.configure_tensorflow(logical_cpus=2)  # idempotent
from largemodels.tensorflow import distributed as D

def diff(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))

try:
    largemodels.configure_tensorflow(logical_cpus=3)
except RuntimeError as e:
    out["late"] = str(e)
w, b = D.regression_problem(n_steps=4, batch_size=8)
ref = D.train_single_process(w, b, lr=0.1)
out["single"] = [x.tolist() for x in ref]
out["mirrored"] = diff(ref, D.train_data_parallel(w, b, lr=0.1)["weights"])
trap = D.train_data_parallel(w, b, lr=0.1, input="experimental_distribute_dataset")
out["trap"] = diff(ref, trap["weights"])
run = D.train_data_parallel(w, b, lr=0.1, launcher="multi_worker", timeout=300)
out["multi_worker"] = diff(ref, run["weights"])
out["leftover"] = D.leftover_workers()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def tf_runs():
    out = run_python(TF_SCRIPT)
    assert out.stderr == "", out.stderr[-3000:]  # quiet: no TensorFlow start-up logs
    return last_json(out)


def test_configure_tensorflow_before_start(tf_runs):
    assert tf_runs["devices"] == ["/device:CPU:0", "/device:CPU:1"] == tf_runs["again"]
    assert "already started with 2 logical CPU" in tf_runs["late"]


def test_configure_tensorflow_after_start_explains_itself():
    out = run_python("""
        import largemodels
        from largemodels import tensorflow  # starts the runtime with one CPU device
        assert largemodels.configure_tensorflow(logical_cpus=1) == ["/device:CPU:0"]
        try:
            largemodels.configure_tensorflow(logical_cpus=2)
        except RuntimeError as e:
            print(e)
    """)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "already started with 1 logical CPU" in out.stdout
    assert "configure_tensorflow first" in out.stdout


def test_tensorflow_single_device_matches_numpy(tf_runs):
    weights, batches = regression_problem(n_steps=4, batch_size=8)
    for a, b in zip(tf_runs["single"], numpy_sgd(weights, batches, lr=0.1)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_tensorflow_strategies_equal_single_device(tf_runs):
    assert tf_runs["mirrored"] <= 1e-6
    assert tf_runs["multi_worker"] <= 1e-6
    assert tf_runs["leftover"] == []


def test_experimental_distribute_dataset_trap_is_caught(tf_runs):
    assert tf_runs["trap"] > 1e-3  # the batch is split again: another training run


def test_leftover_workers_sees_a_live_child():
    from largemodels._data_parallel import leftover_workers
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert child.pid in leftover_workers()
    finally:
        child.kill()
        child.wait()
    assert child.pid not in leftover_workers()
