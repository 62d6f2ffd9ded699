"""Interpretability helpers (largemodels.torch.interpret and its Keras twin): quadrature
rules against closed forms, integrated gradients against a linear model's exact answer and
against Captum, the two frameworks against each other on copied weights, and attention maps
against Hugging Face's implementations and the model's own attention output."""

import warnings

import numpy as np
import pytest
import torch
from largemodels import parity
from largemodels import tensorflow as tlm
from largemodels import torch as plm
from largemodels.tensorflow import interpret as tinterp
from largemodels.torch import interpret as pinterp

TWINS = [pinterp, tinterp]
LLAMA_LIKE = plm.GPTConfig.llama_like(vocab_size=61, block_size=16, n_layer=2, n_head=4,
                                      n_embd=32, n_kv_head=2)
GPT2_LIKE = plm.GPTConfig(vocab_size=61, block_size=16, n_layer=2, n_head=4, n_embd=32)


@pytest.fixture(scope="module")
def cnn_pair():
    plm.seed_everything(0)
    torch_cnn = plm.CNN(1, 10, 8, channels=(8, 16))
    keras_cnn = tlm.CNN(1, 10, 8, channels=(8, 16))
    parity.copy_weights(torch_cnn, keras_cnn)
    x = np.random.default_rng(0).normal(size=(4, 8, 8)).astype(np.float32)  # (n, H, W)
    return torch_cnn, keras_cnn, x


def _gpt_pair(config):
    plm.seed_everything(1)
    torch_gpt, keras_gpt = plm.GPT(config), tlm.GPT(config)
    with torch.no_grad():  # larger weights than at initialisation: peaked attention
        for p in torch_gpt.parameters():
            p.mul_(8.0 if p.dim() > 1 else 1.0)
    parity.copy_weights(torch_gpt, keras_gpt)
    idx = np.random.default_rng(2).integers(0, config.vocab_size, (3, 12))  # (B, T)
    return torch_gpt.eval(), keras_gpt, idx


# ---- quadrature and integrated gradients ------------------------------------------------------


@pytest.mark.parametrize("twin", TWINS)
@pytest.mark.parametrize("steps", [1, 4, 64])
def test_path_weights_integrate_a_parabola_with_the_textbook_error(twin, steps):
    # int_0^1 a^2 da = 1/3; trapezoid error h^2 / 6; right Riemann sum (m+1)(2m+1) / (6 m^2)
    alphas, weights = twin.path_weights(steps, "trapezoid")
    assert abs(np.sum(weights * alphas**2) - (1 / 3 + 1 / (6 * steps**2))) < 1e-6
    alphas, weights = twin.path_weights(steps, "riemann")
    exact = (steps + 1) * (2 * steps + 1) / (6 * steps**2)
    assert abs(np.sum(weights * alphas**2) - exact) < 1e-6


@pytest.mark.parametrize("twin", TWINS)
def test_path_weights_reject_bad_arguments(twin):
    with pytest.raises(ValueError, match="steps"):
        twin.path_weights(0)
    with pytest.raises(ValueError, match="rule"):
        twin.path_weights(8, "simpson")


def test_integrated_gradients_of_a_linear_model_are_weight_times_input():
    # f(x) = w . x + b: the gradient is w everywhere, so IG = w * (x - baseline) exactly
    plm.seed_everything(3)
    torch_linear = plm.MLP(6, (), 3)
    keras_linear = tlm.MLP(6, (), 3)
    parity.copy_weights(torch_linear, keras_linear)
    x = np.random.default_rng(4).normal(size=(5, 6)).astype(np.float32)
    baseline = np.full(6, 0.5, dtype=np.float32)
    w = torch_linear.head.weight.detach().numpy()  # (3, 6)
    target = np.array([0, 1, 2, 1, 0])
    expected = w[target] * (x - baseline)
    for twin, model in ((pinterp, torch_linear), (tinterp, keras_linear)):
        for rule in ("trapezoid", "riemann"):
            got = twin.integrated_gradients(model, x, target, baseline, steps=3, rule=rule)
            assert np.abs(got - expected).max() < 1e-6


