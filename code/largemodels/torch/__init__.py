"""PyTorch side of the book's package: ``from largemodels import torch as lm``.

The same public names exist in :mod:`largemodels.tensorflow`. Importing it turns TF32 off
(see :mod:`largemodels.torch._precision`).
"""
from . import _precision

_precision.use_exact_float32()

from .. import costs, data, plot  # noqa: E402
from ..config import GPTConfig
from ..seeding import seed_everything
from . import compress, distributed  # Sections 5.1 and 5.2
from .checkpoint import export_onnx, load_checkpoint, save_checkpoint
from .decoder import KVCache
from .generation import generate
from .gpt import GPT
from .models import CNN, MLP, RNN, VAE, MultiHeadAttention, TransformerBlock, attention, vae_loss
from .tools import count_flops, count_params, device, devices
from .interpret import attention_maps, integrated_gradients, logit_lens, residual_stream, saliency
from .scaling import train_on_batches
from .training import evaluate, fit, predict

FRAMEWORK = "pytorch"

__all__ = ["CNN", "FRAMEWORK", "GPT", "GPTConfig", "KVCache", "MLP", "MultiHeadAttention", "RNN",
           "TransformerBlock", "VAE", "attention", "attention_maps", "compress", "costs", "count_flops",
           "count_params", "data", "device", "devices", "distributed", "evaluate", "export_onnx", "fit",
           "generate", "integrated_gradients", "load_checkpoint", "logit_lens", "plot", "predict",
           "residual_stream", "saliency", "save_checkpoint", "seed_everything", "train_on_batches",
           "vae_loss"]
