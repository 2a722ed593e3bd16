"""The report in a real browser: headless Chromium from Debian (scripts/setup-browser.sh).

Not skipped when Chromium is missing: it fails with the set-up hint (CI installs it).
Screenshots go to ``$CTCSCOPE_SCREENSHOTS`` (default: ``<tmp>/ctcscope-report-screenshots``).
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from ctcscope.report import build_report
from ctcscope.report.browser import Chromium, browser_missing
from ctcscope.report.build import SECTIONS
from ctcscope.report.testing import write_synthetic_run

pytestmark = pytest.mark.browser

XSS_SAMPLE = "<img src=x onerror=alert(1)>"
SHOTS = Path(os.environ.get("CTCSCOPE_SCREENSHOTS", Path(tempfile.gettempdir()) / "ctcscope-report-screenshots"))


@pytest.fixture(scope="module")
def chromium():
    hint = browser_missing()
    if hint:
        pytest.fail(hint)
    with Chromium() as c:
        yield c


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser")
    write_synthetic_run(out, n_cells=24, n_patients=3, seed=7, sample_ids=[XSS_SAMPLE])
    return build_report(out)


def test_report_opens_clean_offline(chromium, report):
    check = chromium.open(report)
    print("timings (ms):", check.timings_ms)
    print("requests:", [u[:100] for u in check.requests])
    assert check.timings_ms["ready"], "the report script never signalled ready"
    draw_ms = chromium.render_all()
    print("render all figures (ms):", draw_ms)
    chromium.collect_logs(check)
    assert check.errors == [], check.errors
    assert check.external_requests == [], check.external_requests
    d = chromium.driver
    for sid, title in SECTIONS:
        assert d.execute_script("return !!document.getElementById(arguments[0]);", sid), sid
    # every figure drew (plotly adds its .main-svg); nothing is left pending
    n_pending = d.execute_script("return document.querySelectorAll('div.plot.pending').length;")
    n_drawn = d.execute_script("return document.querySelectorAll('div.plot .main-svg').length;")
    assert n_pending == 0 and n_drawn >= 8
    assert d.execute_script("return window.ctcscope.errors.length;") == 0
    assert not d.execute_script("return document.documentElement.classList.contains('no-js');")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for sid, _ in SECTIONS:
        assert chromium.screenshot_element(f"#{sid}", SHOTS / f"{sid}.png") is not None
    print("screenshots in", SHOTS)


def test_hostile_sample_id_is_text_in_the_browser(chromium, report):
    chromium.open(report)
    d = chromium.driver
    chromium.render_all()
    # no element was created from the id, no alert fired (selenium would raise on an open alert)
    assert d.execute_script("return document.querySelectorAll('img[onerror]').length;") == 0
    assert d.execute_script("return document.querySelectorAll('img:not([src^=\"data:\"])').length;") == 0
    opts = d.execute_script("return Array.from(document.querySelectorAll('#profile-select option')).map(o => o.textContent);")
    assert any(o.startswith(XSS_SAMPLE + " · ") for o in opts)
    cells = d.execute_script("return Array.from(document.querySelectorAll('[data-table=qc] td')).map(t => t.textContent);")
    assert XSS_SAMPLE in cells
    title = d.execute_script("return document.querySelector('#profile-plot .gtitle').textContent;")
    assert XSS_SAMPLE in title  # plotly shows it as typed


def test_patient_filter_and_csv(chromium, report):
    chromium.open(report)
    d = chromium.driver
    csv = d.execute_script("return window.ctcscope.tableCSV('qc', true);")
    lines = csv.strip().split("\n")
    assert lines[0].startswith("sample_id,patient,")
    assert len(lines) == 1 + 24 + 3
    assert any(line.startswith('"<img src=x onerror=alert(1)>"') or line.startswith("<img src=x onerror=alert(1)>")
               for line in lines)
    d.execute_script("window.ctcscope.applyPatient('P2');")
    rows = d.execute_script("return Array.from(document.querySelectorAll('[data-table=qc] tbody tr'))"
                            ".map(r => r.children[1].textContent);")
    assert rows and set(rows) == {"P2"}
    opts = d.execute_script("return Array.from(document.querySelectorAll('#profile-select option')).map(o => o.textContent);")
    assert opts and all(" · P2 · " in o for o in opts)
    shown = d.execute_script("return Array.from(document.querySelectorAll('.patient[data-patient]'))"
                             ".filter(e => e.style.display !== 'none').map(e => e.getAttribute('data-patient'));")
    assert shown == ["P2"]
    chromium.render_all()
    vis = d.execute_script(
        "var g = document.getElementById('fig-qc_scatter'); return g.data.map(t => [t.meta.patient, t.visible]);")
    assert {p: v for p, v in vis} == {"P1": False, "P2": True, "P3": False}
    check = chromium.open(report)  # reload: still no error after the interactions
    assert check.errors == []


# ------------------------------------------------------------------ navigation (demo report)
@pytest.fixture(scope="module")
def demo_report(demo_run):
    return demo_run / "report.html"


def _settle(d, timeout: float = 10.0) -> None:
    """Wait until the page's jump is over and the scroll position has not moved for ~0.3 s."""
    end, last, quiet = time.time() + timeout, None, 0
    while time.time() < end and quiet < 6:
        now = d.execute_script("return [window.scrollY, window.ctcscope.navSettled()];")
        quiet = quiet + 1 if (now == last and now[1]) else 0
        last = now
        time.sleep(0.05)