def test_completeness_error_shrinks_with_the_steps(cnn_pair):
    torch_cnn, _, x = cnn_pair
    target = [1, 2, 3, 4]
    with torch.no_grad():
        logits = torch_cnn(torch.from_numpy(x[:, None])) - torch_cnn(torch.zeros(4, 1, 8, 8))
    gap = logits.numpy()[np.arange(4), target]  # f(x) - f(baseline)
    errors = []
    for steps in (4, 64, 1024):
        attr = plm.integrated_gradients(torch_cnn, x[:, None], target, steps=steps)
        errors.append(np.abs(attr.reshape(4, -1).sum(1) - gap).max())
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < 1e-2 * np.abs(gap).max()


@pytest.mark.parametrize("rule", ["trapezoid", "riemann"])
def test_attributions_agree_across_frameworks_on_copied_weights(cnn_pair, rule):
    torch_cnn, keras_cnn, x = cnn_pair
    target = [0, 5, 9, 3]
    ig_torch = plm.integrated_gradients(torch_cnn, x[:, None], target, steps=32, rule=rule,
                                        batch_size=50)  # several chunks
    ig_keras = tlm.integrated_gradients(keras_cnn, x[..., None], target, steps=32, rule=rule)
    assert np.abs(ig_torch[:, 0] - ig_keras[..., 0]).max() < 1e-5
    assert np.abs(ig_torch).max() > 1e-3  # not trivially zero
    sal_torch = plm.saliency(torch_cnn, x[:, None], target)
    sal_keras = tlm.saliency(keras_cnn, x[..., None], target)
    assert np.abs(sal_torch[:, 0] - sal_keras[..., 0]).max() < 1e-5


def test_torch_attributions_match_captum(cnn_pair):
    tqdm = pytest.importorskip("tqdm")
    warnings.filterwarnings("ignore", category=tqdm.TqdmWarning)
    attr = pytest.importorskip("captum.attr")
    torch_cnn, _, x = cnn_pair
    xt, target = torch.from_numpy(x[:, None]), [1, 7, 2, 8]
    ig = attr.IntegratedGradients(torch_cnn)
    captum_right = ig.attribute(xt, target=target, n_steps=50, method="riemann_right")
    ours = plm.integrated_gradients(torch_cnn, xt, target, steps=50, rule="riemann")
    assert np.abs(captum_right.detach().numpy() - ours).max() < 1e-6
    # Captum's trapezoid puts n points on [0, 1] with step 1/n: weights summing to (n-1)/n
    captum_trap = ig.attribute(xt, target=target, n_steps=51, method="riemann_trapezoid")
    ours = plm.integrated_gradients(torch_cnn, xt, target, steps=50, rule="trapezoid")
    assert np.abs(captum_trap.detach().numpy() - ours * 50 / 51).max() < 1e-6
    sal = attr.Saliency(torch_cnn).attribute(xt.clone().requires_grad_(True), target=target)
    assert np.abs(sal.detach().numpy() - plm.saliency(torch_cnn, xt, target)).max() < 1e-7


@pytest.mark.parametrize("twin, model", [(pinterp, "torch"), (tinterp, "keras")])
def test_attributions_reject_bad_targets(cnn_pair, twin, model):
    torch_cnn, keras_cnn, x = cnn_pair
    model, x = (torch_cnn, x[:, None]) if model == "torch" else (keras_cnn, x[..., None])
    with pytest.raises(ValueError, match="target"):
        twin.saliency(model, x, 10)
    with pytest.raises(ValueError, match="one class per input"):
        twin.integrated_gradients(model, x, [1, 2], steps=2)
    with pytest.raises(TypeError, match="target"):
        twin.saliency(model, x, 1.5)
    with pytest.raises(TypeError, match="floating-point"):
        twin.saliency(model, x.astype(np.int64), 1)


# ---- inside the GPT ----------------------------------------------------------------------------


@pytest.mark.parametrize("config", [LLAMA_LIKE, GPT2_LIKE], ids=["llama_like", "gpt2"])
def test_attention_maps_are_causal_distributions_and_agree_across_frameworks(config):
    torch_gpt, keras_gpt, idx = _gpt_pair(config)
    maps = plm.attention_maps(torch_gpt, idx)
    assert maps.shape == (config.n_layer, 3, config.n_head, 12, 12)
    assert np.abs(maps.sum(-1) - 1).max() < 1e-5
    assert np.abs(np.triu(maps, k=1)).max() == 0
    assert maps.max() > 0.5  # peaked somewhere, so the comparisons below mean something
    assert np.abs(maps - tlm.attention_maps(keras_gpt, idx)).max() < 1e-5
    # causality: changing the last token changes no earlier query's row
    changed = idx.copy()
    changed[:, -1] = (changed[:, -1] + 1) % config.vocab_size
    maps_changed = plm.attention_maps(torch_gpt, changed)
    assert np.abs(maps_changed[..., :-1, :] - maps[..., :-1, :]).max() < 1e-6
    assert np.abs(maps_changed[..., -1, :] - maps[..., -1, :]).max() > 1e-4


