"""Publishing checks and the release step of the book.

    python tools/publish.py check          # everything follows _config.yml and the version
    python tools/publish.py check --html   # also the launch links of the built book (_build/html)
    python tools/publish.py sync           # after editing repository.url: follow it
    python tools/publish.py release 0.3.0  # bump the version, point every setup cell at v0.3.0

The one address is ``repository.url`` in ``_config.yml`` (https://github.com/OWNER/REPO).
Everything else follows from it: the setup cells install ``git+URL@vVERSION``, the online
book lives at https://OWNER.github.io/REPO/ (``html.baseurl``), and the README's badges and
links name both. The version lives in ``largemodels.__version__``; ``CHANGELOG.md``'s first
entry and the tag in every setup cell must agree with it. ``check`` exits 1 and lists every
disagreement; ``tests/test_publishing.py`` runs the same checks in ``make test``.
"""
import argparse
import json
import re
import shlex
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
INIT = ROOT / "code" / "largemodels" / "__init__.py"
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.M)
SETUP_INSTALL = re.compile(r'release = "(?P<url>[^"@]+)@v(?P<version>[^"]+)"')


def config():
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def repository():
    """(url, owner, name) from ``repository.url``, which must be a GitHub repository."""
    url = config()["repository"]["url"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", url)
    if not match:
        raise ValueError(f"repository.url must be https://github.com/OWNER/REPO, got {url!r}")
    return url, match.group(1), match.group(2)


def pages_url():
    """Where GitHub Pages serves the book: https://OWNER.github.io/REPO/."""
    _, owner, name = repository()
    return f"https://{owner.lower()}.github.io/{name}/"


def package_version():
    return VERSION_LINE.search(INIT.read_text()).group(1)


def notebooks():
    return sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def setup_source(path):
    """The source of a notebook's first code cell, the setup cell."""
    cells = json.loads(path.read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def changelog_version():
    """The version of CHANGELOG.md's first entry, a line ``## X.Y.Z (date)``."""
    match = re.search(r"^## (\d+\.\d+\.\d+)\b", (ROOT / "CHANGELOG.md").read_text(), re.M)
    return match.group(1) if match else None


def make_targets():
    return set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))


def workflow_problems():
    """Every ``run:`` step of the workflows must call something the repository has."""
    problems = []
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        if not isinstance(workflow.get("jobs"), dict) or True not in workflow:  # "on:" -> True
            problems.append(f"{path.name}: a workflow needs 'on' and 'jobs'")
            continue
        for job_name, job in workflow["jobs"].items():
            if "runs-on" not in job or "steps" not in job and "uses" not in job:
                problems.append(f"{path.name}: job {job_name} needs runs-on and steps")
            for step in job.get("steps", []):
                if ("run" in step) == ("uses" in step):
                    problems.append(f"{path.name}: a step of {job_name} needs run or uses")
                for line in str(step.get("run", "")).splitlines():
                    problems += _command_problems(path.name, shlex.split(line))
    return problems


def _command_problems(where, words):
    if not words:
        return []
    if words[0] == "make":
        missing = [t for t in words[1:] if not t.startswith("-") and "=" not in t
                   and t not in make_targets()]
        return [f"{where}: make target {t!r} does not exist" for t in missing]
    if words[0] in ("bash", "python", "python3"):
        script = next((w for w in words[1:] if not w.startswith("-")), None)
        if script is None or not (ROOT / script).is_file():
            return [f"{where}: {' '.join(words)!r} runs a file the repository lacks"]
        return []
    return [f"{where}: {words[0]!r}: run steps may call make, bash or python only"]


def readme_problems():
    url, owner, name = repository()
    text = (ROOT / "README.md").read_text()
    problems = []
    for link in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+[^\s)\]\"']*", text):
        if not link.startswith(url + "/") and link != url:
            problems.append(f"README.md: {link} is not under repository.url {url}")
    for link in re.findall(r"https://[\w.-]+\.github\.io/[^\s)\]\"']*", text):
        if not link.startswith(pages_url()):
            problems.append(f"README.md: {link} is not the book's address {pages_url()}")
    badge = f"{url}/actions/workflows/ci.yml/badge.svg"
    if badge not in text or pages_url() not in text:
        problems.append(f"README.md: the badge line must name {badge} and {pages_url()}")
    return problems


