"""Text generation with a KV cache in Keras 3 (the twin of ``largemodels/torch/generation.py``)."""

import numpy as np
from keras import ops

from ..sampling import check_generation, next_token


def generate(
    model,
    idx,
    max_new_tokens,
    temperature=1.0,
    top_k=None,
    top_p=None,
    seed=None,
    use_cache=True,
):
    """Extend each row of ``idx`` (B, T) by ``max_new_tokens`` tokens; returns (B, T + new).

    With ``use_cache`` (the default) the prompt is run once (the prefill), then each step
    runs only the newest token against the model's :class:`~largemodels.tensorflow.decoder.KVCache`
    (the decode). The cache cannot slide, so T + max_new_tokens must fit the model's block
    size. Without the cache each step recomputes the whole sequence, cropped to its last
    ``block_size`` tokens. ``temperature=0`` decodes greedily; otherwise tokens are drawn
    by :func:`largemodels.sampling.next_token` (top_k, top_p) from a NumPy generator seeded
    with ``seed``, so the same seed and logits give the same tokens in both frameworks.
    """
    block_size = model.config.block_size
    check_generation(tuple(idx.shape), max_new_tokens, block_size, use_cache)
    rng = np.random.default_rng(seed)
    cache = model.new_cache() if use_cache else None
    tokens = ops.convert_to_tensor(idx)
    new = tokens  # all tokens so far; the tokens the model has not seen yet
    for _ in range(max_new_tokens):
        if cache is None:  # recompute: (B, <= block_size, V)
            logits = model(tokens[:, -block_size:], training=False)
        else:  # prefill: (B, T, V); then decode: (B, 1, V)
            logits = model(new, cache=cache, training=False)
        last = ops.convert_to_numpy(ops.cast(logits[:, -1], "float32"))  # (B, V)
        chosen = next_token(last, temperature, top_k, top_p, rng)  # (B,)
        new = ops.cast(ops.reshape(chosen, (-1, 1)), tokens.dtype)  # (B, 1)
        tokens = ops.concatenate([tokens, new], axis=1)
    return tokens
