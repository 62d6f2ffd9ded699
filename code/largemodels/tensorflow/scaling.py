"""Training for the scaling-law sweep in Keras 3 (the twin of ``torch/scaling.py``)."""
import keras
import numpy as np
import tensorflow as tf

from .._checks import positive_int


def _check_schedule(batches, lrs, eval_every):
    if len(batches) != len(lrs) or not batches:
        raise ValueError(f"batches and lrs must be non-empty and of equal length, got "
                         f"{len(batches)} and {len(lrs)}")
    return positive_int("eval_every", eval_every)


def _cross_entropy(logits, y):  # mean nats per token; logits (B, T, V), y (B, T)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))


def train_on_batches(model, batches, lrs, *, validation, eval_every=50, betas=(0.9, 0.95)):
    """Train ``model`` (an ``lm.GPT``) with AdamW (no weight decay), one step per (x, y) in
    ``batches`` at learning rate ``lrs[i]``; evaluate the mean cross-entropy on
    ``validation = (x_val, y_val)`` before training and every ``eval_every`` steps.

    Returns {"loss": training loss per step, "val_step": [0, eval_every, ...],
    "val_loss": [...]}, losses in nats per token, as Python floats. The step is a
    ``tf.function`` graph; the learning rate is a variable set before each step.
    """
    eval_every = _check_schedule(batches, lrs, eval_every)
    x_val, y_val = (np.asarray(a) for a in validation)
    opt = keras.optimizers.AdamW(float(lrs[0]), beta_1=betas[0], beta_2=betas[1], epsilon=1e-8,
                                 weight_decay=0.0)
    opt.build(model.trainable_variables)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = _cross_entropy(model(xb, training=True), yb)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def val_loss():
        return float(_cross_entropy(model(x_val, training=False), y_val))

    history = {"loss": [], "val_step": [0], "val_loss": [val_loss()]}
    for i, ((xb, yb), lr) in enumerate(zip(batches, lrs), 1):
        opt.learning_rate.assign(lr)
        history["loss"].append(float(step(xb, yb)))
        if i % eval_every == 0 or i == len(batches):
            history["val_step"].append(i)
            history["val_loss"].append(val_loss())
    return history
