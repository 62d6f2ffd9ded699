"""PyTorch side of the book's package: ``from largemodels import torch as lm``.

The same public names exist in :mod:`largemodels.tensorflow`.
"""
from .. import costs, data, plot
from ..config import GPTConfig
from ..seeding import seed_everything
from .gpt import GPT, attention
from .tools import count_flops, count_params, device, devices

FRAMEWORK = "pytorch"

__all__ = ["FRAMEWORK", "GPT", "GPTConfig", "attention", "costs", "count_flops", "count_params",
           "data", "device", "devices", "plot", "seed_everything"]
