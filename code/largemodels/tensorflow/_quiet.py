"""Import TensorFlow quietly, in exact float32, and let it share a GPU.

The code lives in the framework-neutral :mod:`largemodels._tensorflow_runtime`, so that
``largemodels.configure_tensorflow`` can set TensorFlow's devices before this subpackage's
import starts the runtime; see that module for why descriptor 2 is captured and TF32 is off.
"""
from .._tensorflow_runtime import import_tensorflow

__all__ = ["import_tensorflow"]
