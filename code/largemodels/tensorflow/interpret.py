"""Interpretability in Keras 3 (the twin of ``largemodels/torch/interpret.py``).

Two kinds of tools, used in Section 5.4:

- attributions for any differentiable classifier: :func:`saliency`, the gradient of one
  logit with respect to the input (Simonyan et al., 2014), and :func:`integrated_gradients`,
  the gradient averaged along a straight path from a baseline to the input, times the
  input's difference from the baseline (Sundararajan et al., 2017);
- views inside the package's :class:`~largemodels.tensorflow.gpt.GPT`, which itself returns
  only logits: :func:`attention_maps` (every head's softmax weights),
  :func:`residual_stream` (the hidden state after the embedding and after each block) and
  :func:`logit_lens` (that hidden state read out through the final norm and the output
  head; nostalgebraist, 2020). Keras has no forward hooks, so they replay the model's own
  layers block by block, following whatever the config chose: LayerNorm or RMSNorm,
  learned or rotary positions, multi-head or grouped-query attention.

Every function takes NumPy arrays or tensors and returns NumPy arrays. Gradients come from
``tf.GradientTape``.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

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


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")


def _float_input(x):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"x must hold floating-point values, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"x must have shape (batch, ...), got {x.shape}")
    return tf.constant(x, dtype="float32")


def _chosen_logits(model, x, target):
    """model(x)[i, target[i]] for each row i: (n,)."""
    logits = model(x)  # (n, n_classes)
    if len(logits.shape) != 2:
        raise ValueError(f"model must return logits (batch, classes), got {tuple(logits.shape)}")
    t = target_classes(target, x.shape[0], logits.shape[1])
    return tf.gather(logits, t[:, None], batch_dims=1)[:, 0]


def _gradient(model, x, target):
    """d model(x)[i, target[i]] / d x: shaped like x."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        chosen = _chosen_logits(model, x, target)
    return tape.gradient(chosen, x)  # the sum over i: each row only moves its own logit


# ---- attributions ----------------------------------------------------------------------------


def saliency(model, x, target, absolute=True):
    """The gradient of the ``target`` logit with respect to each input value, for a batch
    ``x`` (n, ...) with one target class per input (an int for all, or n ints); its
    absolute value with ``absolute=True`` (Simonyan et al., 2014, as Captum's
    ``Saliency``). Returns an array shaped like ``x``."""
    _check_model(model)
    grad = _gradient(model, _float_input(x), target)
    return np.abs(grad.numpy()) if absolute else grad.numpy()


