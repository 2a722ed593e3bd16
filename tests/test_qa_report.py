"""What a tumour-board reader meets in the report of a run whose patient sheet has no treatment
lines (the simulator's default): no "nan" group, no empty comparison tables, no finding called
actionable without an option, no sentence said twice.  Found by reading a simulated BAM run's
report.html in headless Chromium."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctcscope.genome import load_genome
from ctcscope.report.figures import fig_driver_heatmap
from ctcscope.report.resistance_view import patient_views
from ctcscope.resistance.patients import patients_from_records
from ctcscope.resistance.stage import run_resistance_stage

from test_resistance_actionable import _read, _tables


@pytest.fixture(scope="module")
def hg19():
    return load_genome("hg19", 500_000)


def _drivers(groups):
    rows = []
    for i, g in enumerate(groups):
        for gene, state in (("MYC", "amp"), ("PTEN", "loss")):
            rows.append({"sample_id": f"S{i}", "patient": f"P{i % 2}", "treatment_group": g, "gene": gene,
                         "state": state, "pathway": "MYC" if gene == "MYC" else "PI3K"})
    return pd.DataFrame(rows)


def test_driver_heatmap_without_drug_groups_is_grouped_by_patient_not_nan():
    fig = fig_driver_heatmap(_drivers([np.nan] * 4), None)
    assert "grouped by patient" in fig["layout"]["title"]["text"]
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles == ["P0", "P1"] and "nan" not in json.dumps(fig)
    # with drug groups for some patients only, the others are named, not "nan"
    fig = fig_driver_heatmap(_drivers(["crizotinib", np.nan, "crizotinib", np.nan]), None)
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert "grouped by treatment group" in fig["layout"]["title"]["text"]
    assert titles == ["crizotinib", "no drug group"]
    # a count matrix run without a sample sheet has no patient at all
    fig = fig_driver_heatmap(_drivers([np.nan] * 2).assign(patient=np.nan), None)
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["no patient"] and "nan" not in json.dumps(fig)


def test_focal_myc_amplification_without_option_reads_consistently(hg19, tmp_path):
    myc = [("8", (127_500_000, 130_000_000), 10.0)]
    genes, cells = _tables(hg19, "PM", [myc] * 4)
    r = _read({"id": "PM"}, genes, cells)
    d = next(d for d in r.detected if d.mechanism.id == "myc_amplification")
    assert d.role == "actionable"
    assert not [o for o in r.options if "myc_amplification" in (o.get("mechanisms") or ())]
    text = r.summary["text"]
    assert "(no option in the knowledge base)" in text
    assert r.summary["headline"].startswith("No targeted option has supporting evidence")
    assert text.count("No targeted option has supporting evidence") == 1
    out = tmp_path / "out"
    out.mkdir()
    (out / ".ctcscope").touch()
    res = run_resistance_stage(patients_from_records([{"id": "PM"}]), out, genes=genes, cells=cells)
    view = patient_views(res["document"])[0]
    mm = next(m for m in view["mechanisms"] if m["id"] == "myc_amplification")
    assert mm["role_label"] == "actionable finding: no option in the knowledge base"


def test_no_drug_groups_gives_one_sentence_not_empty_tables_and_a_placeholder(tmp_path):
    from ctcscope.report import build_report
    from ctcscope.report.testing import write_synthetic_run

    out = tmp_path / "run"
    write_synthetic_run(out, n_cells=12, n_patients=2, steps=("cna", "drivers"))
    # the drivers step's files when no patient has a drug at resistance: empty comparison tables
    for name in ("driver_groups.tsv", "driver_groups_summary.tsv"):
        cols = pd.read_csv(out / name, sep="\t", nrows=0).columns
        pd.DataFrame(columns=cols).to_csv(out / name, sep="\t", index=False)
    html = build_report(out).read_text()
    sec = html[html.index('id="drivers"'):html.index('id="resistance"')]
    assert "No comparison between drug groups at resistance" in sec
    assert "driver_groups.tsv" not in sec and "drivers_groups.png" not in sec


def test_ploidy_and_instability_counts_leave_normal_like_cells_out_as_the_other_steps_do():
    from ctcscope.report.summaries import instability_by_patient, ploidy_counts

    obs = pd.DataFrame({
        "patient": ["P2"] * 5, "sample_type": ["ctc", "ctc", "ctc", "ctc", "wbc"],
        "qc_pass": [True, True, True, False, True], "normal_like": [False, False, True, False, True],
        "ploidy": [4, 4, 2, 4, 2], "wgd": [True, True, False, True, False],
        "fga": [0.2, 0.4, 0.0, 0.3, 0.0]}, index=[f"S{i}" for i in range(5)])
    pc = ploidy_counts(obs)
    assert pc[["ploidy", "n"]].values.tolist() == [[4, 2]] and pc["percent"].tolist() == [100.0]
    inst = instability_by_patient(obs)
    assert inst["n"].tolist() == [2] and inst["fga"].tolist() == [0.3] and inst["wgd_fraction"].tolist() == [1.0]


def test_hoverable_clustering_heatmap_is_autosomal_as_the_clustering(tmp_path):
    """A male X sits at log2(1/2) and read as a loss of chrX in every cell of a male patient."""
    from ctcscope.report.collect import collect_outputs
    from ctcscope.report.profiles import cohort_matrix
    from ctcscope.report.testing import write_synthetic_run

    out = tmp_path / "run"
    write_synthetic_run(out, n_cells=8, n_patients=2, steps=("cna",))
    res = collect_outputs(out)
    ids = list(res.obs.index[:6])
    assert {"X"} & set(res.store.var["chrom"].astype(str))          # the run has chrX bins
    mat = cohort_matrix(res, ids)
    assert [c for c, _ in mat["chroms"]][-1] == "22" and not {"X", "Y"} & {c for c, _ in mat["chroms"]}
    full = cohort_matrix(res, ids, sex_chromosomes=True)
    assert "X" in {c for c, _ in full["chroms"]} and full["n_cols"] > mat["n_cols"]


def test_qc_failures_are_counted_by_reason_not_by_each_sample_value():
    from ctcscope.report.summaries import qc_reasons

    obs = pd.DataFrame({"qc_reason": [
        "reads 0 < 50000; MAPD not computable; usable bins 0 < 80% of 5324; ploidy could not be called",
        "reads 12371 < 50000; MAPD 0.79 > 0.45", "MAPD 0.5 > 0.45", "", np.nan,
        "91 segments (> 15 per 100 Mb): hyper-segmented", "120 segments (> 15 per 100 Mb): hyper-segmented"]})
    got = dict(zip(*qc_reasons(obs).T.values))
    assert got == {"reads < 50000": 2, "MAPD > 0.45": 2, "MAPD not computable": 1,
                   "usable bins < 80% of 5324": 1, "ploidy could not be called": 1,
                   "segments (> 15 per 100 Mb): hyper-segmented": 2}


def test_user_catalogue_gene_missing_from_the_build_is_named_not_dropped_silently(tmp_path):
    from typer.testing import CliRunner

    from ctcscope.cli import app
    from ctcscope.report.testing import write_synthetic_run

    out = tmp_path / "run"
    write_synthetic_run(out, n_cells=6, n_patients=1, steps=("cna",))
    cat = tmp_path / "mine.tsv"
    cat.write_text("gene\trole\tpathway\nMYC\toncogene\tMYC\nPTEN\ttumour suppressor\tPI3K\nMYCC1\toncogene\tMYC\n")
    r = CliRunner().invoke(app, ["drivers", str(out), "--catalogue", str(cat), "--catalogue-mode", "replace"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "1 gene(s) of your catalogue are not in the hg19 gene table and were left out: MYCC1" in text
    steps = json.loads((out / "run.json").read_text())["steps"]
    assert steps["drivers"]["parameters"]["user_catalogue_genes_not_in_genome"] == ["MYCC1"]
    import hashlib

    assert [(Path(i["path"]).name, i["sha256"]) for i in steps["drivers"]["inputs"]] == [
        ("mine.tsv", hashlib.sha256(cat.read_bytes()).hexdigest())]


def test_qc_section_states_the_rules_the_copy_number_step_applies(tmp_path):
    """The text named over-dispersion, which is no QC rule, and none of the limits."""
    from ctcscope.cna.qc import QC_DEFAULTS
    from ctcscope.report import build_report
    from ctcscope.report.testing import write_synthetic_run

    out = tmp_path / "run"
    write_synthetic_run(out, n_cells=6, n_patients=1, steps=("cna",))
    html = build_report(out).read_text()
    sec = html[html.index('id="qc"'):html.index('id="phenotypes"')]
    intro = sec[:sec.index("</p>")]
    assert "over-dispersion" not in intro
    assert f"fewer than {QC_DEFAULTS['min_reads']:,} reads" in intro and f"MAPD above {QC_DEFAULTS['max_mapd']:g}" in intro
    assert "segments per 100 Mb" in intro
    # a step that did not run is named with a command that works as written
    assert "ctcscope resist PATIENTS.yaml --out DIR" in html and "ctcscope resist</" not in html


def test_drivers_figures_without_drug_groups_have_no_blank_group_track_or_empty_comparison(tmp_path):
    import anndata as ad

    from ctcscope.drivers import run_drivers_stage
    from ctcscope.report.testing import write_synthetic_run

    out = tmp_path / "run"
    write_synthetic_run(out, n_cells=8, n_patients=2, steps=("cna",))
    a = ad.read_h5ad(out / "cohort.h5ad")
    a.obs["treatment_group"] = ""          # a patient sheet without treatment lines
    (out / "figures").mkdir(exist_ok=True)
    (out / "figures" / "drivers_groups.png").write_bytes(b"an earlier run's comparison")
    run_drivers_stage(a, None, out, write_run=False)
    mat = json.loads((out / "figures" / "drivers.json").read_text())
    assert not any(str(c.get("group") or "") for c in mat["columns"])
    assert (out / "figures" / "drivers.png").exists()
    assert not (out / "figures" / "drivers_groups.png").exists()     # no empty or stale comparison figure
    assert (out / "driver_groups.tsv").exists()                      # the (empty) contract table stays



def test_patient_without_ctcs_in_the_sort_files_keeps_its_sheet_phenotypes():
    """Demo P43: its CTC pools are not in the FCS files, so the phenotype section read "no CTC"
    while the resistance section counted 3 ALK+/CK- CTC samples."""
    from types import SimpleNamespace

    from ctcscope.report.figures import fig_phenotypes
    from ctcscope.report.summaries import phenotype_counts

    fcs = pd.DataFrame({"patient": ["P41"] * 3 + ["P43"] * 3, "level": "events",
                        "phenotype": ["ALK+/CK-", "ALK-/CK+", "CD45+"] * 2, "count": [3, 1, 200, 0, 0, 200]})
    obs = pd.DataFrame({"patient": ["P41", "P43", "P43", "P43"], "phenotype": ["ALK+/CK-", "ALK+/CK-", "ALK+/CK-", "CD45+"]},
                       index=["A", "B", "C", "D"])
    c = phenotype_counts(SimpleNamespace(phenotype_summary=fcs, obs=obs))
    p41, p43 = c[c.patient == "P41"], c[c.patient == "P43"]
    assert p41.set_index("phenotype")["n"].to_dict() == {"ALK+/CK-": 3, "ALK-/CK+": 1, "CD45+": 200}
    assert set(p41["level"]) == {"all gated events of the sort files"}
    assert p43.set_index("phenotype")["n"].to_dict() == {"ALK+/CK-": 2, "CD45+": 1}
    assert set(p43["level"]) == {"sequenced samples, from the sample sheet"}
    assert p43.set_index("phenotype")["percent"]["ALK+/CK-"] == 100.0
    title = fig_phenotypes(c)["layout"]["title"]["text"]
    assert "all gated events of the sort files: P41" in title and "from the sample sheet: P43" in title


def test_run_ends_by_saying_how_many_samples_passed_qc_and_where_the_report_is(tmp_path):
    from typer.testing import CliRunner

    from ctcscope.cli import app
    from ctcscope.genome import load_genome
    from ctcscope.simulate import random_design, simulate_cohort, write_simulation

    genome = load_genome("hg19", 1_000_000)
    sim = simulate_cohort(random_design(4, seed=5, genome=genome, pools_per_patient=0), genome, seed=5)
    files = write_simulation(sim, tmp_path / "input")
    out = tmp_path / "res"
    r = CliRunner().invoke(app, ["run", "--counts", str(files.counts), "--samples", str(files.samples),
                                 "--genome", "hg19", "--bin-size", "1Mb", "--out", str(out), "--workers", "1"])
    assert r.exit_code == 0, r.output
    text = r.output
    n = len(pd.read_csv(out / "cells.tsv", sep="\t"))
    n_pass = int(pd.read_csv(out / "cells.tsv", sep="\t")["qc_pass"].sum())
    assert f"{n_pass} of {n} samples passed QC" in text
    assert f"report: {out / 'report.html'}" in text and (out / "report.html").exists()


def test_heatmap_of_identical_profiles_draws_without_a_matplotlib_warning():
    """Two identical cells give a zero-height tree: matplotlib warned about singular xlims."""
    import warnings

    import anndata as ad
    import matplotlib

    matplotlib.use("Agg")
    from ctcscope.cohort import cluster, plot_heatmap

    genome = load_genome("hg19", 1_000_000)
    var = genome.bins[genome.bins.use & ~genome.bins.chrom.isin(["X", "Y"])][["chrom", "start", "end"]]
    var = var.reset_index(drop=True)
    var.index = var.index.astype(str)
    obs = pd.DataFrame({"patient": "P1", "sample_type": "ctc", "ploidy": 2}, index=["A", "B"])
    m = ad.AnnData(X=np.zeros((2, len(var)), np.float32), obs=obs, var=var)
    cl = cluster(m)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_heatmap(m, cl)
    assert fig is not None


def test_clustering_tables_explain_their_columns(tmp_path):
    from ctcscope.report import build_report
    from ctcscope.report.testing import write_synthetic_run

    out = tmp_path / "run"
    write_synthetic_run(out, n_cells=10, n_patients=2, steps=("cna", "cohort"))
    html = build_report(out).read_text()
    sec = " ".join(html[html.index('id="clustering"'):html.index('id="drivers"')].split())
    for term in ("root-mean-square differences of log2(copy number ÷ ploidy)", "<code>spread_*</code>",
                 "<code>distance_to_reference</code>", "<code>not_single_cell</code>", "≥ 80 % of the patient's CTCs"):
        assert term in sec, term


def test_driver_events_table_explains_states_and_extent(tmp_path):
    from ctcscope.report import build_report
    from ctcscope.report.testing import write_synthetic_run

    out = tmp_path / "run"
    write_synthetic_run(out, n_cells=8, n_patients=2, steps=("cna", "drivers"))
    html = build_report(out).read_text()
    sec = " ".join(html[html.index('id="drivers"'):html.index('id="resistance"')].split())
    for term in ("<code>amp</code> at ≥ 2 × the ploidy and ≥ ploidy + 3 copies", "<code>arm_fraction</code>",
                 "<code>focal</code>: it covers less than half of the arm", "<code>low_confidence_reason</code>"):
        assert term in sec, term


def test_simulate_takes_quiet_like_the_other_commands(tmp_path):
    from typer.testing import CliRunner

    from ctcscope.cli import app

    out = tmp_path / "sim"
    r = CliRunner().invoke(app, ["simulate", "--cells", "2", "--pools", "0", "--bin-size", "1Mb", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "" and (out / "samples.csv").exists() and (out / "counts.tsv.gz").exists()


def test_empty_tables_read_as_one_line_not_an_empty_widget(tmp_path):
    """A run where no sample passed QC showed five empty table widgets ("0 rows")."""
    from ctcscope.report import build_report
    from ctcscope.report.testing import write_synthetic_run

    out = tmp_path / "run"
    write_synthetic_run(out, n_cells=8, n_patients=2, steps=("cna", "drivers"))
    for name in ("drivers.tsv", "pathways.tsv"):
        cols = pd.read_csv(out / name, sep="\t", nrows=0).columns
        pd.DataFrame(columns=cols).to_csv(out / name, sep="\t", index=False)
    html = build_report(out).read_text()
    assert "(0 rows" not in html
    flat = " ".join(html.split())
    assert ('<span class="caption">Driver events (one row per sample and gene)</span>: <span class="note">none in this run '
            '(<code>drivers.tsv</code> holds the header only).</span>') in flat
    assert 'data-table="drivers"' not in html


def test_resistance_section_says_what_focal_and_the_levels_mean(hg19, tmp_path):
    """Per-cell labels read "ERBB3:gain (focal, 51.0 Mb)" and "best level B" with no key."""
    from ctcscope.report import build_report

    genes, cells = _tables(hg19, "PM", [[("8", (127_500_000, 130_000_000), 10.0)]] * 3)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".ctcscope").touch()
    run_resistance_stage(patients_from_records([{"id": "PM"}]), out, genes=genes, cells=cells)
    html = " ".join(build_report(out).read_text().split())
    sec = html[html.index('id="resistance-1"'):]
    assert "<em>focal</em> = its region covers less than half of the chromosome arm" in sec
    assert "D preclinical (cell or animal models)" in sec
