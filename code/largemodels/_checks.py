"""Argument checks that name the argument and the expected value."""
from numbers import Integral, Real


def positive_int(name, value):
    """Return ``value`` if it is an integer > 0, else raise ``TypeError``/``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return int(value)


def positive_real(name, value):
    """Return ``value`` as a float if it is a real number > 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def fraction(name, value, *, allow_zero=True):
    """Return ``value`` as a float in [0, 1] (or (0, 1] with ``allow_zero=False``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value <= 1):
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"{name} must be in {bound}, got {value}")
    return float(value)


def one_of(name, value, choices):
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_int_tuple(name, values, allow_empty=True):
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple of ints, got {type(values).__name__} {values!r}")
    if not values and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return tuple(positive_int(f"{name}[{i}]", v) for i, v in enumerate(values))


def check_dropout(value):
    if fraction("dropout", value) >= 1:
        raise ValueError(f"dropout must be < 1, got {value}")
    return float(value)


def check_heads(n_embd, n_head):
    positive_int("n_embd", n_embd), positive_int("n_head", n_head)
    if n_embd % n_head:
        raise ValueError(f"n_embd must be divisible by n_head, got n_embd={n_embd}, n_head={n_head}")
    return n_embd, n_head


def check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_image_size(image_size):
    if isinstance(image_size, (list, tuple)):
        if len(image_size) != 2:
            raise ValueError(f"image_size must be an int or a (height, width) pair, got {image_size!r}")
        return tuple(positive_int(f"image_size[{i}]", v) for i, v in enumerate(image_size))
    size = positive_int("image_size", image_size)
    return size, size


def pooled_size(image_size, n_blocks):
    """(height, width) after ``n_blocks`` 2x2 max-pools (each rounds down)."""
    h, w = image_size
    h, w = h // 2**n_blocks, w // 2**n_blocks
    if h == 0 or w == 0:
        raise ValueError(f"image_size={image_size} is too small for {n_blocks} 2x2 poolings: "
                         f"each side needs at least {2**n_blocks} pixels")
    return h, w



def check_shape(name, shape, layout, sizes):
    """Raise ``ValueError`` unless ``shape`` has one axis per name in ``layout`` and the axis
    sizes in ``sizes`` ({axis: size}); unknown (None) sizes pass, as inside ``tf.function``."""
    shape = tuple(shape)
    if len(shape) != len(layout) or any(shape[i] not in (None, n) for i, n in sizes.items()):
        want = ", ".join(f"{axis}={sizes[i]}" if i in sizes else axis for i, axis in enumerate(layout))
        raise ValueError(f"{name} must have shape ({want}), got shape {shape}")
