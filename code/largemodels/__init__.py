"""The shared package of *Large Models, Hands-On*.

Framework-neutral pieces live here; the framework code lives in two subpackages with the
same public names, so paired notebook cells read the same::

    from largemodels import torch as lm        # PyTorch
    from largemodels import tensorflow as lm   # TensorFlow (Keras 3)

Importing this package imports neither framework; ``configure_tensorflow`` starts TensorFlow
with the devices you choose (call it before ``from largemodels import tensorflow``).
"""
from . import costs, data, plot, rope, sampling, tokenizer
from ._tensorflow_runtime import configure_tensorflow
from .config import GPTConfig
from .devices import device_report
from .environment import check_loaded_versions
from .seeding import seed_everything

__version__ = "0.2.0"
__all__ = ["GPTConfig", "check_loaded_versions", "configure_tensorflow", "costs", "data",
           "device_report", "plot", "rope", "sampling", "seed_everything", "tokenizer"]
