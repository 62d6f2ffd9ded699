"""Start TensorFlow quietly, in exact float32, optionally with several logical CPUs.

Framework-neutral on purpose: importing this module imports no framework, so
``largemodels.configure_tensorflow`` can run *before* ``largemodels.tensorflow`` (whose import
starts the runtime) and before ``largemodels.parity``.

TensorFlow's C++ runtime writes start-up messages (absl, CUDA probing, CPU features) straight
to file descriptor 2, below Python's ``sys.stderr``. ipykernel forwards that descriptor into the
notebook, so ``TF_CPP_MIN_LOG_LEVEL`` alone does not keep them out: some are written before the
variable is read. We point descriptor 2 at a temporary file while TensorFlow starts up and sees
its devices, and replay the file only if start-up fails.

On NVIDIA GPUs since Ampere, TensorFlow multiplies float32 matrices in TF32 (a 10-bit mantissa)
by default, which moves results by about 1e-3; the book compares frameworks to 1e-5, so we turn
TF32 off, as :mod:`largemodels.torch` does for PyTorch. On a CPU this changes nothing.

Logical devices (``tf.config.set_logical_device_configuration``) split one physical CPU into
several devices, so that ``tf.distribute.MirroredStrategy`` has replicas to mirror over on a
machine without GPUs. TensorFlow accepts this only before its runtime starts.
"""
import contextlib
import os
import sys
import tempfile

from ._checks import positive_int

__all__ = ["configure_tensorflow", "fd2_captured", "import_tensorflow", "multi_worker_strategy"]


@contextlib.contextmanager
def fd2_captured():
    """Send file descriptor 2 (C++ logs, child processes) to a temporary file for the block;
    replay what was written to ``sys.stderr`` only if the block raises."""
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
    """Return ``(tensorflow, keras)``: imported quietly, GPU memory growth on, TF32 off, Keras
    on TF."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with fd2_captured():
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


def _logical_cpu_count(tf):
    # what the runtime has or will have, read without starting it
    cpu = tf.config.list_physical_devices("CPU")[0]
    configured = tf.config.get_logical_device_configuration(cpu)
    return 1 if configured is None else len(configured)


def configure_tensorflow(logical_cpus=1):
    """Start TensorFlow quietly with ``logical_cpus`` logical CPU devices; return their names.

    Call it before anything starts TensorFlow's runtime (``from largemodels import
    tensorflow``, ``import largemodels.parity``, any TensorFlow op): the runtime fixes its
    devices when it starts. Calling it again with the same number does nothing; with another
    number after the start it raises ``RuntimeError``. The start is as quiet as
    ``import largemodels.tensorflow`` (whose import then finds the runtime running).
    """
    logical_cpus = positive_int("logical_cpus", logical_cpus)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with fd2_captured():
        import tensorflow as tf

        have = _logical_cpu_count(tf)
        if have != logical_cpus:
            cpu = tf.config.list_physical_devices("CPU")[0]
            try:
                tf.config.set_logical_device_configuration(
                    cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
            except RuntimeError as error:  # "Virtual devices cannot be modified after ..."
                raise RuntimeError(
                    f"configure_tensorflow(logical_cpus={logical_cpus}): TensorFlow's runtime "
                    f"already started with {have} logical CPU(s), and its devices are fixed "
                    f"from then on. Restart the Python process (in Jupyter: the kernel) and call "
                    f"largemodels.configure_tensorflow first, before importing "
                    f"largemodels.tensorflow or largemodels.parity.") from error
    tf, _ = import_tensorflow()
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def multi_worker_strategy():
    """``tf.distribute.MultiWorkerMirroredStrategy()`` for a worker process, created quietly
    *before* TensorFlow's runtime starts (it must be: collective ops are configured at
    start-up), then the rest of :func:`import_tensorflow`. The cluster and this worker's place
    in it come from the ``TF_CONFIG`` environment variable. Call it first in the worker's
    program, before ``from largemodels import tensorflow``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with fd2_captured():
        import tensorflow as tf

        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import_tensorflow()
    return strategy
