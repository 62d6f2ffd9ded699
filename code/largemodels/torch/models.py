"""The book's model zoo in PyTorch (the twin of ``largemodels/tensorflow/models.py``).

Every model here exists in :mod:`largemodels.tensorflow` with the same name and constructor
arguments, and :func:`largemodels.parity.copy_weights` copies its weights into the Keras twin,
which then computes the same function. Where the frameworks differ, the docstring says so.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from .._checks import (check_bool, check_dropout, check_heads, check_image_size, check_int_tuple,
                       check_shape, one_of, pooled_size, positive_int)

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
RNN_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


# ---- input checks (the shape rules live in _checks.check_shape) -----------------------------

def _check_input(x, layout, sizes, name="x"):
    """Raise ``ValueError`` unless ``x`` has one axis per name in ``layout`` and the axis sizes
    in ``sizes`` ({axis: size}); unknown (None) sizes pass."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    check_shape(name, x.shape, layout, sizes)


# ---- multilayer perceptron -------------------------------------------------------------------

class MLP(nn.Module):
    """A multilayer perceptron: (Linear, activation, dropout) per hidden size, then a Linear head.

    Input (batch, in_features), output (batch, out_features): raw scores, no final activation.
    ``hidden_sizes=()`` gives a linear model.
    """

    def __init__(self, in_features, hidden_sizes, out_features, activation="relu", dropout=0.0):
        super().__init__()
        self.in_features = positive_int("in_features", in_features)
        self.hidden_sizes = check_int_tuple("hidden_sizes", hidden_sizes)
        self.out_features = positive_int("out_features", out_features)
        self.activation = one_of("activation", activation, tuple(ACTIVATIONS))
        sizes = (self.in_features, *self.hidden_sizes)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.act = ACTIVATIONS[activation]()  # nn.GELU(): the exact (erf) GELU
        self.drop = nn.Dropout(check_dropout(dropout))
        self.head = nn.Linear(sizes[-1], self.out_features)

    def forward(self, x):
        _check_input(x, ("batch", "in_features"), {1: self.in_features})
        for layer in self.hidden:
            x = self.drop(self.act(layer(x)))  # (B, hidden)
        return self.head(x)  # (B, out_features)


# ---- convolutional network -------------------------------------------------------------------

class CNN(nn.Module):
    """A small convolutional classifier: per entry of ``channels`` a block conv (same padding)
    -> ReLU -> 2x2 max-pool, then flatten and a Linear head.

    PyTorch layout: input (batch, in_channels, height, width) (NCHW); Keras takes NHWC.
    ``image_size`` is an int (square) or (height, width); ``kernel_size`` must be odd so that
    "same" padding, kernel_size // 2 on each side, keeps the size in both frameworks.
    Output (batch, n_classes): logits.
    """

    def __init__(self, in_channels, n_classes, image_size, channels=(16, 32), kernel_size=3):
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        self.n_classes = positive_int("n_classes", n_classes)
        self.image_size = check_image_size(image_size)
        self.channels = check_int_tuple("channels", channels, allow_empty=False)
        self.kernel_size = positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (for 'same' padding), got {kernel_size}")
        h, w = pooled_size(self.image_size, len(self.channels))
        c_in = (self.in_channels, *self.channels)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, kernel_size, padding=kernel_size // 2)
                                   for a, b in zip(c_in, self.channels))
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(self.channels[-1] * h * w, self.n_classes)

    def forward(self, x):
        H, W = self.image_size
        _check_input(x, ("batch", "in_channels", "height", "width"), {1: self.in_channels, 2: H, 3: W})
        for conv in self.convs:
            x = self.pool(F.relu(conv(x)))  # (B, c_out, H/2, W/2)
        return self.head(x.flatten(1))  # (B, C*h*w) -> (B, n_classes); flattened in (C, h, w) order


# ---- recurrent network -----------------------------------------------------------------------

