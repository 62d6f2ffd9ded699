"""Model compression in Keras 3 (the twin of ``largemodels/torch/compress.py``).

tensorflow-model-optimization prunes only Keras 2 (``tf_keras``) models, so pruning here is
done by hand: a mask per kernel, kept through training by a ``keras.constraints.Constraint``
that multiplies by it (Keras applies a variable's constraint after every optimizer step).
Also: structured pruning of an MLP into a smaller ``MLP``, the distillation loss, the size of
saved weights, and (Keras only) a fully int8 LiteRT model run by ``ai_edge_litert``.
"""
import contextlib
import io
import pathlib
import warnings
from numbers import Real

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ..compress import file_sizes, int8_symmetric, median_ms, sparsity
from .._tensorflow_runtime import fd2_captured as _fd2_captured
from .models import MLP

__all__ = ["apply_masks", "distillation_loss", "file_sizes", "int8_symmetric", "magnitude_masks",
           "median_ms", "prunable_weights", "prune_neurons", "remove_masks", "saved_size", "sparsity"]

_PRUNABLE = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D)


def _check_model(model):
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a keras.Model or keras.layers.Layer, got {type(model).__name__}")


def _check_fraction(name, value, low_open, high_open):
    ok = isinstance(value, Real) and not isinstance(value, bool)
    ok = ok and (0 < value if low_open else 0 <= value) and (value < 1 if high_open else value <= 1)
    if not ok:
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def _kernels(model):
    _check_model(model)
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, _PRUNABLE)]
    prefix = f"{model.name}/"  # keys without the model's own name, so clones share them
    return {layer.kernel.path.removeprefix(prefix): layer.kernel for layer in layers}


class MaskConstraint(keras.constraints.Constraint):
    """Multiplies a weight by a fixed 0/1 mask: applied after each optimizer step, it keeps
    pruned weights at zero."""

    def __init__(self, mask):
        self.mask = np.asarray(mask, dtype="float32")

    def __call__(self, w):
        return w * ops.cast(self.mask, w.dtype)


def prunable_weights(model):
    """The weights that pruning considers, {path: NumPy array}: every Dense and Conv kernel
    (not the biases), in Keras's layout (in, out) / (kh, kw, in, out). A path leaves out the
    model's own name ("hidden_0/kernel"), so masks of a model fit its clones."""
    return {path: v.numpy().copy() for path, v in _kernels(model).items()}


def magnitude_masks(model, sparsity):
    """Global magnitude pruning: {kernel path: bool mask} with the ``sparsity`` fraction of the
    smallest ``|w|``, over all prunable kernels together, set to False (pruned).

    The number pruned is round(sparsity * n) of the n prunable weights; ties are broken by
    position (a stable sort)."""
    sparsity = _check_fraction("sparsity", sparsity, low_open=False, high_open=True)
    weights = prunable_weights(model)
    if not weights:
        raise ValueError(f"model has no Dense or Conv layers to prune: {type(model).__name__}")
    magnitudes = np.concatenate([np.abs(w).ravel() for w in weights.values()])  # (n,)
    keep = np.ones(len(magnitudes), dtype=bool)
    keep[np.argsort(magnitudes, kind="stable")[:round(sparsity * len(magnitudes))]] = False
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start:start + w.size].reshape(w.shape)
        start += w.size
    return masks


def apply_masks(model, masks):
    """Zero the masked weights and keep them zero through training: each kernel gets a
    :class:`MaskConstraint`, which Keras applies after every optimizer step. Returns ``model``."""
    kernels = _kernels(model)
    for name, mask in masks.items():
        if name not in kernels:
            raise ValueError(f"masks has an unknown kernel {name!r}; expected one of {list(kernels)}")
        kernel = kernels[name]
        if tuple(np.shape(mask)) != tuple(kernel.shape):
            raise ValueError(f"mask {name!r} has shape {np.shape(mask)}, the kernel {tuple(kernel.shape)}")
        kernel.constraint = MaskConstraint(mask)
        kernel.assign(kernel.constraint(kernel))
    return model


def remove_masks(model):
    """Make pruning permanent: drop the mask constraints (zeros stay zero, but training may
    move them). Returns ``model``."""
    for kernel in _kernels(model).values():
        if isinstance(kernel.constraint, MaskConstraint):
            kernel.constraint = None
    return model


