"""Scaling laws: fit them, use the published ones, and measure one on a CPU.

Framework-neutral (NumPy and SciPy). Notation as in :mod:`largemodels.costs`: N parameters,
D training tokens, C = 6 N D training FLOPs, L the loss in nats per token.

- :func:`fit_power_law` fits L(N) = a N^(-alpha) + L_inf with ``scipy.optimize.curve_fit``;
  :func:`fit_log_log` fits a straight line in log-log space.
- :class:`LossLaw` is the parametric law of Hoffmann et al. (2022),
  L(N, D) = E + A / N^alpha + B / D^beta, with its compute-optimal split of a budget;
  :data:`HOFFMANN` and :data:`BESIROGLU` hold the published constants and their 2024 refit.
- :func:`run_sweep` trains a family of small decoders in PyTorch or Keras; run it from a
  shell with ``python -m largemodels.scaling --framework torch --widths 8 16 32 --steps 500``.
"""
import argparse
import math
import time
from dataclasses import dataclass

import numpy as np

from ._checks import check_int_tuple, one_of, positive_int, positive_real
from .config import GPTConfig
from .costs import gpt_param_breakdown

# Kaplan et al. (2020), eq. 1.1 / Table 5: L(N) = (N_c / N)^alpha_N for non-embedding N,
# trained to convergence on WebText2, loss in nats per token.
KAPLAN_ALPHA_N, KAPLAN_N_C = 0.076, 8.8e13


@dataclass(frozen=True)
class LossLaw:
    """L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al., 2022, eq. 2): E is the loss of
    an ideal model, the second term the shortfall of a model with N parameters, the third
    that of training on D tokens."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str = ""

    def __post_init__(self):
        for name in ("E", "A", "B", "alpha", "beta"):
            positive_real(name, getattr(self, name))

    def loss(self, n_params, n_tokens):
        """The predicted loss (nats per token) of N parameters trained on D tokens."""
        n = np.asarray(n_params, dtype=float)
        d = np.asarray(n_tokens, dtype=float)
        if np.any(n <= 0) or np.any(d <= 0):
            raise ValueError(f"n_params and n_tokens must be > 0, got {n_params}, {n_tokens}")
        return self.E + self.A / n**self.alpha + self.B / d**self.beta

    def compute_optimal(self, flops):
        """(N, D) with the lowest loss for a budget C = 6 N D (Hoffmann et al., 2022, eq. 4):
        N = G (C/6)^(beta / (alpha + beta)), D = (C/6) / N, G = (alpha A / (beta B))^(1 /
        (alpha + beta)). E does not move the optimum."""
        c6 = positive_real("flops", flops) / 6.0
        s = self.alpha + self.beta
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / s)
        n = g * c6 ** (self.beta / s)
        return n, c6 / n


#: Hoffmann et al. (2022), eq. 10 (their "Approach 3", constants as printed, rounded).
HOFFMANN = LossLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28,
                   source="Hoffmann et al. (2022), eq. 10")
#: Besiroglu et al. (2024), the refit of Approach 3 to the data read off Hoffmann's Figure 4.
BESIROGLU = LossLaw(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658,
                    source="Besiroglu et al. (2024), eq. 3")


def tokens_per_param_optimal(flops, tokens_per_param=20.0):
    """The rule of thumb from Hoffmann et al. (2022), Table 3: train on about 20 tokens per
    parameter. With C = 6 N D and D = r N: N = sqrt(C / (6 r)), D = r N. Returns (N, D)."""
    r = positive_real("tokens_per_param", tokens_per_param)
    n = math.sqrt(positive_real("flops", flops) / (6.0 * r))
    return n, r * n


def non_embedding_params(config):
    """Kaplan et al.'s N: the parameters that are not token or position embeddings (nor an
    untied output head, which is an embedding-sized matrix): the blocks and the final norm.
    About 12 L d^2 for GPT-2's blocks."""
    parts = gpt_param_breakdown(config)
    return parts["blocks"] + parts["final_layernorm"]


# ---- fits -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PowerLawFit:
    """L(N) = a N^(-alpha) + l_inf, with one-sigma errors from the fit's covariance and the
    coefficient of determination r2 of the fitted values."""

    a: float
    alpha: float
    l_inf: float
    a_err: float
    alpha_err: float
    l_inf_err: float
    r2: float

    def predict(self, n):
        """The fitted loss at N = ``n`` (a number or an array)."""
        return self.a * np.asarray(n, dtype=float) ** -self.alpha + self.l_inf


def _power_law(n, a, alpha, l_inf):
    return a * n**-alpha + l_inf


def _positive_pairs(x, y, names):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"{names[0]} and {names[1]} must be 1-D and of equal length, got shapes "
                         f"{x.shape} and {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0) or not np.all(np.isfinite(x) & np.isfinite(y)):
        raise ValueError(f"{names[0]} and {names[1]} must be finite and > 0")
    return x, y


