"""PyTorch side of the book's package: ``from largemodels import torch as lm``.

The same public names exist in :mod:`largemodels.tensorflow`. Importing it turns TF32 off
(see :mod:`largemodels.torch._precision`).
"""
from . import _precision

_precision.use_exact_float32()

from .. import costs, data, plot  # noqa: E402
from ..config import GPTConfig
from ..seeding import seed_everything
from .checkpoint import export_onnx, load_checkpoint, save_checkpoint
from .decoder import KVCache
from .generation import generate
from .gpt import GPT
from .models import CNN, MLP, RNN, VAE, MultiHeadAttention, TransformerBlock, attention, vae_loss
from .tools import count_flops, count_params, device, devices
from .training import evaluate, fit, predict

FRAMEWORK = "pytorch"

__all__ = ["CNN", "FRAMEWORK", "GPT", "GPTConfig", "MLP", "MultiHeadAttention", "RNN", "TransformerBlock",
           "VAE", "attention", "costs", "count_flops", "count_params", "data", "device", "devices", "evaluate",
           "fit", "generate", "KVCache", "plot", "predict", "seed_everything", "vae_loss"]
__all__ += ["export_onnx", "load_checkpoint", "save_checkpoint"]
