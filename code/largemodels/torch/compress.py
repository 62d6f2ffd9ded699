"""Model compression in PyTorch (the twin of ``largemodels/tensorflow/compress.py``).

Magnitude pruning (global, by ``|w|``) with masks that survive training, structured pruning of an
MLP's hidden units into a genuinely smaller ``MLP``, the knowledge-distillation loss, and the
size of a saved model. Masks and weights cross the boundary as NumPy arrays.
"""
import pathlib
from numbers import Real

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import prune

from ..compress import file_sizes, int8_symmetric, median_ms, sparsity
from .models import MLP

__all__ = ["apply_masks", "distillation_loss", "file_sizes", "int8_symmetric", "magnitude_masks",
           "median_ms", "prunable_weights", "prune_neurons", "remove_masks", "saved_size", "sparsity"]

_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _check_model(model):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _check_fraction(name, value, low_open, high_open):
    ok = isinstance(value, Real) and not isinstance(value, bool)
    ok = ok and (0 < value if low_open else 0 <= value) and (value < 1 if high_open else value <= 1)
    if not ok:
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def _modules(model):
    return {name: m for name, m in model.named_modules() if isinstance(m, _PRUNABLE)}


def prunable_weights(model):
    """The weights that pruning considers, {name: NumPy array}: every Linear and Conv weight
    (not the biases), in PyTorch's layout (out, in, ...). Under a mask, the masked weight."""
    _check_model(model)
    weights = {}
    for name, m in _modules(model).items():
        w = m.weight_orig * m.weight_mask if prune.is_pruned(m) else m.weight  # fresh after a step
        weights[f"{name}.weight"] = w.detach().cpu().numpy().copy()
    return weights


def magnitude_masks(model, sparsity):
    """Global magnitude pruning: {weight name: bool mask} with the ``sparsity`` fraction of the
    smallest ``|w|``, over all prunable weights together, set to False (pruned).

    The number pruned is round(sparsity * n) of the n prunable weights, as in
    ``torch.nn.utils.prune.global_unstructured``; layers whose weights are small overall lose
    more. Ties are broken by position (a stable sort).
    """
    sparsity = _check_fraction("sparsity", sparsity, low_open=False, high_open=True)
    weights = prunable_weights(model)
    if not weights:
        raise ValueError(f"model has no Linear or Conv layers to prune: {type(model).__name__}")
    magnitudes = np.concatenate([np.abs(w).ravel() for w in weights.values()])  # (n,)
    keep = np.ones(len(magnitudes), dtype=bool)
    keep[np.argsort(magnitudes, kind="stable")[:round(sparsity * len(magnitudes))]] = False
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start:start + w.size].reshape(w.shape)
        start += w.size
    return masks


def apply_masks(model, masks):
    """Zero the masked weights in place and keep them zero through training: each weight becomes
    ``weight_orig * weight_mask``, recomputed before every forward pass
    (``torch.nn.utils.prune.custom_from_mask``). Returns ``model``."""
    modules = _modules(model)
    for name, mask in masks.items():
        module = modules.get(name.removesuffix(".weight"))
        if module is None or not name.endswith(".weight"):
            raise ValueError(f"masks has an unknown weight {name!r}; expected one of "
                             f"{[f'{n}.weight' for n in modules]}")
        if tuple(np.shape(mask)) != tuple(module.weight.shape):
            raise ValueError(f"mask {name!r} has shape {np.shape(mask)}, "
                             f"the weight {tuple(module.weight.shape)}")
        if prune.is_pruned(module):
            prune.remove(module, "weight")
        prune.custom_from_mask(module, "weight", torch.as_tensor(np.asarray(mask, dtype=bool)))
    return model


def remove_masks(model):
    """Make pruning permanent: the masked weights become plain parameters again (zeros stay
    zero, but training may move them). Returns ``model``."""
    for module in _modules(model).values():
        if prune.is_pruned(module):
            prune.remove(module, "weight")
    return model


def prune_neurons(model, keep):
    """Structured pruning of an ``MLP``: a new, smaller ``MLP`` with the ``keep`` fraction of
    each hidden layer's units (at least one), chosen by the L2 norm of their incoming weights.

    A unit's incoming weights are its row of the layer's weight (out, in); removing the unit
    drops that row, its bias and its column of the next layer's weight. The kept units keep
    their order. The result is an ordinary dense model with fewer parameters.
    """
    if type(model) is not MLP:
        raise TypeError(f"model must be a largemodels.torch.MLP, got {type(model).__name__}")
    keep = _check_fraction("keep", keep, low_open=True, high_open=False)
    layers = [*model.hidden, model.head]
    kept = []  # per hidden layer: indices of the kept units, ascending
    for layer in model.hidden:
        norms = layer.weight.detach().norm(dim=1)  # (out,)
        k = max(1, round(keep * len(norms)))
        kept.append(torch.sort(torch.topk(norms, k).indices).values)
    sizes = tuple(len(k) for k in kept)
    small = MLP(model.in_features, sizes, model.out_features, activation=model.activation,
                dropout=model.drop.p)
    rows = [*kept, None]  # the head keeps all its outputs
    cols = [None, *kept]  # the first layer keeps all its inputs
    with torch.no_grad():
        for old, new, r, c in zip(layers, [*small.hidden, small.head], rows, cols):
            w, b = old.weight, old.bias
            if r is not None:
                w, b = w[r], b[r]  # (k_out, in)
            if c is not None:
                w = w[:, c]  # (out, k_in)
            new.weight.copy_(w)
            new.bias.copy_(b)
    return small.to(next(model.parameters()).device)


def distillation_loss(student_logits, teacher_logits, labels, temperature, alpha):
    """Knowledge distillation (Hinton et al., 2015), averaged over the batch:

    alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
    + (1 - alpha) * cross-entropy(student, labels).

    The T^2 keeps the soft term's gradients on the scale of the hard term's as T grows.
    student_logits, teacher_logits: (B, C); labels: (B,) integer classes. The teacher gets
    no gradient.
    """
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or temperature <= 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    alpha = _check_fraction("alpha", alpha, low_open=False, high_open=False)
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 2:
        raise ValueError(f"student_logits and teacher_logits must both be (batch, classes), got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    t = float(temperature)
    log_q = F.log_softmax(student_logits / t, dim=-1)  # (B, C), the student's soft targets
    log_p = F.log_softmax(teacher_logits.detach() / t, dim=-1)  # (B, C), the teacher's
    soft = F.kl_div(log_q, log_p, log_target=True, reduction="batchmean")
    hard = F.cross_entropy(student_logits, labels)
    return alpha * t**2 * soft + (1 - alpha) * hard


def saved_size(model, folder, name):
    """Save ``model.state_dict()`` with ``torch.save`` to ``folder/name.pt``; return its bytes.

    A pruned model's mask buffers are saved too, so call :func:`remove_masks` first to see the
    size of the plain weights."""
    _check_model(model)
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder must be an existing directory, got {str(folder)!r}")
    path = folder / f"{name}.pt"
    torch.save(model.state_dict(), path)
    return path.stat().st_size
