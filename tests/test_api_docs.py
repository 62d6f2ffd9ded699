"""The API reference (Appendix B, chapters/appendix/api): every public name has a docstring, and
every public module has a page that documents it with autodoc."""
import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "code" / "largemodels"
PAGES = ROOT / "chapters" / "appendix" / "api"

# Names in an __all__ that cannot carry a docstring, with the reason. Each is documented in the
# page text instead, which test_exempt_names_are_documented_on_their_page checks.
EXEMPT = {
    ("largemodels.torch", "FRAMEWORK"): "a str; the twins' __init__.py files only grow by "
                                        "appending, so index.md documents it with py:data",
    ("largemodels.tensorflow", "FRAMEWORK"): "as for largemodels.torch",
}


def public_modules():
    """Every module of the package whose dotted name has no part starting with "_", read from
    the file tree (so a new file counts before anyone imports it)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("largemodels",) + path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(part.startswith("_") for part in parts):
            names.append(".".join(parts))
    return names


MODULES = public_modules()


def own_docstring(obj):
    """The docstring written for ``obj`` itself: not one inherited from a base class, and not
    the signature that ``dataclasses`` puts in when the class has none."""
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
        if dataclasses.is_dataclass(obj) and doc and doc.startswith(obj.__name__ + "("):
            return ""
    else:
        doc = getattr(obj, "__doc__", None)
    return (doc or "").strip()


def attribute_doc(module_name, name):
    """The ``#:`` comment or the docstring after ``name = ...`` in the module's source, as
    Sphinx's autodoc reads it ("" if there is none)."""
    pycode = pytest.importorskip("sphinx.pycode")
    docs = pycode.ModuleAnalyzer.for_module(module_name).find_attr_docs()
    return "\n".join(docs.get(("", name), [])).strip()


def automodules():
    """{module name: page} for every automodule directive on the API pages."""
    found = {}
    for page in sorted(PAGES.glob("*.md")):
        for name in re.findall(r"automodule(?:::|\})\s+([\w.]+)", page.read_text()):
            assert name not in found, f"{name} is documented on {found[name]} and {page.name}"
            found[name] = page.name
    return found


def test_the_package_has_the_modules_this_test_expects():
    # A guard on the file walk itself: it must find the twins and skip private modules.
    assert {"largemodels", "largemodels.torch", "largemodels.tensorflow",
            "largemodels.torch.models", "largemodels.tensorflow.models"} <= set(MODULES)
    assert not any("._" in name for name in MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_every_name_in_all_has_a_docstring(module_name):
    module = importlib.import_module(module_name)
    assert own_docstring(module), f"{module_name} has no module docstring"
    missing = []
    for name in getattr(module, "__all__", []):
        if (module_name, name) in EXEMPT:
            continue
        obj = getattr(module, name)
        if inspect.ismodule(obj) or inspect.isclass(obj) or callable(obj):
            documented = own_docstring(obj)
        else:  # a constant: documented by a #: comment where it is defined
            documented = attribute_doc(module_name, name)
        if not documented:
            missing.append(name)
    assert missing == [], f"{module_name}.__all__ names without a docstring: {missing}"


def test_exempt_names_are_documented_on_their_page():
    index = (PAGES / "index.md").read_text()
    for module_name, name in EXEMPT:
        module = importlib.import_module(module_name)
        assert name in module.__all__, f"stale exemption: {module_name}.{name}"
        pattern = (rf"automodule::\s+{re.escape(module_name)}\s*\n\s*\n"
                   rf"\.\. py:data:: {name}\n\s+:value: {re.escape(repr(getattr(module, name)))}")
        assert re.search(pattern.replace("'", '"'), index), f"index.md lacks {module_name}.{name}"


def test_every_public_module_has_a_page_and_every_page_a_module():
    documented = automodules()
    assert sorted(set(MODULES) - set(documented)) == [], "public modules without an API page"
    assert sorted(set(documented) - set(MODULES)) == [], "API pages for modules that do not exist"


def test_the_index_lists_every_name_of_the_twins():
    import largemodels
    import largemodels.tensorflow
    import largemodels.torch

    index = (PAGES / "index.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \|", index, flags=re.MULTILINE)
    assert rows == largemodels.torch.__all__ == largemodels.tensorflow.__all__
    for name in largemodels.__all__:
        assert re.search(rf"`~largemodels(\.\w+)*\.{name}`", index), f"index.md lacks {name}"


def test_every_api_page_is_in_the_table_of_contents():
    # only_build_toc_files: a page missing from _toc.yml would silently not be built.
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = set()

    def walk(entries):
        for entry in entries:
            files.add(entry.get("file"))
            walk(entry.get("sections", []))

    for part in toc["parts"]:
        walk(part["chapters"])
    pages = {f"chapters/appendix/api/{page.stem}" for page in PAGES.glob("*.md")}
    assert sorted(pages - files) == []
