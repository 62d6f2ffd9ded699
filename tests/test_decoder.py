"""The modern decoder: equal to Hugging Face's GPT-2 and Llama, Keras equal to PyTorch, the KV
cache equal to recomputation, and generation reproducible. Run with ``-s`` to see the errors."""
import numpy as np
import pytest

from largemodels import GPTConfig, costs, parity, sampling
from largemodels import tensorflow as tlm
from largemodels import torch as plm
from largemodels.config import RopeScaling
from largemodels.rope import inverse_frequencies

import torch  # noqa: E402  (after largemodels.tensorflow: TensorFlow starts quietly)

TOL = 1e-5  # float32
V = 61
CONFIGS = {  # odd sizes; sequences (11) shorter than the block (16)
    "gpt2": GPTConfig(vocab_size=V, block_size=16, n_layer=2, n_head=3, n_embd=36),
    "llama-mha": GPTConfig.llama_like(V, 16, 2, n_head=3, n_embd=36, n_hidden=50),
    "llama-gqa": GPTConfig.llama_like(V, 16, 2, n_head=6, n_embd=36, n_kv_head=2, n_hidden=44),
    "llama-mqa-tied-bias-llama3": GPTConfig.llama_like(
        V, 16, 3, n_head=4, n_embd=32, n_kv_head=1, tie_head=True, bias=True, rope_theta=500.0,
        rope_scaling=RopeScaling(factor=4.0, original_block_size=8)),
}
IDS = list(CONFIGS)


def tokens(batch, time, seed=0):
    return np.random.default_rng(seed).integers(0, V, (batch, time))


@pytest.fixture(scope="module")
def hf():
    """The package's converter, when transformers (a test-only dependency) is installed."""
    pytest.importorskip("transformers")
    from largemodels.torch import hf

    return hf


@pytest.mark.parametrize("name", IDS)
def test_equal_to_hugging_face(name, hf):
    """Random Hugging Face weights (built from a config, no download) -> the package's model:
    the same logits, with the fused and the written-out attention; and back to the same state dict."""
    config = CONFIGS[name]
    hf_model = hf.to_hf(plm.GPT(config))
    torch.manual_seed(1)
    with torch.no_grad():  # move every weight away from its initial value (norms included)
        for p in hf_model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    assert hf.config_from_hf(hf_model.config) == config
    model = hf.from_hf(hf_model).eval()
    idx = torch.as_tensor(tokens(2, 11))
    with torch.no_grad():
        reference = hf_model(idx).logits
        errors = []
        for fused in (True, False):
            model.fused_attention = fused
            errors.append(parity.max_abs_diff(model(idx), reference))
    print(f"{name}: max |logits - transformers| fused {errors[0]:.1e}, written {errors[1]:.1e}")
    assert max(errors) <= TOL
    back = hf.state_dict_to_hf(model.state_dict(), config)
    original = hf_model.state_dict()
    assert set(back) == set(original)
    assert all(torch.equal(back[k], original[k]) for k in original)


@pytest.mark.parametrize("name", IDS)
def test_keras_equals_pytorch(name):
    config = CONFIGS[name]
    torch.manual_seed(2)
    torch_model = plm.GPT(config).eval()
    with torch.no_grad():
        for p in torch_model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    tf_model = tlm.GPT(config)
    assert parity.copy_weights(torch_model, tf_model) == len(list(torch_model.parameters()))
    idx = tokens(2, 11)
    with torch.no_grad():
        expected = torch_model(torch.as_tensor(idx))
    for fused in (True, False):
        tf_model.fused_attention = fused
        err = parity.max_abs_diff(expected, tf_model(idx))
        assert err <= TOL, f"{name} fused={fused}: {err:.1e}"


def _cached_logits(model, idx, chunks, to_tensor):
    """Feed idx in chunks of the given lengths through a KV cache; return all logits."""
    cache, outputs, start = model.new_cache(), [], 0
    for n in chunks:
        outputs.append(np.asarray(parity.to_numpy(model(to_tensor(idx[:, start:start + n]), cache=cache))))
        start += n
    assert cache.length == idx.shape[1]
    return np.concatenate(outputs, axis=1), cache


