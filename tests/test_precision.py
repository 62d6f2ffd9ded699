"""Both framework halves turn TF32 off at import, so float32 is exact on GPUs as on CPUs."""
import subprocess
import sys


def run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_torch_half_turns_tf32_off():
    out = run("import torch\n"
              "assert torch.backends.cudnn.allow_tf32  # PyTorch's default for convolutions\n"
              "import largemodels.torch\n"
              "print(torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)")
    assert out.stdout.split() == ["False", "False"]


def test_tensorflow_half_turns_tf32_off():
    out = run("import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
              "import tensorflow as tf\n"
              "print(tf.config.experimental.tensor_float_32_execution_enabled())\n"
              "import largemodels.tensorflow\n"
              "print(tf.config.experimental.tensor_float_32_execution_enabled())")
    assert out.stdout.split()[-2:] == ["True", "False"]  # TensorFlow's default, then ours
