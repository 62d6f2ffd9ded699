"""Checkpoints (largemodels.checkpoint and both framework halves), Keras .keras files, ONNX.

Exact resume is checked against uninterrupted training (bit for bit), with a negative control
that drops the optimizer state; PyTorch -> Keras loading against the PyTorch model's logits;
ONNX files against the models they came from, run by onnxruntime."""
import json
import pickle
import struct

import numpy as np
import pytest

from largemodels import GPTConfig, parity
from largemodels import checkpoint as fmt
from largemodels import tensorflow as tlm
from largemodels import torch as plm
from largemodels.config import RopeScaling

import keras  # noqa: E402  (after largemodels.tensorflow: TensorFlow starts quietly)
import torch  # noqa: E402

V = 23
CONFIG = GPTConfig.llama_like(V, 16, 2, n_head=4, n_embd=16, n_kv_head=2, n_hidden=40)
GPT2 = GPTConfig(vocab_size=V, block_size=16, n_layer=2, n_head=2, n_embd=16)
STEPS, SPLIT = 6, 2


def batches(n=STEPS, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, V, (4, 9)) for _ in range(n)]  # inputs = [:, :-1], targets [:, 1:]


# ---- PyTorch ---------------------------------------------------------------------------------

def torch_train(model, opt, data):
    for rows in data:
        rows = torch.as_tensor(rows)
        logits = model(rows[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), rows[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()


def torch_setup(seed):
    torch.manual_seed(seed)
    model = plm.GPT(CONFIG)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)


def test_torch_resume_is_exact(tmp_path):
    data, path = batches(), tmp_path / "ckpt.safetensors"
    straight, opt = torch_setup(0)
    torch_train(straight, opt, data)
    first, opt = torch_setup(0)
    torch_train(first, opt, data[:SPLIT])
    plm.save_checkpoint(path, first, opt, step=SPLIT, metadata={"note": "halfway"})
    resumed, opt = torch_setup(1)  # other initial weights, fresh optimizer
    info = plm.load_checkpoint(path, resumed, opt)
    assert (info.step, info.framework, info.config, info.metadata) == (
        SPLIT, "pytorch", CONFIG, {"note": "halfway"})
    torch_train(resumed, opt, data[info.step:])
    assert parity.max_abs_diff(list(straight.parameters()), list(resumed.parameters())) == 0.0
    # control: the weights without the optimizer's moments and step count do not resume
    weights_only, opt = torch_setup(1)
    plm.load_checkpoint(path, weights_only)
    torch_train(weights_only, opt, data[SPLIT:])
    assert parity.max_abs_diff(list(straight.parameters()), list(weights_only.parameters())) > 1e-4


def test_file_is_plain_safetensors(tmp_path):
    """The header can be read with nothing but struct and json; the model tensors load with
    safetensors' own loader, under the state_dict names; no pickle opcode is in the file."""
    model, opt = torch_setup(0)
    torch_train(model, opt, batches(1))
    path = tmp_path / "ckpt.safetensors"
    plm.save_checkpoint(path, model, opt)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    record = json.loads(header["__metadata__"]["largemodels"])
    assert record["optimizer"]["class"] == "AdamW" and record["config"]["n_hidden"] == 40
    from safetensors.torch import load_file

    tensors = load_file(path)
    state = model.state_dict()
    assert set(state) | {k for k in tensors if k.startswith("optimizer/")} == set(tensors)
    assert all(torch.equal(state[k], tensors[k]) for k in state)
    assert torch.equal(tensors["optimizer/state/0/exp_avg"], opt.state[model.wte.weight]["exp_avg"])
    assert pickle.PROTO not in raw[:8 + n]


# ---- Keras -----------------------------------------------------------------------------------

def keras_train(model, opt, data):
    for rows in data:
        with __import__("tensorflow").GradientTape() as tape:
            logits = model(rows[:, :-1], training=True)
            loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
                rows[:, 1:], logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))


def keras_setup(seed):
    tlm.seed_everything(seed)
    return tlm.GPT(CONFIG), keras.optimizers.AdamW(learning_rate=1e-2, weight_decay=0.1)


def test_keras_resume_is_exact(tmp_path):
    data, path = batches(), tmp_path / "ckpt.safetensors"
    straight, opt = keras_setup(0)
    keras_train(straight, opt, data)
    first, opt = keras_setup(0)
    keras_train(first, opt, data[:SPLIT])
    tlm.save_checkpoint(path, first, opt, step=SPLIT)
    resumed, opt = keras_setup(1)  # another instance name (gpt_3), weights and optimizer
    assert resumed.name != first.name
    info = tlm.load_checkpoint(path, resumed, opt)
    assert int(opt.iterations.numpy()) == SPLIT and info.framework == "tensorflow"
    keras_train(resumed, opt, data[info.step:])
    assert parity.max_abs_diff(straight.weights, resumed.weights) == 0.0
    weights_only, opt = keras_setup(1)  # control: no optimizer state
    tlm.load_checkpoint(path, weights_only)
    keras_train(weights_only, opt, data[SPLIT:])
    assert parity.max_abs_diff(straight.weights, weights_only.weights) > 1e-4


