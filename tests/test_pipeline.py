"""``ctcscope demo`` / ``run``: every step runs, in order, on the simulated demo cohort
(modelled on Oulhen et al. 2021), and the study's findings the demo was built with come out
of the real pipeline (not the simulator's truth)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ctcscope.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def out(demo_run):
    return demo_run


@pytest.fixture(scope="module")
def cells(out):
    return pd.read_csv(out / "cells.tsv", sep="\t", dtype={"sample_id": str}, keep_default_na=False)


@pytest.fixture(scope="module")
def truth(out):
    return pd.read_csv(out / "input" / "truth" / "samples.tsv", sep="\t").set_index("sample_id")


def test_every_step_ran_and_left_its_files(out):
    run = json.loads((out / "run.json").read_text())
    assert list(run["steps"]) == ["simulate", "copy_number", "phenotype", "cluster", "drivers", "resistance", "report"]
    assert run["steps"]["simulate"]["simulated"] is True
    for f in ("cohort.h5ad", "cells.tsv", "segments.seg", "clusters.tsv", "diversity.tsv", "genes.tsv", "drivers.tsv",
              "pathways.tsv", "phenotypes.tsv", "resistance.json", "resistance.tsv", "report.html",
              "figures/heatmap.png", "figures/drivers.png"):
        assert (out / f).stat().st_size > 0, f
    assert not list(out.glob(".*.tmp-*")), "temporary files left behind"
    seg = pd.read_csv(out / "segments.seg", sep="\t")
    assert seg.columns.tolist()[:7] == ["ID", "chrom", "loc.start", "loc.end", "num.mark", "copy_number", "seg.mean"]


def test_seg_values_are_relative_to_the_cell_so_4n_cells_are_not_gained(out, cells):
    # IGV plots seg.mean (the last column): at a 4n cell's own ploidy it must be near log2(1) = 0
    seg = pd.read_csv(out / "segments.seg", sep="\t", dtype={"ID": str, "chrom": str})
    assert seg.columns[-1] == "seg.mean"
    tetra = cells[(cells.ploidy.astype(str) == "4") & (cells.qc_pass.astype(str) == "True")].sample_id
    assert len(tetra) >= 3
    at_ploidy = seg[seg.ID.isin(tetra) & (seg.copy_number == 4)]
    w = at_ploidy["num.mark"]
    assert abs(np.average(at_ploidy["seg.mean"], weights=w)) < 0.15
    gained = seg[seg.ID.isin(tetra) & (seg.copy_number >= 6)]
    assert (gained["seg.mean"] > 0.3).mean() > 0.9


def test_cells_carry_every_step(cells, truth):
    assert cells.sample_id.str.startswith("SIM-").all()
    assert {"ploidy", "wgd", "qc_pass", "normal_like", "fga", "clone", "treatment_group", "phenotype"} <= set(cells)
    groups = cells.set_index("sample_id").treatment_group
    assert groups["SIM-P46_CTC02"] == "crizotinib" and groups["SIM-P45_CTC01"] == "lorlatinib"
    # phenotypes re-gated from the simulated FACS sorts agree with the sorted cells' truth
    ph = cells[cells.phenotype_in_gate.astype(str) == "True"].set_index("sample_id")
    assert len(ph) >= 30
    assert (ph.phenotype == ph.phenotype_sheet).mean() >= 0.95


def test_ploidy_and_wgd_against_the_truth(cells, truth):
    c = cells.set_index("sample_id")
    tumour = c[c.sample_type.isin(["ctc", "ctc_pool", "biopsy"])]
    t = truth.loc[tumour.index]
    assert (tumour.ploidy.astype(int) == t.ploidy).mean() >= 0.85
    controls = c[c.sample_type.isin(["wbc", "germline"])]
    assert (controls.ploidy.astype(int) == 2).all() and not controls.wgd.astype(str).eq("True").any()
    nl = c.normal_like.astype(str) == "True"
    assert nl[t.index[t.normal_like.astype(bool)]].mean() >= 0.8


def test_study_findings_come_out_of_the_pipeline(out, cells):
    d = pd.read_csv(out / "drivers.tsv", sep="\t", keep_default_na=False)
    ok = cells[(cells.qc_pass.astype(str) == "True") & (cells.normal_like.astype(str) == "False")]
    p46 = ok[(ok.patient == "P46") & (ok.sample_type == "ctc")].sample_id
    alk = d[(d.gene == "ALK") & d.state.isin(["gain", "amp"]) & d.sample_id.isin(p46)]
    assert alk.sample_id.nunique() >= 0.7 * len(p46)            # ALK gain in most epithelial P46 CTCs
    p49 = ok[(ok.patient == "P49") & (ok.sample_type == "ctc")].sample_id
    rb1 = d[(d.gene == "RB1") & d.state.isin(["loss", "homdel"]) & d.sample_id.isin(p49)]
    assert rb1.sample_id.nunique() >= 4                          # RB1 loss in the P49-like patient
    res = json.loads((out / "resistance.json").read_text())
    by = {p["patient"]: p for p in res["patients"]}
    assert len(by) == 6
    assert any(m["id"] == "alk_copy_gain" for m in by["P46"]["mechanisms"])
    assert any(m["id"] == "met_amplification" for m in by["P41"]["mechanisms"])


def test_demo_refuses_a_users_folder(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    r = runner.invoke(app, ["demo", "--out", str(mine), "--quiet"])
    assert r.exit_code == 2 and "did not write" in r.output
    assert (mine / "notes.txt").read_text() == "keep me" and len(list(mine.iterdir())) == 1


def test_failed_libraries_and_regated_cells_leave_the_analysis(out, cells):
    c = cells.set_index("sample_id").astype({"qc_pass": str})
    assert c.loc["SIM-P49_CTC15", "qc_pass"] == "False" and "reads" in c.loc["SIM-P49_CTC15", "qc_reason"]
    assert c.loc["SIM-P46_CTC13", "qc_pass"] == "False" and "MAPD" in c.loc["SIM-P46_CTC13", "qc_reason"]
    assert c.loc["SIM-P50_CTC06", "qc_pass"] == "False"
    assert "outside the refined FACS gates" in c.loc["SIM-P50_CTC06", "qc_reason"]
    # every other sample passes, as most libraries did in the study (76/83)
    assert (c.drop(["SIM-P49_CTC15", "SIM-P46_CTC13", "SIM-P50_CTC06"]).qc_pass == "True").all()
    clustered = pd.read_csv(out / "clusters.tsv", sep="\t").sample_id
    assert not {"SIM-P49_CTC15", "SIM-P46_CTC13", "SIM-P50_CTC06"} & set(clustered)


def test_sorted_cells_carry_their_dna_index(out, cells, truth):
    """Issue 11: each index-sorted cell's DNA index (Hoechst over the leukocytes' G1 peak of
    its own sort file) follows the DNA content it was simulated with, and joins its ploidy."""
    c = cells.set_index("sample_id")
    sorted_ctc = c[(c.sample_type == "ctc") & (c.phenotype_in_gate.astype(str) == "True")]
    di = pd.to_numeric(sorted_ctc.dna_index, errors="coerce")
    assert di.notna().all() and len(di) >= 30
    t = truth.loc[di.index]
    expected = t.dna_index * t.hoechst_factor
    assert ((di / expected).apply(abs) - 1).abs().max() < 0.2
    basis = sorted_ctc.ploidy_basis.astype(str)
    assert basis.isin(["read depth + DNA index", "flat profile: DNA index", "DNA index and read depth disagree"]).all()
    # controls stay diploid by definition; their control well reads ~1
    wbc = c[c.sample_type == "wbc"]
    assert (pd.to_numeric(wbc.dna_index).sub(1).abs() < 0.05).all()
    run = json.loads((out / "run.json").read_text())
    assert run["steps"]["phenotype"]["samples_with_dna_index"] >= 30
    ph = json.loads((out / "phenotype.json").read_text())
    assert all(f["dna_reference"]["source"] == "CD45+ events of the file" for f in ph["files"])


def test_bad_index_sort_costs_the_phenotypes_not_the_copy_number(out, tmp_path):
    """A sheet whose wells do not match the sort, and a sort without a Hoechst channel: one
    sentence each, and copy number is still produced."""
    sheet = pd.read_csv(out / "input" / "samples.csv", dtype=str, keep_default_na=False)
    sheet["fcs"] = [str((out / "input" / f).resolve()) if f else "" for f in sheet["fcs"]]
    bad = sheet.index[(sheet.sample_id == "SIM-P41_CTC01")][0]
    sheet.loc[bad, "well"] = "H11"  # nothing was sorted there
    p1 = tmp_path / "wells.csv"
    sheet.to_csv(p1, index=False)
    r = runner.invoke(app, ["run", "--samples", str(p1), "--counts", str(out / "input" / "counts.h5ad"),
                            "--genome", "hg19", "--out", str(tmp_path / "o1"), "--copy-number-only", "--quiet"])
    assert r.exit_code == 0, r.output
    # --copy-number-only skips phenotypes; the full run links the rest and names the one left out
    r = runner.invoke(app, ["run", "--samples", str(p1), "--counts", str(out / "input" / "counts.h5ad"),
                            "--genome", "hg19", "--out", str(tmp_path / "o2"), "--no-report", "--quiet"])
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "o2" / "run.json").read_text())
    notes = " ".join(run["steps"]["phenotype"]["notes"])
    assert "SIM-P41_CTC01" in notes and "no sorted event" in notes
    c = pd.read_csv(tmp_path / "o2" / "cells.tsv", sep="\t").set_index("sample_id")
    assert pd.isna(c.loc["SIM-P41_CTC01", "dna_index"]) and pd.notna(c.loc["SIM-P41_CTC01", "ploidy"])
    assert pd.notna(c.loc["SIM-P41_CTC02", "dna_index"])
    # a real index sort without Hoechst (FlowKit's ARIA file: 7-AAD, no CD45/ALK/CK): the
    # study's gates cannot run on it, the phenotypes are skipped with that sentence
    from conftest import real_data

    sheet2 = sheet.copy()
    sheet2.loc[sheet2.fcs != "", "fcs"] = str(real_data("fcs-flowkit/index_sorted_example.fcs"))
    p2 = tmp_path / "nohoechst.csv"
    sheet2.to_csv(p2, index=False)
    r = runner.invoke(app, ["run", "--samples", str(p2), "--counts", str(out / "input" / "counts.h5ad"),
                            "--genome", "hg19", "--out", str(tmp_path / "o3"), "--no-report"])
    assert r.exit_code == 0, r.output
    assert "phenotypes and DNA index are skipped" in r.output and "Traceback" not in r.output
    c = pd.read_csv(tmp_path / "o3" / "cells.tsv", sep="\t")
    assert c.ploidy.notna().all() and ("dna_index" not in c or c.dna_index.isna().all())
    run = json.loads((tmp_path / "o3" / "run.json").read_text())
    assert run["steps"]["phenotype"]["skipped"] is True


def test_run_json_records_every_clustering_parameter(out):
    """Issue 12's first defect: the clustering block of run.json had empty parameters."""
    run = json.loads((out / "run.json").read_text())
    par = run["steps"]["cluster"]["parameters"]
    assert {"n_clones", "min_clone_size", "samples", "n_permutations"} <= set(par)
    assert par["n_permutations"] > 0


def test_report_states_the_qc_rules_the_run_applied(out, tmp_path):
    """Issue 12's second defect: a run with max_mapd = 0.3 got a report saying 'MAPD above 0.45'."""
    import shutil

    from ctcscope.report import build_report

    folder = tmp_path / "run"
    shutil.copytree(out, folder, ignore=shutil.ignore_patterns("input", "report.html", "report_tables", "*.pdf"))
    run = json.loads((folder / "run.json").read_text())
    run["steps"]["copy_number"]["parameters"]["copy_number"] = {"max_mapd": 0.3, "min_reads": 123456}
    (folder / "run.json").write_text(json.dumps(run))
    page = build_report(folder, static_fallback=False, write_tables=False).read_text()
    assert "MAPD above 0.3 at" in page and "fewer than 123,456 reads" in page
    assert "MAPD above 0.45" not in page
