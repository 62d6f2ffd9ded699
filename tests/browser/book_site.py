"""The built book, served on loopback, and a browser tab that records what a page does."""
import contextlib
import functools
import http.server
import os
import pathlib
import shutil
import threading
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Console errors the pages raise by themselves, upstream, and why each is harmless:
KNOWN_CONSOLE_ERRORS = {
    # pydata-sphinx-theme 0.17 reads the theme mode from empty localStorage on a first
    # visit, logs this and falls back to "auto", which is what we want
    # (pydata/pydata-sphinx-theme#1635).
    "Got invalid theme mode",
}
TIMEOUT_MS = 90_000  # generous: a loaded CI machine is slow, a broken page never loads


def chromium_path():
    """The system browser: $CHROMIUM, else the first of CHROMIUM_NAMES on the PATH; or None."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def missing():
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (it is in requirements-lock.txt: `make venv`)"
    if chromium_path() is None:
        return "no Chromium on the PATH (Debian: `apt-get install chromium`; or set $CHROMIUM)"
    if not (SITE / "index.html").exists():
        return "the book is not built (`make book`)"
    return None


def launch(playwright):
    """The system's Chromium, headless, through Playwright (no browser download)."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory=SITE):
    """Serve ``directory`` on 127.0.0.1 (a free port) while the block runs; yield its URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class Visit:
    """A browser tab that records what a page asks of the network and of the console."""

    def __init__(self, context, site_url):
        self.site_host = urllib.parse.urlsplit(site_url).netloc
        self.external, self.errors = [], []
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _route(self, route):
        url = urllib.parse.urlsplit(route.request.url)
        if url.scheme in ("data", "blob") or url.netloc == self.site_host:
            route.continue_()
        else:
            self.external.append(route.request.url)
            route.abort()

    def unexpected_errors(self):
        """Console and page errors, less the known upstream ones."""
        return [e for e in self.errors if not any(k in e for k in KNOWN_CONSOLE_ERRORS)]

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console: {message.text}")