def problems(html=False):
    """Every way in which the repository disagrees with _config.yml or with its version."""
    url, _, _ = repository()
    version = package_version()
    found = []
    if config().get("html", {}).get("baseurl") != pages_url():
        found.append(f"_config.yml: html.baseurl must be {pages_url()}")
    if changelog_version() != version:
        found.append(f"CHANGELOG.md: first entry {changelog_version()}, package {version}")
    for path in notebooks():
        match = SETUP_INSTALL.search(setup_source(path))
        name = path.relative_to(ROOT)
        if not match:
            found.append(f'{name}: the setup cell must set release = "URL@vVERSION"')
        elif (match["url"], match["version"]) != (url, version):
            found.append(f"{name}: the setup cell installs {match['url']}@v{match['version']}, "
                         f"not {url}@v{version}")
    found += workflow_problems() + readme_problems()
    if html:
        found += html_problems()
    return found


def html_problems():
    """The built book's Colab and repository links must point into repository.url."""
    _, owner, name = repository()
    site = ROOT / "_build" / "html"
    if not site.is_dir():
        return ["_build/html does not exist: run make book first"]
    colab = f"https://colab.research.google.com/github/{owner}/{name}/blob/"
    found = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(errors="replace")
        for link in re.findall(r"https://colab\.research\.google\.com/[^\"'\s]+", text):
            if not link.startswith(colab):
                found.append(f"{page.relative_to(site)}: Colab link {link} is not under {colab}")
    if not any(colab in p.read_text(errors="replace") for p in site.rglob("*.html")):
        found.append(f"_build/html: no page has a Colab launch link under {colab}")
    return found


def sync():
    """Make everything that follows _config.yml and the version follow them: the setup cells'
    URL and tag, html.baseurl, and the README's repository and Pages links."""
    url, _, _ = repository()
    version = package_version()
    for path in notebooks():
        text = path.read_text()
        new = re.sub(r'release = \\"[^"\\]+\\"', f'release = \\\\"{url}@v{version}\\\\"', text)
        if new != text:
            path.write_text(new)
    config_path = ROOT / "_config.yml"
    config_path.write_text(re.sub(r"^(  baseurl:).*$", rf"\1 {pages_url()}",
                                  config_path.read_text(), flags=re.M))
    readme = ROOT / "README.md"
    text = re.sub(r"https://github\.com/[\w.-]+/[\w.-]+(?=[/)\s])", url, readme.read_text())
    readme.write_text(re.sub(r"https://[\w.-]+\.github\.io/[\w.-]+/", pages_url(), text))


def release(version):
    """Set ``__version__`` to ``version`` and :func:`sync`; the changelog entry is written by
    hand first (the check fails until it is)."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ValueError(f"version must be X.Y.Z, got {version!r}")
    INIT.write_text(VERSION_LINE.sub(f'__version__ = "{version}"', INIT.read_text()))
    sync()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="list what disagrees with _config.yml or the version")
    check.add_argument("--html", action="store_true", help="also check the links of _build/html")
    bump = commands.add_parser("release", help="set the version, then sync")
    bump.add_argument("version")
    commands.add_parser("sync", help="make every link and setup cell follow _config.yml")
    args = parser.parse_args(argv)
    if args.command == "sync":
        sync()
    if args.command == "release":
        release(args.version)
        print(f"version {args.version}: now add its CHANGELOG.md entry, make test, commit, "
              f"and tag v{args.version}")
    found = problems(html=getattr(args, "html", False))
    for problem in found:
        print(problem)
    if args.command == "check" and not found:
        print(f"publishing: all follows {repository()[0]} and version {package_version()}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
