"""The decoder's parts in Keras 3 (the twin of ``largemodels/torch/decoder.py``).

One block serves GPT-2 and the Llama family; :class:`~largemodels.config.GPTConfig` picks
the parts: LayerNorm or :class:`RMSNorm`, learned positions or rotary embeddings
(:func:`rotate`), multi-head or grouped-query attention (:class:`CausalSelfAttention`),
a GELU MLP or :class:`SwiGLU`. :class:`KVCache` keeps the keys and values of the tokens
seen so far, for generation. Each layer is built on construction, so its weights exist at
once, and the layers are created in the same order as PyTorch's.
"""

import keras
from keras import layers, ops

from .models import attention


def _dense(units, name, bias):
    """A Dense layer with GPT-2's initialisation: weights ~ N(0, 0.02), biases 0. A new
    initializer per layer: an unseeded Keras initializer instance repeats its draws."""
    return layers.Dense(
        units,
        use_bias=bias,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.02),
        bias_initializer="zeros",
        name=name,
    )


# ---- normalisation ---------------------------------------------------------------------------


class RMSNorm(layers.Layer):
    """x / sqrt(mean(x^2) + eps) * scale over the last axis (Zhang and Sennrich, 2019):
    LayerNorm without subtracting the mean and without a bias. Computed in float32."""

    def __init__(self, n_embd, eps=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.eps = eps
        self.scale = self.add_weight(shape=(n_embd,), initializer="ones", name="scale")

    def call(self, x):
        x32 = ops.cast(x, "float32")
        mean_square = ops.mean(ops.square(x32), axis=-1, keepdims=True)  # (..., 1)
        inv_rms = ops.rsqrt(mean_square + self.eps)
        return ops.cast(x32 * inv_rms, x.dtype) * self.scale


def make_norm(config, name):
    """The block's normalisation layer: GPT-2's LayerNorm or Llama's RMSNorm."""
    if config.norm == "rmsnorm":
        return RMSNorm(config.n_embd, eps=config.norm_eps, name=name)
    eps, bias = config.norm_eps, config.bias
    return layers.LayerNormalization(epsilon=eps, center=bias, name=name)


# ---- rotary position embeddings --------------------------------------------------------------


def rope_angles(positions, inv_freq):
    """cos and sin of the rotation angles, each (T, head_size), for integer ``positions``
    (T,) and frequencies ``inv_freq`` (head_size / 2,) from :mod:`largemodels.rope`."""
    angles = ops.cast(positions, "float32")[:, None] * inv_freq[None, :]  # (T, hs/2)
    # (T, hs): features i and i + hs/2 share an angle
    angles = ops.concatenate([angles, angles], axis=-1)
    return ops.cos(angles), ops.sin(angles)


def rotate(x, cos, sin):
    """Rotate each feature pair (x_i, x_{i + hs/2}) of x (B, nh, T, hs) by its angle:
    (x_i cos - x_{i+hs/2} sin, x_{i+hs/2} cos + x_i sin)."""
    x1, x2 = ops.split(x, 2, axis=-1)  # (B, nh, T, hs/2) each
    return x * cos + ops.concatenate([-x2, x1], axis=-1) * sin


# ---- attention -------------------------------------------------------------------------------


def attend(q, k, v, fused=True):
    """Causal attention of the T newest positions (q: B, nh, T, hs) over all S positions
    (k, v: B, nh, S, hs), as :func:`largemodels.tensorflow.models.attention` with ``causal=True``.

    ``fused=False`` runs that written-out function; ``fused=True`` Keras's
    ``ops.dot_product_attention`` (which takes (B, T, nh, hs)), with the mask aligned at the
    bottom right (its own ``is_causal`` flag aligns it at the top left).
    """
    if not fused:
        return attention(q, k, v, causal=True)
    T, S = ops.shape(q)[2], ops.shape(k)[2]
    mask = ops.tril(ops.ones((T, S), dtype="bool"), k=S - T)[None, None]  # (1, 1, T, S)
    mask = None if T == 1 else mask
    q, k, v = (ops.transpose(t, (0, 2, 1, 3)) for t in (q, k, v))  # (B, T or S, nh, hs)
    y = ops.dot_product_attention(q, k, v, mask=mask)  # (B, T, nh, hs)
    return ops.transpose(y, (0, 2, 1, 3))  # (B, nh, T, hs)


class CausalSelfAttention(layers.Layer):
    """Causal self-attention with ``n_head`` query heads sharing ``n_kv_head`` key/value
    heads (grouped-query attention; multi-head when equal, multi-query when 1).

    One Dense, ``c_attn``, makes the queries (n_embd features) and the keys and values
    (n_kv_head * head_size each); ``c_proj`` joins the heads. Input and output
    (batch, time, n_embd). ``rope`` is (cos, sin) from :func:`rope_angles` or None.
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.n_head, self.n_kv_head = config.n_head, config.n_kv_head
        self.head_size = config.head_size
        d, kv_width = config.n_embd, config.n_kv_head * config.head_size
        self.c_attn = _dense(d + 2 * kv_width, "c_attn", config.bias)  # q, k, v
        self.c_proj = _dense(config.n_embd, "c_proj", config.bias)
        self.drop = layers.Dropout(config.dropout)
        self.build((None, None, config.n_embd))

    def build(self, input_shape):  # Keras names the weights built here attn/c_attn/...
        self.c_attn.build(input_shape)
        self.c_proj.build(input_shape)

    def call(self, x, rope=None, cache=None, layer=0, fused=True, training=False):
        nh, nkv, hs = self.n_head, self.n_kv_head, self.head_size
        B, T, C = ops.shape(x)[0], ops.shape(x)[1], nh * hs
        # C + 2 nkv hs features: nh / nkv + 2 chunks of nkv hs, the last two k and v. (An even
        # split: ops.split at uneven indices adds arithmetic that FLOP counters would see.)
        chunks = ops.split(self.c_attn(x), nh // nkv + 2, axis=-1)  # each (B, T, nkv hs)
        q, k, v = ops.concatenate(chunks[:-2], axis=-1), chunks[-2], chunks[-1]

        def split_heads(t, n):  # (B, T, n * hs) -> (B, n, T, hs)
            return ops.transpose(ops.reshape(t, (B, T, n, hs)), (0, 2, 1, 3))

        q, k, v = split_heads(q, nh), split_heads(k, nkv), split_heads(v, nkv)
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, nkv, S, hs): every position so far
        if nkv != nh:  # each key/value head serves a group of nh / nkv query heads
            k = ops.repeat(k, nh // nkv, axis=1)  # (B, nh, S, hs)
            v = ops.repeat(v, nh // nkv, axis=1)  # (B, nh, S, hs)
        y = attend(q, k, v, fused=fused)  # (B, nh, T, hs)
        y = ops.reshape(ops.transpose(y, (0, 2, 1, 3)), (B, T, C))  # (B, T, C)
        return self.drop(self.c_proj(y), training=training)


# ---- the MLPs --------------------------------------------------------------------------------


class GeluMLP(layers.Layer):
    """GPT-2's MLP: Dense to n_hidden (4 n_embd), tanh GELU, Dense back."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.c_fc = _dense(config.n_hidden, "c_fc", config.bias)
        self.c_proj = _dense(config.n_embd, "c_proj", config.bias)
        self.drop = layers.Dropout(config.dropout)
        self.build((None, None, config.n_embd))

    def build(self, input_shape):
        self.c_fc.build(input_shape)
        self.c_proj.build((*input_shape[:-1], self.c_fc.units))

    def call(self, x, training=False):
        h = keras.activations.gelu(self.c_fc(x), approximate=True)  # (B, T, n_hidden)
        return self.drop(self.c_proj(h), training=training)


class SwiGLU(layers.Layer):
    """The gated MLP of Shazeer (2020): c_proj(silu(c_gate(x)) * c_fc(x)). Three matrices,
    so n_hidden is usually about 8/3 n_embd rather than 4 n_embd."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.c_gate = _dense(config.n_hidden, "c_gate", config.bias)
        self.c_fc = _dense(config.n_hidden, "c_fc", config.bias)
        self.c_proj = _dense(config.n_embd, "c_proj", config.bias)
        self.drop = layers.Dropout(config.dropout)
        self.build((None, None, config.n_embd))

    def build(self, input_shape):
        self.c_gate.build(input_shape)
        self.c_fc.build(input_shape)
        self.c_proj.build((*input_shape[:-1], self.c_fc.units))

    def call(self, x, training=False):
        h = ops.silu(self.c_gate(x)) * self.c_fc(x)  # (B, T, n_hidden)
        return self.drop(self.c_proj(h), training=training)


class DecoderBlock(layers.Layer):
    """Pre-norm decoder block: x + attn(norm_1(x)), then x + mlp(norm_2(x)).
    Input and output (batch, time, n_embd)."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.ln_1 = make_norm(config, "ln_1")
        # attn and mlp build at once: name their weights block_i/attn/..., block_i/mlp/...
        with keras.name_scope(self.name):
            self.attn = CausalSelfAttention(config, name="attn")
            self.ln_2 = make_norm(config, "ln_2")
            mlp = SwiGLU if config.mlp == "swiglu" else GeluMLP
            self.mlp = mlp(config, name="mlp")
        self.build((None, None, config.n_embd))

    def build(self, input_shape):
        self.ln_1.build(input_shape)
        self.ln_2.build(input_shape)

    def call(self, x, rope=None, cache=None, layer=0, fused=True, training=False):
        h = self.ln_1(x)
        x = x + self.attn(h, rope=rope, cache=cache, layer=layer, fused=fused, training=training)
        return x + self.mlp(self.ln_2(x), training=training)


# ---- the key/value cache ---------------------------------------------------------------------


class KVCache:
    """The keys and values of every layer for the tokens seen so far, each (B, nkv, S, hs),
    stored before the key/value heads are repeated for grouped-query attention.

    Each forward pass with the cache appends the new positions (``update``); ``length``
    is S. Its size is 2 * n_layer * n_kv_head * head_size * S values per sequence, which
    :func:`largemodels.costs.kv_cache_bytes` computes.
    """

    def __init__(self, config):
        self.config = config
        self.keys = [None] * config.n_layer
        self.values = [None] * config.n_layer

    @property
    def length(self):
        """How many positions the cache holds (0 before the first update)."""
        return 0 if self.keys[0] is None else int(ops.shape(self.keys[0])[2])

    def update(self, layer, k, v):
        """Append k, v (B, nkv, T, hs) to ``layer``'s cache; return all (B, nkv, S, hs)."""
        if self.keys[layer] is not None:
            k = ops.concatenate([self.keys[layer], k], axis=2)
            v = ops.concatenate([self.values[layer], v], axis=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    @property
    def nbytes(self):
        """Bytes the cached keys and values occupy."""
        return sum(
            int(ops.size(t)) * t.dtype.size
            for t in self.keys + self.values
            if t is not None
        )
