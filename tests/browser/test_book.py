"""What a reader of the HTML book sees, checked in Chromium against the built site.

One pass loads every page and records its math, the requests it makes, its console errors
and its launch links; the tests below each judge one of those. Further tests click the
framework tabs, the solutions and the search box as a reader would.
"""
import json
import pathlib
import re

import pytest
import yaml

from book_site import ROOT, SITE, Visit

PAGES = sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html")
               if not {"_static", "_sources", "_images"} & set(p.relative_to(SITE).parts)
               and 'http-equiv="Refresh"' not in p.read_text()[:2000])  # not index.html
NOTEBOOKS = sorted(p.relative_to(ROOT) for p in (ROOT / "chapters").rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
INSPECT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const math = [...document.querySelectorAll(".math")];
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest("pre, code, script, style, mjx-container, textarea")) continue;
    if (/\\\\\\(|\\\\\\[|\\$\\$/.test(node.textContent)) raw.push(node.textContent.slice(0, 80));
  }
  return {
    mathjax: Boolean(window.MathJax && MathJax.version),
    formulas: math.length,
    untypeset: math.filter(m => !m.querySelector("mjx-container"))
                   .map(m => m.textContent.slice(0, 80)),
    tex_errors: [...document.querySelectorAll("mjx-merror")]
                   .map(m => m.getAttribute("data-mjx-error") || m.textContent.slice(0, 80)),
    undefined_macros: document.querySelectorAll(
        "mjx-container [style*='color: red'], mjx-container [style*='color:red']").length,
    raw_tex: raw,
    colab: [...document.querySelectorAll("a[href*='colab.research.google.com']")]
               .map(a => a.href),
  };
}"""


@pytest.fixture(scope="module")
def survey(browser, site_url):
    """Every page, loaded once: what it showed, requested and logged."""
    context = browser.new_context()
    visit, found = Visit(context, site_url), {}
    try:
        for page_path in PAGES:
            visit.external.clear()
            visit.errors.clear()
            visit.page.goto(site_url + page_path, wait_until="load")
            found[page_path] = inspect(visit.page)
            found[page_path]["external"] = list(visit.external)
            found[page_path]["errors"] = visit.unexpected_errors()
    finally:
        context.close()
    return found


def inspect(page, attempts=3):
    """INSPECT's findings; a page that redirects (index.html) is inspected where it lands."""
    for attempt in range(attempts):
        try:
            return page.evaluate(INSPECT)
        except Exception as error:  # playwright's Error; playwright may be absent here
            if "context was destroyed" not in str(error) or attempt == attempts - 1:
                raise
            page.wait_for_load_state("load")


def failing(survey, check):
    return {page: problem for page, info in survey.items() if (problem := check(info))}


def test_the_survey_saw_the_book(survey):
    assert len(survey) >= 60, sorted(survey)
    assert sum(info["formulas"] for info in survey.values()) > 500


def test_every_formula_is_typeset(survey):
    """MathJax ran, typeset every formula, with no TeX error and no undefined macro."""
    problems = failing(survey, lambda i: i["formulas"] and (
        (not i["mathjax"] and "MathJax never loaded") or i["untypeset"] or i["tex_errors"]
        or (i["undefined_macros"] and f"{i['undefined_macros']} undefined macros")))
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)[:3000]


def test_no_raw_tex_left_in_the_text(survey):
    problems = failing(survey, lambda i: i["raw_tex"])
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)[:3000]


def test_no_request_leaves_the_local_server(survey):
    """The book is self-contained: math, fonts and scripts come from the book itself."""
    problems = failing(survey, lambda i: sorted(set(i["external"])))
    assert not problems, json.dumps(problems, indent=1)[:3000]


def test_no_console_errors(survey):
    problems = failing(survey, lambda i: i["errors"])
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)[:3000]


def colab_link(notebook):
    owner_repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    owner_repo = owner_repo.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/main/{notebook}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_opens_this_pages_notebook(survey, notebook):
    page = str(notebook.with_suffix(".html"))
    assert page in survey, f"{page} was not built"
    assert set(survey[page]["colab"]) == {colab_link(notebook)}


def framework_runs(notebook):
    """The notebook's shown cells as a string, one letter each: P(yTorch), T(ensorFlow),
    c(ode, neutral), m(arkdown); e.g. "mcmPTcm"."""
    letters = []
    for cell in json.loads((ROOT / notebook).read_text())["cells"]:
        tags = cell["metadata"].get("tags", [])
        if "remove-cell" not in tags:
            letters.append("P" if "pytorch" in tags else "T" if "tensorflow" in tags
                           else cell["cell_type"][0])
    return "".join(letters)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_pair_is_one_tab_set(notebook):
    """Each run of adjacent cells with both frameworks ("PT", "PPTT", ...) is one tab set."""
    runs = re.findall(r"[PT]+", framework_runs(notebook))
    paired = [run for run in runs if set(run) == {"P", "T"}]
    html = (SITE / notebook.with_suffix(".html")).read_text()
    assert html.count('class="sd-tab-set framework-tabs') == len(paired)
    shown_cells = re.findall(r'class="cell tag_(?:pytorch|tensorflow)', html)
    assert len(shown_cells) == len("".join(runs)) > 0, "every framework cell, shown once"


def shown(page, selector):
    return [page.locator(selector).nth(i).is_visible()
            for i in range(page.locator(selector).count())]


def test_framework_choice_switches_every_pair_and_persists(visit, site_url):
    page = visit.page
    chapter = site_url + "chapters/03_core_algorithms/"
    page.goto(chapter + "3_1_neural_networks.html")
    torch_cells, tf_cells = ".framework-tabs .tag_pytorch", ".framework-tabs .tag_tensorflow"
    assert len(shown(page, torch_cells)) >= 3
    assert all(shown(page, torch_cells)) and not any(shown(page, tf_cells)), "PyTorch first"

    page.locator(".framework-tabs label[data-sync-id='tensorflow']").first.click()
    assert all(shown(page, tf_cells)) and not any(shown(page, torch_cells))
    stored = page.evaluate("() => localStorage.getItem('largemodels-framework')")
    assert stored == "tensorflow"

    page.goto(chapter + "3_2_cnns.html")  # another page opens on the reader's choice
    assert all(shown(page, tf_cells)) and not any(shown(page, torch_cells))
    page.reload()
    assert all(shown(page, tf_cells)) and not any(shown(page, torch_cells))

    page.locator(".framework-tabs label[data-sync-id='pytorch']").last.click()
    assert all(shown(page, torch_cells)) and not any(shown(page, tf_cells))
    assert not visit.unexpected_errors()


def test_solutions_stay_hidden_until_clicked(visit, site_url):
    page = visit.page
    page.goto(site_url + "chapters/01_background/1_1_what_makes_a_model_large.html")
    exercises = page.locator("div.exercise")
    solutions = page.locator("div.solution")
    assert exercises.count() == solutions.count() == 4
    assert exercises.first.locator(".admonition-title").inner_text().startswith("Exercise")
    first_body = solutions.first.locator("p").nth(1)
    assert not first_body.is_visible()
    solutions.first.locator(".admonition-title").click()
    first_body.wait_for(state="visible", timeout=5000)
    assert not solutions.nth(1).locator("p").nth(1).is_visible(), "only the clicked one opens"


@pytest.mark.parametrize("query", ["backpropagation", "transformer", "反向传播", "训练"])
def test_search_finds_english_and_chinese_terms(visit, site_url, query):
    page = visit.page
    page.goto(f"{site_url}search.html?q={query}")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(timeout=30_000)
    assert results.count() > 0
    assert not visit.external
