"""A decoder-only language model in Keras 3 (the twin of ``largemodels/torch/gpt.py``).

GPT-2 with the default :class:`~largemodels.config.GPTConfig`; the Llama family's decoder
with ``GPTConfig.llama(...)`` or ``GPTConfig.llama_like(...)``. The blocks and the KV cache
are in :mod:`largemodels.tensorflow.decoder`; this file adds the embeddings, the final norm,
the output head and the initialisation.
"""

import math

import keras
from keras import layers, ops

from ..checkpoint import config_from_dict, config_to_dict
from ..config import GPTConfig
from ..rope import inverse_frequencies
from .decoder import DecoderBlock, KVCache, make_norm, rope_angles
from .models import attention  # noqa: F401  (attention: also importable from here)


def _normal():  # a new initializer per layer: an unseeded one repeats its draws
    return keras.initializers.RandomNormal(stddev=0.02)


@keras.saving.register_keras_serializable(package="largemodels")
class GPT(keras.Model):
    """Token embeddings (plus learned positions for GPT-2), pre-norm decoder blocks, a
    final norm, and an output head (tied to the token embedding unless
    ``config.tie_head`` is False). ``call(idx, cache=None)`` returns logits. The model is
    built on construction, so its weights exist at once.

    With a :class:`~largemodels.tensorflow.decoder.KVCache`, ``idx`` holds only the new
    tokens: their positions continue after the cached ones, and the cache grows by their
    keys and values. ``fused_attention`` selects Keras's fused ``ops.dot_product_attention``
    or the written-out :func:`~largemodels.tensorflow.models.attention` (the default, which FLOP
    counters see as two matrix products); the two agree to float rounding.

    ``model.save("gpt.keras")`` and ``keras.models.load_model("gpt.keras")`` round-trip it
    (with ``safe_mode`` on): :meth:`get_config` stores the GPTConfig as a dict.
    """

    def __init__(self, config, fused_attention=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(config, GPTConfig):
            got = type(config).__name__
            raise TypeError(f"config must be a largemodels.GPTConfig, got {got}")
        c = self.config = config
        self.fused_attention = bool(fused_attention)
        self.wte = layers.Embedding(
            c.vocab_size, c.n_embd, embeddings_initializer=_normal(), name="wte"
        )
        self.wpe = None  # learned positions (GPT-2) or none (rotary embeddings)
        if c.positions == "learned":
            self.wpe = layers.Embedding(
                c.block_size, c.n_embd, embeddings_initializer=_normal(), name="wpe"
            )
        self.drop = layers.Dropout(c.dropout)
        with keras.name_scope(self.name):  # the blocks build at once: gpt/block_i/...
            self.blocks = [DecoderBlock(c, name=f"block_{i}") for i in range(c.n_layer)]
        for block in self.blocks:  # GPT-2: residual projections start at 0.02 / sqrt(2L)
            for dense in (block.attn.c_proj, block.mlp.c_proj):
                dense.kernel.assign(dense.kernel / math.sqrt(2 * c.n_layer))
        self.ln_f = make_norm(c, "ln_f")
        self.lm_head = None  # tied: the output head is wte's embeddings
        if not c.tie_head:
            self.lm_head = layers.Dense(
                c.vocab_size, use_bias=False, kernel_initializer=_normal(), name="lm_head"
            )
        self.inv_freq = None
        if c.positions == "rope":
            self.inv_freq = inverse_frequencies(c.head_size, c.rope_theta, c.rope_scaling)
        self(ops.zeros((1, min(2, c.block_size)), dtype="int32"))  # build every weight

    def call(self, idx, cache=None, training=False):
        if len(idx.shape) != 2:
            raise ValueError(f"idx must have shape (batch, time), got {tuple(idx.shape)}")
        T, block_size = idx.shape[1], self.config.block_size
        start = 0 if cache is None else cache.length  # positions already in the cache
        if T is not None and start + T > block_size:
            held = "" if cache is None else f"the KV cache holds {start} tokens and "
            raise ValueError(f"{held}sequence length {T} exceeds block_size={block_size}")
        pos = ops.arange(ops.shape(idx)[1])  # (T,)
        if start:  # positions continue after the cached ones
            pos = pos + start
        x = self.wte(idx)  # (B, T, C)
        if self.wpe is not None:
            x = x + self.wpe(pos)
        x = self.drop(x, training=training)
        rope = None
        if self.inv_freq is not None:
            rope = rope_angles(pos, ops.convert_to_tensor(self.inv_freq))
        fused = self.fused_attention
        for layer, block in enumerate(self.blocks):  # Keras: non-tensors go by keyword
            x = block(x, rope=rope, cache=cache, layer=layer, fused=fused, training=training)
        x = self.ln_f(x)
        if self.lm_head is None:  # (B, T, vocab_size): tied output head
            return ops.matmul(x, ops.transpose(self.wte.embeddings))
        return self.lm_head(x)  # (B, T, vocab_size)

    def get_config(self):
        """Keras's description of the model, with the GPTConfig as a JSON-ready dict."""
        base = {"name": self.name, "trainable": self.trainable,
                "dtype": keras.saving.serialize_keras_object(self.dtype_policy)}
        return {**base, "config": config_to_dict(self.config),
                "fused_attention": self.fused_attention}

    @classmethod
    def from_config(cls, config):
        """The model that :meth:`get_config` described (its weights are loaded separately)."""
        config = dict(config)
        return cls(config_from_dict(config.pop("config")), **config)

    def new_cache(self):
        """An empty :class:`~largemodels.tensorflow.decoder.KVCache` for this model."""
        return KVCache(self.config)
