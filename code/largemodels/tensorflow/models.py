"""The book's model zoo in Keras 3 (the twin of ``largemodels/torch/models.py``).

Every model here exists in :mod:`largemodels.torch` with the same name and constructor
arguments; :func:`largemodels.parity.copy_weights` copies the PyTorch weights in, after which
both compute the same function. Each model is built on construction, so its weights exist at
once. Where the frameworks differ, the docstring says so.
"""
import math

import keras
from keras import layers, ops

from .._checks import (check_bool, check_dropout, check_heads, check_image_size, check_int_tuple,
                       check_shape, one_of, pooled_size, positive_int)

ACTIVATIONS = {"relu": "relu", "gelu": "gelu", "tanh": "tanh", "sigmoid": "sigmoid"}
RNN_CELLS = {"rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}


# ---- input checks (the shape rules live in _checks.check_shape) -----------------------------

def _check_input(x, layout, sizes, name="x"):
    """Raise ``ValueError`` unless ``x`` has one axis per name in ``layout`` and the axis sizes
    in ``sizes`` ({axis: size}); unknown (None) sizes pass, as inside ``tf.function``."""
    check_shape(name, x.shape, layout, sizes)


# ---- multilayer perceptron -------------------------------------------------------------------

class MLP(keras.Model):
    """A multilayer perceptron: (Dense, activation, dropout) per hidden size, then a Dense head.

    Input (batch, in_features), output (batch, out_features): raw scores, no final activation.
    ``hidden_sizes=()`` gives a linear model.
    """

    def __init__(self, in_features, hidden_sizes, out_features, activation="relu", dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.in_features = positive_int("in_features", in_features)
        self.hidden_sizes = check_int_tuple("hidden_sizes", hidden_sizes)
        self.out_features = positive_int("out_features", out_features)
        self.activation = one_of("activation", activation, tuple(ACTIVATIONS))
        self.hidden = [layers.Dense(n, activation=ACTIVATIONS[activation], name=f"hidden_{i}")  # "gelu": exact (erf)
                       for i, n in enumerate(self.hidden_sizes)]
        self.drop = layers.Dropout(check_dropout(dropout))
        self.head = layers.Dense(self.out_features, name="head")
        self(ops.zeros((1, self.in_features)))  # build every weight

    def call(self, x, training=False):
        _check_input(x, ("batch", "in_features"), {1: self.in_features})
        for layer in self.hidden:
            x = self.drop(layer(x), training=training)  # (B, hidden)
        return self.head(x)  # (B, out_features)


# ---- convolutional network -------------------------------------------------------------------

class CNN(keras.Model):
    """A small convolutional classifier: per entry of ``channels`` a block conv (same padding)
    -> ReLU -> 2x2 max-pool, then flatten and a Dense head.

    Keras layout: input (batch, height, width, in_channels) (NHWC, "channels_last"); PyTorch
    takes NCHW. ``image_size`` is an int (square) or (height, width); ``kernel_size`` must be
    odd so that "same" padding keeps the size in both frameworks. Output (batch, n_classes).
    """

    def __init__(self, in_channels, n_classes, image_size, channels=(16, 32), kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.in_channels = positive_int("in_channels", in_channels)
        self.n_classes = positive_int("n_classes", n_classes)
        self.image_size = check_image_size(image_size)
        self.channels = check_int_tuple("channels", channels, allow_empty=False)
        self.kernel_size = positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (for 'same' padding), got {kernel_size}")
        h, w = pooled_size(self.image_size, len(self.channels))
        self.n_flat = self.channels[-1] * h * w
        self.convs = [layers.Conv2D(c, kernel_size, padding="same", data_format="channels_last", name=f"conv_{i}")
                      for i, c in enumerate(self.channels)]
        self.pool = layers.MaxPooling2D(2, data_format="channels_last")
        self.head = layers.Dense(self.n_classes, name="head")
        self(ops.zeros((1, *self.image_size, self.in_channels)))  # build every weight

    def call(self, x):
        H, W = self.image_size
        _check_input(x, ("batch", "height", "width", "in_channels"), {1: H, 2: W, 3: self.in_channels})
        for conv in self.convs:
            x = self.pool(ops.relu(conv(x)))  # (B, H/2, W/2, c_out)
        return self.head(ops.reshape(x, (-1, self.n_flat)))  # (B, h*w*C) -> (B, n_classes); (h, w, C) order


# ---- recurrent network -----------------------------------------------------------------------

class RNN(keras.Model):
    """A stack of ``num_layers`` recurrent layers (``cell`` "rnn" (tanh), "lstm" or "gru").

    Input (batch, time, input_size), output (batch, time, hidden_size): the last layer's hidden
    state at every step, starting from zero state. Keras's SimpleRNN and LSTM keep one bias
    vector per gate where PyTorch keeps two (b_ih, b_hh; only the sum matters), so this model
    has hidden_size (rnn) or 4 * hidden_size (lstm) fewer parameters per layer than PyTorch's.
    GRU uses ``reset_after=True``, PyTorch's variant, with an input and a recurrent bias.
    """

    def __init__(self, input_size, hidden_size, cell="lstm", num_layers=1, **kwargs):
        super().__init__(**kwargs)
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.cell = one_of("cell", cell, tuple(RNN_CELLS))
        self.num_layers = positive_int("num_layers", num_layers)
        gates = {} if cell == "rnn" else {"recurrent_activation": "sigmoid"}  # as in PyTorch
        if cell == "gru":
            gates["reset_after"] = True  # r multiplies (W_hn h + b_hn), as in PyTorch
        self.rnn_layers = [RNN_CELLS[cell](hidden_size, activation="tanh", return_sequences=True,
                                           name=f"{cell}_{i}", **gates) for i in range(num_layers)]
        self(ops.zeros((1, 1, self.input_size)))  # build every weight

    def call(self, x):
        _check_input(x, ("batch", "time", "input_size"), {2: self.input_size})
        for layer in self.rnn_layers:
            x = layer(x)  # (B, T, hidden_size)
        return x


# ---- attention and the Transformer block -----------------------------------------------------

def attention(q, k, v, causal=False):
    """Scaled dot-product attention, softmax(q k^T / sqrt(hs)) v, written out.

    q: (B, nh, T, hs); k, v: (B, nh, S, hs); returns (B, nh, T, hs).
    With ``causal=True`` the T queries are the last T of the S positions, so query t
    attends to keys s <= t + (S - T): the mask is aligned at the bottom right, as
    decoding with a KV cache needs; with S == T it is the usual s <= t. The built-in
    causal flags, ``ops.dot_product_attention(is_causal=True)`` and
    PyTorch's ``F.scaled_dot_product_attention(is_causal=True)``, align the mask at the
    top left (s <= t) instead: they agree with this function only when S == T.
    """
    ranks = [len(t.shape) for t in (q, k, v)]
    if ranks != [4, 4, 4]:
        raise ValueError(f"q, k, v must have rank 4 (B, nh, T, hs), got ranks {ranks}")
    T, S = ops.shape(q)[-2], ops.shape(k)[-2]
    scores = ops.matmul(q, ops.swapaxes(k, -2, -1)) / math.sqrt(q.shape[-1])  # (B, nh, T, S)
    if causal:
        mask = ops.tril(ops.ones((T, S), dtype="bool"), k=S - T)
        scores = ops.where(mask, scores, float("-inf"))
    # softmax over the keys as exp(s - logsumexp(s)): ops.softmax warns when there is one key (S == 1)
    weights = ops.exp(scores - ops.logsumexp(scores, axis=-1, keepdims=True))  # (B, nh, T, S)
    return ops.matmul(weights, v)  # (B, nh, T, hs)


def _dense(units, name):
    """A Dense layer with GPT-2's initialisation: weights ~ N(0, 0.02), biases 0.

    A new initializer per layer: an unseeded Keras initializer instance repeats its draws, so
    sharing one would give every layer of the same shape the same weights.
    """
    return layers.Dense(units, kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
                        bias_initializer="zeros", name=name)


class MultiHeadAttention(layers.Layer):
    """Multi-head self-attention: one Dense makes q, k, v for all heads (``c_attn``), the
    package's :func:`attention` mixes each head, a Dense ``c_proj`` joins the heads.

    Input and output (batch, time, n_embd). ``dropout`` applies to the output (GPT-2's residual
    dropout); the attention weights are not dropped.
    """

    def __init__(self, n_embd, n_head, causal=False, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.n_embd, self.n_head = check_heads(n_embd, n_head)
        self.causal = check_bool("causal", causal)
        self.c_attn = _dense(3 * n_embd, "c_attn")  # q, k, v for all heads at once
        self.c_proj = _dense(n_embd, "c_proj")
        self.drop = layers.Dropout(check_dropout(dropout))
        self.build((None, None, n_embd))

    def build(self, input_shape):
        self.c_attn.build(input_shape)
        self.c_proj.build(input_shape)

    def call(self, x, training=False):
        _check_input(x, ("batch", "time", "n_embd"), {2: self.n_embd})
        B, T, C = ops.shape(x)[0], ops.shape(x)[1], self.n_embd
        q, k, v = ops.split(self.c_attn(x), 3, axis=-1)  # 3 x (B, T, C)
        q, k, v = (ops.transpose(ops.reshape(t, (B, T, self.n_head, C // self.n_head)), (0, 2, 1, 3))
                   for t in (q, k, v))  # (B, nh, T, hs)
        y = attention(q, k, v, causal=self.causal)  # (B, nh, T, hs)
        y = ops.reshape(ops.transpose(y, (0, 2, 1, 3)), (B, T, C))  # (B, T, C)
        return self.drop(self.c_proj(y), training=training)


class FeedForward(layers.Layer):
    """The Transformer's position-wise MLP: Dense to 4 * n_embd, tanh GELU, Dense back."""

    def __init__(self, n_embd, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.c_fc = _dense(4 * n_embd, "c_fc")
        self.c_proj = _dense(n_embd, "c_proj")
        self.drop = layers.Dropout(dropout)
        self.build((None, None, n_embd))

    def build(self, input_shape):
        self.c_fc.build(input_shape)
        self.c_proj.build((*input_shape[:-1], 4 * input_shape[-1]))

    def call(self, x, training=False):
        h = keras.activations.gelu(self.c_fc(x), approximate=True)  # (B, T, 4C); GPT-2's (tanh) GELU
        return self.drop(self.c_proj(h), training=training)  # (B, T, C)


class TransformerBlock(layers.Layer):
    """Pre-LayerNorm Transformer block (GPT-2's): x + attn(ln_1(x)), then x + mlp(ln_2(x)).

    Input and output (batch, time, n_embd); LayerNorm epsilon 1e-5, PyTorch's.
    """

    def __init__(self, n_embd, n_head, causal=True, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.n_embd, self.n_head = check_heads(n_embd, n_head)
        self.causal = check_bool("causal", causal)
        dropout = check_dropout(dropout)
        self.ln_1 = layers.LayerNormalization(epsilon=1e-5, name="ln_1")  # PyTorch's epsilon
        with keras.name_scope(self.name):  # attn and mlp build at once: name their weights block/attn/...
            self.attn = MultiHeadAttention(n_embd, n_head, causal=causal, dropout=dropout, name="attn")
            self.ln_2 = layers.LayerNormalization(epsilon=1e-5, name="ln_2")
            self.mlp = FeedForward(n_embd, dropout=dropout, name="mlp")
        self.build((None, None, n_embd))

    def build(self, input_shape):
        self.ln_1.build(input_shape)
        self.ln_2.build(input_shape)

    def call(self, x, training=False):
        _check_input(x, ("batch", "time", "n_embd"), {2: self.n_embd})
        x = x + self.attn(self.ln_1(x), training=training)
        return x + self.mlp(self.ln_2(x), training=training)


# ---- variational autoencoder -----------------------------------------------------------------

class VAE(keras.Model):
    """A variational autoencoder with one hidden layer in the encoder and in the decoder.

    Encoder: x (batch, in_features) -> ReLU hidden -> mean ``mu`` and log-variance ``logvar``
    (batch, latent_size). Reparameterisation: z = mu + exp(logvar / 2) * eps, eps ~ N(0, I).
    Decoder: z -> ReLU hidden -> logits (batch, in_features) of Bernoulli pixel probabilities.
    ``call(x, eps=None, training=False)`` returns (logits, mu, logvar). ``eps`` is drawn when
    training and is zero otherwise (z = mu) unless given, so the model is deterministic on request.
    """

    def __init__(self, in_features, hidden_size, latent_size, **kwargs):
        super().__init__(**kwargs)
        self.in_features = positive_int("in_features", in_features)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.latent_size = positive_int("latent_size", latent_size)
        self.enc_hidden = layers.Dense(hidden_size, activation="relu", name="enc_hidden")
        self.enc_mu = layers.Dense(latent_size, name="enc_mu")
        self.enc_logvar = layers.Dense(latent_size, name="enc_logvar")
        self.dec_hidden = layers.Dense(hidden_size, activation="relu", name="dec_hidden")
        self.dec_out = layers.Dense(in_features, name="dec_out")
        self.seed_generator = keras.random.SeedGenerator()  # draws eps; a variable, not a weight
        self(ops.zeros((1, self.in_features)))  # build every weight

    def encode(self, x):
        """(mu, logvar) of q(z | x), each (batch, latent_size)."""
        _check_input(x, ("batch", "in_features"), {1: self.in_features})
        h = self.enc_hidden(x)  # (B, hidden_size)
        return self.enc_mu(h), self.enc_logvar(h)

    def decode(self, z):
        """Logits (batch, in_features) of p(x | z)."""
        _check_input(z, ("batch", "latent_size"), {1: self.latent_size}, name="z")
        return self.dec_out(self.dec_hidden(z))

    def call(self, x, eps=None, training=False):
        mu, logvar = self.encode(x)  # (B, latent_size) each
        if eps is None:
            eps = keras.random.normal(ops.shape(mu), seed=self.seed_generator) if training else ops.zeros_like(mu)
        else:
            _check_input(eps, ("batch", "latent_size"), {0: mu.shape[0], 1: self.latent_size}, name="eps")
        z = mu + ops.exp(0.5 * logvar) * eps  # the reparameterisation trick
        return self.decode(z), mu, logvar


def vae_loss(x, logits, mu, logvar):
    """The negative ELBO, averaged over the batch.

    Reconstruction: Bernoulli cross-entropy of x under the decoder's logits, summed over
    features: exactly -log p(x | z) for binary x (0 or 1); for x strictly between 0 and 1 it is
    not a normalized log-likelihood (Section 3.5 binarizes its images for that reason). Plus
    the closed-form KL(N(mu, exp(logvar)) || N(0, I)) = 1/2 sum(mu^2 + exp(logvar) - 1 - logvar)
    over latent dimensions.
    """
    x = ops.cast(x, logits.dtype)
    reconstruction = ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=-1)  # (B,)
    kl = 0.5 * ops.sum(ops.square(mu) + ops.exp(logvar) - 1 - logvar, axis=-1)  # (B,)
    return ops.mean(reconstruction + kl)