class RNN(nn.Module):
    """A stack of ``num_layers`` recurrent layers (``cell`` "rnn" (tanh), "lstm" or "gru").

    Input (batch, time, input_size), output (batch, time, hidden_size): the last layer's hidden
    state at every step, starting from zero state. PyTorch keeps two bias vectors per gate,
    b_ih and b_hh; Keras's SimpleRNN and LSTM keep one (only the sum matters), so the PyTorch
    model has hidden_size (rnn) or 4 * hidden_size (lstm) more parameters per layer. GRU keeps
    both in both frameworks (Keras: ``reset_after=True``).
    """

    def __init__(self, input_size, hidden_size, cell="lstm", num_layers=1):
        super().__init__()
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.cell = one_of("cell", cell, tuple(RNN_CELLS))
        self.num_layers = positive_int("num_layers", num_layers)
        self.rnn = RNN_CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True)

    def forward(self, x):
        _check_input(x, ("batch", "time", "input_size"), {2: self.input_size})
        out, _ = self.rnn(x)  # (B, T, hidden_size); the final state is dropped
        return out


# ---- attention and the Transformer block -----------------------------------------------------

def attention(q, k, v, causal=False):
    """Scaled dot-product attention, softmax(q k^T / sqrt(hs)) v, written out.

    q: (B, nh, T, hs); k, v: (B, nh, S, hs); returns (B, nh, T, hs).
    With ``causal=True`` the T queries are the last T of the S positions, so query t
    attends to keys s <= t + (S - T): the mask is aligned at the bottom right, as
    decoding with a KV cache needs; with S == T it is the usual s <= t. The built-in
    causal flags, ``F.scaled_dot_product_attention(is_causal=True)`` and
    Keras's ``ops.dot_product_attention(is_causal=True)``, align the mask at the
    top left (s <= t) instead: they agree with this function only when S == T.
    """
    if not (q.dim() == k.dim() == v.dim() == 4):
        ranks = [q.dim(), k.dim(), v.dim()]
        raise ValueError(f"q, k, v must have rank 4 (B, nh, T, hs), got ranks {ranks}")
    T, S = q.size(-2), k.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, nh, T, S)
    if causal:
        mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(diagonal=S - T)
        scores = scores.masked_fill(~mask, float("-inf"))
    return F.softmax(scores, dim=-1) @ v  # (B, nh, T, hs)


def _gpt2_init(module):
    """GPT-2's initialisation: Linear weights ~ N(0, 0.02), biases 0."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention: one Linear makes q, k, v for all heads (``c_attn``), the
    package's :func:`attention` mixes each head, a Linear ``c_proj`` joins the heads.

    Input and output (batch, time, n_embd). ``dropout`` applies to the output (GPT-2's residual
    dropout); the attention weights are not dropped.
    """

    def __init__(self, n_embd, n_head, causal=False, dropout=0.0):
        super().__init__()
        self.n_embd, self.n_head = check_heads(n_embd, n_head)
        self.causal = check_bool("causal", causal)
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # q, k, v for all heads at once
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.drop = nn.Dropout(check_dropout(dropout))
        self.apply(_gpt2_init)

    def forward(self, x):
        _check_input(x, ("batch", "time", "n_embd"), {2: self.n_embd})
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)  # 3 x (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = attention(q, k, v, causal=self.causal)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        return self.drop(self.c_proj(y))


class FeedForward(nn.Module):
    """The Transformer's position-wise MLP: Linear to 4 * n_embd, tanh GELU, Linear back."""

    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU
        self.c_proj = nn.Linear(4 * n_embd, n_embd)
        self.drop = nn.Dropout(dropout)
        self.apply(_gpt2_init)

    def forward(self, x):
        return self.drop(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, 4C) inside, (B, T, C) out


