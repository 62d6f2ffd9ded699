"""After copy_weights, each Keras model computes the same function as its PyTorch twin.

TensorFlow runs on its default device: on a GPU it computes in exact float32 because importing
the package turns TF32 off, so these tests check that too. Run with ``-s`` to see the measured
max-abs differences per family.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from largemodels import GPTConfig, parity
from largemodels import tensorflow as tlm
from largemodels import torch as plm

import tensorflow as tf  # noqa: E402  (after largemodels.tensorflow: imported quietly)
import torch  # noqa: E402

TOL = 1e-5  # float32
FEW = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def nhwc(x):
    return x.transpose(0, 2, 3, 1)  # (B, C, H, W) -> (B, H, W, C)


def check_parity(family, args, x, to_keras=lambda a: a, **call_kwargs):
    """Build both models, copy the weights, and compare outputs on ``x``; return the max-abs error."""
    torch_model = getattr(plm, family)(*args).eval()
    tf_model = getattr(tlm, family)(*args)
    copied = parity.copy_weights(torch_model, tf_model)
    assert copied == len(list(torch_model.parameters()))
    with torch.no_grad():
        out_pt = torch_model(torch.as_tensor(x), **{k: torch.as_tensor(v) for k, v in call_kwargs.items()})
    out_tf = tf_model(tf.constant(to_keras(x)), **{k: tf.constant(v) for k, v in call_kwargs.items()})
    err = parity.max_abs_diff(out_pt, out_tf)
    assert err <= TOL, f"{family}{args}: max abs diff {err:.2e}"
    return err


def normal(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


CASES = {
    "MLP": lambda rng: (("MLP", (7, (16, 9), 4, "gelu")), normal(rng, 5, 7)),
    "CNN": lambda rng: (("CNN", (3, 10, (12, 10), (8, 6), 3)), normal(rng, 4, 3, 12, 10)),
    "RNN-rnn": lambda rng: (("RNN", (5, 8, "rnn", 2)), normal(rng, 3, 9, 5)),
    "RNN-lstm": lambda rng: (("RNN", (5, 8, "lstm", 2)), normal(rng, 3, 9, 5)),
    "RNN-gru": lambda rng: (("RNN", (5, 8, "gru", 2)), normal(rng, 3, 9, 5)),
    "MultiHeadAttention": lambda rng: (("MultiHeadAttention", (16, 4, True)), normal(rng, 2, 7, 16)),
    "TransformerBlock": lambda rng: (("TransformerBlock", (16, 4)), normal(rng, 2, 7, 16)),
    "GPT": lambda rng: (("GPT", (GPTConfig(vocab_size=97, block_size=16, n_layer=2, n_head=4, n_embd=32),)),
                        rng.integers(0, 97, (2, 16))),
    "VAE": lambda rng: (("VAE", (20, 16, 3)), rng.random((4, 20)).astype(np.float32)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_parity_per_family(case):
    torch.manual_seed(0)  # PyTorch initialises the weights that are copied
    rng = np.random.default_rng(0)
    (family, args), x = CASES[case](rng)
    kwargs = {"eps": normal(rng, len(x), args[2])} if family == "VAE" else {}  # a fixed draw in both
    err = check_parity(family, args, x, nhwc if family == "CNN" else (lambda a: a), **kwargs)
    print(f"\nparity {case:20s} max |PyTorch - Keras| = {err:.1e}")


@FEW
@given(batch=st.integers(1, 4), in_features=st.integers(1, 8), hidden=st.lists(st.integers(1, 8), max_size=2),
       out_features=st.integers(1, 5))
def test_mlp_parity_over_shapes(batch, in_features, hidden, out_features):
    x = normal(np.random.default_rng(batch), batch, in_features)
    check_parity("MLP", (in_features, hidden, out_features), x)


@FEW
@given(batch=st.integers(1, 3), in_channels=st.integers(1, 3), channels=st.lists(st.integers(1, 5), min_size=1,
       max_size=2), height=st.integers(4, 11), width=st.integers(4, 11), kernel_size=st.sampled_from([1, 3, 5]))
def test_cnn_parity_over_shapes(batch, in_channels, channels, height, width, kernel_size):
    x = normal(np.random.default_rng(height), batch, in_channels, height, width)
    check_parity("CNN", (in_channels, 4, (height, width), channels, kernel_size), x, nhwc)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.integers(1, 3), time=st.integers(1, 8), input_size=st.integers(1, 5), hidden_size=st.integers(1, 7),
       cell=st.sampled_from(["rnn", "lstm", "gru"]), num_layers=st.integers(1, 2))
def test_rnn_parity_over_shapes(batch, time, input_size, hidden_size, cell, num_layers):
    x = normal(np.random.default_rng(time), batch, time, input_size)
    check_parity("RNN", (input_size, hidden_size, cell, num_layers), x)


@FEW
@given(batch=st.integers(1, 3), time=st.integers(1, 8), n_head=st.integers(1, 4), head_size=st.integers(1, 6),
       causal=st.booleans())
def test_transformer_parity_over_shapes(batch, time, n_head, head_size, causal):
    x = normal(np.random.default_rng(time), batch, time, n_head * head_size)
    check_parity("MultiHeadAttention", (n_head * head_size, n_head, causal), x)
    check_parity("TransformerBlock", (n_head * head_size, n_head, causal), x)


@FEW
@given(batch=st.integers(1, 3), time=st.integers(1, 8), n_layer=st.integers(1, 2), n_head=st.integers(1, 3),
       head_size=st.integers(1, 4), vocab_size=st.integers(2, 50))
def test_gpt_parity_over_shapes(batch, time, n_layer, n_head, head_size, vocab_size):
    config = GPTConfig(vocab_size=vocab_size, block_size=8, n_layer=n_layer, n_head=n_head, n_embd=n_head * head_size)
    idx = np.random.default_rng(time).integers(0, vocab_size, (batch, time))
    check_parity("GPT", (config,), idx)


@FEW
@given(batch=st.integers(1, 4), in_features=st.integers(1, 10), hidden_size=st.integers(1, 8),
       latent_size=st.integers(1, 4))
def test_vae_parity_over_shapes(batch, in_features, hidden_size, latent_size):
    rng = np.random.default_rng(batch)
    x, eps = rng.random((batch, in_features)).astype(np.float32), normal(rng, batch, latent_size)
    check_parity("VAE", (in_features, hidden_size, latent_size), x, eps=eps)


def test_vae_parity_without_eps_and_of_the_loss():
    """In inference mode z = mu in both frameworks; the ELBO agrees too."""
    torch_model, tf_model = plm.VAE(12, 8, 2).eval(), tlm.VAE(12, 8, 2)
    parity.copy_weights(torch_model, tf_model)
    x = np.random.default_rng(0).random((6, 12)).astype(np.float32)
    with torch.no_grad():
        out_pt = torch_model(torch.as_tensor(x))
        loss_pt = plm.vae_loss(torch.as_tensor(x), *out_pt)
    out_tf = tf_model(x)
    assert parity.max_abs_diff(out_pt, out_tf) <= TOL
    assert parity.max_abs_diff(loss_pt, tlm.vae_loss(x, *out_tf)) <= 1e-4  # a sum over features


def test_copy_weights_rejects_mismatches():
    with pytest.raises(TypeError, match="tf_model must be the TensorFlow twin"):
        parity.copy_weights(plm.MLP(3, (4,), 2), tlm.VAE(3, 4, 2))
    with pytest.raises(TypeError, match="torch_model must be one of the book's PyTorch models"):
        parity.copy_weights(torch.nn.Linear(3, 2), tlm.MLP(3, (), 2))
    with pytest.raises(TypeError, match="torch_model must be"):
        parity.copy_weights(tlm.MLP(3, (4,), 2), plm.MLP(3, (4,), 2))  # arguments swapped
    with pytest.raises(ValueError, match=r"hidden_sizes=\(4,\) in PyTorch and hidden_sizes=\(5,\)"):
        parity.copy_weights(plm.MLP(3, (4,), 2), tlm.MLP(3, (5,), 2))
    with pytest.raises(ValueError, match="cell='lstm' in PyTorch and cell='gru'"):
        parity.copy_weights(plm.RNN(3, 4, "lstm"), tlm.RNN(3, 4, "gru"))
    small, large = (GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=n) for n in (8, 16))
    with pytest.raises(ValueError, match="config="):
        parity.copy_weights(plm.GPT(small), tlm.GPT(large))


def test_copy_weights_reports_shape_mismatch():
    """A weight whose shape does not convert (here changed behind the constructor's back)."""
    torch_model, tf_model = plm.MLP(3, (4,), 2), tlm.MLP(3, (4,), 2)
    torch_model.head = torch.nn.Linear(4, 5)
    with pytest.raises(ValueError, match="shape mismatch: the Keras weight .*head/kernel"):
        parity.copy_weights(torch_model, tf_model)


def test_max_abs_diff():
    a = torch.tensor([[1.0, 2.0]])
    assert parity.max_abs_diff(a, tf.constant([[1.0, 2.5]])) == 0.5
    assert parity.max_abs_diff((a, a), (np.array([[1.0, 2.0]]), tf.constant([[0.0, 2.0]]))) == 1.0
    assert parity.max_abs_diff(torch.zeros(2, requires_grad=True), np.zeros(2)) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        parity.max_abs_diff(a, np.zeros((2, 1)))
    with pytest.raises(ValueError, match="both be sequences"):
        parity.max_abs_diff((a,), a)