def r_squared(y, fitted):
    """1 - (residual sum of squares) / (total sum of squares)."""
    y, fitted = np.asarray(y, dtype=float), np.asarray(fitted, dtype=float)
    return float(1.0 - np.sum((y - fitted) ** 2) / np.sum((y - y.mean()) ** 2))


def fit_power_law(n_params, losses, p0=None):
    """Least-squares fit of L(N) = a N^(-alpha) + l_inf with ``scipy.optimize.curve_fit``.

    Needs at least 4 points for 3 parameters. The bounds keep a > 0, 0 < alpha < 3 and
    0 <= l_inf < min(losses); the errors are the square roots of the covariance's diagonal,
    which assume independent, equal noise on each loss. Returns a :class:`PowerLawFit`.
    """
    from scipy.optimize import curve_fit

    n, loss = _positive_pairs(n_params, losses, ("n_params", "losses"))
    if len(n) < 4:
        raise ValueError(f"fit_power_law needs at least 4 points, got {len(n)}")
    upper_l = float(loss.min()) * (1 - 1e-9)
    if p0 is None:  # a start that already passes through the first and last points
        l0, alpha0 = 0.5 * upper_l, 0.3
        p0 = ((loss[0] - l0) * n[0] ** alpha0, alpha0, l0)
    params, cov = curve_fit(_power_law, n, loss, p0=p0, bounds=([0, 0, 0], [np.inf, 3, upper_l]),
                            maxfev=20000)
    errors = np.sqrt(np.diag(cov))
    r2 = r_squared(loss, _power_law(n, *params))
    return PowerLawFit(*map(float, params), *map(float, errors), r2=r2)


def fit_log_log(x, y):
    """The straight line log y = slope log x + intercept, by least squares.
    Returns (slope, intercept, r2), r2 of the line in log space."""
    x, y = _positive_pairs(x, y, ("x", "y"))
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept), r_squared(ly, slope * lx + intercept)


def lower_envelope(xs, ys):
    """The frontier of a cloud of (x, y) points: for each x in increasing order, the lowest y
    seen at that x or below. Returns two arrays of the points where the frontier drops."""
    order = np.argsort(np.asarray(xs, dtype=float), kind="stable")
    frontier_x, frontier_y, best = [], [], np.inf
    for i in order:
        if ys[i] < best:
            best = float(ys[i])
            frontier_x.append(float(xs[i]))
            frontier_y.append(best)
    return np.array(frontier_x), np.array(frontier_y)


# ---- training a sweep -------------------------------------------------------------------------

def width_lr(n_embd, scale=0.16):
    """A peak learning rate that shrinks as 1 / width: ``scale / n_embd``. One rate for every
    width made the wider models of a sweep train worse than narrower ones."""
    return positive_real("scale", scale) / positive_int("n_embd", n_embd)


def one_cycle_lr(step, total_steps, peak_lr, pct_start=0.3, div_factor=25.0,
                 final_div_factor=1e4):
    """The learning rate at ``step`` (0-based) of PyTorch's ``OneCycleLR`` with its defaults
    (cosine annealing, two phases): up from peak / div_factor to the peak over the first
    ``pct_start`` of the steps, then down to peak / div_factor / final_div_factor."""
    total = positive_int("total_steps", total_steps)
    if not 0 <= step < total:
        raise ValueError(f"step must be in [0, {total}), got {step}")
    peak = positive_real("peak_lr", peak_lr)
    start = peak / positive_real("div_factor", div_factor)
    end = start / positive_real("final_div_factor", final_div_factor)
    warm_end = float(pct_start * total) - 1  # PyTorch's phase boundaries
    if step <= warm_end:
        a, b, pct = start, peak, step / warm_end
    else:
        a, b, pct = peak, end, (step - warm_end) / (total - 1 - warm_end)
    return b + (a - b) / 2.0 * (1.0 + math.cos(math.pi * pct))


def char_ids(text):
    """Character-level tokens: (ids, alphabet), ids an int64 array of indices into the sorted
    alphabet of the characters in ``text``."""
    if not isinstance(text, str) or not text:
        raise ValueError("text must be a non-empty str")
    alphabet = "".join(sorted(set(text)))
    lookup = {ch: i for i, ch in enumerate(alphabet)}
    return np.fromiter((lookup[ch] for ch in text), dtype=np.int64, count=len(text)), alphabet


