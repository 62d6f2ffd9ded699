"""Framework-neutral pieces of the twins' ``interpret`` modules: the quadrature of the
integrated-gradients path and the check of target classes (NumPy only)."""
import numpy as np

RULES = ("trapezoid", "riemann")


def path_weights(steps, rule="trapezoid"):
    """The points alpha_k in [0, 1] and quadrature weights w_k of the path integral
    int_0^1 g(alpha) d alpha ~ sum_k w_k g(alpha_k), with ``steps`` intervals:
    ``"trapezoid"``, steps + 1 points k / steps, the end points weighted half;
    ``"riemann"``, the right Riemann sum of Sundararajan et al. (2017), points
    k / steps for k = 1..steps, each weighted 1 / steps."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if rule == "trapezoid":
        alphas = np.linspace(0.0, 1.0, steps + 1)
        weights = np.full(steps + 1, 1.0 / steps)
        weights[[0, -1]] /= 2
    elif rule == "riemann":
        alphas = np.arange(1, steps + 1) / steps
        weights = np.full(steps, 1.0 / steps)
    else:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    return alphas.astype(np.float32), weights.astype(np.float32)


def target_classes(target, n, n_classes):
    """``target`` (an int, or n ints) -> an int64 array (n,) of class indices in
    [0, n_classes); TypeError or ValueError naming ``target`` otherwise."""
    t = np.asarray(target)
    if t.dtype.kind not in "iu" or t.ndim > 1:
        raise TypeError(f"target must be an int or a sequence of ints, got {target!r}")
    t = np.broadcast_to(t, (n,)) if t.ndim == 0 else t
    if t.shape != (n,):
        raise ValueError(f"target must hold one class per input: {n} inputs, {t.shape[0]} targets")
    if t.min() < 0 or t.max() >= n_classes:
        raise ValueError(f"target must be in [0, {n_classes}), got values {t.min()}..{t.max()}")
    return t.astype(np.int64)