def test_keras_weight_names_do_not_depend_on_the_instance():
    a, b = tlm.GPT(GPT2), tlm.GPT(GPT2)
    assert a.weights[0].path != b.weights[0].path  # gpt/... against gpt_1/...
    names = list(tlm.checkpoint.weight_names(a))
    assert names == list(tlm.checkpoint.weight_names(b))
    torch_names = {k.replace("weight", "").replace("bias", "")
                   for k in plm.GPT(GPT2).state_dict()}  # PyTorch's, without the leaf names
    assert {n.rsplit(".", 1)[0] + "." for n in names} == torch_names


@pytest.mark.parametrize("config", [CONFIG, GPTConfig.llama_like(
    V, 16, 1, n_head=2, n_embd=16, rope_scaling=RopeScaling(factor=2.0, original_block_size=8))])
def test_keras_file_round_trip_in_safe_mode(tmp_path, config):
    model = tlm.GPT(config)
    for w in model.weights:
        w.assign(w + 0.1)  # not the initial weights
    model.save(tmp_path / "gpt.keras")
    loaded = keras.models.load_model(tmp_path / "gpt.keras")  # safe_mode=True
    idx = batches(1)[0]
    assert isinstance(loaded, tlm.GPT) and loaded.config == config
    assert parity.max_abs_diff(model(idx), loaded(idx)) == 0.0


# ---- across frameworks -----------------------------------------------------------------------

@pytest.mark.parametrize("config", [CONFIG, GPT2])
def test_pytorch_checkpoint_loads_into_keras(tmp_path, config):
    torch.manual_seed(3)
    torch_model = plm.GPT(config).eval()
    with torch.no_grad():
        for p in torch_model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    opt = torch.optim.AdamW(torch_model.parameters())
    path = tmp_path / "ckpt.safetensors"
    plm.save_checkpoint(path, torch_model, opt, step=7)
    keras_model = tlm.GPT(config)
    info = tlm.load_checkpoint(path, keras_model)
    assert info.framework == "pytorch" and info.step == 7
    idx = batches(1)[0]
    with torch.no_grad():
        expected = torch_model(torch.as_tensor(idx))
    assert parity.max_abs_diff(expected, keras_model(idx)) <= 1e-5
    with pytest.raises(ValueError, match="pytorch optimizer state"):
        tlm.load_checkpoint(path, keras_model, keras.optimizers.AdamW())


def test_pytorch_mlp_loads_into_keras(tmp_path):
    torch.manual_seed(0)
    torch_model = plm.MLP(5, (7, 6), 3)
    plm.save_checkpoint(tmp_path / "mlp.safetensors", torch_model)
    keras_model = tlm.MLP(5, (7, 6), 3)
    tlm.load_checkpoint(tmp_path / "mlp.safetensors", keras_model)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    with torch.no_grad():
        expected = torch_model(torch.as_tensor(x))
    assert parity.max_abs_diff(expected, keras_model(x)) <= 1e-5
    with pytest.raises(ValueError, match="hidden_sizes"):
        tlm.load_checkpoint(tmp_path / "mlp.safetensors", tlm.MLP(5, (7, 7), 3))


def test_architecture_table_matches_parity():
    for name, args in fmt.ARCHITECTURES.items():
        assert parity._FAMILIES[name][1] == args, name


# ---- clear errors ----------------------------------------------------------------------------

def saved(tmp_path, model, name="ckpt.safetensors", **kwargs):
    path = tmp_path / name
    (plm if isinstance(model, torch.nn.Module) else tlm).save_checkpoint(path, model, **kwargs)
    return path


def test_missing_unexpected_and_wrong_shapes_are_listed(tmp_path):
    small = saved(tmp_path, torch.nn.Sequential(torch.nn.Linear(3, 4)))
    two = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    missing = r"ckpt.safetensors .*missing tensors \['1.bias', '1.weight'\]"
    with pytest.raises(ValueError, match=missing):
        plm.load_checkpoint(small, two)
    with pytest.raises(ValueError, match=r"unexpected tensors \['1.bias', '1.weight'\]"):
        plm.load_checkpoint(saved(tmp_path, two, "two.safetensors"), torch.nn.Sequential(
            torch.nn.Linear(3, 4)))
    with pytest.raises(ValueError, match=r"0.weight: checkpoint \(4, 3\), the model \(5, 3\)"):
        plm.load_checkpoint(small, torch.nn.Sequential(torch.nn.Linear(3, 5)))
    keras_path = saved(tmp_path, tlm.MLP(4, (8,), 2), "keras.safetensors")
    with pytest.raises(ValueError, match=r"missing tensors \['hidden.1.bias', 'hidden.1.kernel'\]"
                                         r".*head.kernel: checkpoint \(8, 2\), the model \(9, 2\)"):
        tlm.load_checkpoint(keras_path, tlm.MLP(4, (8, 9), 2))


