"""Checkpoints and ONNX export in Keras 3 (the twin of ``largemodels/torch/checkpoint.py``).

:func:`save_checkpoint` writes one safetensors file (format: :mod:`largemodels.checkpoint`).
Keras names a variable by a path that starts with the model's instance name (``gpt/...`` for
the first GPT, ``gpt_2/...`` for the third), so paths differ between two copies of one model.
We name each weight by the attributes that lead to it instead, as PyTorch does:
``blocks.0.attn.c_attn.kernel``. The optimizer's variables (its step counter, learning rate
and, for AdamW, a momentum and a velocity per weight) are stored in the optimizer's own
order, the order Keras's ``.keras`` files use, labelled with the weight they belong to, and
checked by count and shape on loading.

A checkpoint written by :mod:`largemodels.torch` loads too (weights only): the loader builds
the PyTorch twin from the stored GPTConfig or architecture, loads the file into it, and
copies its weights over with :func:`largemodels.parity.copy_weights` (this needs PyTorch).
"""
import json
import os

import keras
import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from .. import checkpoint as fmt
from .gpt import GPT

FRAMEWORK = "tensorflow"


def _check_model(model):
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"model must be a keras.Model or keras.layers.Layer, "
                        f"got {type(model).__name__}")


def _check_optimizer(optimizer):
    if optimizer is not None and not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(f"optimizer must be a keras.optimizers.Optimizer or None, "
                        f"got {type(optimizer).__name__}")


def weight_names(model):
    """{name: variable} for every weight of ``model``, named by the attributes that lead to
    it (``blocks.0.ln_1.gamma``), in the order of ``model.weights``. Unlike ``v.path``, the
    names do not depend on the instance's name, so two copies of a model share them."""
    found = {}

    def walk(layer, prefix):
        children = []
        for attr, value in vars(layer).items():
            if attr.startswith("_"):
                continue
            if isinstance(value, keras.layers.Layer):
                children.append((f"{prefix}{attr}.", value))
            elif isinstance(value, (list, tuple)):
                children += [(f"{prefix}{attr}.{i}.", v) for i, v in enumerate(value)
                             if isinstance(v, keras.layers.Layer)]
        inside = {id(w) for _, child in children for w in child.weights}
        for w in layer.weights:  # the layer's own: kernel, bias, gamma, embeddings, ...
            if id(w) not in inside:
                found.setdefault(id(w), prefix + w.name)
        for child_prefix, child in children:
            walk(child, child_prefix)

    walk(model, "")
    names = {}
    for i, w in enumerate(model.weights):
        names[found.get(id(w), f"weight_{i}")] = w
    if len(names) != len(model.weights):  # a bug here, not the user's
        raise RuntimeError(f"weight names are not unique: {sorted(names)}")
    return names


def _optimizer_labels(optimizer, model):
    """A label per optimizer variable: ``iteration``, ``learning_rate`` or the weight's name
    and the slot (``wte.embeddings.momentum``). Labels only: loading goes by position."""
    trainable = {id(v): n for n, v in weight_names(model).items()}
    weights = [(trainable[id(v)], v.path.replace("/", "_") + "_")
               for v in model.trainable_variables]
    labels, j = [], 0
    for v in optimizer.variables:
        label = v.name
        for k in (j, j + 1):  # the slots of one weight come together, in the weights' order
            if k < len(weights) and v.name.startswith(weights[k][1]):
                j, label = k, f"{weights[k][0]}.{v.name[len(weights[k][1]):]}"
                break
        labels.append(label)
    return labels


def _optimizer_config(optimizer):
    config = optimizer.get_config()
    config.pop("name", None)  # "adamw", "adamw_1", ...: instance names
    config.pop("learning_rate", None)  # a variable, stored with the others
    return config


def save_checkpoint(path, model, optimizer=None, *, config=None, step=0, metadata=None):
    """Write ``model`` (and ``optimizer``'s variables, if given) to the safetensors file
    ``path``. config: a GPTConfig to store (a GPT stores its own); step: the training step;
    metadata: a dict of JSON values (str, numbers, bools, None, lists, dicts) kept as is."""
    path = fmt.check_path(path)
    _check_model(model)
    _check_optimizer(optimizer)
    import largemodels.tensorflow as zoo

    name, config, architecture = fmt.describe_model(model, zoo, config)
    tensors = {n: np.ascontiguousarray(v.numpy()) for n, v in weight_names(model).items()}
    described = None
    if optimizer is not None:
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        labels = _optimizer_labels(optimizer, model)
        for i, (label, v) in enumerate(zip(labels, optimizer.variables)):
            tensors[f"{fmt.OPTIMIZER_PREFIX}{i}/{label}"] = np.asarray(v.numpy())
        described = {"class": type(optimizer).__name__, "config": _optimizer_config(optimizer),
                     "variables": len(labels)}
    record = fmt.encode_record(FRAMEWORK, name, config=config, architecture=architecture,
                               step=step, metadata=metadata, optimizer=described)
    save_file(tensors, path, metadata={fmt.METADATA_KEY: record})


