"""Compression helpers (Section 5.1): pruning masks, structured pruning, distillation, int8, sizes.

Each check compares against an independent implementation: PyTorch's own pruning utilities, a
NumPy formula, scipy's CSR, or the other framework on copied weights.
"""
import numpy as np
import pytest
import torch
from torch.nn.utils import prune

from largemodels import compress, parity
from largemodels import tensorflow as tlm
from largemodels import torch as plm


@pytest.fixture
def mlps():
    plm.seed_everything(0)
    t = plm.MLP(8, (16, 12), 4)
    k = tlm.MLP(8, (16, 12), 4)
    parity.copy_weights(t, k)
    return t, k


def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8)).astype("float32"), rng.integers(0, 4, n)


# ---- magnitude pruning -----------------------------------------------------------------------

@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.9])
def test_masks_equal_torch_global_unstructured(mlps, sparsity):
    t, _ = mlps
    masks = plm.compress.magnitude_masks(t, sparsity)
    reference = plm.MLP(8, (16, 12), 4)
    reference.load_state_dict(t.state_dict())
    modules = {"hidden.0": reference.hidden[0], "hidden.1": reference.hidden[1],
               "head": reference.head}
    prune.global_unstructured([(m, "weight") for m in modules.values()],
                              pruning_method=prune.L1Unstructured, amount=sparsity)
    for name, module in modules.items():
        np.testing.assert_array_equal(masks[f"{name}.weight"], module.weight_mask.bool().numpy())
    n = sum(m.size for m in masks.values())
    assert sum(int((~m).sum()) for m in masks.values()) == round(sparsity * n)


def test_keras_masks_are_torch_masks_transposed(mlps):
    t, k = mlps
    torch_masks = plm.compress.magnitude_masks(t, 0.7)
    keras_masks = tlm.compress.magnitude_masks(k, 0.7)
    assert len(torch_masks) == len(keras_masks) == 3
    for a, b in zip(torch_masks.values(), keras_masks.values()):
        np.testing.assert_array_equal(a.T, b)


def test_torch_mask_survives_training(mlps):
    t, _ = mlps
    masks = plm.compress.magnitude_masks(t, 0.8)
    plm.compress.apply_masks(t, masks)
    x, y = data()
    plm.fit(t, x, y, loss="cross_entropy", epochs=3, batch_size=16, lr=1e-2, live_plot=False)
    weights = plm.compress.prunable_weights(t)
    for name, mask in masks.items():
        assert np.all(weights[name][~mask] == 0)
        assert np.all(weights[name][mask] != 0)
    plm.compress.remove_masks(t)
    assert not any(prune.is_pruned(m) for m in t.modules())
    assert set(dict(t.named_parameters())) == {"hidden.0.weight", "hidden.0.bias", "hidden.1.weight",
                                               "hidden.1.bias", "head.weight", "head.bias"}


def test_keras_constraint_keeps_mask_and_is_needed(mlps):
    _, k = mlps
    masks = tlm.compress.magnitude_masks(k, 0.8)
    x, y = data()
    tlm.compress.apply_masks(k, masks)
    tlm.fit(k, x, y, loss="cross_entropy", epochs=3, batch_size=16, lr=1e-2, live_plot=False)
    weights = tlm.compress.prunable_weights(k)
    for name, mask in masks.items():
        assert np.all(weights[name][~mask] == 0) and np.all(weights[name][mask] != 0)
    # negative control: without the constraint, training revives the pruned weights
    tlm.compress.remove_masks(k)
    tlm.fit(k, x, y, loss="cross_entropy", epochs=1, batch_size=16, lr=1e-2, live_plot=False)
    revived = tlm.compress.prunable_weights(k)
    assert any(np.any(revived[name][~mask] != 0) for name, mask in masks.items())


