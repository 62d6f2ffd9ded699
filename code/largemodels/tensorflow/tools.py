"""Devices, parameter counts and FLOP counts in TensorFlow."""
import keras
import tensorflow as tf
from tensorflow.python.profiler import model_analyzer, option_builder


def device():
    """The device the book's TensorFlow code runs on: the first GPU if there is one, else the CPU."""
    return "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"


def devices():
    """Descriptions of the devices TensorFlow can use."""
    found = []
    for d in tf.config.list_physical_devices():
        name = d.name.replace("/physical_device:", "").lower()
        details = tf.config.experimental.get_device_details(d) if d.device_type == "GPU" else {}
        found.append(f"{name} {details['device_name']}" if "device_name" in details else name)
    return found


def count_params(model, trainable_only=False):
    """Number of parameters of a built Keras model or layer; shared weights count once."""
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a keras.layers.Layer or keras.Model, got {type(model).__name__}")
    if not model.built:
        raise ValueError("model must be built first: call it once on an input")
    weights = model.trainable_weights if trainable_only else model.weights
    unique = {id(w): w for w in weights}.values()
    return sum(int(w.numpy().size) for w in unique)


def count_flops(fn, *args):
    """FLOPs that TensorFlow's graph profiler counts for ``fn(*args)``.

    ``fn`` is traced into a graph with ``tf.function``; the profiler adds up each operation's
    registered FLOPs (2 per multiply-accumulate for matrix multiplies, and also element-wise
    operations), gradients included if ``fn`` computes them with a ``GradientTape``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    graph = tf.function(fn).get_concrete_function(*args).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # the profiler warns about its own TF1-era internals
    try:
        return int(model_analyzer.profile(graph=graph, options=options).total_float_ops)
    finally:
        logger.setLevel(level)
