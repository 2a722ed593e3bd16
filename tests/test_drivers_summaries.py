"""Summaries on a study-like cohort with known copy number: recurrence, frequencies,
pathways (Fig. 4) and the drug-group comparison (Supp. Fig. 3)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctcscope.drivers import (builtin_catalogue, driver_events, driver_matrix, events_per_patient, events_per_sample,
                              gene_copy_number, gene_frequencies, group_comparison, pathway_summary, recurrence)
from ctcscope.errors import InputError
from ctcscope.genome import load_genome

from _drivers_study import study_adata


@pytest.fixture(scope="module")
def cohort():
    genome = load_genome("hg19", 500_000)
    a = study_adata(genome, seed=1, jitter=0.2, drop=0.02)
    cat = builtin_catalogue()
    gc = gene_copy_number(a, cat.select_genes(genome.genes))
    ev = driver_events(gc, cat, obs=a.obs)
    return a, cat, gc, ev


def _rec(rec, patient, gene, alteration):
    r = rec[(rec.patient == patient) & (rec.gene == gene) & (rec.alteration == alteration)]
    return (int(r.n_carriers.iloc[0]), int(r.n_samples.iloc[0])) if len(r) else (0, None)


def test_study_recurrent_findings(cohort):
    a, cat, gc, ev = cohort
    rec = recurrence(ev, a.obs)
    # the normal-like CTC, the failed CTC and the leukocytes are not in the denominators
    assert _rec(rec, "P46", "ALK", "gain") == (10, 11)
    assert _rec(rec, "P46", "MYCN", "gain") == (10, 11)
    assert _rec(rec, "P46", "CCND3", "gain") == (11, 11)
    assert _rec(rec, "P46", "SEPT9", "gain") == (9, 11)
    assert _rec(rec, "P49", "RB1", "loss") == (7, 13)
    assert _rec(rec, "P49", "MYC", "gain") == (7, 13)
    assert _rec(rec, "P49", "FGFR1", "gain") == (7, 13)
    assert _rec(rec, "P49", "TP53", "loss") == (4, 13)
    assert _rec(rec, "P49", "CDKN2A", "loss") == (6, 13)
    assert _rec(rec, "P45", "CDK4", "gain") == (5, 7)     # 5 of 7 CTCs ...
    cdk4 = rec[(rec.patient == "P45") & (rec.gene == "CDK4")].iloc[0]
    assert cdk4.other_carriers == "P45_biopsy"            # ... and the biopsy
    assert _rec(rec, "P41", "MET", "gain") == (2, 4)
    for g in ("BAP1", "FANCD2", "MLH1"):
        r = ev[(ev.gene == g) & (ev.patient == "P45")]
        assert r.sample_id.tolist() == ["P45_CTC06"] and r.state.tolist() == ["homdel"]
    # carriers are named: RB1 loss in exactly the clone-A CTCs of P49
    carriers = rec[(rec.patient == "P49") & (rec.gene == "RB1")].carriers.iloc[0].split(";")
    assert carriers == [f"P49_CTC{i:02d}" for i in (1, 3, 6, 8, 9, 11, 12)]


def test_excluded_samples(cohort):
    a, cat, gc, ev = cohort
    assert "P46_WBC" not in set(ev.sample_id)            # controls give no driver events
    assert not ev[ev.sample_id == "P46_CTC12"].shape[0]  # flat normal-like CTC
    # the failed CTC's ERBB2 amplification is reported (flagged) but not counted
    failed = ev[ev.sample_id == "P46_CTC13"]
    # (ERBB2 and its amplicon neighbours of ambiguous role, which count when amplified)
    assert "ERBB2" in set(failed.gene) and set(failed.chrom) == {"17"} and set(failed.state) == {"amp"}
    assert (failed.confidence == "low").all() and failed.low_confidence_reason.str.contains("low_qc_sample").all()
    assert set(failed[failed.gene != "ERBB2"].role) == {"ambiguous"}
    per = events_per_sample(ev, a.obs).set_index("sample_id")
    assert not per.loc["P46_CTC13", "analysable"] and per.loc["P46_CTC12", "n_events"] == 0
    assert per.analysable.sum() == 11 + 13 + 8 + 4


def test_gene_frequencies_equal_the_design(cohort):
    a, cat, gc, ev = cohort
    f = gene_frequencies(gc, a.obs, cat).set_index("gene")
    n = 36   # analysable tumour samples
    assert (f.loc[["RB1", "ALK", "MET"], "n_samples"] == n).all()
    assert f.loc["RB1", "n_loss"] == 7 and f.loc["RB1", "freq_loss"] == pytest.approx(7 / n)
    assert f.loc["ALK", "n_gain"] == 10 and f.loc["CCND3", "freq_gain"] == pytest.approx(11 / n)
    assert f.loc["ERBB2", "n_gain"] == 5            # P46 CTC 1, 3, 9 and P45 CTC 2, 4
    assert f.loc["MET", "n_amp"] == 2 and f.loc["CDKN2A", "n_homdel"] == 6
    assert f.loc["TP53", "n_gain"] == 0 and f.loc["TP53", "n_loss"] == 4
    assert f.loc["RB1", "role"] == "loss_of_function"


def test_pathways_ordered_as_fig4(cohort):
    a, cat, gc, ev = cohort
    pw = pathway_summary(ev, a.obs)
    assert (np.diff(pw.n_altered_genes) <= 0).all()
    assert pw["rank"].tolist() == list(range(1, len(pw) + 1))
    an = ev[ev.sample_id.isin([s for s in a.obs_names if s not in ("P46_CTC12", "P46_CTC13", "P46_WBC")])]
    # each altered gene counted once, in its primary pathway
    assert pw.n_altered_genes.sum() == an.gene.nunique()
    by = pw.set_index("pathway")
    for p, genes in {"Cell cycle": ["CCND3", "RB1", "CDK4", "CDKN2A", "SEPT9"],
                     "DNA repair": ["TP53", "BAP1", "FANCD2", "MLH1"], "RTK/RAS": ["ALK", "MET", "ERBB2", "FGFR1"],
                     "MYC": ["MYC", "MYCN"]}.items():
        assert set(genes) <= set(by.loc[p, "genes"].split(";")), p
    assert by.loc["MYC", "patients"] == "P46;P49"


def test_group_comparison_exclusive_and_shared(cohort):
    a, cat, gc, ev = cohort
    per, summary = group_comparison(ev, a.obs)
    cat_of = {(r.gene, r.alteration): r.category for r in per.itertuples()}
    assert cat_of[("ALK", "gain")] == "crizotinib" and cat_of[("RB1", "loss")] == "crizotinib"
    assert cat_of[("MET", "gain")] == "lorlatinib" and cat_of[("CDK4", "gain")] == "lorlatinib"
    assert cat_of[("BAP1", "loss")] == "lorlatinib"
    assert cat_of[("ERBB2", "gain")] == "shared"
    row = per[(per.gene == "ERBB2")].iloc[0]
    assert (row.n_crizotinib, row.n_lorlatinib, row.label) == (3, 2, "C/L")
    s = summary.set_index("category")
    assert s.n_drivers.sum() == len(per) == ev[ev.sample_id.isin(
        [x for x in a.obs_names if x not in ("P46_CTC12", "P46_CTC13", "P46_WBC")])][["gene", "alteration"]].drop_duplicates().shape[0]
    assert s.loc["crizotinib", "label"] == "C" and s.loc["lorlatinib", "label"] == "L"
    assert s.fraction.sum() == pytest.approx(1.0)


def test_group_by_mapping_and_errors(cohort):
    a, cat, gc, ev = cohort
    per, summary = group_comparison(ev, a.obs, {"P46": "A", "P49": "A", "P45": "B"})   # P41 left out
    assert set(summary.category) == {"A", "B", "shared"}
    assert ("MET", "gain") not in set(zip(per.gene, per.alteration))
    with pytest.raises(InputError, match="no obs column 'drug'"):
        group_comparison(ev, a.obs, "drug")
    with pytest.raises(InputError, match="neither sample ids nor patient ids"):
        group_comparison(ev, a.obs, {"X1": "A"})


def test_events_per_patient(cohort):
    a, cat, gc, ev = cohort
    pp = events_per_patient(ev, a.obs).set_index("patient")
    assert pp.loc["P46", "n_samples"] == 11 and pp.loc["P41", "treatment_group"] == "lorlatinib"
    assert pp.loc["P46", "most_recurrent"].startswith("CCND3 gain 11/11")


def test_driver_matrix(cohort):
    a, cat, gc, ev = cohort
    m = driver_matrix(ev, a.obs, gene_freq=gene_frequencies(gc, a.obs, cat))
    rows = pd.DataFrame(m["rows"])
    z = np.array(m["z"])
    assert z.shape == (len(rows), 36)
    # rows grouped by pathway in Fig. 4 order
    order = [p["pathway"] for p in m["pathways"]]
    seen = list(dict.fromkeys(rows.pathway))
    assert seen == [p for p in order if p in seen]
    i = rows.index[rows.gene == "MET"][0]
    cols = [c["sample_id"] for c in m["columns"]]
    assert z[i, cols.index("P41_CTC01")] == 2 and z[i, cols.index("P41_CTC02")] == 0
    assert rows.loc[i, "groups"] == "L"
    j = rows.index[rows.gene == "RB1"][0]
    assert (z[j] == -1).sum() == 7 and rows.loc[j, "freq_loss"] == pytest.approx(7 / 36)


def test_gene_frequencies_per_drug_group(cohort):
    from ctcscope.drivers.plots import plot_frequency_by_group
    from ctcscope.drivers.summaries import gene_frequencies_by_group, most_altered_genes
    from ctcscope.report.figures import fig_gene_frequency_by_group

    a, cat, gc, ev = cohort
    by = gene_frequencies_by_group(gc, a.obs, catalogue=cat)
    assert sorted(by.group.unique()) == ["crizotinib", "lorlatinib"]
    f = by.set_index(["group", "gene"])
    # the design: ERBB2 gained in P46 CTC 1, 3, 9 (crizotinib) and P45 CTC 2, 4 (lorlatinib);
    # ALK gains only in crizotinib patients, MET amplification only in lorlatinib ones
    assert f.loc[("crizotinib", "ERBB2"), "n_gain"] == 3 and f.loc[("lorlatinib", "ERBB2"), "n_gain"] == 2
    assert f.loc[("crizotinib", "ALK"), "n_gain"] == 10 and f.loc[("lorlatinib", "ALK"), "n_gain"] == 0
    assert f.loc[("lorlatinib", "MET"), "n_amp"] == 2 and f.loc[("crizotinib", "MET"), "n_amp"] == 0
    n = f.xs("ERBB2", level="gene")["n_samples"]
    assert n.sum() == 36                             # the groups split the analysable samples
    assert f.loc[("lorlatinib", "ERBB2"), "freq_gain"] == pytest.approx(2 / n["lorlatinib"])
    # every group's counts add up to the all-samples table
    whole = gene_frequencies(gc, a.obs, cat).set_index("gene")
    summed = by.groupby("gene")[["n_gain", "n_loss"]].sum()
    pd.testing.assert_frame_equal(summed, whole.loc[summed.index, ["n_gain", "n_loss"]], check_names=False)
    # the figures draw those numbers: PNG panels and the report's small multiples
    genes = most_altered_genes(whole.reset_index(), 10)
    assert len(genes) == 10 and "ALK" in most_altered_genes(whole.reset_index(), 40)
    fig = plot_frequency_by_group(by, genes)
    panels = [ax for ax in fig.axes if ax.patches]
    assert [ax.get_title().split(" (")[0] for ax in panels] == ["crizotinib", "lorlatinib"]
    widths = [p.get_width() for p in panels[1].patches[:len(genes)]]
    np.testing.assert_allclose(widths, 100 * f.xs("lorlatinib").loc[genes, "freq_gain"].to_numpy())
    rep = fig_gene_frequency_by_group(by, genes)
    gain = [t for t in rep["data"] if t["meta"]["group"] == "lorlatinib" and t["name"] == "gain"][0]
    np.testing.assert_allclose(gain["x"], np.round(100 * f.xs("lorlatinib").loc[genes, "freq_gain"].to_numpy(), 1))
