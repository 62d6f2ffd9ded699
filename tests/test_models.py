"""The model zoo: the same families, arguments, parameter counts and checks in both frameworks."""
import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from largemodels import GPTConfig, parity
from largemodels import tensorflow as tlm
from largemodels import torch as plm

import keras  # noqa: E402  (after largemodels.tensorflow: imported quietly)
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

FRAMEWORKS = [plm, tlm]
IDS = ["pytorch", "tensorflow"]
FAMILIES = ["MLP", "CNN", "RNN", "MultiHeadAttention", "TransformerBlock", "VAE"]
FEW = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tensor(lm, array):
    return torch.as_tensor(array) if lm is plm else tf.constant(array)


def shape(out):
    return tuple(out.shape)


def zeros(*shape):
    return np.zeros(shape, dtype=np.float32)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_constructor_arguments(family):
    def args(cls):
        return [(p.name, p.default) for p in inspect.signature(cls.__init__).parameters.values()
                if p.name != "self" and p.kind != p.VAR_KEYWORD]  # Keras also takes name=... via **kwargs
    assert args(getattr(plm, family)) == args(getattr(tlm, family))


@pytest.mark.parametrize("family", ["MLP", "CNN", "MultiHeadAttention", "TransformerBlock", "VAE"])
def test_same_parameter_count(family):
    args = {"MLP": (6, (8, 5), 3), "CNN": (3, 10, 12, (4, 6), 5), "MultiHeadAttention": (12, 3, True),
            "TransformerBlock": (12, 3), "VAE": (20, 9, 2)}[family]
    counts = [lm.count_params(getattr(lm, family)(*args)) for lm in FRAMEWORKS]
    assert counts[0] == counts[1] > 0


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), input_size=st.integers(1, 5),
       hidden_size=st.integers(1, 6), num_layers=st.integers(1, 2))
def test_rnn_parameter_counts_differ_only_by_the_second_bias(cell, input_size, hidden_size, num_layers):
    """PyTorch keeps b_ih and b_hh; Keras's SimpleRNN and LSTM keep one bias (their sum)."""
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    counts = [lm.count_params(lm.RNN(input_size, hidden_size, cell, num_layers)) for lm in FRAMEWORKS]
    per_layer = [gates * hidden_size * (n_in + hidden_size + 2)
                 for n_in in [input_size] + [hidden_size] * (num_layers - 1)]
    assert counts[0] == sum(per_layer)
    assert counts[0] - counts[1] == (0 if cell == "gru" else num_layers * gates * hidden_size)


def test_gpt2_block_is_the_zoo_block():
    """With GPT-2's config the decoder's block is Section 3.4's TransformerBlock: the same
    parameter names and, on the same weights, the same outputs."""
    import torch
    from largemodels import torch as plm

    config = GPTConfig(vocab_size=17, block_size=8, n_layer=2, n_head=2, n_embd=8)
    block = plm.GPT(config).blocks[0].eval()
    zoo = plm.TransformerBlock(8, 2, causal=True).eval()
    zoo.load_state_dict(block.state_dict())  # strict: the same names and shapes
    x = torch.randn(3, 5, 8)
    with torch.no_grad():
        assert torch.allclose(block(x), zoo(x), atol=1e-6)


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
@FEW
@given(batch=st.integers(1, 3), in_features=st.integers(1, 6), hidden=st.lists(st.integers(1, 6), max_size=2),
       out_features=st.integers(1, 4), activation=st.sampled_from(["relu", "gelu", "tanh", "sigmoid"]))