def test_every_toc_link_lands_on_its_section_and_highlights_it(chromium, demo_report):
    from selenium.webdriver.common.by import By

    d = chromium.driver
    for sid, _ in SECTIONS:
        chromium.open(demo_report)  # a fresh page each time: no figure above the target drawn yet
        d.find_element(By.CSS_SELECTOR, f"nav#toc a[href='#{sid}']").click()
        _settle(d)
        top, view, at_end = d.execute_script(
            "var h = document.querySelector('#' + arguments[0] + ' h2');"
            "return [h.getBoundingClientRect().top, window.innerHeight,"
            " window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1];", sid)
        print(f"{sid}: header at {top:.0f} px")
        # the last section may be shorter than the window: then the page is at its end
        assert 0 <= top <= 100 or (at_end and 0 <= top < view), (sid, top)
        active = d.execute_script("return Array.from(document.querySelectorAll('nav#toc a.active'))"
                                  ".map(a => a.getAttribute('href'));")
        assert active == [f"#{sid}"]
        assert d.execute_script("return location.hash;") == f"#{sid}"


def test_figures_reserve_their_height_before_they_are_drawn(chromium, demo_report):
    d = chromium.driver
    chromium.open(demo_report)
    before = d.execute_script("return document.documentElement.scrollHeight;")
    n_pending = d.execute_script("return document.querySelectorAll('div.plot.pending').length;")
    chromium.render_all()
    after = d.execute_script("return document.documentElement.scrollHeight;")
    print(f"page height {before} px with {n_pending} figures pending, {after} px with all drawn")
    assert n_pending >= 8 and abs(after - before) <= 2


def test_scrolling_highlights_the_section_at_the_top(chromium, demo_report):
    d = chromium.driver
    chromium.open(demo_report)
    for sid in ("ploidy", "drivers", "qc"):
        d.execute_script("window.scrollTo(0, document.getElementById(arguments[0]).getBoundingClientRect().top"
                         " + window.scrollY - 8);", sid)
        time.sleep(0.3)
        assert d.execute_script("return document.querySelector('nav#toc a.active').getAttribute('href');") == f"#{sid}"


