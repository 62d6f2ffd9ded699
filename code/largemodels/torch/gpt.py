"""A decoder-only language model in PyTorch (the twin of ``largemodels/tensorflow/gpt.py``).

GPT-2 with the default :class:`~largemodels.config.GPTConfig`; the Llama family's decoder
with ``GPTConfig.llama(...)`` or ``GPTConfig.llama_like(...)``. The blocks and the KV cache
are in :mod:`largemodels.torch.decoder`; this file adds the embeddings, the final norm, the
output head and the initialisation.
"""

import math

import torch
from torch import nn

from ..config import GPTConfig
from ..rope import inverse_frequencies
from .decoder import DecoderBlock, KVCache, make_norm, rope_angles
from .models import attention  # noqa: F401  (attention: also importable from here)


class GPT(nn.Module):
    """Token embeddings (plus learned positions for GPT-2), pre-norm decoder blocks, a
    final norm, and an output head (tied to the token embedding unless
    ``config.tie_head`` is False). ``forward(idx, cache=None)`` returns logits.

    With a :class:`~largemodels.torch.decoder.KVCache`, ``idx`` holds only the new tokens:
    their positions continue after the cached ones, and the cache grows by their keys and
    values. ``fused_attention`` selects PyTorch's fused attention kernel or the
    written-out :func:`~largemodels.torch.models.attention` (the default, which FLOP counters see
    as two matrix products); the two agree to float rounding.
    """

    def __init__(self, config, fused_attention=False):
        super().__init__()
        if not isinstance(config, GPTConfig):
            got = type(config).__name__
            raise TypeError(f"config must be a largemodels.GPTConfig, got {got}")
        c = self.config = config
        self.fused_attention = bool(fused_attention)
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = None  # learned positions (GPT-2) or none (rotary embeddings)
        if c.positions == "learned":
            self.wpe = nn.Embedding(c.block_size, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(DecoderBlock(c) for _ in range(c.n_layer))
        self.ln_f = make_norm(c)
        self.lm_head = None  # tied: the output head is wte's weight
        if not c.tie_head:
            self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.positions == "rope":  # a buffer, so that it moves with .to(device)
            inv_freq = inverse_frequencies(c.head_size, c.rope_theta, c.rope_scaling)
            self.register_buffer("inv_freq", torch.from_numpy(inv_freq), persistent=False)
        # GPT-2's initialisation: the blocks' Linear layers start at N(0, 0.02), biases 0
        # (decoder.py); the embeddings too; the residual projections at 0.02 / sqrt(2L).
        for layer in (self.wte, self.wpe, self.lm_head):
            if layer is not None:
                nn.init.normal_(layer.weight, std=0.02)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * c.n_layer))

    def forward(self, idx, cache=None):
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (batch, time), got {tuple(idx.shape)}")
        T, block_size = idx.size(1), self.config.block_size
        start = 0 if cache is None else cache.length  # positions already in the cache
        if start + T > block_size:
            held = "" if cache is None else f"the KV cache holds {start} tokens and "
            raise ValueError(f"{held}sequence length {T} exceeds block_size={block_size}")
        pos = torch.arange(start, start + T, device=idx.device)  # (T,)
        x = self.wte(idx)  # (B, T, C)
        if self.wpe is not None:
            x = x + self.wpe(pos)
        x = self.drop(x)
        rope = None if self.wpe is not None else rope_angles(pos, self.inv_freq)
        fused = self.fused_attention
        for layer, block in enumerate(self.blocks):
            x = block(x, rope=rope, cache=cache, layer=layer, fused=fused)  # (B, T, C)
        x = self.ln_f(x)
        if self.lm_head is None:
            return x @ self.wte.weight.T  # (B, T, vocab_size): tied output head
        return self.lm_head(x)  # (B, T, vocab_size)

    def new_cache(self):
        """An empty :class:`~largemodels.torch.decoder.KVCache` for this model."""
        return KVCache(self.config)