def test_mlp_shapes(lm, batch, in_features, hidden, out_features, activation):
    model = lm.MLP(in_features, hidden, out_features, activation=activation, dropout=0.1)
    assert shape(model(tensor(lm, zeros(batch, in_features)))) == (batch, out_features)


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
@FEW
@given(batch=st.integers(1, 2), channels=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       height=st.integers(4, 9), width=st.integers(4, 9), kernel_size=st.sampled_from([1, 3, 5]))
def test_cnn_shapes(lm, batch, channels, height, width, kernel_size):
    model = lm.CNN(2, 3, (height, width), channels, kernel_size)
    x = zeros(batch, 2, height, width) if lm is plm else zeros(batch, height, width, 2)  # NCHW / NHWC
    assert shape(model(tensor(lm, x))) == (batch, 3)


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
@FEW
@given(batch=st.integers(1, 3), time=st.integers(1, 5), cell=st.sampled_from(["rnn", "lstm", "gru"]))
def test_rnn_shapes(lm, batch, time, cell):
    model = lm.RNN(3, 4, cell=cell, num_layers=2)
    assert shape(model(tensor(lm, zeros(batch, time, 3)))) == (batch, time, 4)


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
@FEW
@given(batch=st.integers(1, 3), time=st.integers(1, 6), n_head=st.integers(1, 3), head_size=st.integers(1, 4))
def test_attention_and_block_shapes(lm, batch, time, n_head, head_size):
    n_embd = n_head * head_size
    x = tensor(lm, zeros(batch, time, n_embd))
    assert shape(lm.MultiHeadAttention(n_embd, n_head)(x)) == (batch, time, n_embd)
    assert shape(lm.TransformerBlock(n_embd, n_head, causal=False)(x)) == (batch, time, n_embd)


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
def test_vae_outputs_and_loss(lm):
    model = lm.VAE(12, 8, 3)
    x = np.random.default_rng(0).random((5, 12)).astype(np.float32)
    logits, mu, logvar = model(tensor(lm, x))
    assert (shape(logits), shape(mu), shape(logvar)) == ((5, 12), (5, 3), (5, 3))
    # with eps = 0, z = mu: the call is deterministic
    eps = tensor(lm, zeros(5, 3))
    a, b = (np.asarray(model(tensor(lm, x), eps=eps)[0].detach() if lm is plm else model(x, eps=eps)[0])
            for _ in range(2))
    np.testing.assert_array_equal(a, b)
    loss = float(np.asarray(lm.vae_loss(tensor(lm, x), logits, mu, logvar).detach() if lm is plm
                            else lm.vae_loss(x, logits, mu, logvar)))
    assert np.isfinite(loss) and loss > 0


def test_vae_loss_formula_in_both_frameworks():
    rng = np.random.default_rng(1)
    x, logits = rng.random((4, 6)).astype(np.float32), rng.standard_normal((4, 6)).astype(np.float32)
    mu, logvar = rng.standard_normal((4, 2)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1)
    kl = 0.5 * (mu**2 + np.exp(logvar) - 1 - logvar).sum(1)
    expected = (bce + kl).mean()
    for lm in FRAMEWORKS:
        got = float(lm.vae_loss(*(tensor(lm, a) for a in (x, logits, mu, logvar))))
        assert got == pytest.approx(expected, rel=1e-5)


def test_vae_samples_in_training_mode():
    x = np.ones((3, 4), dtype=np.float32)
    model = plm.VAE(4, 5, 2).train()
    assert not torch.equal(model(torch.as_tensor(x))[0], model(torch.as_tensor(x))[0])
    model.eval()
    assert torch.equal(model(torch.as_tensor(x))[0], model(torch.as_tensor(x))[0])
    model = tlm.VAE(4, 5, 2)
    assert not np.array_equal(model(x, training=True)[0], model(x, training=True)[0])
    np.testing.assert_array_equal(model(x)[0], model(x)[0])


def test_vae_accepts_float64_noise_in_both_frameworks():
    x = np.random.default_rng(2).random((3, 4)).astype(np.float32)
    eps = np.random.default_rng(3).standard_normal((3, 2))  # float64, as NumPy draws it
    torch_vae = plm.VAE(4, 5, 2).eval()
    keras_vae = tlm.VAE(4, 5, 2)
    parity.copy_weights(torch_vae, keras_vae)
    with torch.no_grad():
        torch_logits = torch_vae(torch.as_tensor(x), eps=torch.as_tensor(eps))[0].numpy()
    keras_logits = np.asarray(keras_vae(x, eps=eps)[0])
    assert torch_logits.dtype == np.float32
    np.testing.assert_allclose(torch_logits, keras_logits, atol=1e-5)


