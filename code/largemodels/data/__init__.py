"""The data sets the book uses, as NumPy arrays or plain Python data.

Nothing is downloaded: every set ships with an installed package (scikit-learn, Python's
own standard library, this package) or is generated.
"""
import csv
from importlib import resources

import numpy as np

from .._checks import fraction, one_of


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


_LOADERS = {"digits": digits, "landmark_models": landmark_models, "python_docs_text": python_docs_text}


def load(name, **kwargs):
    """Load a data set by name: ``"digits"``, ``"landmark_models"`` or ``"python_docs_text"``."""
    one_of("name", name, set(_LOADERS))
    return _LOADERS[name](**kwargs)
