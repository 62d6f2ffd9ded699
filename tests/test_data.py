"""Data sets ship with installed packages; nothing is downloaded."""
import numpy as np
import pytest

from largemodels import data, seed_everything


def test_digits_split_shapes_and_range():
    x_train, y_train, x_test, y_test = data.digits(test_fraction=0.2)
    assert x_train.shape[1:] == (8, 8) and x_train.dtype == np.float32
    assert len(x_train) + len(x_test) == 1797
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert set(np.unique(y_test)) == set(range(10))


def test_landmark_models_are_cited_and_ordered():
    rows = data.landmark_models()
    assert len(rows) >= 10
    assert all(r["source"] and r["parameters"] > 0 for r in rows)
    years = [r["year"] for r in rows]
    assert years == sorted(years)
    gpt3 = next(r for r in rows if r["model"] == "GPT-3")
    assert gpt3["parameters"] == 175e9 and gpt3["training_tokens"] == 300e9


def test_landmark_sources_are_in_the_bibliography():
    import pathlib
    import re

    bib = (pathlib.Path(__file__).parents[1] / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    cited = {key for r in data.landmark_models() for key in r["source"].split(",")}
    assert cited <= keys, cited - keys


def test_landmark_moe_rows_are_consistent():
    rows = data.landmark_models()
    for r in rows:
        if r["active_parameters"] is not None:  # published only for mixtures of experts
            assert r["moe"] and r["active_parameters"] < r["parameters"], r["model"]
        assert r["architecture"] in {"decoder", "encoder", "encoder-decoder"}, r["model"]
    assert any(r["moe"] for r in rows) and any(not r["moe"] for r in rows)


def test_gpt2_row_holds_the_corrected_count():
    from largemodels import GPTConfig, costs

    gpt2 = next(r for r in data.landmark_models() if r["model"] == "GPT-2")
    exact = costs.gpt_param_count(GPTConfig.gpt2("xl"))  # 1,557,611,200
    assert round(exact, -6) == gpt2["parameters"]  # the "1558M" checkpoint
    assert gpt2["paper_parameters"] == 1542e6  # the paper's count, retracted by OpenAI


def test_python_docs_text_ships_with_python():
    text = data.python_docs_text()
    assert len(text) > 100_000 and "assert" in text


def test_load_by_name_and_unknown_name():
    assert data.load("landmark_models") == data.landmark_models()
    with pytest.raises(ValueError, match="name must be one of"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="test_fraction"):
        data.digits(test_fraction=0)


def test_seed_everything_makes_numpy_repeatable():
    seed_everything(3)
    a = np.random.rand(3)
    seed_everything(3)
    assert np.array_equal(a, np.random.rand(3))
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)
