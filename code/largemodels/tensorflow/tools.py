"""Devices, parameter counts and FLOP counts in TensorFlow."""
import keras
import tensorflow as tf


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


def count_flops(fn, *args, by_op=False):
    """FLOPs of ``fn(*args)`` as TensorFlow's graph profiler counts them, batch matmuls corrected.

    ``fn`` is traced into a graph with ``tf.function`` (gradients included if ``fn`` computes
    them with a ``GradientTape``), and the profiler adds up, node by node, the FLOPs that
    TensorFlow has registered for each operation type. Returns the total, or with
    ``by_op=True`` a dict ``{operation type: FLOPs}``, largest first (for example ``"MatMul"``,
    ``"BatchMatMulV2"``, ``"AddV2"``); the total is the sum of that dict.

    What is counted: matrix multiplies (``MatMul``, ``BatchMatMul*``) and convolutions at 2
    FLOPs per multiply-accumulate, bias additions, and some element-wise and reduction
    operations (``Add``, ``Mul``, ``Sub``, ``RealDiv``, ``Pow``, ``Rsqrt``, ``Log``,
    ``Mean``, ``Sum``, ``Softmax`` at 5 per element, ...). What is not: every operation without
    a registered count, among them ``Relu``, ``Tanh``, ``Exp``, ``Sigmoid``, ``Erf`` and
    gathers, which count 0; and operations inside nested functions or control flow (a nested
    ``tf.function``, the branches of ``tf.cond``, the body of ``tf.while_loop``). Which
    operations a model uses depends on the Keras version: Keras 3.15 multiplies a batch of
    vectors by a weight matrix with ``Tensordot`` (reshape, then ``MatMul``), Keras 3.13 with
    ``BatchMatMulV2``. Look operation names up in the returned dict rather than assuming them.

    The correction: TensorFlow's registered count for ``BatchMatMul*`` reads the attribute
    ``transpose_a`` to find the contraction length, but those operations call it ``adj_x``, so
    a product whose left operand is transposed (as in attention's backward pass) is counted
    with the wrong length. We recount every such node from ``adj_x`` and the operand's shape.

    The profiler is TensorFlow 1's ``tf.compat.v1.profiler`` (``model_analyzer.profile``): it
    still works on graphs traced by ``tf.function``, but it is no longer developed, warns that
    its internals are deprecated, and may be removed from a later TensorFlow release.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    graph = tf.function(fn).get_concrete_function(*args).graph
    profiler = tf.compat.v1.profiler
    options = profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # the profiler warns about its own TF1-era internals
    try:
        profile = profiler.profile(graph=graph, cmd="op", options=options)
    finally:
        logger.setLevel(level)
    counts, pending = {}, list(profile.children)  # the "op" view: one node per op type
    while pending:
        op_type = pending.pop()
        pending.extend(op_type.children)
        for node in op_type.graph_nodes:
            flops = node.float_ops
            if op_type.name.startswith("BatchMatMul"):
                flops = _batch_matmul_flops(graph.get_operation_by_name(node.name))
            counts[op_type.name] = counts.get(op_type.name, 0) + int(flops)
    if not by_op:
        return sum(counts.values())
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _batch_matmul_flops(op):
    """2 x contraction length x output elements, the contraction read from ``adj_x``."""
    a_shape = op.inputs[0].shape
    k = a_shape[-2] if op.get_attr("adj_x") else a_shape[-1]  # contraction length
    return 2 * int(k) * op.outputs[0].shape.num_elements()