BAD_CONFIGS = [
    ("MultiHeadAttention", (10, 3), {}, ValueError, "n_embd must be divisible by n_head"),
    ("TransformerBlock", (10, 4), {}, ValueError, "n_embd must be divisible by n_head"),
    ("TransformerBlock", (8, 2), {"causal": "yes"}, TypeError, "causal"),
    ("TransformerBlock", (8, 2), {"dropout": 1.0}, ValueError, "dropout"),
    ("CNN", (3, 10, 28), {"kernel_size": 4}, ValueError, "kernel_size must be odd"),
    ("CNN", (3, 10, 6), {"channels": (4, 4, 4)}, ValueError, "image_size"),
    ("CNN", (3, 10, 28), {"channels": ()}, ValueError, "channels must not be empty"),
    ("CNN", (3, 10, (28, 28, 3)), {}, ValueError, "image_size"),
    ("RNN", (3, 4), {"cell": "transformer"}, ValueError, "cell must be one of"),
    ("RNN", (3, 0), {}, ValueError, "hidden_size must be > 0"),
    ("MLP", (3, 4, 2), {}, TypeError, "hidden_sizes must be a list or tuple"),
    ("MLP", (3, (4, -1), 2), {}, ValueError, r"hidden_sizes\[1\]"),
    ("MLP", (3.0, (4,), 2), {}, TypeError, "in_features must be an int"),
    ("MLP", (3, (4,), 2), {"activation": "swish"}, ValueError, "activation must be one of"),
    ("MLP", (3, (4,), 2), {"dropout": -0.1}, ValueError, "dropout"),
    ("VAE", (10, 5, True), {}, TypeError, "latent_size"),
]


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
@pytest.mark.parametrize("family, args, kwargs, error, message", BAD_CONFIGS,
                         ids=[f"{c[0]}-{c[4][:24]}" for c in BAD_CONFIGS])
def test_bad_configs_raise_clear_errors(lm, family, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(lm, family)(*args, **kwargs)


def bad_inputs(lm):
    channels_last = lm is tlm
    return [
        (lm.MLP(4, (3,), 2), zeros(2, 5), r"x must have shape \(batch, in_features=4\)"),
        (lm.MLP(4, (3,), 2), zeros(2, 3, 4), "got shape"),
        (lm.CNN(3, 5, 8), zeros(2, 8, 8, 3) if not channels_last else zeros(2, 3, 8, 8), "in_channels=3"),
        (lm.CNN(3, 5, 8), zeros(2, 3, 8), "height"),
        (lm.RNN(3, 4), zeros(2, 3), r"\(batch, time, input_size=3\)"),
        (lm.RNN(3, 4, "gru"), zeros(2, 5, 4), "input_size=3"),
        (lm.MultiHeadAttention(8, 2), zeros(2, 5, 6), "n_embd=8"),
        (lm.TransformerBlock(8, 2), zeros(5, 8), r"\(batch, time, n_embd=8\)"),
        (lm.VAE(6, 4, 2), zeros(3, 5), "in_features=6"),
    ]


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
def test_bad_inputs_raise_clear_errors(lm):
    for model, x, message in bad_inputs(lm):
        with pytest.raises(ValueError, match=message):
            model(tensor(lm, x))
    with pytest.raises(ValueError, match="eps must have shape"):
        lm.VAE(6, 4, 2)(tensor(lm, zeros(3, 6)), eps=tensor(lm, zeros(3, 4)))


def test_torch_models_reject_non_tensors():
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        plm.MLP(4, (3,), 2)(zeros(2, 4))


# ---- independent random draws ----------------------------------------------------------------
# An unseeded Keras 3 initializer instance repeats its draws on every call: one instance passed
# to two weights makes them equal, or proportional if their scales differ. Every random weight
# of a freshly built model must be its own draw. Sizes are chosen so that every random weight
# has at least 16 elements, where |correlation| > 0.9 between independent draws is negligible.

FRESH = {
    "MLP": lambda lm: lm.MLP(16, (32, 24), 16),
    "CNN": lambda lm: lm.CNN(3, 16, 8, (16, 16), 3),
    "RNN-rnn": lambda lm: lm.RNN(16, 16, "rnn", 2),
    "RNN-lstm": lambda lm: lm.RNN(16, 16, "lstm", 2),
    "RNN-gru": lambda lm: lm.RNN(16, 16, "gru", 2),
    "MultiHeadAttention": lambda lm: lm.MultiHeadAttention(32, 4),
    "TransformerBlock": lambda lm: lm.TransformerBlock(32, 4),
    "GPT": lambda lm: lm.GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=32)),
    "VAE": lambda lm: lm.VAE(20, 16, 16),
}


