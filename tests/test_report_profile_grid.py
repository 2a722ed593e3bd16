"""Fig. 2-style profile grids (figures/profiles_<patient>.png, figures/profiles.pdf)."""
from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")  # noqa: E402

import numpy as np

from ctcscope.plotting import palette
from ctcscope.report.collect import collect_outputs
from ctcscope.report.profile_grid import EVEN, plot_patient_grid, write_profile_grids
from ctcscope.report.stage import report_step
from ctcscope.report.testing import write_synthetic_run


def test_segments_are_drawn_at_their_copy_number_coloured_against_ploidy():
    chrom = np.array(["1"] * 50 + ["2"] * 50)
    cn = np.full((1, 100), 2.0)
    cn[0, 10:20] = 3          # gain
    cn[0, 30:40] = 1          # loss
    cn[0, 60:65] = np.nan     # no call
    fig = plot_patient_grid("P1", ["c1"], cn, cn.copy(), np.array([2.0]), chrom, 1)
    lc = [c for c in fig.axes[0].collections if hasattr(c, "get_segments")][0]
    got = sorted((int(s[0][0]), int(s[1][0]), float(s[0][1]), matplotlib.colors.to_hex(col).upper())
                 for s, col in zip(lc.get_segments(), lc.get_colors()))
    even = EVEN.upper()
    # runs split at the chromosome boundary (bin 50) and around the uncalled bins
    assert got == [(0, 9, 2.0, even), (10, 19, 3.0, palette.CN_STATE["gain"]), (20, 29, 2.0, even),
                   (30, 39, 1.0, palette.CN_STATE["loss"]), (40, 49, 2.0, even), (50, 59, 2.0, even),
                   (65, 99, 2.0, even)]


def test_report_step_writes_a_grid_per_patient_and_a_pdf_page_each(tmp_path):
    hostile = "../P<1>"
    write_synthetic_run(tmp_path, n_cells=12, n_patients=3, seed=3, patient_ids=[hostile, "P2", "P10"])
    report_step(tmp_path)
    figs = tmp_path / "figures"
    names = sorted(p.name for p in figs.glob("profiles*"))
    assert names == ["profiles.pdf", "profiles_P10.png", "profiles_P2.png", "profiles_P_1.png"]
    pdf = (figs / "profiles.pdf").read_bytes()
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 3
    res = collect_outputs(tmp_path)
    tumour = res.obs[res.obs.sample_type.astype(str).isin(["ctc", "ctc_pool", "biopsy"]) & res.obs.qc_pass.astype(bool)]
    assert len(tumour) >= 6
    html = (tmp_path / "report.html").read_text()
    assert "figures/profiles_P10.png" in html and "figures/profiles.pdf" in html
    assert not list(figs.glob(".*tmp-*"))


def test_a_folder_without_copy_number_gets_no_grid(tmp_path):
    from ctcscope.report.collect import RunOutputs

    assert write_profile_grids(RunOutputs(out_dir=tmp_path), tmp_path / "figures") == []
    assert not (tmp_path / "figures").exists()
