"""Real-browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Nothing is downloaded: Chromium is the system's (``apt-get install chromium``), found at
``/usr/bin/chromium`` or at ``$CHROMIUM``. Every page runs with the network cut off: a
request to any host but the live server's is aborted and recorded, so a test can assert
that a page needs nothing from outside.

One browser serves all the tests of this package (per xdist worker); each test gets a fresh
context, so cookies and storage never leak between tests. ``live_server`` makes every test
here transactional, so the server thread sees what the test writes and the other way round.

Set ``BROWSER_SCREENSHOTS=/some/dir`` to keep screenshots of the pages the tests check.
"""

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# How long an action or an assertion waits: ample for a two-core machine busy with other tests.
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real Chromium against the live server")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def browser():
    """Headless Chromium, shared by this package's tests, closed once they are done.

    While Playwright runs, its event loop counts as running in the test's thread, so Django
    would refuse every ORM call made there (pytest-django's database setup and flush
    included) with SynchronousOnlyOperation. The ORM calls made here are plain synchronous
    ones, so the check is lifted for exactly as long as Playwright runs, not for the rest of
    the suite.
    """
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package or set CHROMIUM.")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@dataclass
class Offline:
    """What the page tried to reach beyond the live server, and the script errors it raised."""

    external_requests: list = field(default_factory=list)
    page_errors: list = field(default_factory=list)


@pytest.fixture
def offline():
    return Offline()


@pytest.fixture
def page(browser, live_server, offline):
    """A page in a fresh context whose only reachable host is the live server."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)

    def cut_off(route):
        offline.external_requests.append(route.request.url)
        route.abort("internetdisconnected")

    # Every URL but the live server's; the browser matches the pattern itself, so the
    # server's own requests are not stopped on their way (which would slow every page).
    context.route(re.compile(rf"^(?!{re.escape(live_server.url)}/)"), cut_off)
    page = context.new_page()
    page.on("pageerror", lambda error: offline.page_errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, name)`` saves a PNG of the page when ``BROWSER_SCREENSHOTS`` names a folder."""
    folder = os.environ.get("BROWSER_SCREENSHOTS")

    def take(page, name, *, full_page=True):
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)

    return take