def test_attention_maps_times_values_reproduce_the_attention_output():
    torch_gpt, _, idx = _gpt_pair(LLAMA_LIKE)
    maps = torch.from_numpy(plm.attention_maps(torch_gpt, idx))  # (L, B, nh, T, T)
    inputs, outputs = {}, {}

    def keep(layer):
        def hook(module, args, output):
            inputs[layer], outputs[layer] = args[0], output
        return hook

    handles = [blk.attn.register_forward_hook(keep(i)) for i, blk in enumerate(torch_gpt.blocks)]
    with torch.no_grad():
        torch_gpt(torch.from_numpy(idx))
        for h in handles:
            h.remove()
        c, hs = LLAMA_LIKE, LLAMA_LIKE.head_size
        for layer, blk in enumerate(torch_gpt.blocks):
            h = inputs[layer]  # (B, T, C): the normalised block input
            B, T, C = h.shape
            v = blk.attn.c_attn(h)[..., C + c.n_kv_head * hs:]  # (B, T, nkv hs)
            v = v.view(B, T, c.n_kv_head, hs).transpose(1, 2)  # (B, nkv, T, hs)
            v = v.repeat_interleave(c.n_head // c.n_kv_head, dim=1)  # (B, nh, T, hs)
            y = (maps[layer] @ v).transpose(1, 2).reshape(B, T, C)
            assert (blk.attn.c_proj(y) - outputs[layer]).abs().max() < 1e-5


@pytest.mark.parametrize("config", [LLAMA_LIKE, GPT2_LIKE], ids=["llama_like", "gpt2"])
def test_attention_maps_match_hugging_face(config):
    pytest.importorskip("transformers")
    from largemodels.torch import hf

    torch_gpt, _, idx = _gpt_pair(config)
    hf_model = hf.to_hf(torch_gpt)
    hf_model.set_attn_implementation("eager")  # the implementation that returns weights
    with torch.no_grad():
        out = hf_model(torch.from_numpy(idx), output_attentions=True)
    theirs = torch.stack(out.attentions).numpy()  # (L, B, nh, T, T)
    assert np.abs(plm.attention_maps(torch_gpt, idx) - theirs).max() < 1e-5


@pytest.mark.parametrize("config", [LLAMA_LIKE, GPT2_LIKE], ids=["llama_like", "gpt2"])
def test_logit_lens_and_residual_stream(config):
    torch_gpt, keras_gpt, idx = _gpt_pair(config)
    lens = plm.logit_lens(torch_gpt, idx)
    assert lens.shape == (config.n_layer + 1, 3, 12, config.vocab_size)
    with torch.no_grad():
        logits = torch_gpt(torch.from_numpy(idx)).numpy()
    assert np.abs(lens[-1] - logits).max() < 1e-5  # the last read-out is the model's own
    assert np.abs(lens[0] - logits).max() > 1e-2  # the embedding's is not
    assert np.abs(lens - tlm.logit_lens(keras_gpt, idx)).max() < 1e-4
    stream = plm.residual_stream(torch_gpt, idx)
    assert stream.shape == (config.n_layer + 1, 3, 12, config.n_embd)
    embedding = torch_gpt.wte.weight.detach().numpy()[idx]
    if torch_gpt.wpe is not None:
        embedding = embedding + torch_gpt.wpe.weight.detach().numpy()[:12]
    assert np.abs(stream[0] - embedding).max() < 1e-6
    assert np.abs(stream - tlm.residual_stream(keras_gpt, idx)).max() < 1e-4


@pytest.mark.parametrize("twin, lm", [(pinterp, plm), (tinterp, tlm)])
def test_gpt_views_reject_bad_input(twin, lm):
    model = lm.GPT(LLAMA_LIKE)
    with pytest.raises(TypeError, match="GPT"):
        twin.attention_maps(lm.MLP(4, (), 2), np.zeros((1, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="idx"):
        twin.attention_maps(model, np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="block_size"):
        twin.logit_lens(model, np.zeros((1, 17), dtype=np.int64))