@pytest.mark.parametrize("name", ["gpt2", "llama-gqa"])
@pytest.mark.parametrize("fused", [True, False])
def test_cache_equals_recomputation(name, fused):
    """Prefill 5 tokens, then 1, then 3, then 1 at a time: the same logits as one pass over all,
    in both frameworks; and the cache holds exactly kv_cache_bytes."""
    config, idx = CONFIGS[name], tokens(2, 12)
    for lm, to_tensor in ((plm, torch.as_tensor), (tlm, lambda a: a)):
        model = lm.GPT(config, fused_attention=fused)
        if lm is plm:
            model.eval()
        full = parity.to_numpy(model(to_tensor(idx)))
        cached, cache = _cached_logits(model, idx, [5, 1, 3, 1, 1, 1], to_tensor)
        assert parity.max_abs_diff(full, cached) <= TOL, lm.FRAMEWORK
        assert cache.nbytes == costs.kv_cache_bytes(config, 12, batch_size=2, dtype="float32")


def test_cache_refuses_to_overflow():
    config = CONFIGS["llama-gqa"]
    for lm, to_tensor in ((plm, torch.as_tensor), (tlm, lambda a: a)):
        model = lm.GPT(config)
        cache = model.new_cache()
        model(to_tensor(tokens(1, 14)), cache=cache)
        with pytest.raises(ValueError, match="the KV cache holds 14 tokens and sequence length 3 exceeds"):
            model(to_tensor(tokens(1, 3)), cache=cache)
        with pytest.raises(ValueError, match="exceeds block_size=16, the longest the KV cache can hold"):
            lm.generate(model, to_tensor(tokens(1, 10)), max_new_tokens=7)


@pytest.mark.parametrize("name", ["gpt2", "llama-mqa-tied-bias-llama3"])
def test_generation(name):
    """Greedy decoding: cache == no cache, PyTorch == Keras on the same weights.
    Sampling: the same seed gives the same tokens (in both frameworks), another seed others."""
    config = CONFIGS[name]
    torch.manual_seed(3)
    torch_model = plm.GPT(config)
    tf_model = tlm.GPT(config)
    parity.copy_weights(torch_model, tf_model)
    prompt = tokens(2, 4)
    runs = {}
    for lm, model, to_tensor in ((plm, torch_model, torch.as_tensor), (tlm, tf_model, lambda a: a)):
        for use_cache in (True, False):
            out = lm.generate(model, to_tensor(prompt), 12, temperature=0, use_cache=use_cache)
            runs[lm.FRAMEWORK, use_cache] = parity.to_numpy(out)
        sample = [parity.to_numpy(lm.generate(model, to_tensor(prompt), 12, top_k=20, top_p=0.9, seed=s))
                  for s in (7, 7, 8)]
        assert np.array_equal(sample[0], sample[1]) and not np.array_equal(sample[0], sample[2])
        runs[lm.FRAMEWORK, "sample"] = sample[0]
    greedy = runs["pytorch", True]
    assert greedy.shape == (2, 16) and np.array_equal(greedy[:, :4], prompt)
    for key, out in runs.items():
        assert np.array_equal(out, greedy if key[1] != "sample" else runs["pytorch", "sample"]), key
    assert torch_model.training  # generate restores the mode it found (a new nn.Module trains)


def test_generation_without_cache_crops_the_context():
    model = plm.GPT(CONFIGS["gpt2"])
    out = plm.generate(model, torch.as_tensor(tokens(1, 10)), 20, temperature=0, use_cache=False)
    assert out.shape == (1, 30)


def test_rope_scores_depend_on_the_offset_only():
    """q at position m and k at n: the rotated dot product is a function of m - n."""
    hs = 16
    inv_freq = torch.from_numpy(inverse_frequencies(hs, 100.0))
    q, k = torch.randn(1, 1, 1, hs, dtype=torch.float64), torch.randn(1, 1, 1, hs, dtype=torch.float64)

    def score(m, n):
        cos, sin = plm.decoder.rope_angles(torch.tensor([m, n]), inv_freq.double())
        cos, sin = cos.double(), sin.double()
        return float((plm.decoder.rotate(q, cos[:1], sin[:1]) * plm.decoder.rotate(k, cos[1:], sin[1:])).sum())

    assert abs(score(7, 3) - score(104, 100)) < 1e-9
    assert abs(score(7, 3) - score(3, 7)) > 1e-3  # not symmetric: the sign of the offset matters
    assert abs(score(0, 0) - float((q * k).sum())) < 1e-12  # position 0: no rotation


