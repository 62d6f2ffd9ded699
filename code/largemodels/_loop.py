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



def as_array(name, a, is_tensor, conversion):
    """``a`` as a NumPy array, float32 for floats and int64 for integers. Framework tensors are
    refused (``is_tensor``) with a message that shows the ``conversion`` to use."""
    if is_tensor(a):
        raise TypeError(f"{name} must be a NumPy array, got a tensor: pass {name}{conversion}")
    a = np.asarray(a)
    if a.ndim == 0:
        raise ValueError(f"{name} must have a batch axis, got a scalar")
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float32, copy=False)
    if np.issubdtype(a.dtype, np.integer) or a.dtype == bool:
        return a.astype(np.int64, copy=False)
    raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")


def paired_arrays(x, y, is_tensor, conversion, names=("x", "y")):
    """``(x, y)`` through :func:`as_array`, checked to be non-empty and of equal length."""
    x, y = as_array(names[0], x, is_tensor, conversion), as_array(names[1], y, is_tensor, conversion)
    if len(x) != len(y):
        raise ValueError(f"{names[0]} and {names[1]} must have the same length, got {len(x)} and {len(y)}")
    if len(x) == 0:
        raise ValueError(f"{names[0]} must not be empty")
    return x, y


def validation_pair(validation_data, to_arrays):
    """``None``, or ``validation_data`` as ``(x_val, y_val)`` checked by ``to_arrays``."""
    if validation_data is None:
        return None
    if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
        raise TypeError("validation_data must be a pair (x_val, y_val) of NumPy arrays")
    return to_arrays(*validation_data, names=("x_val", "y_val"))
