"""Exact float32 in PyTorch on every device.

PyTorch's float32 matrix multiplies are exact by default, but its cuDNN convolutions and RNNs use
TF32 (a 10-bit mantissa) on NVIDIA GPUs since Ampere, which moves results by about 1e-3. The book
compares frameworks to 1e-5, so importing :mod:`largemodels.torch` turns TF32 off everywhere,
as :mod:`largemodels.tensorflow` does for TensorFlow. On a CPU this changes nothing.
"""
import torch


def use_exact_float32():
    """Turn TF32 off for float32 matrix multiplies and cuDNN convolutions and RNNs."""
    # The flags every PyTorch since 1.7 reads. torch >= 2.9 also has per-backend
    # ``fp32_precision`` settings; mixing the two makes reading ``allow_tf32`` raise, and
    # other libraries read it, so we set the flags only.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