def random_windows(ids, n_batches, batch_size, context, seed=0):
    """``n_batches`` minibatches (x, y), each of shape (batch_size, context): windows of
    ``ids`` at random starts, y shifted one token ahead of x. The same seed gives the same
    batches, so two frameworks can train on identical data."""
    ids = np.asarray(ids)
    n_batches = positive_int("n_batches", n_batches)
    batch_size, context = positive_int("batch_size", batch_size), positive_int("context", context)
    if ids.ndim != 1 or len(ids) <= context + 1:
        raise ValueError(f"ids must be 1-D and longer than context + 1 = {context + 1}")
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n_batches):
        starts = rng.integers(0, len(ids) - context - 1, batch_size)  # (B,)
        rows = ids[starts[:, None] + np.arange(context + 1)]  # (B, T + 1)
        batches.append((rows[:, :-1], rows[:, 1:]))
    return batches


def sweep_config(vocab_size, n_embd, n_layer=2, n_head=2, context=32):
    """The GPT of one point of the sweep: GPT-2's parts, tied head, no dropout."""
    return GPTConfig(vocab_size=vocab_size, block_size=context, n_layer=n_layer, n_head=n_head,
                     n_embd=n_embd)


def _framework(name):
    one_of("framework", name, ("torch", "pytorch", "tensorflow", "keras"))
    if name in ("torch", "pytorch"):
        from . import torch as lm
    else:
        from . import tensorflow as lm
    return lm


def run_sweep(framework, widths, steps, *, n_layer=2, n_head=2, context=32, batch_size=32,
              lr_scale=0.16, eval_every=50, eval_windows=256, seed=0, text=None, log=print):
    """Train one decoder per width on the same batches and return one dict per width.

    Each model (``sweep_config``) trains for ``steps`` AdamW steps on character windows of
    ``text`` (default: the book's Python documentation, first 90 %) with the one-cycle
    schedule peaking at ``width_lr(d, lr_scale)``, and is evaluated on ``eval_windows``
    fixed windows of the last 10 % every ``eval_every`` steps. A row holds ``width``,
    ``n_params`` (non-embedding), ``tokens`` (seen at each evaluation), ``val_loss`` and
    ``seconds``.
    """
    from . import data

    lm = _framework(framework)
    widths = check_int_tuple("widths", widths, allow_empty=False)
    steps = positive_int("steps", steps)
    ids, alphabet = char_ids(data.python_docs_text() if text is None else text)
    split = int(0.9 * len(ids))
    train = random_windows(ids[:split], steps, batch_size, context, seed=seed)
    (x_val, y_val), = random_windows(ids[split:], 1, eval_windows, context, seed=seed + 1)
    rows = []
    for width in widths:
        config = sweep_config(len(alphabet), width, n_layer, n_head, context)
        lm.seed_everything(seed)
        model = lm.GPT(config)
        lrs = [one_cycle_lr(i, steps, width_lr(width, lr_scale)) for i in range(steps)]
        start = time.perf_counter()
        history = lm.train_on_batches(model, train, lrs, validation=(x_val, y_val),
                                      eval_every=eval_every)
        seconds = time.perf_counter() - start
        tokens = [s * batch_size * context for s in history["val_step"]]
        rows.append({"width": width, "n_params": non_embedding_params(config), "tokens": tokens,
                     "val_loss": history["val_loss"], "seconds": seconds})
        log(f"d = {width:3d}  N = {rows[-1]['n_params']:>9,}  val loss "
            f"{history['val_loss'][-1]:.4f}  ({seconds:.1f} s)")
    return rows


def main(argv=None):
    """The command line: train a sweep, print the losses and the fitted power law."""
    parser = argparse.ArgumentParser(prog="python -m largemodels.scaling", description=(
        "Train small decoders of several widths on the same data and fit "
        "L(N) = a N^-alpha + L_inf."))
    parser.add_argument("--framework", default="torch", choices=("torch", "tensorflow"))
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 12, 16, 24, 32, 48])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--context", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr-scale", type=float, default=0.16, help="peak lr = lr_scale / width")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text-chars", type=int, default=None,
                        help="train on the first this many characters only (quick tests)")
    args = parser.parse_args(argv)
    text = None
    if args.text_chars is not None:
        from . import data

        text = data.python_docs_text()[:positive_int("text_chars", args.text_chars)]
    rows = run_sweep(args.framework, args.widths, args.steps, n_layer=args.layers,
                     n_head=args.heads, context=args.context, batch_size=args.batch_size,
                     lr_scale=args.lr_scale, eval_every=args.eval_every, seed=args.seed, text=text)
    if len(rows) >= 4:
        fit = fit_power_law([r["n_params"] for r in rows], [r["val_loss"][-1] for r in rows])
        print(f"L(N) = {fit.a:.3g} N^-({fit.alpha:.3f} +- {fit.alpha_err:.3f}) + "
              f"{fit.l_inf:.3f} +- {fit.l_inf_err:.3f},  R^2 = {fit.r2:.3f}")
    return rows


if __name__ == "__main__":
    main()
