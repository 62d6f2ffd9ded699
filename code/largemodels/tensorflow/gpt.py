"""A GPT-2-style language model in Keras 3 (the twin of ``largemodels/torch/gpt.py``).

The blocks are the model zoo's :class:`~largemodels.tensorflow.models.TransformerBlock` (pre-LN,
causal multi-head self-attention, tanh-GELU MLP); this file adds GPT-2's embeddings, final
LayerNorm, tied output head and initialisation.
"""
import math

import keras
from keras import layers, ops

from ..config import GPTConfig
from .models import TransformerBlock, attention  # noqa: F401  (attention: also importable from here)


class GPT(keras.Model):
    """GPT-2: token and learned position embeddings, pre-LN blocks, final LayerNorm, and an
    output head that shares its weight with the token embedding. ``call`` returns logits.
    The model is built on construction, so its weights exist at once."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a largemodels.GPTConfig, got {type(config).__name__}")
        self.config = config
        # One initializer per embedding: an unseeded Keras initializer repeats its draws per call.
        self.wte = layers.Embedding(config.vocab_size, config.n_embd, name="wte",
                                    embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.wpe = layers.Embedding(config.block_size, config.n_embd, name="wpe",
                                    embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02))
        self.drop = layers.Dropout(config.dropout)
        with keras.name_scope(self.name):  # the blocks build at once: name their weights gpt/block_i/...
            self.blocks = [TransformerBlock(config.n_embd, config.n_head, causal=True, dropout=config.dropout,
                                            name=f"block_{i}") for i in range(config.n_layer)]
        for block in self.blocks:  # GPT-2: residual projections start at 0.02 / sqrt(2L), not 0.02
            for dense in (block.attn.c_proj, block.mlp.c_proj):
                dense.kernel.assign(dense.kernel / math.sqrt(2 * config.n_layer))
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
