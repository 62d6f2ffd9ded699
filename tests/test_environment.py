"""The setup cell's restart check: it must notice a package that pip replaced after import."""
import importlib.metadata
import types

import numpy as np
import pytest

import largemodels
from largemodels.environment import check_loaded_versions, stale_modules


def test_current_session_is_consistent():
    assert stale_modules() == []
    check_loaded_versions()  # raises nothing


def test_replaced_package_is_reported():
    installed = importlib.metadata.version("numpy")
    old = types.SimpleNamespace(__version__="1.0.0")  # what was loaded before pip ran
    assert stale_modules({"numpy": old}) == [("numpy", "1.0.0", installed)]
    with pytest.raises(RuntimeError, match=r"numpy 1\.0\.0 -> .*Restart the session"):
        check_loaded_versions({"numpy": old})


def test_local_version_labels_are_ignored():
    loaded = types.SimpleNamespace(__version__=np.__version__ + "+cu128")
    assert stale_modules({"numpy": loaded}) == []


def test_exported():
    assert largemodels.check_loaded_versions is check_loaded_versions
