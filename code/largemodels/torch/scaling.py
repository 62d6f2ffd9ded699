"""Training for the scaling-law sweep in PyTorch (the twin of ``tensorflow/scaling.py``)."""
import numpy as np
import torch
from torch.nn import functional as F

from .._checks import positive_int


def _check_schedule(batches, lrs, eval_every):
    if len(batches) != len(lrs) or not batches:
        raise ValueError(f"batches and lrs must be non-empty and of equal length, got "
                         f"{len(batches)} and {len(lrs)}")
    return positive_int("eval_every", eval_every)


def train_on_batches(model, batches, lrs, *, validation, eval_every=50, betas=(0.9, 0.95)):
    """Train ``model`` (an ``lm.GPT``) with AdamW (no weight decay), one step per (x, y) in
    ``batches`` at learning rate ``lrs[i]``; evaluate the mean cross-entropy on
    ``validation = (x_val, y_val)`` before training and every ``eval_every`` steps.

    Returns {"loss": training loss per step, "val_step": [0, eval_every, ...],
    "val_loss": [...]}, losses in nats per token, as Python floats.
    """
    eval_every = _check_schedule(batches, lrs, eval_every)
    x_val, y_val = (torch.as_tensor(np.asarray(a)) for a in validation)
    opt = torch.optim.AdamW(model.parameters(), lr=lrs[0], betas=betas, eps=1e-8,
                            weight_decay=0.0)

    @torch.no_grad()
    def val_loss():
        model.eval()
        logits = model(x_val)  # (n, T, V)
        model.train()
        return F.cross_entropy(logits.flatten(0, 1), y_val.flatten()).item()

    history = {"loss": [], "val_step": [0], "val_loss": [val_loss()]}
    model.train()
    for i, ((xb, yb), lr) in enumerate(zip(batches, lrs), 1):
        for group in opt.param_groups:
            group["lr"] = lr
        logits = model(torch.as_tensor(xb))  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), torch.as_tensor(yb).flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
        if i % eval_every == 0 or i == len(batches):
            history["val_step"].append(i)
            history["val_loss"].append(val_loss())
    return history
