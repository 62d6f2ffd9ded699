"""What hardware each framework sees."""
import importlib

from ._checks import one_of

_MODULES = {"pytorch": "largemodels.torch", "tensorflow": "largemodels.tensorflow"}


def device_report(frameworks=("pytorch", "tensorflow")):
    """Return ``{framework: [device description, ...]}`` for the named frameworks.

    Each framework is imported through this package, so TensorFlow is configured (quiet,
    GPU memory growth on) before it sees a device.
    """
    if isinstance(frameworks, str):
        frameworks = (frameworks,)
    report = {}
    for name in frameworks:
        one_of("frameworks", name, set(_MODULES))
        report[name] = importlib.import_module(_MODULES[name]).devices()
    return report
