"""Matplotlib helpers so that every figure in the book looks the same."""
import matplotlib

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
