"""The data sets the book uses, as NumPy arrays or plain Python data.

Nothing is downloaded: every set ships with an installed package (scikit-learn, Python's
own standard library, this package) or is generated.
"""
import csv
from importlib import resources

import numpy as np

from .._checks import fraction, one_of


def landmark_models():
    """Landmark language models: name, year, parameters, training tokens, reported FLOPs.

    Returns a list of dicts; missing numbers are ``None``. ``source`` is the BibTeX key of
    the paper that reports the numbers (see the book's ``references.bib``).
    """
    rows = []
    with resources.files(__package__).joinpath("landmark_models.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.append({
                "model": row["model"],
                "year": int(row["year"]),
                "parameters": float(row["parameters"]),
                "training_tokens": float(row["training_tokens"]) if row["training_tokens"] else None,
                "reported_flops": float(row["reported_flops"]) if row["reported_flops"] else None,
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
