"""Actionable vs context copy-number findings, one option per therapeutic idea, and the
summary paragraph, read from gene tables made by the drivers step on hand-built profiles.

The profiles are built in base pairs on hg19 (chromosome 7 gained as a whole, a 2.5 Mb MET
amplicon on top of it, 17q and 20q arm gains, 17p/13q arm losses), so each reading is
checked against a known truth: which events are broad and which are focal.
"""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from ctcscope.drivers import gene_copy_number
from ctcscope.genome import load_genome
from ctcscope.resistance.engine import interpret
from ctcscope.resistance.patients import patients_from_records
from ctcscope.resistance.stage import run_resistance_stage

GENES = ["EGFR", "MET", "ERBB2", "SRC", "TP53", "RB1", "KIT", "ALK", "MYC"]


@pytest.fixture(scope="module")
def hg19():
    return load_genome("hg19", 500_000)


def _arm(genome, chrom, arm):
    b = genome.bins[(genome.bins.chrom == chrom) & (genome.bins.arm == arm) & genome.bins.use]
    return int(b.start.min()), int(b.end.max())


def _segments(genome, sid, events):
    """Segments of a diploid cell: each event (chrom, arm | (start, end), cn) over neutral arms."""
    rows = []
    for chrom in sorted({e[0] for e in events}):
        cuts = []
        for arm in ("p", "q"):
            b = genome.bins[(genome.bins.chrom == chrom) & (genome.bins.arm == arm) & genome.bins.use]
            if len(b):
                lo, hi = _arm(genome, chrom, arm)
                cuts.append([lo, hi, 2.0])
        for c, where, cn in events:
            if c != chrom:
                continue
            if isinstance(where, str):
                for x in cuts:
                    if (x[0], x[1]) == _arm(genome, chrom, where):
                        x[2] = cn
            else:   # a focal window inside an arm: split the arm's piece
                s, e = where
                new = []
                for lo, hi, v in cuts:
                    if lo < e and hi > s:
                        new += [x for x in ([lo, s, v], [s, e, cn], [e, hi, v]) if x[1] > x[0]]
                    else:
                        new.append([lo, hi, v])
                cuts = new
        rows += [{"sample_id": sid, "chrom": chrom, "start": lo, "end": hi, "n_bins": max(1, (hi - lo) // 500_000),
                  "seg_mean": 1.0, "cn": v} for lo, hi, v in cuts]
    return rows


def _tables(genome, pid, cells_events, phenotype="ALK-/CK+"):
    """genes.tsv-like table (with extent columns) and cells.tsv for one patient's CTCs."""
    seg = pd.DataFrame([r for i, ev in enumerate(cells_events) for r in _segments(genome, f"{pid}_CTC{i + 1}", ev)])
    ids = [f"{pid}_CTC{i + 1}" for i in range(len(cells_events))]
    obs = pd.DataFrame({"ploidy": 2, "patient": pid, "sample_type": "ctc", "qc_pass": True}, index=ids)
    a = ad.AnnData(X=np.zeros((len(ids), genome.n_bins), np.float32), obs=obs, var=genome.to_var())
    a.uns["segments"] = seg
    genes = gene_copy_number(a, genome.genes[genome.genes.symbol.isin(GENES)])
    cells = pd.DataFrame({"sample_id": ids, "patient": pid, "sample_type": "ctc", "qc_pass": True,
                          "normal_like": False, "phenotype": phenotype})
    return genes, cells


AFTER_LORLATINIB = [{"drug": "crizotinib"}, {"drug": "alectinib"}, {"drug": "lorlatinib"}]


def _read(rec, genes, cells):
    return interpret(patients_from_records([rec]), genes=genes, cells=cells)[0]


def test_broad_chr7_gain_in_every_cell_gives_no_egfr_combination(hg19):
    genes, cells = _tables(hg19, "B7", [[("7", "p", 3.0), ("7", "q", 3.0)]] * 6)
    assert genes[genes.gene == "EGFR"].state.astype(str).eq("gain").all() and not genes.focal.any()
    r = _read({"id": "B7", "treatments": AFTER_LORLATINIB}, genes, cells)
    egfr = next(d for d in r.detected if d.mechanism.id == "egfr_her_activation")
    assert egfr.summary() == "EGFR/HER-family gain in 6 of 6 CTCs (broad gain in all)"
    assert egfr.role == "context" and not egfr.actionable and egfr.cell_labels()["B7_CTC1"] == ["EGFR:gain (arm-level)"]
    met = next(d for d in r.detected if d.mechanism.id == "met_amplification")
    assert met.label == "MET copy gain" and met.role == "context"
    assert not [o for o in r.options if o["type"] == "combination"]        # no EGFR or MET combination
    assert "EGFR/HER-family gain (6/6 CTCs)" in r.summary["context"][0] and "without options" in r.summary["context"][0]
    # the targeted options left are ALK TKIs with trial evidence after lorlatinib, none built on chr7
    assert all(o["type"] == "alk_tki" for o in r.options if o["group"] in ("supported", "bypass"))


def test_focal_met_amplification_gives_the_alk_plus_met_combination(hg19):
    chr7 = [("7", "p", 3.0), ("7", "q", 3.0)]
    amp = chr7 + [("7", (115_500_000, 118_000_000), 10.0)]
    genes, cells = _tables(hg19, "M7", [amp, amp, chr7, chr7, chr7, chr7])
    r = _read({"id": "M7", "treatments": AFTER_LORLATINIB}, genes, cells)
    met = next(d for d in r.detected if d.mechanism.id == "met_amplification")
    assert met.actionable and met.role == "actionable" and met.actionable_cells == ["M7_CTC1", "M7_CTC2"]
    assert met.summary() == "MET amplification in 6 of 6 CTCs (focal amplification in 2, broad gain in 4)"
    top = r.options[0]
    assert top["group"] == "bypass" and top["therapy"].startswith("ALK TKI + MET inhibitor") and top["n_cells"] == 2
    # the MET idea carries both regimens the literature names, with all their evidence
    assert {x["therapy"] for x in top["regimens"]} == {"ALK TKI + MET inhibitor (e.g. lorlatinib + crizotinib)",
                                                       "alectinib + metformin (HGF/MET-Gab1 axis)"}
    assert top["n_evidence"] == 2 and top["level"] == "C"
    assert not [o for o in r.options if "EGFR" in o["therapy"]]            # chr7 gain stays context
    assert r.summary["headline"].startswith("MET focal amplification in 2 of 6 CTCs: ALK TKI + MET inhibitor")


def test_focal_low_level_gain_is_actionable_but_only_discussed(hg19):
    chr7 = [("7", "p", 3.0), ("7", "q", 3.0)]
    gain = chr7 + [("7", (115_500_000, 118_000_000), 4.0)]          # one more copy over 2.5 Mb
    genes, cells = _tables(hg19, "L7", [gain, chr7, chr7])
    r = _read({"id": "L7", "treatments": AFTER_LORLATINIB}, genes, cells)
    met = next(d for d in r.detected if d.mechanism.id == "met_amplification")
    assert met.actionable and not met.high_level and met.label == "MET copy gain"
    combo = next(o for o in r.options if o["therapy"].startswith("ALK TKI + MET inhibitor"))
    assert combo["group"] == "discuss" and any("focal low-level" in c for c in combo["caveats"])


def test_one_option_per_idea_ranked_by_level_then_prevalence(hg19):
    erbb2_amp = [("17", (37_000_000, 39_000_000), 9.0)]
    kit_amp = [("4", (54_500_000, 56_500_000), 9.0)]
    met_amp = [("7", (115_500_000, 118_000_000), 10.0)]
    genes, cells = _tables(hg19, "R", [erbb2_amp + kit_amp, erbb2_amp, erbb2_amp, met_amp])
    r = _read({"id": "R", "treatments": AFTER_LORLATINIB}, genes, cells)
    combos = [o for o in r.options if o["type"] == "combination"]
    egfr = [o for o in combos if "EGFR" in o["therapy"] or "afatinib" in o["therapy"] or "osimertinib" in o["therapy"]]
    assert len(egfr) == 1 and len(egfr[0]["regimens"]) == 3 and egfr[0]["n_evidence"] == 3   # not three options
    order = [o["therapy"].split(" (")[0] for o in combos]
    # MET (level C, 1 cell) before the level-D ideas; among level D, EGFR/HER (3 cells) before KIT (1 cell)
    assert order[:3] == ["ALK TKI + MET inhibitor", "ALK TKI + EGFR inhibitor", "ALK TKI + KIT inhibitor"]
    assert [o["rank"] for o in r.options] == list(range(1, len(r.options) + 1))


P45 = {"id": "P45", "fusion": "EML4-ALK", "variant": "v3",
       "treatments": [{"drug": "crizotinib", "months": 9.5}, {"drug": "ceritinib", "months": 1.5},
                      {"drug": "brigatinib", "months": 3.5}, {"drug": "lorlatinib", "months": 3.6}],
       "mutations": [{"name": "G1202R+F1174C", "found_in": ["P45_CTC3", "biopsy"]},
                     {"name": "G1202R/T1151M", "found_in": ["P45_CTC5"]}]}


def test_p45_like_compound_g1202r_leads_with_no_approved_tki(hg19):
    broad = [("7", "q", 3.0), ("17", "q", 3.0), ("20", "q", 3.0), ("17", "p", 1.0)]
    genes, cells = _tables(hg19, "P45", [broad] * 7)
    r = _read(P45, genes, cells)
    assert set(r.matrix["summary"].values()) <= {"resistant", "conflicting"}
    assert r.summary["headline"] == ("No approved ALK TKI covers ALK F1174C+G1202R and T1151M+G1202R: consider "
                                     "re-biopsy, a clinical trial or chemotherapy")
    assert r.summary["text"].startswith(r.summary["headline"])
    assert "brigatinib conflicting (already failed)" in r.summary["on_target"][0]
    assert r.options[0]["therapy"] == "re-biopsy, clinical trial or chemotherapy"
    assert not [o for o in r.options if o["group"] in ("supported", "bypass")]
    assert not [o for o in r.options if o["type"] == "combination"]       # broad 7q/17q/20q gains: context only
    ctx = r.summary["context"][0]
    assert "EGFR/HER-family gain (7/7 CTCs)" in ctx and "SRC gain (7/7 CTCs)" in ctx


def test_tp53_rb1_co_loss_says_how_many_cells_and_what_kind_of_loss(hg19):
    arm_loss = [("17", "p", 1.0), ("13", "q", 1.0)]
    genes, cells = _tables(hg19, "T", [arm_loss, arm_loss, arm_loss, [("17", "p", 1.0)], [("13", "q", 1.0)], []])
    r = _read({"id": "T", "treatments": [{"drug": "crizotinib"}]}, genes, cells)
    sclc = next(d for d in r.detected if d.mechanism.id == "sclc_transformation")
    c = sclc.co_loss()
    assert c["cells_with_all"] == ["T_CTC1", "T_CTC2", "T_CTC3"] and c["each"] == {"TP53": 4, "RB1": 4}
    assert c["kind"] == "arm_level"
    assert sclc.co_loss_detail() == ("TP53 loss in 4, RB1 loss in 4 of 6 CTCs; both in the same cell in 3 "
                                     "(T_CTC1, T_CTC2, T_CTC3): all arm-level single-copy losses, no homozygous "
                                     "deletion or focal loss")
    lineage = r.summary["lineage"][0]
    assert "in the same cell in 3 of 6 CTCs" in lineage and "arm-level single-copy losses" in lineage
    assert "copy loss is not inactivation (no mutation data)" in lineage
    # a homozygous RB1 deletion in one of them is named
    homo = [("17", "p", 1.0), ("13", (48_500_000, 49_500_000), 0.0)]
    genes, cells = _tables(hg19, "H", [homo, arm_loss])
    r = _read({"id": "H", "treatments": [{"drug": "crizotinib"}]}, genes, cells)
    c = next(d for d in r.detected if d.mechanism.id == "sclc_transformation").co_loss()
    assert c["kind"] == "focal_or_homozygous" and c["strong_events"] == ["RB1 homozygous deletion"]


def test_summary_in_json_and_at_the_top_of_the_report_section(hg19, tmp_path):
    from ctcscope.report import build_report

    broad = [("7", "q", 3.0), ("17", "q", 3.0)]
    genes, cells = _tables(hg19, "P45", [broad] * 4)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".ctcscope").touch()
    res = run_resistance_stage(patients_from_records([P45]), out, genes=genes, cells=cells)
    p = res["document"]["patients"][0]
    assert res["document"]["schema_version"] == "1.1"
    assert set(p["summary"]) == {"headline", "text", "on_target", "actionable", "lineage", "context", "evidence"}
    egfr = next(m for m in p["mechanisms"] if m["id"] == "egfr_her_activation")
    assert egfr["role"] == "context" and egfr["actionable"] is False and egfr["extent"] == {"broad gain": 4}
    html = build_report(out).read_text()
    sec = html[html.index('id="resistance-1"'):]
    head = sec.index("No approved ALK TKI covers ALK F1174C+G1202R and T1151M+G1202R")
    assert head < sec.index("Treatment timeline") and 'class="reading-summary"' in sec[:head]
