"""The demo cohort's report in headless Chromium: the simulator's demo (Oulhen et al. 2021
design), the real pipeline steps, then ``report_step``.

Screenshots go to ``$CTCSCOPE_SCREENSHOTS/demo`` (default ``<tmp>/ctcscope-report-screenshots/demo``).
"""
from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

from ctcscope.report.browser import Chromium, browser_missing
from ctcscope.report.build import SECTIONS

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CTCSCOPE_SCREENSHOTS", Path(tempfile.gettempdir()) / "ctcscope-report-screenshots")) / "demo"

if importlib.util.find_spec("ctcscope.cna") is None:  # the copy-number engine is another branch's work
    pytest.skip("the copy-number engine (ctcscope.cna) is not merged yet", allow_module_level=True)


def run_demo(out: Path) -> Path:
    """The demo input (simulated), then every pipeline step that is part of the package."""
    import pandas as pd

    from ctcscope.genome import load_genome
    from ctcscope.report.stage import report_step
    from ctcscope.resistance.patients import drug_at_resistance, read_patients
    from ctcscope.resistance.stage import run_resistance_stage
    from ctcscope.simulate import make_demo
    from ctcscope.workflow import run_copy_number, write_run_json

    files = make_demo(out.parent / "demo-input")
    genome = load_genome("hg19", 500_000)
    sheet = pd.read_csv(files.samples, dtype=str, keep_default_na=False)
    adata = run_copy_number(files.samples, genome, out, counts=files.counts, write_run=False, quiet=True)
    steps = {"copy_number": adata.uns["ctcscope"]}
    adata.obs["treatment_group"] = adata.obs["patient"].map(drug_at_resistance(read_patients(files.patients)))
    if importlib.util.find_spec("ctcscope.cohort.stage"):
        from ctcscope.cohort.stage import run_cluster_stage

        adata = run_cluster_stage(adata, out)
    if importlib.util.find_spec("ctcscope.drivers.stage"):
        from ctcscope.drivers.stage import run_drivers_stage

        adata = run_drivers_stage(adata, genome, out)
    from ctcscope.io.export import write_copy_number_outputs

    write_copy_number_outputs(adata, out)
    res = run_resistance_stage(files.patients, out, drivers=out / "drivers.tsv" if (out / "drivers.tsv").exists()
                               else None, cells=out / "cells.tsv")
    steps["resistance"] = res["run"]
    write_run_json(out, steps)
    assert len(sheet) == adata.n_obs
    return report_step(out)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "out")


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
