"""Text generation with a KV cache in PyTorch (the twin of ``largemodels/tensorflow/generation.py``)."""

import numpy as np
import torch

from ..sampling import check_generation, next_token


@torch.no_grad()
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
    runs only the newest token against the model's :class:`~largemodels.torch.decoder.KVCache`
    (the decode). The cache cannot slide, so T + max_new_tokens must fit the model's block
    size. Without the cache each step recomputes the whole sequence, cropped to its last
    ``block_size`` tokens. ``temperature=0`` decodes greedily; otherwise tokens are drawn
    by :func:`largemodels.sampling.next_token` (top_k, top_p) from a NumPy generator seeded
    with ``seed``, so the same seed and logits give the same tokens in both frameworks.
    """
    block_size = model.config.block_size
    check_generation(tuple(idx.shape), max_new_tokens, block_size, use_cache)
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    cache = model.new_cache() if use_cache else None
    tokens, new = idx, idx  # all tokens so far; the tokens the model has not seen yet
    for _ in range(max_new_tokens):
        if cache is None:  # recompute: (B, <= block_size, V)
            logits = model(tokens[:, -block_size:])
        else:  # prefill: (B, T, V); then decode: (B, 1, V)
            logits = model(new, cache=cache)
        last = logits[:, -1].float().cpu().numpy()  # (B, V)
        chosen = next_token(last, temperature, top_k, top_p, rng)  # (B,)
        new = torch.as_tensor(chosen, dtype=idx.dtype, device=idx.device)[:, None]  # (B, 1)
        tokens = torch.cat([tokens, new], dim=1)
    model.train(was_training)
    return tokens
