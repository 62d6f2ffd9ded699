"""Copy a PyTorch model's weights into its Keras twin, and measure how far two outputs differ.

The book builds each model in both frameworks; after :func:`copy_weights` the two compute the
same function, which :func:`max_abs_diff` checks. Layout conversions, PyTorch -> Keras:

- Linear weight (out, in)                -> Dense kernel (in, out): transpose.
- Conv2d weight (out, in, kh, kw)        -> Conv2D kernel (kh, kw, in, out).
- the CNN head's rows, flattened (C, h, w) in NCHW -> (h, w, C) in NHWC: permute.
- RNN weight_ih (gates*H, in), weight_hh -> kernel (in, gates*H), recurrent_kernel: transpose;
  GRU gates (r, z, n) -> Keras (z, r, h); LSTM (i, f, g, o) is the same order in both;
  LSTM/SimpleRNN biases b_ih + b_hh -> one bias; GRU biases -> a (2, 3H) bias.
- Embedding weight, LayerNorm weight/bias, RMSNorm weight -> embeddings, gamma/beta, scale:
  as they are.

Precision on GPUs: by default, TensorFlow multiplies float32 matrices in TF32 (a 10-bit
mantissa) on NVIDIA GPUs since Ampere, and PyTorch uses TF32 for its cuDNN convolutions
(``torch.backends.cudnn.allow_tf32``) though not for its matrix multiplies. Either moves
outputs by about 1e-3. Importing the package's framework halves turns TF32 off in both (see
:mod:`largemodels.torch._precision` and :mod:`largemodels.tensorflow._quiet`), so models
compared here compute in exact float32 on a GPU as on a CPU and agree to float32 rounding
(the book asks for 1e-5).

Imports both frameworks, TensorFlow first so that it starts quietly.
"""
import numpy as np

from . import tensorflow as tlm  # first: TensorFlow starts quietly
from . import torch as plm

import torch  # noqa: E402  (after largemodels.tensorflow)

__all__ = ["copy_weights", "max_abs_diff", "to_numpy"]


def to_numpy(tensor):
    """A NumPy array from a PyTorch tensor, a TensorFlow tensor or variable, or an array."""
    if isinstance(tensor, torch.Tensor):
        return tensor.detach().cpu().numpy()
    return np.asarray(tensor)


