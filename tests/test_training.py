"""fit, evaluate and predict: the same behaviour and history keys in both frameworks."""
import logging

import numpy as np
import pytest

from largemodels import liveplot
from largemodels import tensorflow as tlm
from largemodels import torch as plm

import tensorflow as tf  # noqa: E402  (after largemodels.tensorflow: imported quietly)
import torch  # noqa: E402

FRAMEWORKS = [plm, tlm]
IDS = ["pytorch", "tensorflow"]


def regression(n=128):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3))  # float64 on purpose: fit converts to float32
    y = x @ np.array([[1.5], [-2.0], [0.5]]) + 0.05 * rng.standard_normal((n, 1))
    return x, y


def classification(n=160):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int64) + (x[:, 0] > 1.0)  # 3 classes


def is_float_list(values, n):
    return isinstance(values, list) and len(values) == n and all(type(v) is float for v in values)


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
def test_fit_reduces_regression_loss(lm):
    lm.seed_everything(0)
    x, y = regression()
    model = lm.MLP(3, (16,), 1)
    history = lm.fit(model, x, y, loss="mse", epochs=8, batch_size=32, lr=0.02, validation_data=(x[:32], y[:32]))
    assert set(history) == {"loss", "val_loss"}
    assert is_float_list(history["loss"], 8) and is_float_list(history["val_loss"], 8)
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    result = lm.evaluate(model, x, y, loss="mse", batch_size=50)
    assert set(result) == {"loss"} and type(result["loss"]) is float
    pred = lm.predict(model, x, batch_size=50)
    assert isinstance(pred, np.ndarray) and pred.shape == (128, 1) and pred.dtype == np.float32
    assert np.mean((pred - y) ** 2) == pytest.approx(result["loss"], rel=1e-4)


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
def test_fit_reduces_classification_loss(lm):
    lm.seed_everything(0)
    x, y = classification()
    model = lm.MLP(2, (32, 32), 3)
    history = lm.fit(model, x, y, loss="cross_entropy", epochs=10, batch_size=32, lr=0.01,
                     weight_decay=1e-4, validation_data=(x, y))
    assert set(history) == {"loss", "val_loss", "val_accuracy"}
    assert all(is_float_list(v, 10) for v in history.values())
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert history["val_accuracy"][-1] > 0.7
    result = lm.evaluate(model, x, y, loss="cross_entropy", batch_size=64)
    assert result["accuracy"] == pytest.approx(history["val_accuracy"][-1])
    assert result["accuracy"] == pytest.approx(np.mean(lm.predict(model, x, 64).argmax(-1) == y))


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
def test_fit_sequences_vae_and_sgd(lm):
    """cross_entropy over (batch, time) labels (a GPT), the VAE's ELBO, and plain SGD."""
    lm.seed_everything(0)
    rng = np.random.default_rng(0)
    tokens = np.tile(np.arange(9), (16, 1)) % 5  # a repeating pattern to learn
    gpt = lm.GPT(lm.GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=16))
    history = lm.fit(gpt, tokens[:, :-1], tokens[:, 1:], loss="cross_entropy", epochs=4, batch_size=8, lr=3e-3,
                     optimizer="adam")
    assert history["loss"][-1] < history["loss"][0]
    x = (rng.random((64, 10)) < np.linspace(0.1, 0.9, 10)).astype(np.float32)
    vae = lm.VAE(10, 16, 2)
    history = lm.fit(vae, x, x, loss="vae", epochs=4, batch_size=16, lr=1e-2, validation_data=(x, x))
    assert set(history) == {"loss", "val_loss"} and history["loss"][-1] < history["loss"][0]
    logits, mu, logvar = lm.predict(vae, x, batch_size=32)
    assert logits.shape == (64, 10) and mu.shape == logvar.shape == (64, 2)
    rnn = lm.RNN(2, 1, "gru")
    xs = rng.standard_normal((32, 5, 2)).astype(np.float32)
    history = lm.fit(rnn, xs, np.tanh(xs.sum(-1, keepdims=True)), loss="mse", epochs=5, batch_size=8, lr=0.1,
                     optimizer="sgd")
    assert history["loss"][-1] < history["loss"][0]


def test_same_history_keys_and_close_losses_in_both_frameworks():
    """Same data, same starting weights, same batch order: nearly the same losses."""
    from largemodels import parity

    x, y = regression(64)
    torch_model, tf_model = plm.MLP(3, (8,), 1), tlm.MLP(3, (8,), 1)
    parity.copy_weights(torch_model, tf_model)
    kwargs = dict(loss="mse", epochs=3, batch_size=16, lr=0.01, optimizer="sgd", validation_data=(x, y), seed=3)
    h_pt, h_tf = plm.fit(torch_model, x, y, **kwargs), tlm.fit(tf_model, x, y, **kwargs)
    assert h_pt.keys() == h_tf.keys()
    rtol = 1e-4  # exact float32 on every device: the package turns TF32 off
    np.testing.assert_allclose(h_pt["loss"], h_tf["loss"], rtol=rtol)
    np.testing.assert_allclose(h_pt["val_loss"], h_tf["val_loss"], rtol=rtol)


