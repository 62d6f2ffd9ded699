"""A decoder-only language model in Keras 3 (the twin of ``largemodels/torch/gpt.py``).

GPT-2 with the default :class:`~largemodels.config.GPTConfig`; the Llama family's decoder
with ``GPTConfig.llama(...)`` or ``GPTConfig.llama_like(...)``. The blocks and the KV cache
are in :mod:`largemodels.tensorflow.decoder`; this file adds the embeddings, the final norm,
the output head and the initialisation.
"""

import math

import keras
from keras import layers, ops

from ..config import GPTConfig
from ..rope import inverse_frequencies
from .decoder import DecoderBlock, KVCache, make_norm, rope_angles
from .models import attention  # noqa: F401  (attention: also importable from here)


def _normal():
    return keras.initializers.RandomNormal(
        stddev=0.02
    )  # one per layer: unseeded ones repeat


class GPT(keras.Model):
    """Token embeddings (plus learned positions for GPT-2), pre-norm decoder blocks, a
    final norm, and an output head (tied to the token embedding unless
    ``config.tie_head`` is False). ``call(idx, cache=None)`` returns logits. The model is
    built on construction, so its weights exist at once.

    With a :class:`~largemodels.tensorflow.decoder.KVCache`, ``idx`` holds only the new
    tokens: their positions continue after the cached ones, and the cache grows by their
    keys and values. ``fused_attention`` selects Keras's fused ``ops.dot_product_attention``
    or the written-out :func:`~largemodels.tensorflow.attention` (the default, which FLOP
    counters see as two matrix products); the two agree to float rounding.
    """

    def __init__(self, config, fused_attention=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(config, GPTConfig):
            raise TypeError(
                f"config must be a largemodels.GPTConfig, got {type(config).__name__}"
            )
        self.config = config
        self.fused_attention = bool(fused_attention)
        self.wte = layers.Embedding(
            config.vocab_size,
            config.n_embd,
            name="wte",
            embeddings_initializer=_normal(),
        )
        self.wpe = None
        if config.positions == "learned":
            self.wpe = layers.Embedding(
                config.block_size,
                config.n_embd,
                name="wpe",
                embeddings_initializer=_normal(),
            )
        self.drop = layers.Dropout(config.dropout)
        with keras.name_scope(
            self.name
        ):  # the blocks build at once: name their weights gpt/block_i/...
            self.blocks = [
                DecoderBlock(config, name=f"block_{i}") for i in range(config.n_layer)
            ]
        for block in (
            self.blocks
        ):  # GPT-2: residual projections start at 0.02 / sqrt(2L), not 0.02
            for dense in (block.attn.c_proj, block.mlp.c_proj):
                dense.kernel.assign(dense.kernel / math.sqrt(2 * config.n_layer))
        self.ln_f = make_norm(config, "ln_f")
        self.lm_head = None
        if not config.tie_head:
            self.lm_head = layers.Dense(
                config.vocab_size,
                use_bias=False,
                name="lm_head",
                kernel_initializer=_normal(),
            )
        self.inv_freq = None
        if config.positions == "rope":
            self.inv_freq = inverse_frequencies(
                config.head_size, config.rope_theta, config.rope_scaling
            )
        self(
            ops.zeros((1, min(2, config.block_size)), dtype="int32")
        )  # build every weight

    def call(self, idx, cache=None, training=False):
        if len(idx.shape) != 2:
            raise ValueError(
                f"idx must have shape (batch, time), got shape {tuple(idx.shape)}"
            )
        T = idx.shape[1]
        start = 0 if cache is None else cache.length
        if T is not None and start + T > self.config.block_size:
            held = (
                f"the KV cache holds {start} tokens and " if cache is not None else ""
            )
            raise ValueError(
                f"{held}sequence length {T} exceeds block_size={self.config.block_size}"
            )
        pos = ops.arange(start, start + ops.shape(idx)[1])  # (T,)
        x = self.wte(idx)  # (B, T, C)
        if self.wpe is not None:
            x = x + self.wpe(pos)
        x = self.drop(x, training=training)
        rope = (
            None
            if self.inv_freq is None
            else rope_angles(pos, ops.convert_to_tensor(self.inv_freq))
        )
        for layer, block in enumerate(self.blocks):
            x = block(
                x,
                rope=rope,
                cache=cache,
                layer=layer,
                fused=self.fused_attention,
                training=training,
            )
        x = self.ln_f(x)
        if self.lm_head is None:
            return ops.matmul(
                x, ops.transpose(self.wte.embeddings)
            )  # (B, T, vocab_size): tied head
        return self.lm_head(x)  # (B, T, vocab_size)

    def new_cache(self):
        """An empty :class:`~largemodels.tensorflow.decoder.KVCache` for this model."""
        return KVCache(self.config)