def test_llama3_frequencies_match_transformers():
    transformers = pytest.importorskip("transformers")
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    config = GPTConfig.llama("3.1-8B")
    hf_config = transformers.LlamaConfig(
        hidden_size=config.n_embd, num_attention_heads=config.n_head, max_position_embeddings=131072,
        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192})
    theirs, scale = ROPE_INIT_FUNCTIONS["llama3"](hf_config, "cpu")
    ours = inverse_frequencies(config.head_size, config.rope_theta, config.rope_scaling)
    assert scale == 1.0
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-6)
    assert ours[-1] < inverse_frequencies(config.head_size, config.rope_theta)[-1] / 7.9  # stretched


def test_filters_match_transformers():
    """top-k and top-p keep the same tokens as transformers' logits processors."""
    pytest.importorskip("transformers")
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    logits = np.random.default_rng(4).normal(size=(3, 50)) * 3
    for top_k, top_p in ((5, None), (None, 0.9), (None, 0.5)):
        ours = np.isfinite(sampling.filter_logits(logits, top_k=top_k, top_p=top_p))
        warper = TopKLogitsWarper(top_k) if top_k else TopPLogitsWarper(top_p)
        theirs = torch.isfinite(warper(None, torch.as_tensor(logits, dtype=torch.float32))).numpy()
        assert np.array_equal(ours, theirs), (top_k, top_p)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_kv_head=4), ValueError, "n_kv_head must divide n_head"),
    (dict(n_embd=30, n_head=6, positions="rope"), ValueError, "head_size = n_embd / n_head must be even"),
    (dict(norm="batchnorm"), ValueError, "norm must be one of"),
    (dict(rope_scaling={"factor": 8}), TypeError, "rope_scaling must be"),
])
def test_config_errors(kwargs, error, match):
    base = dict(vocab_size=10, block_size=8, n_layer=1, n_head=6, n_embd=36)
    with pytest.raises(error, match=match):
        GPTConfig(**{**base, **kwargs})


def test_sampling_errors():
    logits = np.zeros((1, 5))
    for kwargs, match in ((dict(temperature=-1.0), "temperature"), (dict(top_k=0), "top_k"),
                          (dict(top_p=0.0), "top_p"), (dict(top_p=1.5), "top_p")):
        with pytest.raises(ValueError, match=match):
            sampling.next_token(logits, rng=np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match="needs rng"):
        sampling.next_token(logits, temperature=1.0)


def test_trained_model_generates_the_same_text_in_both_frameworks():
    """Train the PyTorch Llama-style model on a cycle of 7 tokens, copy the weights into Keras:
    both continue a prompt with the cycle, token for token, with and without the cache."""
    config = GPTConfig.llama_like(vocab_size=7, block_size=32, n_layer=1, n_head=2, n_embd=16,
                                  n_kv_head=1)
    rows = (np.arange(33)[None, :] + np.arange(14)[:, None]) % 7  # every phase of the cycle
    plm.seed_everything(0)
    torch_model = plm.GPT(config)
    history = plm.fit(torch_model, rows[:, :-1], rows[:, 1:], loss="cross_entropy", epochs=25,
                      batch_size=14, lr=1e-2, optimizer="adam", live_plot=False)
    assert history["loss"][-1] < 0.05 * history["loss"][0]  # it has learned the cycle
    tf_model = tlm.GPT(config)
    parity.copy_weights(torch_model, tf_model)
    prompt = np.array([[3, 4, 5]])
    expected = (np.arange(3, 3 + 3 + 20) % 7)[None, :]
    for lm, model, to_tensor in ((plm, torch_model, torch.as_tensor), (tlm, tf_model, lambda a: a)):
        for use_cache in (True, False):
            out = lm.generate(model, to_tensor(prompt), 20, temperature=0, use_cache=use_cache)
            assert np.array_equal(parity.to_numpy(out), expected), (lm.FRAMEWORK, use_cache)
