"""A GPT-2-style language model in PyTorch (the twin of ``largemodels/tensorflow/gpt.py``).

The blocks are the model zoo's :class:`~largemodels.torch.models.TransformerBlock` (pre-LN,
causal multi-head self-attention, tanh-GELU MLP); this file adds GPT-2's embeddings, final
LayerNorm, tied output head and initialisation.
"""
import math

import torch
from torch import nn

from ..config import GPTConfig
from .models import TransformerBlock, attention  # noqa: F401  (attention: also importable from here)


class GPT(nn.Module):
    """GPT-2: token and learned position embeddings, pre-LN blocks, final LayerNorm, and an
    output head that shares its weight with the token embedding. ``forward`` returns logits."""

    def __init__(self, config):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a largemodels.GPTConfig, got {type(config).__name__}")
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config.n_embd, config.n_head, causal=True, dropout=config.dropout)
                                    for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, eps=1e-5)
        # GPT-2's initialisation: the blocks' Linear layers start at N(0, 0.02) with zero biases
        # (see models.py); the embeddings too, and the residual projections at 0.02 / sqrt(2L).
        for embedding in (self.wte, self.wpe):
            nn.init.normal_(embedding.weight, std=0.02)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layer))

    def forward(self, idx):
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (batch, time), got shape {tuple(idx.shape)}")
        T = idx.size(1)
        if T > self.config.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size={self.config.block_size}")
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        x = self.ln_f(x)
        return x @ self.wte.weight.T  # (B, T, vocab_size): tied output head
