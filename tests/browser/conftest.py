"""The built book in a real browser: Debian's Chromium, driven by Playwright.

Run by ``make test-browser`` (part of ``make test``) after ``make book``. The site is served
from ``_build/html`` on loopback, as a reader's web server would serve it. Without Chromium,
Playwright or a built book these tests are skipped with the reason, unless
``REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""
import os

import pytest

from book_site import Visit, launch, missing, serve


def pytest_collection_modifyitems(config, items):
    reason = missing()
    if reason is None:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"browser tests required (REQUIRE_BROWSER=1), but {reason}")
    for item in items:
        item.add_marker(pytest.mark.skip(reason=f"browser tests skipped: {reason}"))


@pytest.fixture(scope="session")
def site_url():
    """The book, served from _build/html on 127.0.0.1 for the whole session."""
    with serve() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile: empty localStorage, as on a reader's first visit."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def visit(context, site_url):
    return Visit(context, site_url)
