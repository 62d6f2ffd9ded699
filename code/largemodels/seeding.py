"""One call that seeds every random number generator the book uses."""
import os
import random
import sys

import numpy as np


def seed_everything(seed=0):
    """Seed Python, NumPy and whichever of PyTorch and TensorFlow is already imported.

    Frameworks that are not imported are left alone, so calling this never pays a
    framework's start-up. Returns the seed.

    Python's hash randomization (the order of a ``set`` of strings) is not seeded here: it is
    fixed when the interpreter starts, by the environment variable ``PYTHONHASHSEED``, and
    setting the variable later changes nothing in the running process. We still set it, so
    that subprocesses started from here inherit it; the book's Makefile exports it for the
    notebooks' kernels.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)  # seeds CPU and every CUDA device
    if "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow
    return seed