def test_another_config_is_named(tmp_path):
    path = saved(tmp_path, plm.GPT(CONFIG))
    other = GPTConfig.llama_like(V, 16, 2, n_head=4, n_embd=16, n_kv_head=2, n_hidden=40,
                                 rope_theta=500.0, dropout=0.1)
    for lm in (plm, tlm):
        with pytest.raises(ValueError, match=r"config: rope_theta=10000.0 \(model: 500.0\)$"):
            lm.load_checkpoint(path, lm.GPT(other))


def test_damaged_and_foreign_files(tmp_path):
    path = saved(tmp_path, plm.MLP(4, (8,), 2))
    raw = path.read_bytes()
    cases = {
        "short.safetensors": (raw[:5], "not a safetensors checkpoint"),
        "truncated.safetensors": (raw[:-10], "truncated"),
        "garbage.safetensors": (raw[:8] + b"\xff" * (len(raw) - 8), "header is not JSON"),
        # the same number of bytes, but a shape that does not fit the offsets
        "inconsistent.safetensors": (raw.replace(b'"shape":[8,4]', b'"shape":[9,4]'),
                                     "corrupt: tensor 'hidden.0.weight' of shape"),
        "dtype.safetensors": (raw.replace(b'"F32"', b'"Q32"', 1), "corrupt: safetensors says"),
    }
    assert raw not in (cases["inconsistent.safetensors"][0], cases["dtype.safetensors"][0])
    pickled = tmp_path / "model.pt"
    torch.save(plm.MLP(4, (8,), 2).state_dict(), pickled)
    for name, (content, match) in cases.items():
        (tmp_path / name).write_bytes(content)
        for lm in (plm, tlm):
            model = lm.MLP(4, (8,), 2)
            with pytest.raises(ValueError, match=f"{name}.*{match}"):
                lm.load_checkpoint(tmp_path / name, model)
    with pytest.raises(ValueError, match="model.pt is not a safetensors checkpoint"):
        plm.load_checkpoint(pickled, plm.MLP(4, (8,), 2))
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="plain.safetensors is a safetensors file but not a "
                                         "largemodels checkpoint"):
        tlm.load_checkpoint(tmp_path / "plain.safetensors", tlm.MLP(4, (8,), 2))


def test_wrong_arguments(tmp_path):
    model = plm.MLP(4, (8,), 2)
    path = tmp_path / "m.safetensors"
    for kwargs, error, match in [
        (dict(path=3), TypeError, "path must be a str or os.PathLike"),
        (dict(model="gpt"), TypeError, "model must be a torch.nn.Module"),
        (dict(optimizer="adamw"), TypeError, "optimizer must be a torch.optim.Optimizer"),
        (dict(step=-1), ValueError, "step must be >= 0"),
        (dict(step=1.5), TypeError, "step must be an int"),
        (dict(metadata={"a": object()}), TypeError, "metadata must hold only JSON values"),
        (dict(metadata=[1]), TypeError, "metadata must be a dict"),
        (dict(config="small"), TypeError, "config must be a largemodels.GPTConfig"),
    ]:
        with pytest.raises(error, match=match):
            plm.save_checkpoint(**{"path": path, "model": model, **kwargs})
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        tlm.save_checkpoint(path, model)
    plm.save_checkpoint(path, model)
    with pytest.raises(ValueError, match="holds no optimizer state"):
        plm.load_checkpoint(path, model, torch.optim.SGD(model.parameters(), lr=0.1))
    plm.save_checkpoint(path, model, torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="state of a SGD optimizer, got a AdamW"):
        plm.load_checkpoint(path, model, torch.optim.AdamW(model.parameters()))
    keras_model = tlm.MLP(4, (8,), 2)
    tlm.save_checkpoint(path, keras_model, keras.optimizers.AdamW(weight_decay=0.1))
    with pytest.raises(ValueError, match=r"other settings: weight_decay=0.1 \(optimizer: 0.2\)"):
        tlm.load_checkpoint(path, keras_model, keras.optimizers.AdamW(weight_decay=0.2))


# ---- ONNX ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lm", [plm, tlm], ids=["pytorch", "tensorflow"])
def test_onnx_export_matches_the_model(tmp_path, lm, capfd):
    ort = pytest.importorskip("onnxruntime")
    lm.seed_everything(0)
    model = lm.GPT(CONFIG)
    path = lm.export_onnx(model, tmp_path / "gpt.onnx", batches(1)[0][:2, :5])
    assert capfd.readouterr().out == ""  # quiet
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (name,) = (i.name for i in session.get_inputs())
    for batch, time in ((2, 5), (3, 11)):  # the example's shape, and another one
        idx = np.random.default_rng(time).integers(0, V, (batch, time))
        expected = model(torch.as_tensor(idx)).detach() if lm is plm else model(idx)
        (logits,) = session.run(None, {name: idx})  # int64, as the example
        assert parity.max_abs_diff(expected, logits) <= 1e-5, (batch, time)


def test_export_needs_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnxscript", None)
    monkeypatch.setitem(__import__("sys").modules, "tf2onnx", None)
    for lm in (plm, tlm):
        with pytest.raises(ImportError, match=r'largemodels\[export\]'):
            lm.export_onnx(lm.MLP(2, (), 1), tmp_path / "m.onnx", np.zeros((1, 2), "float32"))
