"""Import TensorFlow quietly, in exact float32, and let it share a GPU.

TensorFlow's C++ runtime writes start-up messages (absl, CUDA probing, CPU features) straight
to file descriptor 2, below Python's ``sys.stderr``. ipykernel forwards that descriptor into the
notebook, so ``TF_CPP_MIN_LOG_LEVEL`` alone does not keep them out: some are written before the
variable is read. We point descriptor 2 at a temporary file while TensorFlow starts up and sees
its devices, and replay the file only if start-up fails.

On NVIDIA GPUs since Ampere, TensorFlow multiplies float32 matrices in TF32 (a 10-bit mantissa)
by default, which moves results by about 1e-3; the book compares frameworks to 1e-5, so we turn
TF32 off, as :mod:`largemodels.torch` does for PyTorch. On a CPU this changes nothing.
"""
import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def _fd2_captured():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow():
    """Return ``(tensorflow, keras)``: imported quietly, GPU memory growth on, TF32 off, Keras on TF."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _fd2_captured():
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            # Take GPU memory as needed instead of all of it, so PyTorch can share the card.
            # Must happen before the runtime initialises; later it raises RuntimeError.
            with contextlib.suppress(RuntimeError):
                tf.config.experimental.set_memory_growth(gpu, True)
        tf.constant(0.0).numpy()  # initialise the runtime (and its CUDA messages) now
        tf.config.experimental.enable_tensor_float_32_execution(False)  # exact float32
        import keras
    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            f"largemodels.tensorflow needs Keras on the TensorFlow backend, but KERAS_BACKEND="
            f"{keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow before importing keras")
    return tf, keras