def test_mask_errors(mlps):
    t, k = mlps
    for lm, model in ((plm, t), (tlm, k)):
        with pytest.raises(ValueError, match="sparsity"):
            lm.compress.magnitude_masks(model, 1.0)
        with pytest.raises(ValueError, match="unknown"):
            lm.compress.apply_masks(model, {"nope": np.ones((2, 2), bool)})
    with pytest.raises(ValueError, match="shape"):
        plm.compress.apply_masks(t, {"head.weight": np.ones((2, 2), bool)})


# ---- structured pruning ----------------------------------------------------------------------

def test_prune_neurons_equals_zeroing_outgoing_weights(mlps):
    t, _ = mlps
    small = plm.compress.prune_neurons(t, 0.5)
    assert small.hidden_sizes == (8, 6)
    assert plm.count_params(small) == 8 * 8 + 8 + 8 * 6 + 6 + 6 * 4 + 4
    # independent construction: the big model with the dropped units' outgoing weights zeroed
    zeroed = plm.MLP(8, (16, 12), 4)
    zeroed.load_state_dict(t.state_dict())
    with torch.no_grad():
        for layer, following, kept_layer in zip(t.hidden, [*zeroed.hidden[1:], zeroed.head],
                                                small.hidden):
            # the kept units, found by their biases (distinct under random initialisation)
            kept = [int(torch.nonzero(layer.bias == b)[0]) for b in kept_layer.bias]
            dropped = sorted(set(range(layer.out_features)) - set(kept))
            following.weight[:, dropped] = 0
    x = torch.as_tensor(data()[0])
    torch.testing.assert_close(small(x), zeroed(x), atol=1e-5, rtol=0)


def test_prune_neurons_keeps_ln_structured_units_and_twins_agree(mlps):
    t, k = mlps
    small_t, small_k = plm.compress.prune_neurons(t, 0.25), tlm.compress.prune_neurons(k, 0.25)
    reference = plm.MLP(8, (16, 12), 4).hidden[0]
    reference.load_state_dict(t.hidden[0].state_dict())
    prune.ln_structured(reference, "weight", amount=0.75, n=2, dim=0)
    kept = reference.weight_mask.any(dim=1)
    torch.testing.assert_close(small_t.hidden[0].weight, t.hidden[0].weight[kept])
    x = data()[0]
    assert parity.max_abs_diff(small_t(torch.as_tensor(x)), small_k(x)) < 1e-5
    with pytest.raises(TypeError, match="MLP"):
        plm.compress.prune_neurons(torch.nn.Linear(2, 2), 0.5)
    with pytest.raises(ValueError, match="keep"):
        tlm.compress.prune_neurons(k, 0.0)


# ---- distillation ----------------------------------------------------------------------------

def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def distillation_numpy(student, teacher, labels, t, alpha):
    """Hinton et al. (2015), written out in float64."""
    log_q, log_p = log_softmax(student / t), log_softmax(teacher / t)
    kl = np.mean(np.sum(np.exp(log_p) * (log_p - log_q), axis=-1))
    ce = -np.mean(log_softmax(student)[np.arange(len(labels)), labels])
    return alpha * t * t * kl + (1 - alpha) * ce


@pytest.mark.parametrize("t, alpha", [(1.0, 0.5), (4.0, 0.9), (2.5, 0.0), (10.0, 1.0)])
def test_distillation_loss_matches_formula(t, alpha):
    rng = np.random.default_rng(1)
    s, te = rng.normal(size=(2, 32, 10)) * 3
    y = rng.integers(0, 10, 32)
    expected = distillation_numpy(s, te, y, t, alpha)
    got_t = plm.compress.distillation_loss(torch.tensor(s, dtype=torch.float32),
                                           torch.tensor(te, dtype=torch.float32),
                                           torch.as_tensor(y), t, alpha)
    got_k = tlm.compress.distillation_loss(s.astype("float32"), te.astype("float32"), y, t, alpha)
    assert abs(float(got_t) - expected) < 1e-4 * max(1, expected)
    assert abs(float(got_k) - expected) < 1e-4 * max(1, expected)


