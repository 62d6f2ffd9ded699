"""TensorFlow (Keras 3) side of the book's package: ``from largemodels import tensorflow as lm``.

The same public names exist in :mod:`largemodels.torch`.
"""
from ._quiet import import_tensorflow

import_tensorflow()

from .. import costs, data, plot  # noqa: E402
from ..config import GPTConfig  # noqa: E402
from ..seeding import seed_everything  # noqa: E402
from .checkpoint import export_onnx, load_checkpoint, save_checkpoint  # noqa: E402
from .decoder import KVCache  # noqa: E402
from .generation import generate  # noqa: E402
from .gpt import GPT  # noqa: E402
from .models import CNN, MLP, RNN, VAE, MultiHeadAttention, TransformerBlock, attention, vae_loss  # noqa: E402
from .tools import count_flops, count_params, device, devices  # noqa: E402
from .training import evaluate, fit, predict  # noqa: E402

FRAMEWORK = "tensorflow"

__all__ = ["CNN", "FRAMEWORK", "GPT", "GPTConfig", "MLP", "MultiHeadAttention", "RNN", "TransformerBlock",
           "VAE", "attention", "costs", "count_flops", "count_params", "data", "device", "devices", "evaluate",
           "fit", "generate", "KVCache", "plot", "predict", "seed_everything", "vae_loss"]
__all__ += ["export_onnx", "load_checkpoint", "save_checkpoint"]
