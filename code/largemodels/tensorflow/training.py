"""A GradientTape training loop in TensorFlow: fit, evaluate, predict (the twin of
``torch/training.py``).

NumPy arrays go in, NumPy arrays and Python floats come out; the model runs on ``device()``.
Each step is a ``tf.function`` traced once for every batch size (the batch axis is ``None``).
"""
from numbers import Real

import keras
import numpy as np
import tensorflow as tf

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
    return tf.reduce_mean(tf.square(output - tf.cast(y, output.dtype)))  # integer targets work too


def _cross_entropy(logits, y):
    """Softmax cross-entropy of integer class labels y (...) under logits (..., n_classes)."""
    if tuple(y.shape[1:]) != tuple(logits.shape[1:-1]) or y.dtype.is_floating:
        raise ValueError(f"loss='cross_entropy' needs integer class labels y of shape "
                         f"{_loop.shape_text(logits.shape[1:-1])}, got {y.dtype.name} y of shape {_loop.shape_text(y.shape[1:])}")
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))


def _binary_cross_entropy(logits, y):
    _loop.check_same_shape("binary_cross_entropy", logits, y)
    labels = tf.cast(y, logits.dtype)  # 0/1 integers work too
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def _vae(output, x):
    logits, mu, logvar = output
    _loop.check_same_shape("vae", logits, x)
    return vae_loss(tf.cast(x, logits.dtype), logits, mu, logvar)


LOSSES = {"mse": _mse, "cross_entropy": _cross_entropy, "binary_cross_entropy": _binary_cross_entropy,
          "vae": _vae}


def _loss_fn(loss):
    if callable(loss):
        return loss
    return LOSSES[one_of("loss", loss, tuple(LOSSES))]


# ---- the loop ---------------------------------------------------------------------------------

def _is_tensor(a):
    return tf.is_tensor(a)


def _as_array(name, a):
    return _loop.as_array(name, a, _is_tensor, ".numpy()")


def _arrays(x, y, names=("x", "y")):
    return _loop.paired_arrays(x, y, _is_tensor, ".numpy()", names)


def _spec(a):
    return tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype))  # any batch size


def _function(fn, *arrays):
    """``fn`` as a tf.function over batches of ``arrays``' shapes and any batch size.

    We trace one such function per model and call on purpose. TensorFlow's warning about
    frequent retracing counts every function made from the same Python code together, so it is
    switched off for these (a private flag; harmless should TensorFlow drop it).
    """
    compiled = tf.function(fn, input_signature=[_spec(a) for a in arrays])
    compiled._omit_frequent_tracing_warning = True
    return compiled


def _optimizer(name, lr, weight_decay):
    one_of("optimizer", name, OPTIMIZERS)
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, Real) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    if weight_decay and name != "adamw":
        raise ValueError(f"weight_decay needs optimizer='adamw' (decoupled decay), got optimizer={name!r}")
    if name == "adamw":  # PyTorch's betas and epsilon
        return keras.optimizers.AdamW(learning_rate=lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                                      weight_decay=weight_decay)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    return keras.optimizers.SGD(learning_rate=lr)


def _check_model(model):
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a keras.Model or keras.layers.Layer, got {type(model).__name__}")


def _cached(model, key, make):
    """A compiled function kept on the model (as Keras keeps ``model.predict_function``), so
    repeated calls reuse one trace instead of tracing a new ``tf.function`` each time."""
    cache = model.__dict__.setdefault("_largemodels_functions", {})
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _check_loss(model, loss_fn, x, y):
    """Compute the loss once, eagerly, on two examples: a shape mismatch then raises a plain
    ValueError here, not one wrapped in tf.function's tracing report."""
    loss_fn(model(x[:2], training=False), tf.constant(y[:2]))


def _eval_step(model, loss, loss_fn, x, y):
    def step(xb, yb):
        output = model(xb, training=False)
        accuracy = 0.0
        if loss == "cross_entropy":
            accuracy = tf.reduce_mean(tf.cast(tf.argmax(output, axis=-1) == yb, tf.float32))
        return loss_fn(output, yb), accuracy
    return _cached(model, ("evaluate", loss, _spec(x), _spec(y)), lambda: _function(step, x, y))


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
    opt = _optimizer(optimizer, positive_real("lr", lr), weight_decay)
    validation_data = _loop.validation_pair(validation_data, _arrays)
    rng = np.random.default_rng(_loop.check_seed(seed))
    _check_loss(model, loss_fn, x, y)
    if validation_data is not None:
        _check_loss(model, loss_fn, *validation_data)

    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss_value = loss_fn(model(xb, training=True), yb)
        grads = tape.gradient(loss_value, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss_value

    train_step = _function(train_step, x, y)

    history, plot = {"loss": []}, LivePlot(live_plot)
    with tf.device(device()):
        opt.build(model.trainable_variables)  # create the optimizer's state outside tf.function
        for _ in range(epochs):
            total = tf.zeros(())
            for idx in _loop.batch_indices(len(x), batch_size, rng):
                total += train_step(x[idx], y[idx]) * len(idx)
            history["loss"].append(float(total) / len(x))  # one host sync per epoch
            if validation_data is not None:
                for key, value in _evaluate(model, loss, loss_fn, *validation_data, batch_size).items():
                    history.setdefault(f"val_{key}", []).append(value)
            plot.update(history)
    return history


def evaluate(model, x, y, *, loss, batch_size):
    """Mean loss over (x, y), and accuracy for cross_entropy: {"loss": float, "accuracy": float}.

    The model runs in evaluation mode: no dropout, and a VAE uses z = mu, so for loss="vae" the
    value is the loss at the posterior mean, not a sampled ELBO estimate."""
    _check_model(model)
    loss_fn = _loss_fn(loss)
    x, y = _arrays(x, y)
    _check_loss(model, loss_fn, x, y)
    return _evaluate(model, loss, loss_fn, x, y, positive_int("batch_size", batch_size))


def _evaluate(model, loss, loss_fn, x, y, batch_size):
    step = _eval_step(model, loss, loss_fn, x, y)
    total_loss, correct = tf.zeros(()), tf.zeros(())
    with tf.device(device()):
        for idx in _loop.batch_indices(len(x), batch_size):
            loss_value, accuracy = step(x[idx], y[idx])
            total_loss, correct = total_loss + loss_value * len(idx), correct + accuracy * len(idx)
    results = {"loss": float(total_loss) / len(x)}
    if loss == "cross_entropy":
        results["accuracy"] = float(correct) / len(x)
    return results


def predict(model, x, batch_size):
    """The model's outputs on ``x`` in inference mode, as a NumPy array (a tuple of arrays for
    models that return several, like VAE)."""
    _check_model(model)
    x, batch_size = _as_array("x", x), positive_int("batch_size", batch_size)
    if len(x) == 0:
        raise ValueError("x must not be empty")
    step = _cached(model, ("predict", _spec(x)), lambda: _function(lambda xb: model(xb, training=False), x))
    with tf.device(device()):
        outputs = [step(x[idx]) for idx in _loop.batch_indices(len(x), batch_size)]
    if isinstance(outputs[0], (tuple, list)):
        return tuple(np.concatenate([np.asarray(o) for o in parts]) for parts in zip(*outputs))
    return np.concatenate([np.asarray(o) for o in outputs])
