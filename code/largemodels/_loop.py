"""Framework-neutral pieces of the training loop: minibatch order, seeds, shape messages."""
import numpy as np


def shape_text(dims):
    return "(" + ", ".join(["batch", *(str(d) for d in dims)]) + ")"


def check_same_shape(loss, output, y, hint=""):
    if tuple(output.shape[1:]) != tuple(y.shape[1:]):
        raise ValueError(f"loss={loss!r} needs y of the model's output shape {shape_text(output.shape[1:])}, "
                         f"got y of shape {shape_text(y.shape[1:])}{hint}")


def check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return seed


def batch_indices(n, batch_size, rng=None):
    """Index arrays of consecutive minibatches; shuffled when ``rng`` is given."""
    order = np.arange(n) if rng is None else rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]

