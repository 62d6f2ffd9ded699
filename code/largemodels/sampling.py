"""Choosing the next token from a language model's logits, in NumPy for both frameworks.

The frameworks' ``generate`` functions hand the last position's logits to
:func:`next_token`, so one implementation, and one random stream, serves PyTorch and
TensorFlow: the same logits and seed give the same tokens in both.
"""

import numpy as np

from ._checks import check_bool, fraction, positive_int

__all__ = ["check_generation", "filter_logits", "next_token"]


def filter_logits(logits, temperature=1.0, top_k=None, top_p=None):
    """Logits (B, V) after temperature, top-k and top-p (nucleus) filtering, as float64;
    removed tokens get -inf.

    Temperature divides the logits (below 1 sharpens, above 1 flattens the distribution).
    top_k keeps the k largest logits (ties at the k-th value are all kept). top_p keeps the
    smallest set of most probable tokens whose probabilities sum to at least top_p
    (Holtzman et al., 2020); the most probable token is always kept.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(
            f"logits must have shape (batch, vocab_size), got shape {logits.shape}"
        )
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or temperature <= 0
    ):
        raise ValueError(f"temperature must be a number > 0 here, got {temperature!r}")
    logits = logits / temperature
    if top_k is not None:
        k = min(positive_int("top_k", top_k), logits.shape[1])
        kth = np.sort(logits, axis=1)[:, -k][:, None]  # (B, 1): the k-th largest
        logits = np.where(logits < kth, -np.inf, logits)
    if top_p is not None:
        p = fraction("top_p", top_p, allow_zero=False)
        order = np.argsort(-logits, axis=1, kind="stable")  # (B, V): best first
        sorted_logits = np.take_along_axis(logits, order, axis=1)
        probs = np.exp(sorted_logits - sorted_logits[:, :1])
        probs /= probs.sum(axis=1, keepdims=True)
        mass_before = np.cumsum(probs, axis=1) - probs  # (B, V): of the better tokens
        drop_sorted = mass_before >= p  # enough mass before this token: drop it
        drop = np.zeros_like(drop_sorted)
        np.put_along_axis(drop, order, drop_sorted, axis=1)
        logits = np.where(drop, -np.inf, logits)
    return logits


def next_token(logits, temperature=1.0, top_k=None, top_p=None, rng=None):
    """One token id per row of ``logits`` (B, V): the most likely (greedy) when
    ``temperature`` is 0, else a draw from softmax(filtered logits) with the NumPy
    Generator ``rng`` (seeded by the caller for reproducible text). Returns (B,) int64."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(
            f"logits must have shape (batch, vocab_size), got shape {logits.shape}"
        )
    if temperature == 0:
        return np.argmax(logits, axis=1).astype(np.int64)
    if rng is None:
        raise ValueError(
            "sampling (temperature > 0) needs rng, a numpy.random.Generator"
        )
    filtered = filter_logits(logits, temperature, top_k, top_p)  # (B, V)
    probs = np.exp(filtered - filtered.max(axis=1, keepdims=True))
    cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)  # (B, V)
    u = rng.random((logits.shape[0], 1))  # (B, 1): one uniform draw per row
    return np.minimum((cdf < u).sum(axis=1), logits.shape[1] - 1).astype(np.int64)


def check_generation(prompt_shape, max_new_tokens, block_size, use_cache):
    """Check the arguments of the frameworks' ``generate``: a (batch, time >= 1) prompt, and
    with the cache, which cannot slide, time + max_new_tokens <= block_size."""
    shape = tuple(prompt_shape)
    if len(shape) != 2 or shape[1] == 0:
        raise ValueError(
            f"idx must have shape (batch, time) with time >= 1, got {shape}"
        )
    positive_int("max_new_tokens", max_new_tokens)
    if check_bool("use_cache", use_cache) and shape[1] + max_new_tokens > block_size:
        raise ValueError(
            f"the prompt ({shape[1]} tokens) plus max_new_tokens={max_new_tokens} "
            f"exceeds block_size={block_size}, the longest the KV cache can hold; "
            f"shorten them or generate with use_cache=False (which crops the context)"
        )
