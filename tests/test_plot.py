"""The figure helpers of ``largemodels.plot``: what they draw, and clear errors for bad input."""
import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn import metrics

from largemodels import plot


def new_axes():
    return Figure().subplots()


def test_confusion_matrix_counts_equal_scikit_learn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 5, 200))  # 70% kept
    ax = new_axes()
    counts = plot.confusion_matrix(ax, y_true, y_pred)
    np.testing.assert_array_equal(counts, metrics.confusion_matrix(y_true, y_pred))
    np.testing.assert_array_equal(ax.images[0].get_array(), counts)  # what is drawn
    assert counts.sum() == 200 and np.trace(counts) == np.sum(y_true == y_pred)


def test_confusion_matrix_writes_every_nonzero_count_in_its_cell():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0])  # true 2 predicted as 0: row 2, column 0
    ax = new_axes()
    plot.confusion_matrix(ax, y_true, y_pred, labels=["zero", "one", "two"])
    written = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
               for t in ax.texts}  # (row, column) -> text
    assert written == {(0, 0): "2", (0, 1): "1", (1, 1): "2", (2, 0): "1"}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["zero", "one", "two"]
    assert ax.get_ylabel() == "true class" and ax.get_xlabel() == "predicted class"


def test_confusion_matrix_has_a_row_per_label_even_if_a_class_never_occurs():
    counts = plot.confusion_matrix(new_axes(), [0, 1], [1, 1], labels=range(4))
    assert counts.shape == (4, 4) and counts[3].sum() == 0


@pytest.mark.parametrize("y_true, y_pred, labels, error, message", [
    ([0, 1, 2], [0, 1], None, ValueError, "same length"),
    ([0.0, 1.0], [0, 1], None, TypeError, "y_true must hold integer"),
    ([0, -1], [0, 1], None, ValueError, "y_true must hold class indices >= 0"),
    ([[0, 1]], [[0, 1]], None, ValueError, "y_true must be 1-D"),
    ([], [], None, ValueError, "must not be empty"),
    ([0, 3], [0, 1], ["a", "b"], ValueError, "labels names 2 classes"),
])
def test_confusion_matrix_rejects_bad_labels(y_true, y_pred, labels, error, message):
    with pytest.raises(error, match=message):
        plot.confusion_matrix(new_axes(), y_true, y_pred, labels)


def test_image_grid_shows_each_image_with_its_title_on_one_scale():
    rng = np.random.default_rng(1)
    images = rng.random((5, 8, 6))
    images[2] *= 3  # a brighter image must not get a scale of its own
    fig = Figure()
    axes = plot.image_grid(fig, images, [f"image {k}" for k in range(5)], ncols=3)
    assert len(axes) == len(fig.axes) == 5
    assert [ax.get_subplotspec().get_geometry()[:3] for ax in axes] == [
        (2, 3, k) for k in range(5)]  # 2 rows of 3, the last place empty
    for k, ax in enumerate(axes):
        np.testing.assert_array_equal(ax.images[0].get_array(), images[k])
        assert ax.images[0].get_clim() == (images.min(), images.max())
        assert ax.get_title() == f"image {k}"


def test_image_grid_uses_fewer_columns_for_few_images():
    axes = plot.image_grid(Figure(), np.zeros((2, 4, 4)), ncols=8)
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in axes] == [(1, 2), (1, 2)]


@pytest.mark.parametrize("images, titles, ncols, message", [
    (np.zeros((3, 8)), None, 4, "images must have shape"),
    (np.zeros((0, 8, 8)), None, 4, "images must not be empty"),
    (np.zeros((3, 8, 8)), ["a", "b"], 4, "titles must have one entry per image"),
    (np.zeros((3, 8, 8)), None, 0, "ncols must be > 0"),
])
def test_image_grid_rejects_bad_input(images, titles, ncols, message):
    with pytest.raises(ValueError, match=message):
        plot.image_grid(Figure(), images, titles, ncols=ncols)


def test_image_grid_rejects_a_non_integer_column_count():
    with pytest.raises(TypeError, match="ncols must be an int"):
        plot.image_grid(Figure(), np.zeros((3, 8, 8)), ncols=2.5)
