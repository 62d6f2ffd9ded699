"""One call that seeds every random number generator the book uses."""
import os
import random
import sys

import numpy as np


def seed_everything(seed=0):
    """Seed Python, NumPy and whichever of PyTorch and TensorFlow is already imported.

    Frameworks that are not imported are left alone, so calling this never pays a
    framework's start-up. Returns the seed.
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
