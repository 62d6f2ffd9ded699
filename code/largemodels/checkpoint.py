"""The checkpoint format shared by both frameworks: one safetensors file, no pickle.

A safetensors file is an 8-byte little-endian header length N, then N bytes of JSON (each
tensor's dtype, shape and byte offsets, plus a free-form ``__metadata__`` dict of strings),
then the raw tensor bytes. Reading it runs no code. A *largemodels checkpoint* is such a file
whose ``__metadata__`` holds, under the key ``"largemodels"``, a JSON record: the format
version, the framework that wrote it, the model's class and architecture (the
:class:`~largemodels.config.GPTConfig` as a dict for a GPT), the training step, the
optimizer's description and the caller's metadata. Model tensors are stored under their own
names (PyTorch's ``state_dict`` names, or the Keras twin's attribute paths); optimizer tensors
under names that start with ``optimizer/``.

The framework halves, :mod:`largemodels.torch.checkpoint` and
:mod:`largemodels.tensorflow.checkpoint`, write and read the tensors; this module reads and
checks headers, so that a damaged or foreign file fails with a ``ValueError`` that names it.
Importing it imports neither framework.
"""
import contextlib
import dataclasses
import io
import json
import math
import os
import struct
import warnings

from ._logs import quiet_loggers
from .config import GPTConfig, RopeScaling

FORMAT_VERSION = 1
METADATA_KEY = "largemodels"
OPTIMIZER_PREFIX = "optimizer/"
FRAMEWORKS = ("pytorch", "tensorflow")
_MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit
_ITEM_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2,
               "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8}
# The constructor arguments that fix each zoo model's weights (as in largemodels.parity);
# a GPT is described by its GPTConfig instead.
ARCHITECTURES = {
    "MLP": ("in_features", "hidden_sizes", "out_features", "activation"),
    "CNN": ("in_channels", "n_classes", "image_size", "channels", "kernel_size"),
    "RNN": ("input_size", "hidden_size", "cell", "num_layers"),
    "MultiHeadAttention": ("n_embd", "n_head", "causal"),
    "TransformerBlock": ("n_embd", "n_head", "causal"),
    "VAE": ("in_features", "hidden_size", "latent_size"),
}


@dataclasses.dataclass(frozen=True)
class CheckpointInfo:
    """What ``lm.load_checkpoint`` returns: the training ``step``, the model's ``config``
    (a GPTConfig, or None), the ``framework`` that wrote the file, the caller's
    ``metadata`` dict, the model class name ``model`` and its ``architecture`` arguments."""

    step: int
    config: GPTConfig | None
    framework: str
    metadata: dict
    model: str = ""
    architecture: dict | None = None


def config_to_dict(config):
    """A GPTConfig as a JSON-ready dict (``rope_scaling`` as a nested dict or None)."""
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a largemodels.GPTConfig, got {type(config).__name__}")
    return dataclasses.asdict(config)


def config_from_dict(values):
    """The GPTConfig that :func:`config_to_dict` turned into ``values``."""
    if not isinstance(values, dict):
        raise TypeError(f"values must be a dict, got {type(values).__name__}")
    values = dict(values)
    if values.get("rope_scaling") is not None:
        values["rope_scaling"] = RopeScaling(**values["rope_scaling"])
    return GPTConfig(**values)


def describe_model(model, zoo, config):
    """(class name, GPTConfig or None, architecture dict or None) of ``model``; ``zoo`` is
    the framework half (``largemodels.torch`` or ``largemodels.tensorflow``)."""
    name = type(model).__name__
    if type(model) is getattr(zoo, "GPT"):
        if config is not None and config != model.config:
            raise ValueError(f"config must be the model's own config (or None), got {config}")
        return name, model.config, None
    if config is not None and not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a largemodels.GPTConfig or None, "
                        f"got {type(config).__name__}")
    if name in ARCHITECTURES and type(model) is getattr(zoo, name):
        values = {a: getattr(model, a) for a in ARCHITECTURES[name]}
        return name, config, {a: list(v) if isinstance(v, tuple) else v for a, v in values.items()}
    return name, config, None