def integrated_gradients(model, x, target, baseline=None, steps=64, rule="trapezoid",
                         batch_size=4096):
    """Integrated gradients (Sundararajan et al., 2017) of the ``target`` logit for a batch
    ``x`` (n, ...): (x - baseline) times the gradient averaged over the straight path from
    ``baseline`` (default: zeros; one input's shape, or one per input) to x, the average
    taken with :func:`path_weights` (``rule``, ``steps`` intervals). The gradients of up to
    ``batch_size`` path points are computed at once. Returns an array shaped like ``x``
    whose sum over each input approaches f(x) - f(baseline) as ``steps`` grows
    (completeness)."""
    _check_model(model)
    x = _float_input(x)
    base = tf.zeros_like(x) if baseline is None else tf.constant(
        np.broadcast_to(np.asarray(baseline, dtype=np.float32), x.shape))
    alphas, weights = path_weights(steps, rule)
    n, shape = x.shape[0], (1,) * (len(x.shape) - 1)
    # the classes are checked against the logits later
    target = target_classes(target, n, np.iinfo(np.int64).max)
    total = tf.zeros_like(x)  # (n, ...): the weighted sum of gradients along the path
    per_chunk = max(1, int(batch_size) // n)  # path points per backward pass
    for start in range(0, len(alphas), per_chunk):
        a = tf.constant(alphas[start:start + per_chunk].reshape(-1, 1, *shape))  # (k, 1, ...)
        w = tf.constant(weights[start:start + per_chunk].reshape(-1, 1, *shape))
        k = a.shape[0]
        points = tf.reshape(base + a * (x - base), (k * n, *x.shape[1:]))  # (k n, ...)
        grad = _gradient(model, points, np.tile(target, k))
        total += tf.reduce_sum(w * tf.reshape(grad, (k, *x.shape)), axis=0)
    return ((x - base) * total).numpy()


# ---- inside the GPT --------------------------------------------------------------------------


def _check_gpt(model, idx):
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a largemodels.tensorflow.GPT, got {type(model).__name__}")
    idx = np.asarray(idx)
    if idx.ndim != 2 or idx.dtype.kind not in "iu":
        raise ValueError(f"idx must be integer token ids (batch, time), got {idx.shape} "
                         f"{idx.dtype}")
    if idx.shape[1] > model.config.block_size:
        raise ValueError(f"sequence length {idx.shape[1]} exceeds "
                         f"block_size={model.config.block_size}")
    return ops.convert_to_tensor(idx.astype(np.int32))


def _attention_weights(attn, h, rope):
    """softmax(q k^T / sqrt(hs)) with the causal mask, for one block's attention layer
    and its normalised input h (B, T, C): (B, nh, T, T), as CausalSelfAttention computes
    it before multiplying by the values."""
    nh, nkv, hs = attn.n_head, attn.n_kv_head, attn.head_size
    B, T = ops.shape(h)[0], ops.shape(h)[1]
    chunks = ops.split(attn.c_attn(h), nh // nkv + 2, axis=-1)  # each (B, T, nkv hs)
    q, k = ops.concatenate(chunks[:-2], axis=-1), chunks[-2]

    def split_heads(t, n):  # (B, T, n * hs) -> (B, n, T, hs)
        return ops.transpose(ops.reshape(t, (B, T, n, hs)), (0, 2, 1, 3))

    q, k = split_heads(q, nh), split_heads(k, nkv)
    if rope is not None:
        q, k = rotate(q, *rope), rotate(k, *rope)
    k = ops.repeat(k, nh // nkv, axis=1)  # (B, nh, T, hs): GQA's shared keys
    scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(hs)  # (B, nh, T, T)
    causal = ops.tril(ops.ones((T, T), dtype="bool"))
    return ops.softmax(ops.where(causal, scores, float("-inf")), axis=-1)


def _replay(model, idx):
    """Run the GPT block by block (as GPT.call, without a cache, in inference mode):
    the residual stream [(B, T, C)] * (L + 1) and the maps [(B, nh, T, T)] * L."""
    pos = ops.arange(ops.shape(idx)[1])  # (T,)
    x = model.wte(idx)  # (B, T, C)
    if model.wpe is not None:
        x = x + model.wpe(pos)
    rope = None
    if model.inv_freq is not None:
        rope = rope_angles(pos, ops.convert_to_tensor(model.inv_freq))
    stream, maps = [x], []
    for layer, block in enumerate(model.blocks):
        maps.append(_attention_weights(block.attn, block.ln_1(x), rope))
        x = block(x, rope=rope, layer=layer, fused=model.fused_attention, training=False)
        stream.append(x)
    return stream, maps


def attention_maps(model, idx):
    """Every attention head's weights for token ids ``idx`` (B, T): an array
    (n_layer, B, n_head, T, T) whose row t is the distribution over positions s <= t
    that query t attends to (zero above the diagonal; each row sums to 1)."""
    _, maps = _replay(model, _check_gpt(model, idx))
    return ops.convert_to_numpy(ops.stack(maps))


def residual_stream(model, idx):
    """The hidden state of every position for token ids ``idx`` (B, T): after the
    embedding and after each block, an array (n_layer + 1, B, T, n_embd)."""
    stream, _ = _replay(model, _check_gpt(model, idx))
    return ops.convert_to_numpy(ops.stack(stream))


def logit_lens(model, idx):
    """The logit lens (nostalgebraist, 2020): the residual stream after the embedding
    and after each block, read out as if it were the last one, through the final norm
    and the output head. An array (n_layer + 1, B, T, vocab_size); its last entry is
    the model's own logits."""
    stream, _ = _replay(model, _check_gpt(model, idx))
    h = model.ln_f(ops.stack(stream))  # (L + 1, B, T, C)
    if model.lm_head is None:
        return ops.convert_to_numpy(ops.matmul(h, ops.transpose(model.wte.embeddings)))
    return ops.convert_to_numpy(model.lm_head(h))  # (L + 1, B, T, V)