def _read_tensors(path, keys):
    try:
        with safe_open(path, framework="np") as f:
            return {key: f.get_tensor(key) for key in keys}
    except SafetensorError as error:
        raise fmt.safetensors_error(path, error) from None


def _load_optimizer(path, optimizer, model, record, stored):
    name, described = os.path.basename(path), record.get("optimizer")
    if described is None:
        raise ValueError(f"{name} holds no optimizer state; call load_checkpoint without "
                         f"an optimizer to load the weights only")
    if described["class"] != type(optimizer).__name__:
        raise ValueError(f"{name} holds the state of a {described['class']} optimizer, "
                         f"got a {type(optimizer).__name__}")
    ours = json.loads(json.dumps(_optimizer_config(optimizer)))  # tuples -> lists, as stored
    differ = [f"{k}={v!r} (optimizer: {ours.get(k)!r})"
              for k, v in described["config"].items() if ours.get(k) != v]
    if differ:
        raise ValueError(f"{name}: the optimizer was made with other settings: "
                         + ", ".join(differ))
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    by_index = {int(k[len(fmt.OPTIMIZER_PREFIX):].split("/", 1)[0]): k for k in stored}
    variables = optimizer.variables
    expected = {f"{i}": tuple(v.shape) for i, v in enumerate(variables)}
    fmt.check_fits(path, {f"{i}": stored[k][1] for i, k in by_index.items()}, expected,
                   "the optimizer's variables (by position)")
    values = _read_tensors(path, list(by_index.values()))
    for i, v in enumerate(variables):
        v.assign(values[by_index[i]])


def _load_from_pytorch(path, model, record):
    """Weights only, through the PyTorch twin and parity.copy_weights."""
    name = os.path.basename(path)
    try:
        from largemodels import parity
        from largemodels import torch as plm
    except ImportError as error:
        raise ImportError(f"{name} was written by PyTorch; loading it into Keras needs "
                          f"PyTorch too ({error})") from None
    kind = record.get("model")
    if kind != type(model).__name__:
        raise ValueError(f"{name} holds a PyTorch {kind}, got a {type(model).__name__}")
    if kind == "GPT":
        twin = plm.GPT(model.config)  # the config was checked against the file's
    elif record.get("architecture") is not None:
        twin = getattr(plm, kind)(**record["architecture"])
    else:
        raise ValueError(f"{name} holds a PyTorch {kind}, which has no Keras twin in "
                         f"largemodels; only the book's zoo models load across frameworks")
    plm.load_checkpoint(path, twin)
    parity.copy_weights(twin, model)


def load_checkpoint(path, model, optimizer=None):
    """Load a checkpoint into ``model`` (and ``optimizer``, if given); return a
    :class:`~largemodels.checkpoint.CheckpointInfo` (step, config, framework, metadata).

    A file from :func:`largemodels.torch.checkpoint.save_checkpoint` loads too, weights only,
    into the Keras twin of the model that wrote it. Raises ValueError naming the file for a damaged
    or foreign file, missing or unexpected tensors, wrong shapes, another GPTConfig, or an
    optimizer state that does not fit (or belongs to the other framework).
    """
    path = fmt.check_path(path)
    _check_model(model)
    _check_optimizer(optimizer)
    record, stored = fmt.read_header(path)
    name = os.path.basename(path)
    if isinstance(model, GPT):
        fmt.check_config(path, record, model.config)
    if record["framework"] != FRAMEWORK:
        if optimizer is not None:
            raise ValueError(f"{name} holds {record['framework']} optimizer state, which a "
                             f"Keras optimizer cannot use; load the weights only "
                             f"(optimizer=None) and start a new optimizer")
        _load_from_pytorch(path, model, record)
        return fmt.info_from_record(record)
    stored_model, stored_optimizer = fmt.split_tensors(stored)
    weights = weight_names(model)
    fmt.check_fits(path, {k: shape for k, (_, shape) in stored_model.items()},
                   {k: tuple(v.shape) for k, v in weights.items()})
    values = _read_tensors(path, list(weights))
    for key, variable in weights.items():
        variable.assign(values[key])
    if optimizer is not None:
        _load_optimizer(path, optimizer, model, record, stored_optimizer)
    return fmt.info_from_record(record)


def export_onnx(model, path, example):
    """Export ``model`` to the ONNX file ``path`` with Keras's ``model.export`` (tf2onnx),
    for inputs of the NumPy array ``example``'s dtype. The batch axis stays free; for a GPT
    the time axis too. Needs the ``export`` extra: ``pip install "largemodels[export]"``."""
    path = fmt.check_path(path)
    _check_model(model)
    try:
        import onnx  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as error:
        raise ImportError(f"export_onnx needs onnx and tf2onnx ({error.name} is missing): "
                          f'pip install "largemodels[export]"') from None
    example = np.asarray(example)
    shape = (None, None) if isinstance(model, GPT) else (None, *example.shape[1:])
    # The signature fixes the input dtype: inferred, a GPT's would be float32.
    spec = keras.InputSpec(shape=shape, dtype=str(example.dtype))
    with fmt.quiet(("tf2onnx", "tensorflow", "absl")):
        model.export(path, format="onnx", input_signature=[spec], verbose=False)
    return path
