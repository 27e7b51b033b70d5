"""A real headless Chromium for the browser tests (Debian's ``chromium`` and ``chromium-driver``).

Without the browser the tests skip, unless ``LIVECLASS_REQUIRE_BROWSER=1`` (set in CI), which
turns a missing browser into a failure so the tests can never silently stop running.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LIVECLASS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LIVECLASS_CHROMEDRIVER", "/usr/bin/chromedriver")
#: Where screenshots go: docs/_static/screenshots when refreshing the docs, else a temporary folder.
SCREENSHOT_DIR = os.environ.get("LIVECLASS_SCREENSHOT_DIR")
#: axe-core's axe.min.js (npm install axe-core; .ci/run installs it into .ci/node).
AXE_JS = os.environ.get("LIVECLASS_AXE_JS") or str(
    Path(__file__).resolve().parent.parent / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js")
#: Finds axe-core's serious and critical violations on the page, as "rule: element, element".
AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(results => done(results.violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))));
"""


def browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (test extra)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(path)):
            return f"{path} not found (apt install chromium chromium-driver)"
    return None


def require_browser() -> None:
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("LIVECLASS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"LIVECLASS_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def axe_source() -> str:
    """axe-core's script; missing, the test skips, or fails under ``LIVECLASS_REQUIRE_BROWSER=1``."""
    if not os.path.exists(AXE_JS):
        reason = f"{AXE_JS} not found (npm install axe-core, or set LIVECLASS_AXE_JS)"
        if os.environ.get("LIVECLASS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LIVECLASS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return Path(AXE_JS).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="liveclass-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The machine has no route out: without these flags Chromium keeps retrying background fetches.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-quic", "--window-size=1200,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # The console, where Chromium reports what the Content Security Policy refused (tests/csp.py).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Browser:
    """The driver plus the live server's address and helpers the tests share."""

    def __init__(self, driver: Any, base_url: str, shots: Path) -> None:
        self.driver, self.base_url, self.shots = driver, base_url, shots

    def log_in_as(self, user: Any, zone: str | None = "UTC") -> None:
        """Sign in as ``user`` with ``zone`` picked (None: none yet, so the pages ask the browser)."""
        from django.conf import settings

        from .pages import login

        client = login(user, zone)  # the browser takes over this client's session
        self.driver.delete_all_cookies()
        self.get("/booking/")
        self.driver.add_cookie({"name": settings.SESSION_COOKIE_NAME,
                                "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "path": "/"})

    def get(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def click(self, text: str, tag: str = "*") -> None:
        """Click the element with this text and wait for the page it leads to."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.wait import WebDriverWait

        page = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.XPATH, f"//{tag}[normalize-space()={text!r}]").click()

        def left_the_page(driver: Any) -> bool:
            # Chromium reports an element of a replaced document as stale or as "not belonging to
            # the document", depending on how far the navigation got: both mean the page changed.
            try:
                page.is_enabled()
            except WebDriverException:
                return True
            return False

        WebDriverWait(self.driver, 15).until(left_the_page)
        WebDriverWait(self.driver, 15).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete")

    def text(self) -> str:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.TAG_NAME, "body").text

    def wait_for_zone(self) -> None:
        """Wait until the page knows the viewer's zone (the script has sent the browser's and reloaded)."""
        from selenium.webdriver.support.wait import WebDriverWait

        WebDriverWait(self.driver, 15).until(lambda driver: driver.execute_script(
            "return document.readyState === 'complete' && !document.body.hasAttribute('data-detect-timezone')"))

    def overflow(self) -> int:
        """How many pixels the page is wider than the window (it scrolls sideways when above 0)."""
        return int(self.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"))

    def csp_refusals(self) -> list[str]:
        """What the Content Security Policy refused since the last call (Chromium's console, emptied by reading)."""
        return [entry["message"] for entry in self.driver.get_log("browser")
                if "Content Security Policy" in entry["message"]]

    def axe_violations(self, source: str) -> list[str]:
        """axe-core's serious and critical findings on the current page."""
        self.driver.set_script_timeout(60)
        self.driver.execute_script(source)
        return list(self.driver.execute_async_script(AXE_RUN))

    def screenshot(self, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.driver.execute_script("window.scrollTo(0, 0)")
        self.driver.save_screenshot(str(self.shots / f"{name}.png"))