def test_distillation_loss_no_teacher_gradient_and_errors():
    s = torch.randn(4, 3, requires_grad=True)
    te = torch.randn(4, 3, requires_grad=True)
    plm.compress.distillation_loss(s, te, torch.tensor([0, 1, 2, 0]), 2.0, 0.5).backward()
    assert s.grad is not None and te.grad is None
    for lm in (plm, tlm):
        with pytest.raises(ValueError, match="temperature"):
            lm.compress.distillation_loss(s.detach(), te.detach(), torch.zeros(4, dtype=int), 0, 0.5)
        with pytest.raises(ValueError, match="alpha"):
            lm.compress.distillation_loss(s.detach(), te.detach(), torch.zeros(4, dtype=int), 1, 1.5)


# ---- int8, sizes, timing ---------------------------------------------------------------------

def test_int8_symmetric_bound_and_keras_scale(mlps):
    _, k = mlps
    kernel = k.hidden[1].kernel.numpy()  # (in, out)
    q, scale = compress.int8_symmetric(kernel, axis=1)
    assert q.dtype == np.int8 and scale.shape == (12,)
    assert np.all(np.abs(q * scale - kernel) <= scale / 2 + 1e-7)
    assert np.all(np.abs(q).max(axis=0) == 127)  # the largest weight of each unit hits 127
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k.quantize("int8")
    np.testing.assert_allclose(k.hidden[1].kernel_scale.numpy().ravel() * scale, 1, rtol=1e-5)
    assert np.abs(k.hidden[1]._kernel.numpy().astype(int) - q).max() <= 1
    zero_q, zero_scale = compress.int8_symmetric(np.zeros((2, 3)))
    assert np.all(zero_q == 0) and np.all(zero_scale == 1)


def test_file_sizes_csr_round_trip(tmp_path):
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    w = rng.normal(size=(50, 40)).astype("float32")
    w[rng.random(w.shape) < 0.9] = 0
    values, cols, indptr = compress._csr(w)
    np.testing.assert_array_equal(sp.csr_matrix((values, cols, indptr), shape=w.shape).toarray(), w)
    sizes = compress.file_sizes({"w": w}, tmp_path)
    assert sizes["CSR"] < 0.3 * sizes["dense"] and sizes["compressed"] < sizes["dense"]
    assert sizes["dense"] > w.nbytes
    assert compress.sparsity([w]) == pytest.approx(np.mean(w == 0))
    with pytest.raises(ValueError, match="folder"):
        compress.file_sizes({"w": w}, tmp_path / "missing")


def test_median_ms_and_table():
    assert compress.median_ms(lambda: None, repeats=3) >= 0
    with pytest.raises(ValueError, match="repeats"):
        compress.median_ms(lambda: None, repeats=0)
    text = compress.table([{"model": "a", "bytes": 1234, "acc": 0.5}, {"model": "bb", "bytes": 5,
                                                                         "acc": None}])
    assert text.splitlines() == ["model  bytes  acc", "a      1,234  0.5", "bb         5    -"]


def test_saved_size_and_litert(tmp_path, mlps):
    t, k = mlps
    assert plm.compress.saved_size(t, tmp_path, "m") > 4 * plm.count_params(t)
    assert tlm.compress.saved_size(k, tmp_path, "m") > 4 * tlm.count_params(k)
    pytest.importorskip("ai_edge_litert")
    from largemodels.tensorflow.compress import litert_runner, to_litert_int8
    x = data(200)[0]
    n_bytes = to_litert_int8(k, x, tmp_path / "m.tflite")
    assert n_bytes == (tmp_path / "m.tflite").stat().st_size
    out = litert_runner(tmp_path / "m.tflite")(x)
    reference = tlm.predict(k, x, 64)
    assert out.shape == reference.shape and np.mean(out.argmax(-1) == reference.argmax(-1)) > 0.9
    assert np.abs(out - reference).max() < 0.1 * np.abs(reference).max()
