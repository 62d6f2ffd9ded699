"""Rotary position embeddings (RoPE), the framework-neutral part: the rotation frequencies.

RoPE (Su et al., 2021) rotates each pair of a query's or key's features by an angle
proportional to the token's position, ``angle = position * inv_freq[i]`` for pair i, so
that the dot product of a rotated query and key depends on the positions only through
their difference. The frameworks' halves (``largemodels.torch.decoder`` and
``largemodels.tensorflow.decoder``) apply the rotation; both take the frequencies from here.

Pairs follow Hugging Face's layout ("rotate half"): feature i pairs with feature
i + head_size / 2. Meta's reference code pairs neighbours (2i, 2i + 1) instead; the two give
the same model once the query and key weight rows are permuted, which Hugging Face's
conversion script does once, so its checkpoints and this package use the half layout.
"""

import math

import numpy as np

from ._checks import positive_int, positive_real

__all__ = ["inverse_frequencies"]


def inverse_frequencies(head_size, theta=10000.0, scaling=None):
    """The head_size / 2 rotation frequencies theta^(-2i / head_size), i = 0, 1, ...,
    as float32, optionally stretched for long contexts by a
    :class:`largemodels.config.RopeScaling` (Llama 3.1's rule)."""
    head_size = positive_int("head_size", head_size)
    if head_size % 2:
        raise ValueError(f"head_size must be even, got {head_size}")
    theta = positive_real("theta", theta)
    inv_freq = 1.0 / theta ** (np.arange(0, head_size, 2, dtype=np.float64) / head_size)
    if scaling is not None:
        inv_freq = _stretch(inv_freq, scaling)
    return inv_freq.astype(np.float32)  # (head_size / 2,)


def _stretch(inv_freq, s):
    """Llama 3.1: slow down the low frequencies by ``s.factor``, keep the high ones, blend
    the band in between linearly in 1 / wavelength."""
    wavelength = 2 * math.pi / inv_freq
    long_wave = s.original_block_size / s.low_freq_factor  # above: divide by factor
    short_wave = s.original_block_size / s.high_freq_factor  # below: keep
    span = s.high_freq_factor - s.low_freq_factor
    blend = (s.original_block_size / wavelength - s.low_freq_factor) / span  # 0 ... 1
    blended = (1 - blend) * inv_freq / s.factor + blend * inv_freq
    return np.where(
        wavelength > long_wave,
        inv_freq / s.factor,
        np.where(wavelength < short_wave, inv_freq, blended),
    )
