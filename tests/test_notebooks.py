"""Hygiene of the book's notebooks: the table of contents, stored outputs, conventions.

nbval (``make test``) re-runs every notebook and compares outputs; these checks cover what it
does not: that what is stored came from one clean top-to-bottom run and follows STYLE.md.
"""
import json
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
NOTEBOOKS = sorted(p for p in CHAPTERS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
NOISE = re.compile(
    r"absl::|cuda_|cudart|cpu_feature_guard|oneDNN|TF_ENABLE|I0000|E0000|W0000"  # TF start-up
    r"|/ipykernel_\d+/|0x[0-9a-f]{6,}|Traceback|Warning:"  # tracebacks, warnings, addresses
    r"|/work/|/root/|/home/|/tmp/|site-packages")  # absolute paths
FRAMEWORK_IMPORT = {"pytorch": "from largemodels import torch as lm",
                    "tensorflow": "from largemodels import tensorflow as lm"}


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return found


def load(path):
    return json.loads(path.read_text())


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def output_text(output):
    if "text" in output:
        return "".join(output["text"])
    return "".join("".join(v) if isinstance(v, list) else str(v)
                   for k, v in output.get("data", {}).items() if k.startswith("text/"))


def repository_url():
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def test_there_are_notebooks():
    assert NOTEBOOKS


def test_toc_and_files_agree():
    listed = toc_files()
    for entry in listed:
        candidates = [ROOT / f"{entry}{ext}" for ext in ("", ".md", ".ipynb")]
        assert any(c.is_file() for c in candidates), f"_toc.yml lists {entry}, which does not exist"
    listed_notebooks = {(ROOT / entry).with_suffix(".ipynb") for entry in listed}
    for nb in NOTEBOOKS:
        assert nb.with_suffix(".ipynb") in listed_notebooks, f"{nb.relative_to(ROOT)} is not in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_come_from_one_clean_run(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    cells = code_cells(nb)
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: not run once, top to bottom: {counts}"
    for cell in cells:
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"{path.name}: stored error"
            assert output.get("name") != "stderr", f"{path.name}: stderr output: {output_text(output)[:200]}"
            match = NOISE.search(output_text(output))
            assert not match, f"{path.name}: machine noise {match.group(0)!r} in an output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_first_and_matches_config(path):
    first = code_cells(load(path))[0]
    source = "".join(first["source"])
    assert "remove-cell" in first["metadata"].get("tags", []), f"{path.name}: setup cell not hidden"
    assert '"google.colab" in sys.modules' in source, f"{path.name}: first code cell is not the setup cell"
    assert f'release = "{repository_url()}@v' in source and "git+{release}" in source, f"{path.name}: setup cell URL differs from _config.yml"
    # Colab has NumPy and matplotlib loaded already: never upgrade, and check for a needed restart
    installs = [line for line in source.splitlines() if "pip install" in line]
    assert installs and not any(re.search(r"\s(-U|--upgrade)\b", line) for line in installs), (
        f"{path.name}: the setup cell must install without upgrading")
    assert "largemodels.check_loaded_versions()" in source, f"{path.name}: setup cell lacks the restart check"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_both_frameworks_paired(path):
    cells = code_cells(load(path))[1:]
    if not cells:
        return
    tagged = {name: [c for c in cells if name in c["metadata"].get("tags", [])] for name in FRAMEWORK_IMPORT}
    assert tagged["pytorch"] and tagged["tensorflow"], f"{path.name}: needs PyTorch and TensorFlow cells"
    for name, cells_of_framework in tagged.items():
        other = "tensorflow" if name == "pytorch" else "pytorch"
        for cell in cells_of_framework:
            source = "".join(cell["source"])
            assert FRAMEWORK_IMPORT[name] in source, f"{path.name}: a {name} cell lacks `{FRAMEWORK_IMPORT[name]}`"
            assert FRAMEWORK_IMPORT[other] not in source, f"{path.name}: a {name} cell imports {other}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_ignored_outputs_assert_their_claim(path):
    for cell in code_cells(load(path)):
        source = "".join(cell["source"])
        if "NBVAL_IGNORE_OUTPUT" in source:
            assert source.lstrip().startswith("# NBVAL_IGNORE_OUTPUT"), f"{path.name}: marker not first"
            assert "assert " in source, f"{path.name}: a cell with ignored output asserts nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_title_then_summary_and_exercises(path):
    fences = re.compile(r"^(`{3,}).*?^\1\s*$", re.M | re.S)  # code in markdown, not headings
    markdown = [fences.sub("", "".join(c["source"])) for c in load(path)["cells"]
                if c["cell_type"] == "markdown"]
    assert markdown and markdown[0].startswith("# "), f"{path.name}: first cell must be the # title"
    titles = [line for text in markdown for line in text.splitlines() if re.match(r"# \S", line)]
    assert len(titles) == 1, f"{path.name}: one H1 only, got {titles}"
    headings = [line for text in markdown for line in text.splitlines() if line.startswith("## ")]
    assert "## Summary" in headings and "## Exercises" in headings, f"{path.name}: needs Summary and Exercises"


PAGE_WIDTH = 88  # [tool.ruff] line-length: what the HTML page shows without a scroll bar


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_fits_the_page(path):
    too_long = [line for cell in code_cells(load(path))
                for line in "".join(cell["source"]).splitlines() if len(line) > PAGE_WIDTH]
    assert not too_long, (f"{path.name}: {len(too_long)} code lines longer than {PAGE_WIDTH} "
                          f"characters (run `make format`, then wrap what remains): {too_long[:3]}")
