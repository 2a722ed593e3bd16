"""Open a report in headless Chromium: console errors, network requests, timings, screenshots.

Used by the report's browser test and benchmark.  Needs Debian's ``chromium`` and
``chromium-driver`` (``scripts/setup-browser.sh`` installs them) and the ``selenium``
package (the ``test`` extra); nothing is downloaded at run time.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SETUP_HINT = ("headless Chromium is not installed: run `bash scripts/setup-browser.sh` as root "
              "(installs Debian's chromium and chromium-driver) and `pip install selenium`")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars"]


def browser_missing() -> str | None:
    """``None`` when Chromium, chromedriver and selenium are usable, else the setup hint."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return SETUP_HINT
    if not (Path(CHROMEDRIVER).exists() or shutil.which("chromedriver")):
        return SETUP_HINT
    try:
        import selenium  # noqa: F401
    except ImportError:
        return SETUP_HINT
    return None


@dataclass
class PageCheck:
    """What happened when a page was opened."""

    url: str
    console: list[dict] = field(default_factory=list)      # every console message
    errors: list[dict] = field(default_factory=list)       # SEVERE console messages
    requests: list[str] = field(default_factory=list)      # every URL the page requested
    timings_ms: dict = field(default_factory=dict)
    sections: dict = field(default_factory=dict)            # section id -> present
    screenshots: list[Path] = field(default_factory=list)

    @property
    def external_requests(self) -> list[str]:
        """Requests other than the page itself and inline ``data:``/``blob:`` URLs."""
        return [u for u in self.requests
                if not (u == self.url or u.startswith(("data:", "blob:", "about:", "chrome:", "chrome-extension:")))]


class Chromium:
    """A headless Chromium session (context manager) with a fresh profile folder."""

    def __init__(self, width: int = 1400, height: int = 1000):
        hint = browser_missing()
        if hint:
            raise RuntimeError(hint)
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self._profile = tempfile.mkdtemp(prefix="ctcscope-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        for f in FLAGS:
            opts.add_argument(f)
        opts.add_argument(f"--user-data-dir={self._profile}")
        opts.add_argument(f"--window-size={width},{height}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
        self.driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
        self.driver.set_page_load_timeout(120)
        # start from a blank page and drop the browser's own start-up traffic from the logs
        self.driver.get("about:blank")
        self.driver.get_log("performance")
        self.driver.get_log("browser")

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def open(self, path: str | Path, timeout: float = 60.0) -> PageCheck:
        """Load a local page and wait for the report script to say it is ready."""
        url = Path(path).resolve().as_uri()
        d = self.driver
        d.get_log("browser")
        d.get_log("performance")  # drop anything from before this page
        t0 = time.perf_counter()
        d.get(url)
        ready = self.wait_js("return document.body && document.body.getAttribute('data-ready') === '1'", timeout)
        wall = (time.perf_counter() - t0) * 1000
        check = PageCheck(url=url)
        nav = d.execute_script(
            "var n = performance.getEntriesByType('navigation')[0] || {};"
            "return {dom: n.domContentLoadedEventEnd, load: n.loadEventEnd,"
            " setup: window.ctcscope ? window.ctcscope.setupMs : null};")
        check.timings_ms = {"wall_to_ready": round(wall, 1), "dom_content_loaded": nav.get("dom"),
                            "load_event_end": nav.get("load"), "script_setup": nav.get("setup"), "ready": ready}
        self.collect_logs(check)
        return check

    def wait_js(self, script: str, timeout: float = 60.0) -> bool:
        end = time.time() + timeout
        while time.time() < end:
            if self.driver.execute_script(script):
                return True
            time.sleep(0.05)
        return False

    def collect_logs(self, check: PageCheck) -> None:
        for e in self.driver.get_log("browser"):
            check.console.append(e)
            if e.get("level") == "SEVERE":
                check.errors.append(e)
        for e in self.driver.get_log("performance"):
            msg = json.loads(e["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                check.requests.append(msg["params"]["request"]["url"])

    def render_all(self, timeout: float = 120.0) -> float:
        """Draw every lazily drawn figure now; return the time it took (ms)."""
        t0 = time.perf_counter()
        self.driver.execute_script("window.ctcscope.renderAll();")
        self.wait_js("return document.querySelectorAll('div.plot.pending').length === 0", timeout)
        return round((time.perf_counter() - t0) * 1000, 1)

    def screenshot_element(self, css: str, path: str | Path, max_height: int = 4000) -> Path | None:
        """PNG of one element; the window is made tall enough to hold it (up to ``max_height``)."""
        from selenium.webdriver.common.by import By

        d = self.driver
        found = d.find_elements(By.CSS_SELECTOR, css)
        if not found:
            return None
        size = d.get_window_size()
        h = d.execute_script("return arguments[0].getBoundingClientRect().height;", found[0])
        d.set_window_size(size["width"], int(min(max(h + 250, size["height"]), max_height)))
        try:
            d.execute_script("arguments[0].scrollIntoView({block: 'start', behavior: 'instant'});", found[0])
            time.sleep(0.4)  # plotly redraws on resize
            p = Path(path)
            p.parent.mkdir(parents=True, exist_ok=True)
            found[0].screenshot(str(p))
        finally:
            d.set_window_size(size["width"], size["height"])
        return p
