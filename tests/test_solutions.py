"""Every exercise has a written solution, and every line of solution code runs.

An exercise is a MyST ``{exercise}`` block in a notebook's markdown, labelled
``ex-<chapter>-<section>-<n>``; its ``{solution}`` (a dropdown in the HTML book) follows it.
Each ```` ```python ```` fence inside a solution is a complete program: it is run here as
written, in a fresh namespace and an empty working directory, so the code a reader copies is
the code that was checked. The solutions' asserts are the evidence for their claims.
"""
import json
import os
import pathlib
import re

import pytest
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
PAGE_WIDTH = 88
# An opening colon fence (3 or more colons) with its directive, and what follows on the line.
FENCE_OPEN = re.compile(r"^(?P<colons>:{3,})\{(?P<name>[\w-]+)\}\s*(?P<arg>.*)$")
PYTHON_FENCE = re.compile(r"^(?P<ticks>`{3,})python\s*$")


def section_of(path):
    """``1_1_what_makes….ipynb`` -> ``"1-1"``."""
    chapter, section = path.name.split("_")[:2]
    return f"{chapter}-{section}"


def markdown_after_exercises(path):
    """The markdown from the ``## Exercises`` heading to the end of the notebook."""
    cells = json.loads(path.read_text())["cells"]
    text = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    start = next((i for i, t in enumerate(text) if re.search(r"^## Exercises", t, re.M)), None)
    if start is None:
        return ""
    first = text[start][re.search(r"^## Exercises", text[start], re.M).start():]
    return "\n\n".join([first, *text[start + 1:]])


def directives(markdown):
    """Top-level colon-fence directives: a list of (name, argument, options, body lines)."""
    found, lines, i = [], markdown.splitlines(), 0
    while i < len(lines):
        opened = FENCE_OPEN.match(lines[i])
        if not opened:
            i += 1
            continue
        closing, body, i = opened["colons"], [], i + 1
        while i < len(lines) and lines[i].rstrip() != closing:
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{{{opened['name']}}} {opened['arg']} is never closed")
        nested = [line for line in body if (inner := FENCE_OPEN.match(line))
                  and len(inner["colons"]) >= len(closing)]
        assert not nested, (f"{{{opened['name']}}} {opened['arg']}: a nested directive needs "
                            f"fewer colons than its parent's {len(closing)}: {nested}")
        options = dict(m.groups() for line in body
                       if (m := re.match(r"^:([\w-]+):\s*(.*)$", line)))
        found.append((opened["name"], opened["arg"].strip(), options, body))
        i += 1
    return found


def python_blocks(body):
    """The ```python fences in a directive's body, as source strings."""
    blocks, i = [], 0
    while i < len(body):
        opened = PYTHON_FENCE.match(body[i].strip())
        if not opened:
            i += 1
            continue
        indent = len(body[i]) - len(body[i].lstrip())
        code, i = [], i + 1
        while body[i].strip() != opened["ticks"]:
            code.append(body[i][indent:])
            i += 1
        blocks.append("\n".join(code) + "\n")
        i += 1
    return blocks


def exercises_and_solutions(path):
    found = directives(markdown_after_exercises(path))
    exercises = [options.get("label") for name, _, options, _ in found if name == "exercise"]
    solutions = {arg: body for name, arg, _, body in found if name == "solution"}
    return exercises, solutions, found


def solution_code():
    return list(_solution_code())


def _solution_code():
    for path in NOTEBOOKS:
        _, solutions, _ = exercises_and_solutions(path)
        for label, body in solutions.items():
            for k, code in enumerate(python_blocks(body)):
                yield pytest.param(path, label, code, id=f"{label}-{k + 1}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_a_solution(path):
    exercises, solutions, found = exercises_and_solutions(path)
    assert len(exercises) >= 3, f"{path.name}: exercises must be {{exercise}} blocks"
    expected = [f"ex-{section_of(path)}-{n}" for n in range(1, len(exercises) + 1)]
    assert exercises == expected, f"{path.name}: labels {exercises}, expected {expected}"
    assert sorted(solutions) == sorted(exercises), f"{path.name}: solutions {sorted(solutions)}"
    for name, arg, options, body in found:
        if name == "solution":
            assert options.get("class") == "dropdown", f"{path.name}: {arg} must be a dropdown"
            prose = [line for line in body if line.strip() and not line.startswith(":")]
            assert len(" ".join(prose)) > 80, f"{path.name}: {arg} has no written solution"
    order = [arg if name == "solution" else options.get("label") for name, arg, options, _ in found
             if name in ("exercise", "solution")]
    assert order == [label for e in exercises for label in (e, e)], (
        f"{path.name}: each solution must follow its exercise, got {order}")


@pytest.mark.parametrize("path, label, code", solution_code())
def test_solution_code_runs(path, label, code, tmp_path, monkeypatch):
    too_long = [line for line in code.splitlines() if len(line) > PAGE_WIDTH]
    assert not too_long, f"{label}: lines longer than {PAGE_WIDTH}: {too_long[:2]}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "tensorflow"))
    # One process runs PyTorch and TensorFlow solutions in turn; their thread pools fight
    # for the cores (a small PyTorch training ran 10x slower on 2 threads than on 1).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        exec(compile(code, f"{path.name}:{label}", "exec"), {"__name__": "__main__"})
    finally:
        torch.set_num_threads(threads)  # and undo a solution's own setting