def test_patient_filter_reaches_the_driver_tables_and_figures(chromium, demo_report):
    """One patient chosen: every driver table shows that patient only (its own aggregate where
    the table is a cohort aggregate, computed here from drivers.tsv as the truth), and the
    figures hide the other patients' traces or draw the patient's own."""
    import pandas as pd

    from ctcscope.report import patient_split as PS
    from ctcscope.report.collect import collect_outputs

    res = collect_outputs(demo_report.parent)
    pat = res.drivers["patient"].astype(str).value_counts().index[0]  # the patient with most events
    others = set(res.obs["patient"].astype(str)) - {pat}
    d = chromium.driver
    chromium.open(demo_report)
    chromium.render_all()
    d.execute_script("window.ctcscope.applyPatient(arguments[0]);", pat)
    chromium.render_all()

    def shown(name):
        return d.execute_script(
            "var b = document.querySelector('[data-table=' + arguments[0] + ']');"
            "return {head: Array.from(b.querySelectorAll('thead th')).map(t => t.textContent.replace(/ [▲▼]$/, '')),"
            " rows: Array.from(b.querySelectorAll('tbody tr')).map(r => Array.from(r.children).map(c => c.textContent)),"
            " info: b.querySelector('.pageinfo').textContent};", name)

    ev = shown("drivers")
    assert ev["rows"] and {r[ev["head"].index("patient")] for r in ev["rows"]} == {pat}
    n_ev = len(res.drivers[res.drivers["patient"].astype(str) == pat])
    assert ev["info"].startswith(f"{n_ev} rows") or f"of {-(-n_ev // 50)}" in ev["info"]

    fr = shown("driver_frequencies")
    truth = PS.driver_frequencies(res.drivers, res.obs, pat)
    assert fr["info"].startswith(f"{len(truth)} rows") and pat in fr["info"]
    got = {r[0]: (int(r[fr["head"].index("n_gain")]), int(r[fr["head"].index("n_loss")])) for r in fr["rows"]}
    want = {g: (a, b) for g, a, b in truth[["gene", "n_gain", "n_loss"]].head(50).itertuples(index=False)}
    assert got == want

    pw = shown("pathways")
    assert pw["rows"] and {r[pw["head"].index("patients")] for r in pw["rows"]} == {pat}

    gr = shown("driver_groups")
    mine = set(zip(res.drivers.loc[res.drivers["patient"].astype(str) == pat, "gene"].astype(str),
                   res.drivers.loc[res.drivers["patient"].astype(str) == pat, "alteration"].astype(str)))
    assert gr["rows"] and all((r[0], r[1]) in mine for r in gr["rows"])
    assert len(gr["rows"]) < len(res.driver_groups)

    # a cohort-wide table says so rather than pretend to be filtered
    assert "cohort-wide" in shown("driver_groups_summary")["info"]

    # figures: per-patient traces hidden, heatmap columns of the patient only, the frequency bars its own
    vis = d.execute_script("return document.getElementById('fig-qc_scatter').data"
                           ".filter(t => t.meta && t.meta.patient !== undefined).map(t => [t.meta.patient, t.visible]);")
    assert {p for p, v in vis if v} == {pat} and {p for p, v in vis if not v} == others
    cols = d.execute_script("return document.getElementById('fig-driver_heatmap').data[0].x;")
    want_cols = set(res.drivers.loc[res.drivers["patient"].astype(str) == pat, "sample_id"].astype(str))
    assert cols and set(cols) <= set(res.obs.index[res.obs["patient"].astype(str) == pat]) and want_cols & set(cols)
    bars = d.execute_script("return document.getElementById('fig-driver_frequency').data[0].y;")
    top = pd.DataFrame(truth).assign(t=truth["n_gain"] + truth["n_loss"]).sort_values("t", ascending=False)
    assert set(bars) == set(top["gene"].head(40))
    # the gating plots and gate statistics of the patient's FCS files only
    files = set(res.phenotypes.loc[res.phenotypes["patient"].astype(str) == pat, "file"].astype(str))
    gating = d.execute_script("return Array.from(document.querySelectorAll('figure[data-patient]'))"
                              ".filter(f => f.style.display !== 'none').map(f => f.querySelector('img').alt);")
    assert gating == [f"gating_{Path(f).stem}.png" for f in sorted(files)]
    gt = shown("gates")
    assert gt["rows"] and {r[gt["head"].index("file")] for r in gt["rows"]} == files
    scope = "return document.getElementById(arguments[0]).parentNode.querySelector('.scope').textContent;"
    assert d.execute_script(scope, "fig-driver_frequency") == f"{pat}'s samples only"
    assert d.execute_script(scope, "fig-driver_groups") == "cohort-wide: not split by patient"
    assert d.execute_script("return window.ctcscope.errors.length;") == 0
    # back to all patients: the cohort tables again
    d.execute_script("window.ctcscope.applyPatient('');")
    assert shown("driver_frequencies")["info"].startswith(f"{len(res.driver_frequencies)} rows") or "page" in shown(
        "driver_frequencies")["info"]
