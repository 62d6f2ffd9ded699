"""TensorFlow (Keras 3) side of the book's package: ``from largemodels import tensorflow as lm``.

The same public names exist in :mod:`largemodels.torch`.
"""
from ._quiet import import_tensorflow

import_tensorflow()

from .. import costs, data, plot  # noqa: E402
from ..config import GPTConfig  # noqa: E402
from ..seeding import seed_everything  # noqa: E402
from . import compress, distributed  # Sections 5.1 and 5.2
from .checkpoint import export_onnx, load_checkpoint, save_checkpoint  # noqa: E402
from .decoder import KVCache  # noqa: E402
from .generation import generate  # noqa: E402
from .gpt import GPT  # noqa: E402
from .models import CNN, MLP, RNN, VAE, MultiHeadAttention, TransformerBlock, attention, vae_loss  # noqa: E402
from .tools import count_flops, count_params, device, devices  # noqa: E402
from .interpret import attention_maps, integrated_gradients, logit_lens, residual_stream, saliency
from .scaling import train_on_batches
from .training import evaluate, fit, predict  # noqa: E402

FRAMEWORK = "tensorflow"

__all__ = ["CNN", "FRAMEWORK", "GPT", "GPTConfig", "KVCache", "MLP", "MultiHeadAttention", "RNN",
           "TransformerBlock", "VAE", "attention", "attention_maps", "compress", "costs", "count_flops",
           "count_params", "data", "device", "devices", "distributed", "evaluate", "export_onnx", "fit",
           "generate", "integrated_gradients", "load_checkpoint", "logit_lens", "plot", "predict",
           "residual_stream", "saliency", "save_checkpoint", "seed_everything", "train_on_batches",
           "vae_loss"]
