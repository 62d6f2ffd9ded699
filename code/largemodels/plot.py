"""Matplotlib helpers so that every figure in the book looks the same."""
import matplotlib
import numpy as np

from ._checks import positive_int

matplotlib.rcParams.update({
    "figure.figsize": (6.0, 3.8),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
})


def figure(figsize=None):
    """A new figure and axes in the book's style."""
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)


def scatter_labelled(ax, xs, ys, labels, *, logy=False, **kwargs):
    """Scatter points and write a short label next to each one."""
    if not len(xs) == len(ys) == len(labels):
        raise ValueError(
            f"xs, ys and labels must have the same length, got {len(xs)}, {len(ys)}, {len(labels)}"
        )
    ax.scatter(xs, ys, **kwargs)
    for x, y, label in zip(xs, ys, labels):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if logy:
        ax.set_yscale("log")
    return ax


def _labels_array(name, values):
    """``values`` as a 1-D int64 array of class indices >= 0."""
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one class index per example), got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty")
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices, got dtype {a.dtype}")
    if a.min() < 0:
        raise ValueError(f"{name} must hold class indices >= 0, got {a.min()}")
    return a.astype(np.int64)


def confusion_matrix(ax, y_true, y_pred, labels=None, *, cmap="Blues"):
    """Draw the confusion matrix of integer class labels on ``ax`` and return its counts.

    Row i, column j counts the examples of true class i predicted as class j, so the diagonal
    holds the correct predictions. Every non-zero count is written in its cell. The colour
    follows the square root of the count, so that single errors still show next to a
    diagonal of hundreds. ``labels``: one name per class (default 0, 1, ..., the largest
    index seen). Returns the (n_classes, n_classes) int64 array of counts.
    """
    from matplotlib.colors import PowerNorm

    y_true, y_pred = _labels_array("y_true", y_true), _labels_array("y_pred", y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred must have the same length, "
                         f"got {len(y_true)} and {len(y_pred)}")
    largest = int(max(y_true.max(), y_pred.max()))
    labels = list(range(largest + 1)) if labels is None else list(labels)
    n = len(labels)
    if largest >= n:
        raise ValueError(f"labels names {n} classes, but the labels go up to class {largest}")
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)  # (true, predicted)
    ax.imshow(counts, cmap=cmap, norm=PowerNorm(0.5, vmin=0, vmax=counts.max()))
    for i, j in zip(*np.nonzero(counts)):
        dark = counts[i, j] > 0.25 * counts.max()  # past half the colour scale (square root)
        ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
    ax.set(xticks=range(n), yticks=range(n), xticklabels=labels, yticklabels=labels,
           xlabel="predicted class", ylabel="true class")
    ax.grid(False)
    return counts


def image_grid(fig, images, titles=None, *, ncols=8, cmap="gray_r"):
    """Show ``images`` (n, height, width) on ``fig`` in a grid of ``ncols`` columns.

    All images share one grey scale, from the smallest to the largest value over all of
    them (``cmap="gray_r"``: high values dark, ink on paper), so their shades compare.
    ``titles``: one short text per image, or None. Returns the list of the n axes used;
    unused places of the last row stay empty.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got shape {images.shape}")
    if len(images) == 0:
        raise ValueError("images must not be empty")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must have one entry per image: "
                         f"{len(images)} images, {len(titles)} titles")
    ncols = min(positive_int("ncols", ncols), len(images))
    nrows = -(-len(images) // ncols)  # ceiling division
    vmin, vmax = float(images.min()), float(images.max())
    axes = []
    for k, image in enumerate(images):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
        axes.append(ax)
    return axes
