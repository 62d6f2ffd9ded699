"""The adding problem (``largemodels.data.adding_problem``), checked against its definition
written independently: markers times values summed over time, and the moments of a sum of
two uniform numbers."""
import numpy as np
import pytest

from largemodels import data


def test_shapes_dtypes_and_ranges():
    x, y = data.adding_problem(64, 10, seed=0)
    assert x.shape == (64, 10, 2) and y.shape == (64, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert 0.0 <= values.min() and values.max() < 1.0
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert 0.0 <= y.min() and y.max() < 2.0


@pytest.mark.parametrize("length", [2, 3, 7, 10, 31])
def test_one_marker_in_each_half(length):
    x, _ = data.adding_problem(500, length, seed=1)
    markers = x[..., 1]  # (n, T)
    half = length // 2
    assert np.all(markers.sum(axis=1) == 2)
    assert np.all(markers[:, :half].sum(axis=1) == 1)
    assert np.all(markers[:, half:].sum(axis=1) == 1)


def test_target_is_the_sum_of_the_marked_values():
    x, y = data.adding_problem(1000, 25, seed=2)
    expected = (x[..., 0].astype(np.float64) * x[..., 1]).sum(axis=1)  # (n,): masked sum
    np.testing.assert_allclose(y[:, 0], expected, rtol=0, atol=1e-6)


def test_moments_match_a_sum_of_two_uniforms():
    # U(0, 1) has mean 1/2 and variance 1/12; the sum of two independent ones, 1 and 1/6
    _, y = data.adding_problem(200_000, 6, seed=3)
    assert abs(y.mean() - 1.0) < 0.005
    assert abs(y.var() - 1 / 6) < 0.003
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.003  # the error of always predicting 1


def test_marker_positions_are_uniform_within_each_half():
    x, _ = data.adding_problem(40_000, 8, seed=4)
    counts = x[..., 1].sum(axis=0)  # (T,): how often each step is marked
    np.testing.assert_allclose(counts / len(x), np.full(8, 1 / 4), atol=0.01)


def test_seed_fixes_the_draw():
    a, b, c = (data.adding_problem(50, 12, seed=s) for s in (5, 5, 6))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_load_by_name():
    x, y = data.load("adding_problem", n=4, length=6, seed=7)
    x2, y2 = data.adding_problem(4, 6, seed=7)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n": 0, "length": 10}, ValueError, "n must be > 0"),
    ({"n": 2.5, "length": 10}, TypeError, "n must be an int"),
    ({"n": 4, "length": 1}, ValueError, "length must be >= 2"),
    ({"n": 4, "length": "10"}, TypeError, "length must be an int"),
    ({"n": 4, "length": 10, "seed": -1}, ValueError, "seed must be an int >= 0"),
    ({"n": 4, "length": 10, "seed": 1.5}, ValueError, "seed must be an int >= 0"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.adding_problem(**kwargs)
