"""The demo cohort's report in headless Chromium: ``ctcscope demo`` (the simulator's demo,
Oulhen et al. 2021 design, through every pipeline step).

Screenshots go to ``$CTCSCOPE_SCREENSHOTS/demo`` (default ``<tmp>/ctcscope-report-screenshots/demo``).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from ctcscope.report.browser import Chromium, browser_missing
from ctcscope.report.build import SECTIONS

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CTCSCOPE_SCREENSHOTS", Path(tempfile.gettempdir()) / "ctcscope-report-screenshots")) / "demo"

@pytest.fixture(scope="module")
def demo_report(demo_run):
    """The report ``ctcscope demo`` wrote (the shared session run, see conftest)."""
    return demo_run / "report.html"


def test_demo_report_weighs_at_most_5_mb(demo_report):
    # what a tumour board mails around: plotly.js's cartesian bundle (1.5 MB) and the images
    # in 256 colours keep the demo page under 5 MB (it was 9.2 MB with the full bundle)
    size = demo_report.stat().st_size / 1e6
    print(f"demo report {size:.2f} MB")
    assert size <= 5.0


def test_demo_report_in_chromium(demo_report):
    hint = browser_missing()
    if hint:
        pytest.fail(hint)
    size = demo_report.stat().st_size / 1e6
    with Chromium() as c:
        check = c.open(demo_report)
        print(f"demo report {size:.1f} MB; timings (ms): {check.timings_ms}")
        print("requests:", [u[:100] for u in check.requests])
        print("render all figures (ms):", c.render_all())
        c.collect_logs(check)
        assert check.errors == [], check.errors
        assert check.external_requests == [], check.external_requests
        d = c.driver
        # every trace type the page draws is in the shipped plotly.js bundle
        from ctcscope.report.build import TRACE_TYPES

        have = set(d.execute_script("return Object.keys(Plotly.PlotSchema.get().traces);"))
        used = set(d.execute_script("var F = JSON.parse(document.getElementById('ctcscope-data').textContent).figures;"
                                    "return [].concat.apply([], Object.values(F).map(f => f.data.map(t => t.type)));"))
        assert used <= set(TRACE_TYPES) <= have, (used, have)
        for sid, _ in SECTIONS:
            assert d.execute_script("return !!document.getElementById(arguments[0]);", sid), sid
        # the demo is simulated and says so
        assert d.execute_script("return !!document.getElementById('simulated-banner');")
        n = d.execute_script("return document.querySelectorAll('#profile-select option').length;")
        assert n == d.execute_script("return JSON.parse(document.getElementById('ctcscope-data').textContent)"
                                     ".profiles.samples.length;") > 40
        assert d.execute_script("return document.querySelectorAll('.patient[data-patient]').length;") == 6
        SHOTS.mkdir(parents=True, exist_ok=True)
        for sid, _ in SECTIONS:
            assert c.screenshot_element(f"#{sid}", SHOTS / f"{sid}.png") is not None
        print("screenshots in", SHOTS)
