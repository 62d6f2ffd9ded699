"""A GPT-2-style language model in Keras 3 (the twin of ``largemodels/torch/gpt.py``)."""
import math

import keras
import tensorflow as tf
from keras import layers, ops

from ..config import GPTConfig


def attention(q, k, v, causal=False):
    """Scaled dot-product attention, softmax(q k^T / sqrt(hs)) v, written out.

    q, k, v: (B, nh, T, hs) tensors. With ``causal=True`` position t attends to positions <= t.
    """
    ranks = [len(t.shape) for t in (q, k, v)]
    if ranks != [4, 4, 4]:
        raise ValueError(f"q, k, v must have rank 4 (B, nh, T, hs), got ranks {ranks}")
    T, S = ops.shape(q)[-2], ops.shape(k)[-2]
    scores = ops.matmul(q, ops.swapaxes(k, -2, -1)) / math.sqrt(q.shape[-1])  # (B, nh, T, S)
    if causal:
        mask = ops.tril(ops.ones((T, S), dtype="bool"), k=S - T)
        scores = ops.where(mask, scores, float("-inf"))
    return ops.matmul(ops.softmax(scores, axis=-1), v)  # (B, nh, T, hs)


def _dense(units, std, name):
    return layers.Dense(units, kernel_initializer=keras.initializers.RandomNormal(stddev=std),
                        bias_initializer="zeros", name=name)


class CausalSelfAttention(layers.Layer):
    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.n_head, d = config.n_head, config.n_embd
        proj_std = 0.02 / math.sqrt(2 * config.n_layer)
        self.c_attn = _dense(3 * d, 0.02, "c_attn")  # q, k, v for all heads at once
        self.c_proj = _dense(d, proj_std, "c_proj")
        self.dropout = layers.Dropout(config.dropout)

    def call(self, x, training=False):
        B, T, C = ops.shape(x)[0], ops.shape(x)[1], x.shape[-1]
        q, k, v = ops.split(self.c_attn(x), 3, axis=-1)  # 3 x (B, T, C)
        q, k, v = (ops.transpose(ops.reshape(t, (B, T, self.n_head, C // self.n_head)), (0, 2, 1, 3))
                   for t in (q, k, v))  # (B, nh, T, hs)
        y = attention(q, k, v, causal=True)  # (B, nh, T, hs)
        y = ops.reshape(ops.transpose(y, (0, 2, 1, 3)), (B, T, C))  # (B, T, C)
        return self.dropout(self.c_proj(y), training=training)


class MLP(layers.Layer):
    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        d = config.n_embd
        self.c_fc = _dense(4 * d, 0.02, "c_fc")
        self.c_proj = _dense(d, 0.02 / math.sqrt(2 * config.n_layer), "c_proj")
        self.dropout = layers.Dropout(config.dropout)

    def call(self, x, training=False):
        h = keras.activations.gelu(self.c_fc(x), approximate=True)  # GPT-2's (tanh) GELU
        return self.dropout(self.c_proj(h), training=training)


class Block(layers.Layer):
    """Pre-LayerNorm Transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.ln_1 = layers.LayerNormalization(epsilon=1e-5, name="ln_1")  # PyTorch's epsilon
        self.attn = CausalSelfAttention(config, name="attn")
        self.ln_2 = layers.LayerNormalization(epsilon=1e-5, name="ln_2")
        self.mlp = MLP(config, name="mlp")

    def call(self, x, training=False):
        x = x + self.attn(self.ln_1(x), training=training)
        return x + self.mlp(self.ln_2(x), training=training)


class GPT(keras.Model):
    """GPT-2: token and learned position embeddings, pre-LN blocks, final LayerNorm, and an
    output head that shares its weight with the token embedding. ``call`` returns logits.
    The model is built on construction, so its weights exist at once."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a largemodels.GPTConfig, got {type(config).__name__}")
        self.config = config
        init = keras.initializers.RandomNormal(stddev=0.02)
        self.wte = layers.Embedding(config.vocab_size, config.n_embd, embeddings_initializer=init, name="wte")
        self.wpe = layers.Embedding(config.block_size, config.n_embd, embeddings_initializer=init, name="wpe")
        self.drop = layers.Dropout(config.dropout)
        self.blocks = [Block(config, name=f"block_{i}") for i in range(config.n_layer)]
        self.ln_f = layers.LayerNormalization(epsilon=1e-5, name="ln_f")
        self(ops.zeros((1, min(2, config.block_size)), dtype="int32"))  # build every weight

    def call(self, idx, training=False):
        if len(idx.shape) != 2:
            raise ValueError(f"idx must have shape (batch, time), got shape {tuple(idx.shape)}")
        T = idx.shape[1]
        if T is not None and T > self.config.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size={self.config.block_size}")
        pos = ops.arange(ops.shape(idx)[1])  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos), training=training)  # (B, T, C)
        for block in self.blocks:
            x = block(x, training=training)
        x = self.ln_f(x)
        return ops.matmul(x, ops.transpose(self.wte.embeddings))  # (B, T, vocab_size): tied head
