"""Checkpoints and ONNX export in PyTorch (the twin of ``largemodels/tensorflow/checkpoint.py``).

:func:`save_checkpoint` writes one safetensors file (format: :mod:`largemodels.checkpoint`):
the model's ``state_dict`` under its own names, the optimizer's state tensors under
``optimizer/state/<parameter index>/<name>``, and JSON metadata (framework, GPTConfig, step,
the optimizer's class and ``param_groups``). No pickle is involved, in writing or reading.
:func:`load_checkpoint` restores model and optimizer exactly, so that training resumed from
a checkpoint continues bit for bit as if it had never stopped.
"""
import os

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .. import checkpoint as fmt
from .gpt import GPT

FRAMEWORK = "pytorch"
_STATE = fmt.OPTIMIZER_PREFIX + "state/"


def _check_model(model):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _check_optimizer(optimizer):
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, "
                        f"got {type(optimizer).__name__}")


def _json_value(key, value):
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, torch.Tensor):
        raise TypeError(f"optimizer hyperparameter {key!r} is a tensor; use a number")
    return value


def _optimizer_state(optimizer, model):
    """(tensors, JSON description) of ``optimizer.state_dict()``."""
    state = optimizer.state_dict()
    names = {id(p): name for name, p in model.named_parameters()}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):  # exp_avg, exp_avg_sq, step (a 0-d tensor)
                tensors[f"{_STATE}{index}/{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}/{key}"] = value
    groups = [{k: _json_value(k, v) for k, v in group.items()} for group in state["param_groups"]]
    described = {"class": type(optimizer).__name__, "param_groups": groups, "scalars": scalars,
                 "parameters": [names.get(id(p), "?") for p in params]}  # for readers
    return tensors, described


def save_checkpoint(path, model, optimizer=None, *, config=None, step=0, metadata=None):
    """Write ``model`` (and ``optimizer``'s state, if given) to the safetensors file ``path``.

    config: a GPTConfig to store (a GPT stores its own); step: the training step, an int;
    metadata: a dict of JSON values (str, numbers, bools, None, lists, dicts) kept as is.
    """
    path = fmt.check_path(path)
    _check_model(model)
    _check_optimizer(optimizer)
    import largemodels.torch as zoo

    name, config, architecture = fmt.describe_model(model, zoo, config)
    tensors, seen = {}, set()
    for key, value in model.state_dict().items():
        value = value.detach().cpu().contiguous()
        if value.untyped_storage().data_ptr() in seen:  # shared storage: store a copy
            value = value.clone()
        seen.add(value.untyped_storage().data_ptr())
        tensors[key] = value
    described = None
    if optimizer is not None:
        optimizer_tensors, described = _optimizer_state(optimizer, model)
        tensors.update(optimizer_tensors)
    record = fmt.encode_record(FRAMEWORK, name, config=config, architecture=architecture,
                               step=step, metadata=metadata, optimizer=described)
    save_file(tensors, path, metadata={fmt.METADATA_KEY: record})


def _read_tensors(path, keys):
    try:
        with safe_open(path, framework="pt") as f:
            return {key: f.get_tensor(key) for key in keys}
    except SafetensorError as error:
        raise fmt.safetensors_error(path, error) from None


def _load_optimizer(path, optimizer, record, tensors):
    name, described = os.path.basename(path), record.get("optimizer")
    if described is None:
        raise ValueError(f"{name} holds no optimizer state; call load_checkpoint without "
                         f"an optimizer to load the weights only")
    if described["class"] != type(optimizer).__name__:
        raise ValueError(f"{name} holds the state of a {described['class']} optimizer, "
                         f"got a {type(optimizer).__name__}")
    state = {}
    for key, value in tensors.items():
        index, slot = key[len(_STATE):].split("/", 1)
        state.setdefault(int(index), {})[slot] = value
    for key, value in described["scalars"].items():
        index, slot = key.split("/", 1)
        state.setdefault(int(index), {})[slot] = value
    groups = []
    for saved, current in zip(described["param_groups"], optimizer.param_groups):
        groups.append({k: tuple(v) if isinstance(current.get(k), tuple) else v
                       for k, v in saved.items()})  # JSON made the tuples (betas) lists
    groups += described["param_groups"][len(groups):]  # torch reports a count mismatch
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except ValueError as error:
        raise ValueError(f"{name}: the optimizer state does not fit the optimizer: "
                         f"{error}") from None


def load_checkpoint(path, model, optimizer=None):
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and
    ``optimizer``, if given); return a :class:`~largemodels.checkpoint.CheckpointInfo`
    (step, config, framework, metadata).

    Raises ValueError naming the file for a damaged or foreign file, missing or unexpected
    tensors, wrong shapes, another GPTConfig, or an optimizer state that does not fit.
    """
    path = fmt.check_path(path)
    _check_model(model)
    _check_optimizer(optimizer)
    record, stored = fmt.read_header(path)
    name = os.path.basename(path)
    if record["framework"] != FRAMEWORK:
        raise ValueError(f"{name} was written by the {record['framework']} twin; load it "
                         f"with largemodels.{record['framework']}.load_checkpoint")
    if isinstance(model, GPT):
        fmt.check_config(path, record, model.config)
    stored_model, _ = fmt.split_tensors(stored)
    fmt.check_fits(path, {k: shape for k, (_, shape) in stored_model.items()},
                   {k: tuple(v.shape) for k, v in model.state_dict().items()})
    tensors = _read_tensors(path, list(stored))
    model_tensors, optimizer_tensors = fmt.split_tensors(tensors)
    model.load_state_dict(model_tensors, strict=True)  # copies into the model's own tensors
    if optimizer is not None:
        _load_optimizer(path, optimizer, record, optimizer_tensors)
    return fmt.info_from_record(record)


def export_onnx(model, path, example):
    """Export ``model`` to the ONNX file ``path`` (weights inside, no ``.data`` file) with
    the ``torch.export``-based exporter, tracing it on the NumPy array ``example``. The batch
    axis stays free; for a GPT the time axis too, up to ``block_size``. Needs the ``export``
    extra: ``pip install "largemodels[export]"``."""
    path = fmt.check_path(path)
    _check_model(model)
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise ImportError(f"export_onnx needs onnx and onnxscript ({error.name} is missing): "
                          f'pip install "largemodels[export]"') from None
    from torch.export import Dim

    example = torch.as_tensor(example)
    axes = {0: Dim("batch")}
    if isinstance(model, GPT):
        axes[1] = Dim("time", max=model.config.block_size)
    was_training = model.training
    model.eval()
    try:
        with fmt.quiet(("torch.onnx", "torch.export", "onnxscript")):
            torch.onnx.export(model, (example,), path, dynamo=True, external_data=False,
                              dynamic_shapes=(axes,), verbose=False)
    finally:
        model.train(was_training)
    return path