def prune_neurons(model, keep):
    """Structured pruning of an ``MLP``: a new, smaller ``MLP`` with the ``keep`` fraction of
    each hidden layer's units (at least one), chosen by the L2 norm of their incoming weights.

    A unit's incoming weights are its column of the layer's kernel (in, out); removing the unit
    drops that column, its bias and its row of the next layer's kernel. The kept units keep
    their order. The result is an ordinary dense model with fewer parameters.
    """
    if type(model) is not MLP:
        raise TypeError(f"model must be a largemodels.tensorflow.MLP, got {type(model).__name__}")
    keep = _check_fraction("keep", keep, low_open=True, high_open=False)
    kept = []  # per hidden layer: indices of the kept units, ascending
    for layer in model.hidden:
        norms = np.linalg.norm(layer.kernel.numpy(), axis=0)  # (out,)
        k = max(1, round(keep * len(norms)))
        kept.append(np.sort(np.argsort(-norms, kind="stable")[:k]))
    small = MLP(model.in_features, tuple(len(k) for k in kept), model.out_features,
                activation=model.activation, dropout=model.drop.rate)
    old_layers, new_layers = [*model.hidden, model.head], [*small.hidden, small.head]
    for old, new, out_idx, in_idx in zip(old_layers, new_layers, [*kept, None], [None, *kept]):
        w, b = old.kernel.numpy(), old.bias.numpy()
        if out_idx is not None:
            w, b = w[:, out_idx], b[out_idx]  # (in, k_out)
        if in_idx is not None:
            w = w[in_idx]  # (k_in, out)
        new.kernel.assign(w)
        new.bias.assign(b)
    return small


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
    s_shape, t_shape = tuple(student_logits.shape), tuple(teacher_logits.shape)
    if s_shape != t_shape or len(s_shape) != 2:
        raise ValueError(f"student_logits and teacher_logits must both be (batch, classes), got "
                         f"{s_shape} and {t_shape}")
    t = float(temperature)
    log_q = tf.nn.log_softmax(student_logits / t, axis=-1)  # (B, C), the student's soft targets
    log_p = tf.nn.log_softmax(tf.stop_gradient(teacher_logits) / t, axis=-1)  # (B, C)
    soft = tf.reduce_mean(tf.reduce_sum(tf.exp(log_p) * (log_p - log_q), axis=-1))
    hard = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, student_logits))
    return alpha * t**2 * soft + (1 - alpha) * hard


def saved_size(model, folder, name):
    """Save the model's weights with ``save_weights`` to ``folder/name.weights.h5``; return its
    bytes (HDF5 adds a few kB of structure to the numbers)."""
    _check_model(model)
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ValueError(f"folder must be an existing directory, got {str(folder)!r}")
    path = folder / f"{name}.weights.h5"
    model.save_weights(path)
    return path.stat().st_size


# ---- Keras only: LiteRT ----------------------------------------------------------------------

@contextlib.contextmanager
def _silenced():
    """The converter and interpreter print to stdout, to file descriptor 2 (C++ logs) and warn:
    keep all of it out of the notebook, unless something fails (then fd 2 is replayed)."""
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")
    try:
        with contextlib.redirect_stdout(io.StringIO()), _fd2_captured(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def to_litert_int8(model, representative_inputs, path):
    """Convert a Keras model to a fully integer (int8) LiteRT flatbuffer at ``path``; return its
    bytes. Keras only. ``representative_inputs`` (n, ...) are fed one row at a time to calibrate
    the activations' int8 ranges; inputs and outputs of the converted model are int8 too."""
    _check_model(model)
    rows = np.asarray(representative_inputs, dtype="float32")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([row[None]] for row in rows)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    with _silenced():
        flatbuffer = converter.convert()
    path = pathlib.Path(path)
    path.write_bytes(flatbuffer)
    return path.stat().st_size


def litert_runner(path):
    """A function ``x -> outputs`` (float32 NumPy) that runs the LiteRT file at ``path`` with
    ``ai_edge_litert.interpreter.Interpreter`` (TensorFlow's own ``tf.lite.Interpreter`` is
    deprecated). An int8 model's inputs are quantized and its outputs dequantized with the
    scales stored in the file. Keras only; needs the ``ai-edge-litert`` package."""
    from ai_edge_litert.interpreter import Interpreter

    with _silenced():
        interpreter = Interpreter(model_path=str(path))
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    allocated = []  # the input shape the interpreter is sized for

    def run(x):
        x = np.asarray(x, dtype="float32")
        if source["dtype"] == np.int8:
            scale, zero = source["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        if allocated != [x.shape]:  # a new batch size: resize, and run once quietly (logs)
            with _silenced():
                interpreter.resize_tensor_input(source["index"], x.shape)
                interpreter.allocate_tensors()
                interpreter.set_tensor(source["index"], x)
                interpreter.invoke()
            allocated[:] = [x.shape]
        interpreter.set_tensor(source["index"], x)
        interpreter.invoke()
        out = interpreter.get_tensor(target["index"])
        if target["dtype"] == np.int8:
            scale, zero = target["quantization"]
            out = (out.astype("float32") - zero) * scale
        return out

    return run
