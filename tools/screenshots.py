"""PNGs of the built book for a person to look at: one page per chapter, light and dark.

    make screenshots        (after `make book`; needs Chromium and Playwright, as tests/browser)

For each page: its top, its first framework tab set, its first figure and its first exercise
with the solution opened, at 1280 x 900, into _build/screenshots/<page>-<mode>-<part>.png.
Look for code that overflows, figures unreadable on a dark background, labels colliding.
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "browser"))
from book_site import ROOT, launch, missing, serve  # noqa: E402

PAGES = [
    "chapters/01_background/1_1_what_makes_a_model_large.html",
    "chapters/02_core_concepts/2_3_loss_functions.html",
    "chapters/03_core_algorithms/3_4_attention_and_transformers.html",
    "chapters/04_code_examples/4_4_language_model.html",
    "chapters/05_trends_and_challenges/5_4_interpretability.html",
    "chapters/06_faq/6_1_faq.html",
    "chapters/appendix/glossary.html",
]
PARTS = {  # part of the page -> the element scrolled to the top of the window
    "top": None,
    "tabs": ".framework-tabs",
    "figure": ".cell_output img",
    "exercise": "div.exercise",
}
OUT = ROOT / "_build" / "screenshots"


def shoot(page, url, name):
    page.goto(url, wait_until="load")
    page.evaluate("async () => window.MathJax?.startup?.promise")
    saved = []
    for part, selector in PARTS.items():
        if selector:
            target = page.locator(selector).first
            if not target.count():
                continue
            if part == "exercise":
                page.locator("div.solution .admonition-title").first.click()
            page.evaluate("s => document.querySelector(s).scrollIntoView()", selector)
            page.wait_for_timeout(300)
        path = OUT / f"{name}-{part}.png"
        page.screenshot(path=path)
        saved.append(path)
    return saved


def main():
    reason = missing()
    if reason:
        sys.exit(f"make screenshots: {reason}")
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with serve() as site, sync_playwright() as playwright:
        browser = launch(playwright)
        for mode in ("light", "dark"):
            context = browser.new_context(viewport={"width": 1280, "height": 900},
                                          color_scheme=mode)
            page = context.new_page()
            for path in PAGES:
                stem = pathlib.Path(path).stem
                for saved in shoot(page, site + path, f"{stem}-{mode}"):
                    print(saved.relative_to(ROOT))
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
