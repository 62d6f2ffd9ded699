"""Interpretability in PyTorch (the twin of ``largemodels/tensorflow/interpret.py``).

Two kinds of tools, used in Section 5.4:

- attributions for any differentiable classifier: :func:`saliency`, the gradient of one
  logit with respect to the input (Simonyan et al., 2014), and :func:`integrated_gradients`,
  the gradient averaged along a straight path from a baseline to the input, times the
  input's difference from the baseline (Sundararajan et al., 2017);
- views inside the package's :class:`~largemodels.torch.gpt.GPT`, which itself returns only
  logits: :func:`attention_maps` (every head's softmax weights), :func:`residual_stream`
  (the hidden state after the embedding and after each block) and :func:`logit_lens`
  (that hidden state read out through the final norm and the output head; nostalgebraist,
  2020). They replay the model's own modules block by block, so they follow whatever the
  config chose: LayerNorm or RMSNorm, learned or rotary positions, multi-head or
  grouped-query attention.

Every function takes NumPy arrays or tensors and returns NumPy arrays. Captum is not
needed here; the book compares these functions with it.
"""

import math

import numpy as np
import torch
from torch.nn import functional as F

from .._attribution import path_weights, target_classes
from .decoder import rope_angles, rotate
from .gpt import GPT

__all__ = [
    "attention_maps",
    "integrated_gradients",
    "logit_lens",
    "path_weights",
    "residual_stream",
    "saliency",
]



# ---- input checks ----------------------------------------------------------------------------


def _model_device(model):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    param = next(model.parameters(), None)
    return torch.device("cpu") if param is None else param.device


def _float_input(x, device):
    x = x if torch.is_tensor(x) else torch.from_numpy(np.array(x))  # a writable copy
    if not torch.is_floating_point(x):
        raise TypeError(f"x must hold floating-point values, got dtype {x.dtype}")
    if x.dim() < 2:
        raise ValueError(f"x must have shape (batch, ...), got {tuple(x.shape)}")
    return x.detach().to(device=device, dtype=torch.float32)


def _chosen_logits(model, x, target):
    """model(x)[i, target[i]] for each row i: (n,)."""
    logits = model(x)  # (n, n_classes)
    if logits.dim() != 2:
        raise ValueError(f"model must return logits (batch, classes), got {tuple(logits.shape)}")
    t = torch.as_tensor(target_classes(target, len(x), logits.shape[1])).to(logits.device)
    return logits.gather(1, t[:, None])[:, 0]


# ---- attributions ----------------------------------------------------------------------------


def saliency(model, x, target, absolute=True):
    """The gradient of the ``target`` logit with respect to each input value, for a batch
    ``x`` (n, ...) with one target class per input (an int for all, or n ints); its
    absolute value with ``absolute=True`` (Simonyan et al., 2014, as Captum's
    ``Saliency``). Returns an array shaped like ``x``."""
    x = _float_input(x, _model_device(model)).requires_grad_(True)
    (grad,) = torch.autograd.grad(_chosen_logits(model, x, target).sum(), x)
    return (grad.abs() if absolute else grad).cpu().numpy()


