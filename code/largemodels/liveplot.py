"""A live plot of the loss per epoch, redrawn in place in a Jupyter notebook.

Framework-neutral: ``fit`` in both halves of the package hands it the history dict after each
epoch. In a notebook it shows one image and replaces it each epoch (IPython's ``display_id``),
so the notebook keeps exactly the final frame. Elsewhere (plain Python, pytest) it does nothing.

The figure is a bare ``matplotlib.figure.Figure``, not a pyplot figure, so the inline backend
never shows it a second time at the end of the cell.
"""
import io
import sys

from . import plot as _style  # noqa: F401  (the book's matplotlib style)


def in_notebook():
    """True inside a Jupyter kernel (Jupyter, Colab, VS Code), False in plain Python or IPython."""
    if "IPython" not in sys.modules:  # never pay for importing IPython
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def render(history, title=None):
    """PNG bytes of a plot of every "loss"-like list in ``history`` against the epoch."""
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.subplots()
    for key, values in history.items():
        if key.endswith("loss") and values:
            ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=key)
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if ax.has_data():
        ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


class LivePlot:
    """Call ``update(history)`` after each epoch; in a notebook the plot is redrawn in place."""

    def __init__(self, enabled=True, title=None):
        self.active = bool(enabled) and in_notebook()
        self.title = title
        self._handle = None

    def update(self, history):
        """Redraw the plot from ``history`` (a dict of per-epoch lists); outside a notebook, do
        nothing."""
        if not self.active:
            return
        from IPython.display import Image, display

        image = Image(data=render(history, self.title), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
