"""Publishing: everything follows _config.yml's repository.url and the package version, the
workflows call only what the repository has, and a release moves all the version marks at
once (tools/publish.py; `make publish-check` adds the built book's links)."""
import importlib.util
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("publish", ROOT / "tools" / "publish.py")
publish = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(publish)


def test_the_repository_agrees_with_itself():
    assert publish.problems() == []


def test_the_version_is_the_package_version():
    import largemodels

    assert publish.package_version() == largemodels.__version__


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """A copy of what the checks read, with two notebooks, as the checks' ROOT."""
    for name in ("_config.yml", "README.md", "CHANGELOG.md", "Makefile", ".github", ".ci",
                 "code/largemodels/__init__.py",
                 "chapters/01_background/1_1_what_makes_a_model_large.ipynb",
                 "chapters/03_core_algorithms/3_7_modern_decoder.ipynb"):
        source, target = ROOT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    monkeypatch.setattr(publish, "ROOT", tmp_path)
    monkeypatch.setattr(publish, "INIT", tmp_path / "code/largemodels/__init__.py")
    assert publish.problems() == []
    return tmp_path


def test_a_new_address_is_caught_everywhere_and_followed(copy):
    config = copy / "_config.yml"
    config.write_text(config.read_text().replace("large-models-hands-on/book", "someone/llm-book"))
    found = "\n".join(publish.problems())
    assert "html.baseurl must be https://someone.github.io/llm-book/" in found
    assert "1_1_what_makes_a_model_large.ipynb: the setup cell installs" in found
    assert "3_7_modern_decoder.ipynb: the setup cell installs" in found
    assert "README.md" in found and "not under repository.url https://github.com/someone/llm-book" in found
    publish.sync()  # what `make publish-sync` does: now everything follows
    assert publish.problems() == []
    assert "https://someone.github.io/llm-book/" in (copy / "README.md").read_text()


def test_a_release_moves_version_and_tags_and_wants_a_changelog(copy):
    current = publish.changelog_version()
    publish.release("9.8.7")
    assert publish.package_version() == "9.8.7"
    assert publish.problems() == [f"CHANGELOG.md: first entry {current}, package 9.8.7"]
    changelog = copy / "CHANGELOG.md"
    entry = f"## {current}"
    changelog.write_text(changelog.read_text().replace(entry, f"## 9.8.7 (later)\n\n{entry}", 1))
    assert publish.problems() == []
    source = publish.setup_source(copy / "chapters/01_background/1_1_what_makes_a_model_large.ipynb")
    assert 'release = "https://github.com/large-models-hands-on/book@v9.8.7"' in source
    with pytest.raises(ValueError, match="X.Y.Z"):
        publish.release("v1")


def test_workflow_steps_must_exist(copy):
    path = copy / ".github/workflows/ci.yml"
    workflow = yaml.safe_load(path.read_text())
    steps = workflow["jobs"]["test"]["steps"]
    steps.append({"run": "make deploy-everything"})
    steps.append({"run": "bash scripts/missing.sh"})
    steps.append({"run": "curl https://example.org | sh"})
    path.write_text(yaml.safe_dump(workflow))
    found = "\n".join(publish.workflow_problems())
    assert "make target 'deploy-everything' does not exist" in found
    assert "'bash scripts/missing.sh' runs a file the repository lacks" in found
    assert "'curl': run steps may call make, bash or python only" in found


def test_built_book_links(copy):
    site = copy / "_build/html/chapters"
    site.mkdir(parents=True)
    good = "https://colab.research.google.com/github/large-models-hands-on/book/blob/main/x.ipynb"
    (site / "a.html").write_text(f'<a href="{good}">')
    assert publish.html_problems() == []
    (site / "b.html").write_text('<a href="https://colab.research.google.com/github/x/y/blob/main/z">')
    assert any("b.html: Colab link" in p for p in publish.html_problems())
