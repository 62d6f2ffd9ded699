"""Checks on the Python environment a notebook runs in (Colab in particular).

Colab imports NumPy and matplotlib before the first cell runs. If ``pip`` then installs a
different version of a package that is already imported, the session keeps the old module in
memory while the files on disk are new, and fails later with errors such as ``numpy.dtype size
changed``. The only cure is to restart the session; :func:`check_loaded_versions` says so
plainly, right after the install.
"""
import importlib.metadata
import sys

# module name -> distribution name, for the packages the book imports
_DISTRIBUTIONS = {"numpy": "numpy", "matplotlib": "matplotlib", "scipy": "scipy",
                  "sklearn": "scikit-learn", "ml_dtypes": "ml_dtypes", "torch": "torch",
                  "tensorflow": "tensorflow", "keras": "keras"}


def _public(version):
    return str(version).split("+")[0]  # '2.11.0+cu128' -> '2.11.0'


def stale_modules(modules=None):
    """``[(module, loaded version, installed version)]`` for imported modules pip has replaced.

    ``modules`` maps module names to loaded module objects (default: ``sys.modules``).
    """
    modules = sys.modules if modules is None else modules
    stale = []
    for name, distribution in _DISTRIBUTIONS.items():
        module = modules.get(name)
        loaded = getattr(module, "__version__", None)
        if loaded is None:
            continue
        try:
            installed = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            # tensorflow-cpu and similar variants install the module under another name
            continue
        if _public(loaded) != _public(installed):
            stale.append((name, str(loaded), installed))
    return stale


def check_loaded_versions(modules=None):
    """Raise ``RuntimeError`` asking for a restart if pip replaced an imported package."""
    stale = stale_modules(modules)
    if stale:
        changes = ", ".join(f"{name} {old} -> {new}" for name, old, new in stale)
        raise RuntimeError(
            f"The install replaced packages this session had already imported ({changes}). "
            "Restart the session (Colab: Runtime > Restart session), then run the notebook "
            "again; the setup cell will find everything installed and go on.")