def random_weights(lm, model):
    """[(name, flat array)] of the weights of ``model`` drawn at random: those whose values are
    mostly distinct (not zeros, ones, or Keras's LSTM bias of zeros and ones)."""
    if lm is plm:
        arrays = [(name, p.detach().numpy().ravel()) for name, p in model.named_parameters()]
    else:
        arrays = [(w.path, np.asarray(w).ravel()) for w in model.weights]
    return [(name, a) for name, a in arrays if len(np.unique(a)) > a.size // 2]


def repeated_draws(weights, threshold=0.9):
    """Pairs of weights whose leading elements are (anti)proportional: the same draws."""
    found = []
    for i, (name_a, a) in enumerate(weights):
        for name_b, b in weights[i + 1:]:
            n = min(a.size, b.size)
            if abs(np.corrcoef(a[:n], b[:n])[0, 1]) > threshold:
                found.append((name_a, name_b))
    return found


def test_repeated_draws_are_detected():
    """The detector's negative control: one unseeded Keras initializer used for two weights."""
    layer = keras.layers.Layer()
    one = keras.initializers.RandomNormal(stddev=0.02)
    w1, w2 = layer.add_weight((6, 10), one, name="w1"), layer.add_weight((10, 12), one, name="w2")
    glorot = keras.initializers.GlorotUniform()  # different scales: proportional, not equal
    w3, w4 = layer.add_weight((6, 10), glorot, name="w3"), layer.add_weight((20, 7), glorot, name="w4")
    weights = [(w.path, np.asarray(w).ravel()) for w in (w1, w2, w3, w4)]
    assert repeated_draws(weights) == [(w1.path, w2.path), (w3.path, w4.path)]


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
@pytest.mark.parametrize("family", list(FRESH))
def test_every_weight_is_its_own_draw(lm, family):
    lm.seed_everything(0)
    weights = random_weights(lm, FRESH[family](lm))
    assert len(weights) >= 2 and min(a.size for _, a in weights) >= 16
    assert not repeated_draws(weights), f"weights drawn from one repeated stream in {family}"


# ---- attention with fewer queries than keys ---------------------------------------------------

@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
def test_causal_attention_is_aligned_bottom_right(lm):
    """With T < S, query t is position S - T + t: it sees keys s <= t + S - T (a KV cache)."""
    rng = np.random.default_rng(0)
    T, S, hs = 2, 5, 4
    q_all, k, v = (rng.standard_normal((1, 1, S, hs)).astype(np.float32) for _ in range(3))
    q = q_all[:, :, S - T:]  # the queries of the last T positions
    out = np.asarray(lm.attention(*(tensor(lm, a) for a in (q, k, v)), causal=True))
    full = np.asarray(lm.attention(*(tensor(lm, a) for a in (q_all, k, v)), causal=True))
    np.testing.assert_allclose(out, full[:, :, S - T:], atol=1e-6)
    top_left = np.asarray(lm.attention(*(tensor(lm, a) for a in (q, k[:, :, :T], v[:, :, :T])),
                                       causal=True))  # what a top-left mask would compute
    assert np.abs(out - top_left).max() > 1e-3
