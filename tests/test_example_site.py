"""The README's demo, end to end: the seeded example project served and used in a real browser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .browser import SCREENSHOT_DIR, Browser, chromium  # noqa: F401  (fixture)

MANAGE = Path(__file__).resolve().parent.parent / "example_project" / "manage.py"

pytestmark = [pytest.mark.browser, pytest.mark.example_project]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_site(tmp_path: Path) -> Iterator[str]:
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings",
           "LIVECLASS_DEMO_DB": str(tmp_path / "demo.sqlite3")}
    server = subprocess.Popen([sys.executable, str(MANAGE), "liveclass_demo", "--serve", "--address", address],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://{address}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(base + "/accounts/login/", timeout=5) as response:
                    assert response.status == 200
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read() if server.stdout else ""
                    pytest.fail(f"the demo server did not come up:\n{output}")
                time.sleep(0.5)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def log_in(browser: Browser, username: str) -> None:
    from selenium.webdriver.common.by import By

    browser.driver.delete_all_cookies()
    browser.get("/accounts/login/")
    browser.driver.find_element(By.ID, "id_username").send_keys(username)
    browser.driver.find_element(By.ID, "id_password").send_keys("demo")
    browser.click("Log in", "button")
    # A person with no zone yet: the first page sends the browser's and reloads; wait for that.
    browser.wait_for_zone()


def test_the_seeded_demo_serves_students_and_teachers(chromium: Any, demo_site: str, tmp_path: Path) -> None:  # noqa: F811
    browser = Browser(chromium, demo_site, Path(SCREENSHOT_DIR) if SCREENSHOT_DIR else tmp_path)
    log_in(browser, "s.chen")
    text = browser.text()
    assert "Riverside Online School" in text and "Upcoming classes" in text
    # The school's template adds the subject of its swapped-in Lesson model.
    assert "Subject" in text and "Mathematics" in text and "Fractions clinic" in text
    browser.screenshot("demo-classes")

    browser.get("/bookings/")
    text = browser.text()
    assert "Waitlist" in text and "Fractions clinic" in text and "Waiting" in text
    browser.screenshot("demo-my-bookings")

    log_in(browser, "m.garcia")
    browser.get("/teach/")
    assert "s.kowalski" in browser.text() or "Jan Kowalski" in browser.text()
    browser.screenshot("demo-teacher-dashboard")
