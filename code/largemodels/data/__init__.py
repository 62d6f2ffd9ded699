"""The data sets the book uses, as NumPy arrays or plain Python data.

Nothing is downloaded: every set ships with an installed package (scikit-learn, Python's
own standard library, this package) or is generated.
"""
import csv
from importlib import resources

import numpy as np

from .._checks import fraction, one_of, positive_int


def landmark_models():
    """Landmark language models, 2017 onwards: size, training tokens and reported compute.

    Returns a list of dicts, one per model, ordered by year; a number the sources do not give is
    ``None``. Keys: ``model``; ``year`` first made public (preprint, report or announcement);
    ``architecture`` (``"decoder"``, ``"encoder"`` or ``"encoder-decoder"``); ``moe`` (True for
    a mixture of experts); ``parameters`` (all of them, for a mixture of experts the total);
    ``active_parameters`` (per token, as published, for a mixture of experts); ``training_tokens``
    (as the source states them); ``reported_flops`` (training compute as the source reports
    it, however it was counted); ``paper_parameters`` (the count the paper printed, where it
    differs from the corrected count in ``parameters``: GPT-2's); ``source`` (the BibTeX keys of
    the sources in the book's ``references.bib``, comma-separated as MyST's ``{cite}`` takes
    them).
    """

    def number(text):
        return float(text) if text else None

    rows = []
    with resources.files(__package__).joinpath("landmark_models.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.append({
                "model": row["model"],
                "year": int(row["year"]),
                "architecture": row["architecture"],
                "moe": row["moe"] == "yes",
                "parameters": float(row["parameters"]),
                "active_parameters": number(row["active_parameters"]),
                "training_tokens": number(row["training_tokens"]),
                "reported_flops": number(row["reported_flops"]),
                "paper_parameters": number(row["paper_parameters"]),
                "source": row["source"],
            })
    return rows


def digits(test_fraction=0.2, seed=0):
    """scikit-learn's 8x8 handwritten digits, scaled to [0, 1] and split.

    Returns ``(x_train, y_train, x_test, y_test)``; images are float32 of shape (n, 8, 8),
    labels int64 in 0..9. The split is stratified and fixed by ``seed``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    fraction("test_fraction", test_fraction, allow_zero=False)
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)  # (1797, 8, 8)
    y = bunch.target.astype(np.int64)  # (1797,)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return x_train, y_train, x_test, y_test


def python_docs_text():
    """English prose that ships with Python: the help topics of ``pydoc`` (about half a million
    characters; the exact text depends on the Python version)."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def adding_problem(n, length, seed=0):
    """The adding problem: ``n`` sequences of ``length`` steps whose target is the sum of two
    marked values (Hochreiter and Schmidhuber, 1997; values in [0, 1) as in Le et al., 2015).

    Each step carries two features: a value drawn uniformly from [0, 1) and a marker, 1 at
    exactly two steps and 0 elsewhere. One marked step lies in the first half of the sequence
    (positions 0 to ``length // 2 - 1``), the other in the second half, both drawn uniformly.
    The target is the sum of the two marked values: it lies in [0, 2), with mean 1 and
    variance 1/6, so always predicting 1 has a mean squared error of 1/6.

    Returns ``(x, y)``: x float32 of shape (n, length, 2), ``x[..., 0]`` the values and
    ``x[..., 1]`` the markers; y float32 of shape (n, 1). ``seed`` fixes the draw.
    """
    n, length = positive_int("n", n), positive_int("length", length)
    if length < 2:
        raise ValueError(f"length must be >= 2 (one marked step in each half), got {length}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    rng = np.random.default_rng(seed)
    values = rng.random((n, length), dtype=np.float32)  # (n, T), uniform in [0, 1)
    half = length // 2
    first = rng.integers(0, half, size=n)  # (n,), a position in the first half
    second = rng.integers(half, length, size=n)  # (n,), a position in the second half
    rows = np.arange(n)
    markers = np.zeros((n, length), dtype=np.float32)  # (n, T)
    markers[rows, first] = markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1)  # (n, T, 2)
    y = values[rows, first] + values[rows, second]  # (n,)
    return x, y.reshape(n, 1)


_LOADERS = {"adding_problem": adding_problem, "digits": digits, "landmark_models": landmark_models,
            "python_docs_text": python_docs_text}


def load(name, **kwargs):
    """Load a data set by name: ``"adding_problem"``, ``"digits"``, ``"landmark_models"`` or
    ``"python_docs_text"``; ``kwargs`` go to its function."""
    one_of("name", name, set(_LOADERS))
    return _LOADERS[name](**kwargs)