def test_many_small_fits_do_not_warn_about_retracing():
    """Each fit traces its own step; TensorFlow must not call that 'excessive retracing'."""
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    tf.get_logger().addHandler(handler)
    x, y = regression(16)
    try:
        for lr in (0.1, 0.03, 0.01, 0.003, 0.001, 0.0003):
            tlm.fit(tlm.MLP(3, (), 1), x, y, loss="mse", epochs=1, batch_size=16, lr=lr, validation_data=(x, y))
            tlm.predict(tlm.MLP(3, (), 1), x, batch_size=16)
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [r for r in records if "retracing" in r.getMessage()]


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
def test_fit_rejects_bad_arguments(lm):
    x, y = regression(16)
    model = lm.MLP(3, (4,), 1)
    fit = dict(epochs=1, batch_size=8, lr=0.01)
    with pytest.raises(ValueError, match="loss must be one of"):
        lm.fit(model, x, y, loss="hinge", **fit)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        lm.fit(model, x, y, loss="mse", optimizer="lion", **fit)
    with pytest.raises(ValueError, match="weight_decay needs optimizer='adamw'"):
        lm.fit(model, x, y, loss="mse", optimizer="adam", weight_decay=0.1, **fit)
    with pytest.raises(ValueError, match=r"model's output shape \(batch, 1\), got y of shape \(batch\).*reshape"):
        lm.fit(model, x, y[:, 0], loss="mse", **fit)
    with pytest.raises(ValueError, match="integer class labels"):
        lm.fit(model, x, y, loss="cross_entropy", **fit)
    with pytest.raises(ValueError, match="same length"):
        lm.fit(model, x, y[:5], loss="mse", **fit)
    with pytest.raises(ValueError, match="epochs must be > 0"):
        lm.fit(model, x, y, loss="mse", epochs=0, batch_size=8, lr=0.01)
    with pytest.raises(ValueError, match="lr must be > 0"):
        lm.fit(model, x, y, loss="mse", epochs=1, batch_size=8, lr=0.0)
    with pytest.raises(TypeError, match="validation_data must be a pair"):
        lm.fit(model, x, y, loss="mse", validation_data=x, **fit)
    with pytest.raises(TypeError, match="model must be"):
        lm.fit("model", x, y, loss="mse", **fit)
    framework_tensor = torch.zeros(16, 3) if lm is plm else tf.zeros((16, 3))
    with pytest.raises(TypeError, match="x must be a NumPy array"):
        lm.fit(model, framework_tensor, y, loss="mse", **fit)
    with pytest.raises(ValueError, match="x must not be empty"):
        lm.predict(model, x[:0], batch_size=4)


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
def test_fit_accepts_a_loss_function(lm):
    x, y = regression(32)
    if lm is plm:
        def loss(output, target):
            return (output - target).abs().mean()
    else:
        def loss(output, target):
            return tf.reduce_mean(tf.abs(output - target))
    history = lm.fit(lm.MLP(3, (), 1), x, y, loss=loss, epochs=2, batch_size=16, lr=0.05)
    assert is_float_list(history["loss"], 2)
    assert set(lm.evaluate(lm.MLP(3, (), 1), x, y, loss=loss, batch_size=16)) == {"loss"}


@pytest.mark.parametrize("lm", FRAMEWORKS, ids=IDS)
def test_binary_cross_entropy_takes_0_1_labels(lm):
    x, _ = classification(32)
    y = (x > 0).astype(np.int64)  # two independent binary targets per example
    history = lm.fit(lm.MLP(2, (), 2), x, y, loss="binary_cross_entropy", epochs=3, batch_size=8, lr=0.1)
    assert history["loss"][-1] < history["loss"][0]


def test_live_plot_does_nothing_outside_a_notebook():
    assert not liveplot.in_notebook()
    plot = liveplot.LivePlot()
    assert not plot.active
    plot.update({"loss": [1.0, 0.5]})  # no error, no output


def test_live_plot_redraws_one_display_in_place(monkeypatch):
    """In a notebook: one display call, then updates of that same display, one per epoch."""
    pytest.importorskip("IPython")
    import IPython.display

    calls = []

    class Handle:
        def update(self, obj):
            calls.append(("update", obj))

    def display(obj, display_id=None):
        calls.append(("display", obj, display_id))
        return Handle()

    monkeypatch.setattr(liveplot, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    x, y = regression(32)
    plm.fit(plm.MLP(3, (), 1), x, y, loss="mse", epochs=3, batch_size=16, lr=0.05, validation_data=(x, y))
    assert [c[0] for c in calls] == ["display", "update", "update"]
    assert calls[0][2] is True
    assert all(c[1].data.startswith(b"\x89PNG") for c in calls)
    plm.fit(plm.MLP(3, (), 1), x, y, loss="mse", epochs=2, batch_size=16, lr=0.05, live_plot=False)
    assert len(calls) == 3


def test_render_draws_losses_only():
    png = liveplot.render({"loss": [1.0, 0.4], "val_loss": [1.1, 0.6], "val_accuracy": [0.5, 0.8]})
    assert png.startswith(b"\x89PNG")