def integrated_gradients(model, x, target, baseline=None, steps=64, rule="trapezoid",
                         batch_size=4096):
    """Integrated gradients (Sundararajan et al., 2017) of the ``target`` logit for a batch
    ``x`` (n, ...): (x - baseline) times the gradient averaged over the straight path from
    ``baseline`` (default: zeros; one input's shape, or one per input) to x, the average
    taken with :func:`path_weights` (``rule``, ``steps`` intervals). The gradients of up to
    ``batch_size`` path points are computed at once. Returns an array shaped like ``x``
    whose sum over each input approaches f(x) - f(baseline) as ``steps`` grows
    (completeness)."""
    device = _model_device(model)
    x = _float_input(x, device)
    base = torch.zeros_like(x) if baseline is None else _float_input(
        np.broadcast_to(np.asarray(baseline, dtype=np.float32), x.shape), device)
    alphas, weights = (torch.as_tensor(a, device=device) for a in path_weights(steps, rule))
    n, shape = len(x), (1,) * (x.dim() - 1)
    # the classes are checked against the logits below
    target = torch.as_tensor(target_classes(target, n, np.iinfo(np.int64).max))
    total = torch.zeros_like(x)  # (n, ...): the weighted sum of gradients along the path
    per_chunk = max(1, int(batch_size) // n)  # path points per backward pass
    for start in range(0, len(alphas), per_chunk):
        a = alphas[start:start + per_chunk].view(-1, 1, *shape)  # (k, 1, ...)
        w = weights[start:start + per_chunk].view(-1, 1, *shape)
        points = (base + a * (x - base)).reshape(-1, *x.shape[1:])  # (k n, ...)
        points.requires_grad_(True)
        chosen = _chosen_logits(model, points, target.repeat(len(a)).numpy())  # (k n,)
        (grad,) = torch.autograd.grad(chosen.sum(), points)
        total += (w * grad.view(len(a), *x.shape)).sum(0)
    return ((x - base) * total).detach().cpu().numpy()


# ---- inside the GPT --------------------------------------------------------------------------


def _check_gpt(model, idx):
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a largemodels.torch.GPT, got {type(model).__name__}")
    idx = torch.as_tensor(np.asarray(idx) if not torch.is_tensor(idx) else idx)
    if idx.dim() != 2 or torch.is_floating_point(idx):
        raise ValueError(f"idx must be integer token ids (batch, time), got {tuple(idx.shape)} "
                         f"{idx.dtype}")
    if idx.size(1) > model.config.block_size:
        raise ValueError(f"sequence length {idx.size(1)} exceeds "
                         f"block_size={model.config.block_size}")
    return idx.to(_model_device(model))


def _attention_weights(attn, h, rope):
    """softmax(q k^T / sqrt(hs)) with the causal mask, for one block's attention module
    and its normalised input h (B, T, C): (B, nh, T, T), as CausalSelfAttention computes
    it before multiplying by the values."""
    B, T, C = h.shape
    nh, nkv, hs = attn.n_head, attn.n_kv_head, attn.head_size
    q, k, _ = attn.c_attn(h).split([C, nkv * hs, nkv * hs], dim=2)
    q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
    k = k.view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
    if rope is not None:
        q, k = rotate(q, *rope), rotate(k, *rope)
    k = k.repeat_interleave(nh // nkv, dim=1)  # (B, nh, T, hs): GQA's shared keys
    scores = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (B, nh, T, T)
    causal = torch.ones(T, T, dtype=torch.bool, device=h.device).tril()
    return F.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)


@torch.no_grad()
def _replay(model, idx):
    """Run the GPT block by block (as GPT.forward, without a cache or dropout's effect on
    the maps): the residual stream [(B, T, C)] * (L + 1) and the maps [(B, nh, T, T)] * L."""
    T = idx.size(1)
    pos = torch.arange(T, device=idx.device)  # (T,)
    x = model.wte(idx)  # (B, T, C)
    if model.wpe is not None:
        x = x + model.wpe(pos)
    rope = None if model.wpe is not None else rope_angles(pos, model.inv_freq)
    stream, maps = [x], []
    for layer, block in enumerate(model.blocks):
        maps.append(_attention_weights(block.attn, block.ln_1(x), rope))
        x = block(x, rope=rope, layer=layer, fused=model.fused_attention)  # (B, T, C)
        stream.append(x)
    return stream, maps


def attention_maps(model, idx):
    """Every attention head's weights for token ids ``idx`` (B, T): an array
    (n_layer, B, n_head, T, T) whose row t is the distribution over positions s <= t
    that query t attends to (zero above the diagonal; each row sums to 1)."""
    _, maps = _replay(model, _check_gpt(model, idx))
    return torch.stack(maps).cpu().numpy()


def residual_stream(model, idx):
    """The hidden state of every position for token ids ``idx`` (B, T): after the
    embedding and after each block, an array (n_layer + 1, B, T, n_embd)."""
    stream, _ = _replay(model, _check_gpt(model, idx))
    return torch.stack(stream).cpu().numpy()


@torch.no_grad()
def logit_lens(model, idx):
    """The logit lens (nostalgebraist, 2020): the residual stream after the embedding
    and after each block, read out as if it were the last one, through the final norm
    and the output head. An array (n_layer + 1, B, T, vocab_size); its last entry is
    the model's own logits."""
    stream, _ = _replay(model, _check_gpt(model, idx))
    h = model.ln_f(torch.stack(stream))  # (L + 1, B, T, C)
    logits = h @ model.wte.weight.T if model.lm_head is None else model.lm_head(h)
    return logits.cpu().numpy()  # (L + 1, B, T, V)