def check_path(path):
    """``path`` as a str, or a TypeError if it is not a str or os.PathLike."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    return os.fspath(path)


def check_step(step):
    """``step`` if it is an int >= 0 (a training step count); TypeError or ValueError if not."""
    if isinstance(step, bool) or not isinstance(step, int):
        raise TypeError(f"step must be an int, got {type(step).__name__} {step!r}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return step


def encode_record(framework, model, *, config, architecture, step, metadata, optimizer):
    """The JSON string stored under ``__metadata__["largemodels"]``."""
    if config is not None:
        config = config_to_dict(config)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    record = {"format": FORMAT_VERSION, "framework": framework, "model": model,
              "config": config, "architecture": architecture, "step": check_step(step),
              "optimizer": optimizer, "metadata": metadata}
    try:
        return json.dumps(record)
    except TypeError as error:
        raise TypeError(f"metadata must hold only JSON values (str, numbers, bools, None, "
                        f"lists, dicts): {error}") from None


def read_header(path):
    """Read and check a largemodels checkpoint's header without loading any tensor.

    Returns ``(record, tensors)``: the decoded JSON record and {name: (dtype, shape)}.
    Raises ``ValueError`` naming the file if it is not a safetensors file, is truncated
    or corrupt, or is a safetensors file without a largemodels record.
    """
    path = check_path(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file at {path!r}")
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        start = f.read(8)
        if len(start) < 8:
            raise ValueError(f"{name} is not a safetensors checkpoint: {size} bytes, shorter "
                             f"than the 8-byte header length")
        (n,) = struct.unpack("<Q", start)  # little-endian unsigned 64-bit
        if not 2 <= n <= min(_MAX_HEADER_BYTES, size - 8):
            raise ValueError(f"{name} is not a safetensors checkpoint (or is truncated): its "
                             f"first 8 bytes give a header of {n} bytes, the file has {size}")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{name} is not a safetensors checkpoint: its header is not "
                             f"JSON ({error})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{name} is not a safetensors checkpoint: its header is not a dict")
    meta = header.pop("__metadata__", None) or {}
    tensors, end = {}, 0
    for key, info in header.items():
        try:
            dtype, shape, (begin, stop) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise ValueError(f"{name} is corrupt: bad header entry for tensor {key!r}") from None
        if dtype in _ITEM_BYTES and stop - begin != _ITEM_BYTES[dtype] * math.prod(shape):
            raise ValueError(f"{name} is corrupt: tensor {key!r} of shape {shape} and dtype "
                             f"{dtype} cannot fill bytes {begin} to {stop}")
        tensors[key], end = (dtype, shape), max(end, stop)
    if 8 + n + end != size:
        raise ValueError(f"{name} is truncated or corrupt: its header describes "
                         f"{8 + n + end} bytes, the file has {size}")
    if METADATA_KEY not in meta:
        raise ValueError(f"{name} is a safetensors file but not a largemodels checkpoint (its "
                         f"metadata has no {METADATA_KEY!r} record); read it with safetensors")
    try:
        record = json.loads(meta[METADATA_KEY])
        version, framework = record["format"], record["framework"]
    except (json.JSONDecodeError, TypeError, KeyError):
        raise ValueError(f"{name}: the {METADATA_KEY!r} record is corrupt") from None
    if version != FORMAT_VERSION or framework not in FRAMEWORKS:
        raise ValueError(f"{name}: unknown checkpoint format {version!r} from {framework!r} "
                         f"(this package reads format {FORMAT_VERSION})")
    return record, tensors


def split_tensors(tensors):
    """({model tensor: value}, {optimizer tensor: value}) by the ``optimizer/`` prefix."""
    model = {k: v for k, v in tensors.items() if not k.startswith(OPTIMIZER_PREFIX)}
    optimizer = {k: v for k, v in tensors.items() if k.startswith(OPTIMIZER_PREFIX)}
    return model, optimizer


def _listed(names, most=6):
    """['a', 'b'], or the first ``most`` names and how many there are in all."""
    if len(names) <= most:
        return str(names)
    return f"{str(names[:most])[:-1]}, ... ({len(names)} in all)]"


def check_fits(path, stored, expected, what="the model"):
    """Raise a ValueError listing missing and unexpected tensors and wrong shapes, if the
    stored shapes {name: shape} differ from what ``expected`` {name: shape} asks for."""
    stored = {k: tuple(v) for k, v in stored.items()}
    expected = {k: tuple(v) for k, v in expected.items()}
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    shapes = [f"{k}: checkpoint {stored[k]}, {what} {expected[k]}"
              for k in expected if k in stored and stored[k] != expected[k]]
    problems = []
    if missing:
        problems.append(f"missing tensors {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors {_listed(unexpected)}")
    if shapes:
        problems.append("wrong shapes: " + "; ".join(shapes))
    if problems:
        raise ValueError(f"{os.path.basename(path)} does not fit {what}: " + "; ".join(problems))


def check_config(path, record, config):
    """Raise a ValueError naming the fields in which the file's GPTConfig differs from the
    model's ``config``; dropout may differ (it has no weights)."""
    stored = record.get("config")
    if stored is None or config is None:
        return
    stored = config_from_dict(stored)
    differ = [f"{f}={getattr(stored, f)!r} (model: {getattr(config, f)!r})"
              for f in stored.__dataclass_fields__
              if f != "dropout" and getattr(stored, f) != getattr(config, f)]
    if differ:
        raise ValueError(f"{os.path.basename(path)} holds a GPT with another config: "
                         + ", ".join(differ))


def info_from_record(record):
    """The :class:`CheckpointInfo` of a decoded record."""
    config = record.get("config")
    return CheckpointInfo(step=record["step"], framework=record["framework"],
                          config=None if config is None else config_from_dict(config),
                          metadata=record.get("metadata") or {}, model=record.get("model", ""),
                          architecture=record.get("architecture"))


def safetensors_error(path, error):
    """A ValueError naming the file, for an error raised by the safetensors library."""
    return ValueError(f"{os.path.basename(os.fspath(path))} is corrupt: "
                      f"safetensors says {error}")


@contextlib.contextmanager
def quiet(logger_names):
    """Silence an exporter: its progress lines on stdout, its warnings, and the log records
    below ERROR of the loggers ``logger_names``; restored on exit."""
    with (quiet_loggers(*logger_names), warnings.catch_warnings(),
          contextlib.redirect_stdout(io.StringIO())):
        warnings.simplefilter("ignore")
        yield
