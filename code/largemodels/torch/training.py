"""A plain PyTorch training loop: fit, evaluate, predict (the twin of ``tensorflow/training.py``).

NumPy arrays go in, NumPy arrays and Python floats come out; the model runs on ``device()``.
"""
from numbers import Real

import numpy as np
import torch
from torch.nn import functional as F

from .. import _loop
from .._checks import one_of, positive_int, positive_real
from ..liveplot import LivePlot
from .models import vae_loss
from .tools import device

OPTIMIZERS = ("adamw", "adam", "sgd")


# ---- losses: loss(output, y) -> scalar tensor ------------------------------------------------

def _mse(output, y):
    hint = "; for one output, pass y.reshape(-1, 1)" if tuple(output.shape[1:]) == (1,) else ""
    _loop.check_same_shape("mse", output, y, hint)
    return F.mse_loss(output, y.to(output.dtype))  # integer targets work too


def _cross_entropy(logits, y):
    """Softmax cross-entropy of integer class labels y (...) under logits (..., n_classes)."""
    if tuple(y.shape[1:]) != tuple(logits.shape[1:-1]) or y.dtype.is_floating_point:
        raise ValueError(f"loss='cross_entropy' needs integer class labels y of shape "
                         f"{_loop.shape_text(logits.shape[1:-1])}, got {y.dtype} y of shape {_loop.shape_text(y.shape[1:])}")
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))


def _binary_cross_entropy(logits, y):
    _loop.check_same_shape("binary_cross_entropy", logits, y)
    return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))  # 0/1 integers work too


def _vae(output, x):
    logits, mu, logvar = output
    _loop.check_same_shape("vae", logits, x)
    return vae_loss(x.to(logits.dtype), logits, mu, logvar)


LOSSES = {"mse": _mse, "cross_entropy": _cross_entropy, "binary_cross_entropy": _binary_cross_entropy,
          "vae": _vae}


def _loss_fn(loss):
    if callable(loss):
        return loss
    return LOSSES[one_of("loss", loss, tuple(LOSSES))]


# ---- the loop ---------------------------------------------------------------------------------

def _is_tensor(a):
    return isinstance(a, torch.Tensor)


def _as_array(name, a):
    return _loop.as_array(name, a, _is_tensor, ".cpu().numpy()")


def _arrays(x, y, names=("x", "y")):
    return _loop.paired_arrays(x, y, _is_tensor, ".cpu().numpy()", names)


def _check_model(model):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _model_device(model):
    return next(model.parameters(), torch.empty(0, device=device())).device


def _optimizer(name, params, lr, weight_decay):
    one_of("optimizer", name, OPTIMIZERS)
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, Real) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    if weight_decay and name != "adamw":
        raise ValueError(f"weight_decay needs optimizer='adamw' (decoupled decay), got optimizer={name!r}")
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    return torch.optim.SGD(params, lr=lr)


def fit(model, x, y, *, loss, epochs, batch_size, lr, optimizer="adamw", weight_decay=0.0,
        validation_data=None, seed=0, live_plot=True):
    """Train ``model`` on NumPy arrays ``x``, ``y`` with shuffled minibatches; return the history.

    loss: "mse", "cross_entropy" (integer labels), "binary_cross_entropy" (logits), "vae" (y = x;
    the model returns (logits, mu, logvar)), or a function ``loss(output, y)`` -> scalar tensor.
    optimizer: "adamw" (decoupled ``weight_decay``), "adam" or "sgd" (plain). seed: the order of
    the minibatches (``seed_everything`` seeds initialisation and dropout). live_plot: redraw a
    loss plot each epoch in a notebook. Returns {"loss": [...]} with one float per epoch, plus
    "val_loss" (and "val_accuracy" for cross_entropy) when ``validation_data=(x_val, y_val)``.
    """
    _check_model(model)
    loss_fn = _loss_fn(loss)
    x, y = _arrays(x, y)
    epochs, batch_size = positive_int("epochs", epochs), positive_int("batch_size", batch_size)
    opt = _optimizer(optimizer, model.parameters(), positive_real("lr", lr), weight_decay)
    validation_data = _loop.validation_pair(validation_data, _arrays)
    rng = np.random.default_rng(_loop.check_seed(seed))
    model.to(device())
    history, plot = {"loss": []}, LivePlot(live_plot)
    for _ in range(epochs):
        model.train()
        total = torch.zeros((), device=device())
        for idx in _loop.batch_indices(len(x), batch_size, rng):
            xb, yb = torch.as_tensor(x[idx], device=device()), torch.as_tensor(y[idx], device=device())
            loss_value = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss_value.backward()
            opt.step()
            total += loss_value.detach() * len(idx)
        history["loss"].append(total.item() / len(x))  # one host sync per epoch
        if validation_data is not None:
            for key, value in evaluate(model, *validation_data, loss=loss, batch_size=batch_size).items():
                history.setdefault(f"val_{key}", []).append(value)
        plot.update(history)
    return history


@torch.no_grad()
def evaluate(model, x, y, *, loss, batch_size):
    """Mean loss over (x, y), and accuracy for cross_entropy: {"loss": float, "accuracy": float}.

    The model runs in evaluation mode: no dropout, and a VAE uses z = mu, so for loss="vae" the
    value is the loss at the posterior mean, not a sampled ELBO estimate."""
    _check_model(model)
    loss_fn = _loss_fn(loss)
    x, y = _arrays(x, y)
    batch_size, dev, was_training = positive_int("batch_size", batch_size), _model_device(model), model.training
    model.eval()
    total_loss, correct = torch.zeros((), device=dev), torch.zeros((), device=dev)
    for idx in _loop.batch_indices(len(x), batch_size):
        xb, yb = torch.as_tensor(x[idx], device=dev), torch.as_tensor(y[idx], device=dev)
        output = model(xb)
        total_loss += loss_fn(output, yb) * len(idx)
        if loss == "cross_entropy":
            correct += (output.argmax(-1) == yb).float().mean() * len(idx)
    model.train(was_training)
    results = {"loss": total_loss.item() / len(x)}
    if loss == "cross_entropy":
        results["accuracy"] = correct.item() / len(x)
    return results


@torch.no_grad()
def predict(model, x, batch_size):
    """The model's outputs on ``x`` in eval mode, as a NumPy array (a tuple of arrays for models
    that return several, like VAE)."""
    _check_model(model)
    x, batch_size = _as_array("x", x), positive_int("batch_size", batch_size)
    if len(x) == 0:
        raise ValueError("x must not be empty")
    dev, was_training = _model_device(model), model.training
    model.eval()
    outputs = [model(torch.as_tensor(x[idx], device=dev)) for idx in _loop.batch_indices(len(x), batch_size)]
    model.train(was_training)
    if isinstance(outputs[0], tuple):
        return tuple(torch.cat(parts).cpu().numpy() for parts in zip(*outputs))
    return torch.cat(outputs).cpu().numpy()