class TransformerBlock(nn.Module):
    """Pre-LN Transformer block (GPT-2's): x + attn(ln_1(x)), then x + mlp(ln_2(x)).

    Input and output (batch, time, n_embd). As in GPT-2: LayerNorm epsilon 1e-5 (PyTorch's
    default; Keras's is 1e-3) and the tanh approximation of the GELU (in the MLP).
    """

    def __init__(self, n_embd, n_head, causal=True, dropout=0.0):
        super().__init__()
        self.n_embd, self.n_head = check_heads(n_embd, n_head)
        self.causal = check_bool("causal", causal)
        dropout = check_dropout(dropout)
        self.ln_1 = nn.LayerNorm(n_embd, eps=1e-5)
        self.attn = MultiHeadAttention(n_embd, n_head, causal=causal, dropout=dropout)
        self.ln_2 = nn.LayerNorm(n_embd, eps=1e-5)
        self.mlp = FeedForward(n_embd, dropout=dropout)

    def forward(self, x):
        _check_input(x, ("batch", "time", "n_embd"), {2: self.n_embd})
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


# ---- variational autoencoder -----------------------------------------------------------------

class VAE(nn.Module):
    """A variational autoencoder with one hidden layer in the encoder and in the decoder.

    Encoder: x (batch, in_features) -> ReLU hidden -> mean ``mu`` and log-variance ``logvar``
    (batch, latent_size). Reparameterisation: z = mu + exp(logvar / 2) * eps, eps ~ N(0, I).
    Decoder: z -> ReLU hidden -> logits (batch, in_features) of Bernoulli pixel probabilities.
    ``forward(x, eps=None)`` returns (logits, mu, logvar). ``eps`` is drawn in training mode and
    is zero in eval mode (z = mu) unless given, which makes the model deterministic on request.
    """

    def __init__(self, in_features, hidden_size, latent_size):
        super().__init__()
        self.in_features = positive_int("in_features", in_features)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.latent_size = positive_int("latent_size", latent_size)
        self.enc_hidden = nn.Linear(in_features, hidden_size)
        self.enc_mu = nn.Linear(hidden_size, latent_size)
        self.enc_logvar = nn.Linear(hidden_size, latent_size)
        self.dec_hidden = nn.Linear(latent_size, hidden_size)
        self.dec_out = nn.Linear(hidden_size, in_features)

    def encode(self, x):
        """(mu, logvar) of q(z | x), each (batch, latent_size)."""
        _check_input(x, ("batch", "in_features"), {1: self.in_features})
        h = F.relu(self.enc_hidden(x))  # (B, hidden_size)
        return self.enc_mu(h), self.enc_logvar(h)

    def decode(self, z):
        """Logits (batch, in_features) of p(x | z)."""
        _check_input(z, ("batch", "latent_size"), {1: self.latent_size}, name="z")
        return self.dec_out(F.relu(self.dec_hidden(z)))

    def forward(self, x, eps=None):
        mu, logvar = self.encode(x)  # (B, latent_size) each
        if eps is None:
            eps = torch.randn_like(mu) if self.training else torch.zeros_like(mu)
        else:
            _check_input(eps, ("batch", "latent_size"), {0: mu.size(0), 1: self.latent_size}, name="eps")
            eps = eps.to(dtype=mu.dtype, device=mu.device)  # float64 noise works, as in Keras
        z = mu + torch.exp(0.5 * logvar) * eps  # the reparameterisation trick
        return self.decode(z), mu, logvar


def vae_loss(x, logits, mu, logvar):
    """The negative ELBO, averaged over the batch.

    Reconstruction: Bernoulli cross-entropy of x under the decoder's logits, summed over
    features: exactly -log p(x | z) for binary x (0 or 1); for x strictly between 0 and 1 it is
    not a normalized log-likelihood (Section 3.5 binarizes its images for that reason). Plus
    the closed-form KL(N(mu, exp(logvar)) || N(0, I)) = 1/2 sum(mu^2 + exp(logvar) - 1 - logvar)
    over latent dimensions.
    """
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)  # (B,)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)  # (B,)
    return (reconstruction + kl).mean()
