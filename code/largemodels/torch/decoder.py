"""The decoder's parts in PyTorch (the twin of ``largemodels/tensorflow/decoder.py``).

One block serves GPT-2 and the Llama family; :class:`~largemodels.config.GPTConfig` picks
the parts: LayerNorm or :class:`RMSNorm`, learned positions or rotary embeddings
(:func:`rotate`), multi-head or grouped-query attention (:class:`CausalSelfAttention`),
a GELU MLP or :class:`SwiGLU`. :class:`KVCache` keeps the keys and values of the tokens
seen so far, for generation. Section 3.7 builds each part from scratch and checks it
against these.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .models import attention


def _init(module):
    """GPT-2's initialisation, used for both families: Linear weights ~ N(0, 0.02), biases 0."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


# ---- normalisation ---------------------------------------------------------------------------


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last axis (Zhang and Sennrich, 2019):
    LayerNorm without subtracting the mean and without a bias. Computed in float32."""

    def __init__(self, n_embd, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_embd))

    def forward(self, x):
        x32 = x.float()
        inv_rms = torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)  # (..., 1)
        return (x32 * inv_rms).type_as(x) * self.weight


def make_norm(config):
    """The block's normalisation layer: GPT-2's LayerNorm or Llama's RMSNorm."""
    if config.norm == "rmsnorm":
        return RMSNorm(config.n_embd, eps=config.norm_eps)
    return nn.LayerNorm(config.n_embd, eps=config.norm_eps, bias=config.bias)


# ---- rotary position embeddings --------------------------------------------------------------


def rope_angles(positions, inv_freq):
    """cos and sin of the rotation angles, each (T, head_size), for integer ``positions``
    (T,) and frequencies ``inv_freq`` (head_size / 2,) from :mod:`largemodels.rope`."""
    angles = positions.float()[:, None] * inv_freq[None, :]  # (T, hs/2)
    # (T, hs): features i and i + hs/2 share an angle
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def rotate(x, cos, sin):
    """Rotate each feature pair (x_i, x_{i + hs/2}) of x (B, nh, T, hs) by its angle:
    (x_i cos - x_{i+hs/2} sin, x_{i+hs/2} cos + x_i sin)."""
    x1, x2 = x.chunk(2, dim=-1)  # (B, nh, T, hs/2) each
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


# ---- attention -------------------------------------------------------------------------------


def attend(q, k, v, fused=True):
    """Causal attention of the T newest positions (q: B, nh, T, hs) over all S positions
    (k, v: B, nh, S, hs), as :func:`largemodels.torch.models.attention` with ``causal=True``.

    ``fused=False`` runs that written-out function; ``fused=True`` PyTorch's fused kernel,
    ``F.scaled_dot_product_attention``, with the mask aligned at the bottom right (its own
    ``is_causal`` flag aligns it at the top left, which is right only when T == S).
    """
    if not fused:
        return attention(q, k, v, causal=True)
    T, S = q.size(-2), k.size(-2)
    if T == S:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(diagonal=S - T)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=None if T == 1 else mask)


class CausalSelfAttention(nn.Module):
    """Causal self-attention with ``n_head`` query heads sharing ``n_kv_head`` key/value
    heads (grouped-query attention; multi-head when equal, multi-query when 1).

    One Linear, ``c_attn``, makes the queries (n_embd features) and the keys and values
    (n_kv_head * head_size each); ``c_proj`` joins the heads. Input and output
    (batch, time, n_embd). ``rope`` is (cos, sin) from :func:`rope_angles` or None.
    """

    def __init__(self, config):
        super().__init__()
        self.n_head, self.n_kv_head = config.n_head, config.n_kv_head
        self.head_size = config.head_size
        d, kv_width = config.n_embd, config.n_kv_head * config.head_size
        self.c_attn = nn.Linear(d, d + 2 * kv_width, bias=config.bias)  # q, k, v
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)
        self.apply(_init)

    def forward(self, x, rope=None, cache=None, layer=0, fused=True):
        B, T, C = x.shape
        nh, nkv, hs = self.n_head, self.n_kv_head, self.head_size
        q, k, v = self.c_attn(x).split([C, nkv * hs, nkv * hs], dim=2)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        v = v.view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, nkv, S, hs): every position so far
        if nkv != nh:  # each key/value head serves a group of nh / nkv query heads
            k = k.repeat_interleave(nh // nkv, dim=1)  # (B, nh, S, hs)
            v = v.repeat_interleave(nh // nkv, dim=1)  # (B, nh, S, hs)
        y = attend(q, k, v, fused=fused)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        return self.drop(self.c_proj(y))


# ---- the MLPs --------------------------------------------------------------------------------


class GeluMLP(nn.Module):
    """GPT-2's MLP: Linear to n_hidden (4 n_embd), tanh GELU, Linear back."""

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.n_hidden, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(config.n_hidden, config.n_embd, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)
        self.apply(_init)

    def forward(self, x):
        h = self.gelu(self.c_fc(x))  # (B, T, n_hidden)
        return self.drop(self.c_proj(h))  # (B, T, n_embd)


class SwiGLU(nn.Module):
    """The gated MLP of Shazeer (2020): c_proj(silu(c_gate(x)) * c_fc(x)). Three matrices,
    so n_hidden is usually about 8/3 n_embd rather than 4 n_embd."""

    def __init__(self, config):
        super().__init__()
        self.c_gate = nn.Linear(config.n_embd, config.n_hidden, bias=config.bias)
        self.c_fc = nn.Linear(config.n_embd, config.n_hidden, bias=config.bias)
        self.c_proj = nn.Linear(config.n_hidden, config.n_embd, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)
        self.apply(_init)

    def forward(self, x):
        h = F.silu(self.c_gate(x)) * self.c_fc(x)  # (B, T, n_hidden)
        return self.drop(self.c_proj(h))  # (B, T, n_embd)


class DecoderBlock(nn.Module):
    """Pre-norm decoder block: x + attn(norm_1(x)), then x + mlp(norm_2(x)).
    Input and output (batch, time, n_embd)."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = make_norm(config)
        self.mlp = SwiGLU(config) if config.mlp == "swiglu" else GeluMLP(config)

    def forward(self, x, rope=None, cache=None, layer=0, fused=True):
        h = self.ln_1(x)
        x = x + self.attn(h, rope=rope, cache=cache, layer=layer, fused=fused)
        return x + self.mlp(self.ln_2(x))


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
        return 0 if self.keys[0] is None else self.keys[0].size(2)

    def update(self, layer, k, v):
        """Append k, v (B, nkv, T, hs) to ``layer``'s cache; return all (B, nkv, S, hs)."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=2)
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    @property
    def nbytes(self):
        """Bytes the cached keys and values occupy."""
        return sum(
            t.numel() * t.element_size()
            for t in self.keys + self.values
            if t is not None
        )