def max_abs_diff(a, b):
    """max ``|a - b|`` over all elements, for tensors of either framework (or tuples of them)."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        if not (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)):
            raise ValueError("a and b must both be tensors or both be sequences of the same length")
        return max(max_abs_diff(x, y) for x, y in zip(a, b))
    a, b = to_numpy(a), to_numpy(b)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))


class _Copier:
    """Reads PyTorch tensors, writes Keras variables, and remembers what it has touched."""

    def __init__(self, torch_model, tf_model):
        self.unread = {id(p): name for name, p in torch_model.named_parameters()}
        self.unwritten = {id(w): w.path for w in tf_model.weights}
        self.copied = 0

    def read(self, tensor):
        self.unread.pop(id(tensor), None)
        self.copied += 1
        return tensor.detach().cpu().numpy()

    def write(self, variable, array):
        if tuple(variable.shape) != array.shape:
            raise ValueError(f"shape mismatch: the Keras weight {variable.path} has shape "
                             f"{tuple(variable.shape)}, the PyTorch weight converts to {array.shape}")
        variable.assign(array.astype(variable.dtype))
        self.unwritten.pop(id(variable), None)

    def linear(self, t, k):  # Linear (out, in) -> Dense (in, out)
        self.write(k.kernel, self.read(t.weight).T)
        if t.bias is not None:
            self.write(k.bias, self.read(t.bias))

    def layer_norm(self, t, k):  # also RMSNorm: weight -> scale, no bias
        if isinstance(t, torch.nn.LayerNorm):
            self.write(k.gamma, self.read(t.weight))
            if t.bias is not None:
                self.write(k.beta, self.read(t.bias))
        else:
            self.write(k.scale, self.read(t.weight))

    def conv(self, t, k):  # (out, in, kh, kw) -> (kh, kw, in, out)
        self.write(k.kernel, self.read(t.weight).transpose(2, 3, 1, 0))
        self.write(k.bias, self.read(t.bias))

    def finish(self):
        if self.unread or self.unwritten:  # a bug in a copy function below, not a user error
            raise RuntimeError(f"copy incomplete: PyTorch tensors not read {sorted(self.unread.values())}, "
                               f"Keras weights not written {sorted(self.unwritten.values())}")
        return self.copied


def _copy_mlp(c, t, k):
    for t_layer, k_layer in zip([*t.hidden, t.head], [*k.hidden, k.head]):
        c.linear(t_layer, k_layer)


def _copy_cnn(c, t, k):
    for t_conv, k_conv in zip(t.convs, k.convs):
        c.conv(t_conv, k_conv)
    C = t.channels[-1]
    h, w = (size // 2 ** len(t.channels) for size in t.image_size)  # after the 2x2 poolings
    weight = c.read(t.head.weight)  # (n_classes, C*h*w), inputs flattened in (C, h, w) order
    n = weight.shape[0]
    kernel = weight.reshape(n, C, h, w).transpose(2, 3, 1, 0).reshape(h * w * C, n)  # rows in (h, w, C) order
    c.write(k.head.kernel, kernel)
    c.write(k.head.bias, c.read(t.head.bias))


def _gates(a, order):
    """Reorder the gate blocks stacked along axis 0 of ``a``."""
    blocks = np.split(a, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def _copy_rnn(c, t, k):
    for i, layer in enumerate(k.rnn_layers):
        w_ih, w_hh, b_ih, b_hh = (c.read(getattr(t.rnn, f"{name}_l{i}"))
                                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        if t.cell == "gru":  # PyTorch stacks gates (r, z, n), Keras (z, r, h)
            w_ih, w_hh, b_ih, b_hh = (_gates(a, (1, 0, 2)) for a in (w_ih, w_hh, b_ih, b_hh))
            bias = np.stack([b_ih, b_hh])  # (2, 3H): input bias, recurrent bias (reset_after=True)
        else:
            bias = b_ih + b_hh  # only the sum enters the cell
        c.write(layer.cell.kernel, w_ih.T)  # (in, gates*H)
        c.write(layer.cell.recurrent_kernel, w_hh.T)  # (H, gates*H)
        c.write(layer.cell.bias, bias)


def _copy_attention(c, t, k):
    c.linear(t.c_attn, k.c_attn)
    c.linear(t.c_proj, k.c_proj)


def _copy_block(c, t, k):  # the zoo's TransformerBlock and the decoder's DecoderBlock
    c.layer_norm(t.ln_1, k.ln_1)
    _copy_attention(c, t.attn, k.attn)
    c.layer_norm(t.ln_2, k.ln_2)
    for name in ("c_gate", "c_fc", "c_proj"):  # c_gate: SwiGLU only
        if hasattr(t.mlp, name):
            c.linear(getattr(t.mlp, name), getattr(k.mlp, name))


def _copy_gpt(c, t, k):
    c.write(k.wte.embeddings, c.read(t.wte.weight))  # also the output head, if tied
    if t.wpe is not None:  # learned positions (GPT-2); none with rotary embeddings
        c.write(k.wpe.embeddings, c.read(t.wpe.weight))
    for t_block, k_block in zip(t.blocks, k.blocks):
        _copy_block(c, t_block, k_block)
    c.layer_norm(t.ln_f, k.ln_f)
    if t.lm_head is not None:
        c.linear(t.lm_head, k.lm_head)


def _copy_vae(c, t, k):
    for name in ("enc_hidden", "enc_mu", "enc_logvar", "dec_hidden", "dec_out"):
        c.linear(getattr(t, name), getattr(k, name))


# family name: (copy function, constructor arguments that fix the architecture)
_FAMILIES = {
    "MLP": (_copy_mlp, ("in_features", "hidden_sizes", "out_features", "activation")),
    "CNN": (_copy_cnn, ("in_channels", "n_classes", "image_size", "channels", "kernel_size")),
    "RNN": (_copy_rnn, ("input_size", "hidden_size", "cell", "num_layers")),
    "MultiHeadAttention": (_copy_attention, ("n_embd", "n_head", "causal")),
    "TransformerBlock": (_copy_block, ("n_embd", "n_head", "causal")),
    "GPT": (_copy_gpt, ("config",)),
    "VAE": (_copy_vae, ("in_features", "hidden_size", "latent_size")),
}


def _family(model, lm):
    for name in _FAMILIES:
        if type(model) is getattr(lm, name):
            return name
    return None


def _architecture(model, args):
    return {a: tuple(v) if isinstance(v, (list, tuple)) else v for a in args for v in [getattr(model, a)]}


def copy_weights(torch_model, tf_model):
    """Copy every weight of a PyTorch model from the book's zoo into its Keras twin.

    The two must be the same family (``lm.MLP``, ``lm.CNN``, ``lm.RNN``, ``lm.MultiHeadAttention``,
    ``lm.TransformerBlock``, ``lm.GPT``, ``lm.VAE``) built with the same architecture arguments
    (dropout may differ). Returns the number of PyTorch tensors copied.
    """
    family = _family(torch_model, plm)
    if family is None:
        raise TypeError(f"torch_model must be one of the book's PyTorch models "
                        f"({', '.join(f'lm.{n}' for n in _FAMILIES)}), got {type(torch_model).__name__}")
    if _family(tf_model, tlm) != family:
        raise TypeError(f"tf_model must be the TensorFlow twin of torch_model, largemodels.tensorflow.{family}, "
                        f"got {type(tf_model).__module__}.{type(tf_model).__name__}")
    copy, args = _FAMILIES[family]
    a, b = _architecture(torch_model, args), _architecture(tf_model, args)
    for arg in args:
        if a[arg] != b[arg]:
            raise ValueError(f"torch_model and tf_model must be built alike, but {arg}={a[arg]!r} "
                             f"in PyTorch and {arg}={b[arg]!r} in TensorFlow")
    copier = _Copier(torch_model, tf_model)
    copy(copier, torch_model, tf_model)
    return copier.finish()
