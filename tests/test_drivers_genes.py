"""Gene-level copy number: state rules, breakpoint rules, flags, and the interval join."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from ctcscope.drivers import CallThresholds, builtin_catalogue, classify_cn, gene_anndata, gene_copy_number
from ctcscope.drivers.genes import STATE_CODES, segments_from_layer, state_names
from ctcscope.errors import InputError
from ctcscope.genome import load_genome

from _drivers_cohort import Sample, build_adata, gene_event, gene_locus


@pytest.fixture(scope="module")
def hg19():
    return load_genome("hg19", 500_000)


def _adata_from_segments(seg: pd.DataFrame, obs: pd.DataFrame, genome) -> ad.AnnData:
    a = ad.AnnData(X=np.zeros((len(obs), genome.n_bins), np.float32), obs=obs, var=genome.to_var())
    a.uns["segments"] = seg
    return a


def _genes(*rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "symbol"])


# ---------------------------------------------------------------------------- states


@pytest.mark.parametrize("cn,ploidy,state", [
    (0, 2, "homdel"), (1, 2, "loss"), (2, 2, "neutral"), (3, 2, "gain"), (4, 2, "gain"), (5, 2, "amp"),
    (9, 2, "amp"), (0, 4, "homdel"), (3, 4, "loss"), (5, 4, "gain"), (7, 4, "gain"), (8, 4, "amp"),
    (2, 3, "loss"), (5, 3, "gain"), (6, 3, "amp"), (11, 6, "gain"), (12, 6, "amp"), (1, 1, "neutral"),
    (3, 1, "gain"), (4, 1, "amp"),
    # fractional copy numbers (pools, biopsies) are read at the nearest integer
    (2.4, 2, "neutral"), (2.6, 2, "gain"), (1.4, 2, "loss"), (0.4, 2, "homdel"), (4.6, 2, "amp"),
    (np.nan, 2, "unknown"),
])
def test_classify_cn_hand_checked(cn, ploidy, state):
    assert state_names(classify_cn([cn], ploidy))[0] == state


def test_classify_cn_thresholds_are_parameters():
    # with amp = CN >= 3 x ploidy, 5 copies in a diploid cell is only a gain
    assert state_names(classify_cn([5, 6], 2, amp_ratio=3.0, amp_extra=0))[0] == "gain"
    assert state_names(classify_cn([5, 6], 2, amp_ratio=3.0, amp_extra=0))[1] == "amp"


# ------------------------------------------------------------------- breakpoint rules


def test_gene_spanning_a_breakpoint(hg19):
    # one sample, chr1: [0, 10 Mb) at 1 copy, [10, 20 Mb) at 2 copies, [20, 30 Mb) at 3 copies
    seg = pd.DataFrame({"sample_id": "s", "chrom": "1", "start": [0, 10_000_000, 20_000_000],
                        "end": [10_000_000, 20_000_000, 30_000_000], "n_bins": 20, "seg_mean": 1.0,
                        "cn": [1.0, 2.0, 3.0]})
    obs = pd.DataFrame({"ploidy": [2]}, index=["s"])
    genes = _genes(
        ("1", 9_900_000, 10_400_000, "LOSS_EDGE"),    # 20 % in the loss, 80 % neutral -> lost (partial deletion)
        ("1", 19_500_000, 20_100_000, "GAIN_MINOR"),  # 1/6 in the gain -> neutral, not gained
        ("1", 19_900_000, 20_500_000, "GAIN_MAJOR"),  # 5/6 in the gain -> gained
        ("1", 14_000_000, 15_000_000, "INSIDE"),      # inside the neutral segment, far from breakpoints
        ("1", 10_050_000, 10_100_000, "NEAR"),        # inside the neutral segment, 50 kb from a breakpoint
    )
    gc = gene_copy_number(_adata_from_segments(seg, obs, hg19), genes).set_index("gene")
    assert gc.loc["LOSS_EDGE", "state"] == "loss" and gc.loc["LOSS_EDGE", "copy_number"] == 1
    assert gc.loc["LOSS_EDGE", "cn_major"] == 2 and gc.loc["LOSS_EDGE", "state_major"] == "neutral"
    assert "spans_breakpoint" in gc.loc["LOSS_EDGE", "low_confidence_reason"]
    assert gc.loc["GAIN_MINOR", "state"] == "neutral" and gc.loc["GAIN_MINOR", "cn_max"] == 3
    assert gc.loc["GAIN_MAJOR", "state"] == "gain" and gc.loc["GAIN_MAJOR", "copy_number"] == 3
    assert gc.loc["INSIDE", "state"] == "neutral" and gc.loc["INSIDE", "confidence"] == "high"
    assert gc.loc["NEAR", "low_confidence_reason"] == "near_breakpoint"
    assert (gc["n_bins"] == 20).all()


def test_gene_mostly_gained_with_a_partial_loss_reports_the_gain(hg19):
    seg = pd.DataFrame({"sample_id": "s", "chrom": "1", "start": [0, 10_000_000], "end": [10_000_000, 30_000_000],
                        "n_bins": 20, "seg_mean": 1.0, "cn": [1.0, 4.0]})
    obs = pd.DataFrame({"ploidy": [2]}, index=["s"])
    gc = gene_copy_number(_adata_from_segments(seg, obs, hg19), _genes(("1", 9_900_000, 10_900_000, "G")))
    r = gc.iloc[0]
    assert (r.state, r.copy_number, r.state_major, r.state_min) == ("gain", 4, "gain", "loss")


def test_gene_in_unusable_bins_takes_agreeing_flanks(hg19):
    # a gap of unusable bins between two segments: same CN on both sides -> that CN; else unknown
    seg = pd.DataFrame({"sample_id": ["a", "a", "b", "b"], "chrom": "1",
                        "start": [0, 12_000_000, 0, 12_000_000], "end": [10_000_000, 30_000_000] * 2,
                        "n_bins": 20, "seg_mean": 1.0, "cn": [3.0, 3.0, 3.0, 2.0]})
    obs = pd.DataFrame({"ploidy": [2, 2]}, index=["a", "b"])
    gc = gene_copy_number(_adata_from_segments(seg, obs, hg19), _genes(("1", 10_500_000, 11_000_000, "GAP")))
    gc = gc.set_index("sample_id")
    assert gc.loc["a", "state"] == "gain" and gc.loc["a", "low_confidence_reason"] == "in_unusable_bins"
    assert gc.loc["b", "state"] == "unknown" and np.isnan(gc.loc["b", "copy_number"])


def test_low_confidence_flags(hg19):
    seg = pd.DataFrame({"sample_id": ["a", "b"], "chrom": "1", "start": 0, "end": 30_000_000,
                        "n_bins": [2, 40], "seg_mean": 1.0, "cn": [2.0, 2.0]})
    obs = pd.DataFrame({"ploidy": [2, 2], "qc_pass": [True, False], "ploidy_confidence": [0.9, 0.3]}, index=["a", "b"])
    gc = gene_copy_number(_adata_from_segments(seg, obs, hg19), _genes(("1", 5_000_000, 5_100_000, "G")))
    gc = gc.set_index("sample_id")
    assert gc.loc["a", "low_confidence_reason"] == "few_bins"
    assert gc.loc["b", "low_confidence_reason"] == "low_qc_sample;uncertain_ploidy"
    assert (gc["confidence"] == "low").all()


def test_ploidy_relative_states_after_wgd(hg19):
    s = [Sample("wgd", ploidy=4, events=[gene_event(hg19, "MYC", 5), gene_event(hg19, "MET", 8),
                                         gene_event(hg19, "RB1", 3), gene_event(hg19, "CDKN2A", 0)]),
         Sample("dip", ploidy=2, events=[gene_event(hg19, "MYC", 4), gene_event(hg19, "MET", 5)])]
    a = build_adata(hg19, s)
    genes = builtin_catalogue().select_genes(hg19.genes)
    gc = gene_copy_number(a, genes).set_index(["sample_id", "gene"])
    assert gc.loc[("wgd", "MYC"), "state"] == "gain"
    assert gc.loc[("wgd", "MET"), "state"] == "amp"
    assert gc.loc[("wgd", "RB1"), "state"] == "loss"
    assert gc.loc[("wgd", "CDKN2A"), "state"] == "homdel"
    assert gc.loc[("wgd", "TP53"), "state"] == "neutral" and gc.loc[("wgd", "TP53"), "relative_cn"] == 1.0
    assert gc.loc[("dip", "MYC"), "state"] == "gain" and gc.loc[("dip", "MET"), "state"] == "amp"


def test_male_x_is_not_a_loss_and_sex_is_inferred_from_controls(hg19):
    cat_genes = builtin_catalogue().select_genes(hg19.genes)
    xg = cat_genes[cat_genes.chrom == "X"].symbol.iloc[0]
    s = [Sample("m_ctc", sex="M", patient="PM"), Sample("m_wbc", sex="M", patient="PM", sample_type="wbc"),
         Sample("f_ctc", sex="F", patient="PF")]
    a = build_adata(hg19, s)
    del a.obs["sex"]       # must be inferred from the leukocyte control of patient PM
    gc = gene_copy_number(a, cat_genes).set_index(["sample_id", "gene"])
    assert gc.loc[("m_ctc", xg), "state"] == "neutral" and gc.loc[("m_ctc", xg), "expected_cn"] == 1
    assert gc.loc[("f_ctc", xg), "state"] == "neutral"
    assert "sex_unknown" in gc.loc[("f_ctc", xg), "low_confidence_reason"]   # no control for PF
    assert "sex_unknown" not in gc.loc[("m_ctc", xg), "low_confidence_reason"]


def test_hg38_alias_septin9(hg19):
    g38 = load_genome("hg38", 500_000)
    cat = builtin_catalogue()
    sel = cat.select_genes(g38.genes)
    row = sel[sel.catalogue_gene == "SEPT9"]
    assert row.symbol.tolist() == ["SEPTIN9"]
    assert "SEPTIN9" in cat and cat.lookup("septin9").name == "SEPT9"


def test_missing_ploidy_is_a_clear_error(hg19):
    a = build_adata(hg19, [Sample("s")])
    del a.obs["ploidy"]
    with pytest.raises(InputError, match="ploidy"):
        gene_copy_number(a, hg19.genes.head(5))


# ------------------------------------------------------ the vectorised join vs a reference


def _reference(seg: pd.DataFrame, genes: pd.DataFrame, sample: str):
    """Plain per-gene loop: min, max and largest-overlap copy number."""
    out = {}
    s = seg[seg.sample_id == sample]
    for g in genes.itertuples():
        ov = s[(s.chrom == g.chrom) & (s.end > g.start) & (s.start < g.end)]
        if ov.empty:
            out[g.symbol] = (np.nan, np.nan, np.nan)
            continue
        length = np.minimum(ov.end, g.end) - np.maximum(ov.start, g.start)
        out[g.symbol] = (ov.cn.min(), ov.cn.max(), ov.cn.to_numpy()[np.argmax(length.to_numpy())])
    return out


def test_interval_join_matches_a_reference_loop(hg19):
    rng = np.random.default_rng(7)
    genes = hg19.genes[hg19.genes.chrom.isin(["1", "7", "17", "X"])].sample(400, random_state=1)
    samples = []
    for k in range(6):
        ev = []
        for _ in range(40):
            c = str(rng.choice(["1", "7", "17", "X"]))
            a = int(rng.integers(0, 150_000_000))
            ev.append((c, a, a + int(rng.integers(50_000, 20_000_000)), float(rng.integers(0, 7))))
        samples.append(Sample(f"s{k}", ploidy=int(rng.choice([2, 3, 4])), events=ev))
    a = build_adata(hg19, samples, seed=3, jitter=0.3, drop=0.05)
    gc = gene_copy_number(a, genes, max_pairs=500)   # several chunks
    seg = a.uns["segments"]
    for s in a.obs_names:
        ref = _reference(seg, genes, s)
        got = gc[gc.sample_id == s].set_index("gene")
        for sym, (mn, mx, mj) in ref.items():
            if np.isnan(mn):
                assert "in_unusable_bins" in got.loc[sym, "low_confidence_reason"]
                continue
            assert (got.loc[sym, "cn_min"], got.loc[sym, "cn_max"], got.loc[sym, "cn_major"]) == (mn, mx, mj), (s, sym)


def test_segments_from_layer_round_trip(hg19):
    a = build_adata(hg19, [Sample("s", events=[gene_event(hg19, "ERBB2", 9)])])
    seg = segments_from_layer(a)
    c, s, e = gene_locus(hg19, "ERBB2")
    hit = seg[(seg.chrom == c) & (seg.start <= s) & (seg.end >= e)]
    assert hit.cn.tolist() == [9.0]
    # the segments tile exactly the usable bins
    assert seg.n_bins.sum() == int(hg19.bins.use.sum())


def test_gene_anndata_layout(hg19):
    a = build_adata(hg19, [Sample("a", events=[gene_event(hg19, "MET", 8)]), Sample("b")])
    cat = builtin_catalogue()
    gc = gene_copy_number(a, cat.select_genes(hg19.genes))
    g = gene_anndata(gc, a.obs, cat)
    assert g.shape == (2, gc.gene.nunique())
    assert g[ "a", "MET"].X[0, 0] == 8
    assert g["a", "MET"].layers["state"][0, 0] == STATE_CODES["amp"]
    assert g.var.loc["MET", "role"] == "activating"
    assert list(g.obs_names) == ["a", "b"]


def test_thresholds_object_changes_calls(hg19):
    a = build_adata(hg19, [Sample("a", events=[gene_event(hg19, "MET", 5)])])
    genes = _genes(gene_locus(hg19, "MET") + ("MET",))
    assert gene_copy_number(a, genes).state.iloc[0] == "amp"
    assert gene_copy_number(a, genes, thresholds=CallThresholds(amp_ratio=3)).state.iloc[0] == "gain"


# ------------------------------------------------------------------ extent and focal flag


def test_extent_of_the_altered_region_and_focal_flag(hg19):
    """Hand-built chr7/chr9 profiles (hg19, centromere of 7 at ~58-62 Mb, 7q ~97 Mb of usable bins)."""
    def seg(sid, rows):
        return pd.DataFrame([{"sample_id": sid, "chrom": c, "start": s, "end": e, "n_bins": max(1, (e - s) // 500_000),
                              "seg_mean": 1.0, "cn": v} for c, s, e, v in rows])
    q7 = hg19.bins[(hg19.bins.chrom == "7") & (hg19.bins.arm == "q") & hg19.bins.use]
    q_lo, q_hi = int(q7.start.min()), int(q7.end.max())
    p7 = hg19.bins[(hg19.bins.chrom == "7") & (hg19.bins.arm == "p") & hg19.bins.use]
    p_lo, p_hi = int(p7.start.min()), int(p7.end.max())
    p9 = hg19.bins[(hg19.bins.chrom == "9") & (hg19.bins.arm == "p") & hg19.bins.use]
    b17 = hg19.bins[(hg19.bins.chrom == "17") & hg19.bins.use]
    p17_lo, p17_hi = int(b17[b17.arm == "p"].start.min()), int(b17[b17.arm == "p"].end.max())
    q17_lo, q17_hi = int(b17[b17.arm == "q"].start.min()), int(b17[b17.arm == "q"].end.max())
    s = pd.concat([
        # whole chromosome 7 gained: EGFR and MET gains, arm-level
        seg("whole7", [("7", p_lo, p_hi, 3.0), ("7", q_lo, q_hi, 3.0)]),
        # chromosome 7 gained with a 2.5 Mb MET amplicon on top: only the amplicon is focal
        seg("met_amp", [("7", p_lo, p_hi, 3.0), ("7", q_lo, 115_000_000, 3.0), ("7", 115_000_000, 117_500_000, 9.0),
                        ("7", 117_500_000, q_hi, 3.0)]),
        # 7q gained at two levels: a gene in the lower part belongs to the whole gained arm
        seg("two_level", [("7", p_lo, p_hi, 2.0), ("7", q_lo, 100_000_000, 3.0), ("7", 100_000_000, q_hi, 4.0)]),
        # 9p lost with a 1 Mb homozygous deletion at CDKN2A
        seg("cdkn2a", [("9", int(p9.start.min()), 21_500_000, 1.0), ("9", 21_500_000, 22_500_000, 0.0),
                       ("9", 22_500_000, int(p9.end.max()), 1.0)]),
        # chromosome 17 lost in a tetraploid cell, cut by an ERBB2 amplicon: NF1 (17q11) is on
        # the lost arm although the stretch at <= 3 copies covers less than half of 17q
        seg("erbb2", [("17", p17_lo, p17_hi, 3.0), ("17", q17_lo, 37_500_000, 3.0), ("17", 37_500_000, 38_500_000, 12.0),
                      ("17", 38_500_000, q17_hi, 3.0)]),
    ], ignore_index=True)
    obs = pd.DataFrame({"ploidy": [2, 2, 2, 2, 4]}, index=["whole7", "met_amp", "two_level", "cdkn2a", "erbb2"])
    genes = hg19.genes[hg19.genes.symbol.isin(["EGFR", "MET", "CDKN2A", "PTPRZ1", "SMO", "MLLT3", "NF1", "ERBB2"])]
    gc = gene_copy_number(_adata_from_segments(s, obs, hg19), genes).astype({"gene": str, "sample_id": str})
    g = gc.set_index(["sample_id", "gene"])
    assert g.loc[("whole7", "EGFR"), "state"] == "gain" and not g.loc[("whole7", "EGFR"), "focal"]
    assert g.loc[("whole7", "MET"), "arm_fraction"] == pytest.approx(1.0)
    assert (g.loc[("whole7", "MET"), "segment_start"], g.loc[("whole7", "MET"), "segment_end"]) == (p_lo, q_hi)
    met = g.loc[("met_amp", "MET")]
    assert met["state"] == "amp" and met["focal"]
    assert (met["segment_start"], met["segment_end"], met["segment_mb"]) == (115_000_000, 117_500_000, pytest.approx(2.5))
    assert met["arm_fraction"] == pytest.approx(2.5e6 / (q_hi - q_lo), rel=1e-4)
    # SMO (7q32, 11 Mb beside the amplicon) is on the gained arm: the region at >= 3 copies spans the arm
    assert g.loc[("met_amp", "SMO"), "state"] == "gain" and not g.loc[("met_amp", "SMO"), "focal"]
    assert g.loc[("met_amp", "SMO"), "arm_fraction"] == pytest.approx(1.0)
    # PTPRZ1 (7q31, 121 Mb) at 4 copies: the region at >= 4 copies is 100 Mb - end, more than half of 7q
    two = g.loc[("two_level", "PTPRZ1")]
    assert two["copy_number"] == 4 and two["segment_start"] == 100_000_000 and not two["focal"]
    assert 0.5 < two["arm_fraction"] < 0.7
    # CDKN2A homozygously deleted over 1 Mb: focal; MLLT3 (9p21.3, 20.3 Mb) on the lost arm: not
    assert g.loc[("cdkn2a", "CDKN2A"), "state"] == "homdel" and g.loc[("cdkn2a", "CDKN2A"), "focal"]
    assert g.loc[("cdkn2a", "CDKN2A"), "segment_mb"] == pytest.approx(1.0)
    assert g.loc[("cdkn2a", "MLLT3"), "state"] == "loss" and not g.loc[("cdkn2a", "MLLT3"), "focal"]
    assert g.loc[("cdkn2a", "MLLT3"), "arm_fraction"] > 0.98
    nf1 = g.loc[("erbb2", "NF1")]
    assert nf1["state"] == "loss" and nf1["arm_fraction"] < 0.5 and not nf1["focal"]
    assert g.loc[("erbb2", "ERBB2"), "state"] == "amp" and g.loc[("erbb2", "ERBB2"), "focal"]
    # neutral genes are never focal; without arm annotation the fraction is unknown
    assert not gc[gc.state == "neutral"].focal.any()
    a = _adata_from_segments(s, obs, hg19)
    a.var = a.var.drop(columns="arm")
    no_arm = gene_copy_number(a, genes)
    assert no_arm.arm_fraction.isna().all() and not no_arm.focal.any()
    known = no_arm.state.astype(str) != "unknown"
    assert no_arm.segment_mb[known].notna().all() and no_arm.segment_start[~known].isna().all()


def test_driver_events_carry_the_extent_of_their_own_call(hg19):
    from ctcscope.drivers import driver_events

    b17 = hg19.bins[(hg19.bins.chrom == "17") & hg19.bins.use]
    b10 = hg19.bins[(hg19.bins.chrom == "10") & hg19.bins.use]
    q17 = (int(b17[b17.arm == "q"].start.min()), int(b17[b17.arm == "q"].end.max()))
    q10 = (int(b10[b10.arm == "q"].start.min()), int(b10[b10.arm == "q"].end.max()))
    seg = pd.DataFrame([
        # 17q lost, cut by a 1 Mb ERBB2 amplicon
        ("s", "17", q17[0], 37_500_000, 1.0), ("s", "17", 37_500_000, 38_500_000, 9.0), ("s", "17", 38_500_000, q17[1], 1.0),
        # PTEN (89.62-89.73 Mb) mostly on a gained stretch, its 3' end on a loss
        ("s", "10", q10[0], 89_700_000, 3.0), ("s", "10", 89_700_000, q10[1], 1.0),
    ], columns=["sample_id", "chrom", "start", "end", "cn"]).assign(n_bins=20, seg_mean=1.0)
    obs = pd.DataFrame({"ploidy": [2], "patient": ["P"], "sample_type": ["ctc"]}, index=["s"])
    genes = hg19.genes[hg19.genes.symbol.isin(["ERBB2", "NF1", "PTEN"])]
    gc = gene_copy_number(_adata_from_segments(seg, obs, hg19), genes)
    ev = driver_events(gc, builtin_catalogue(), obs=obs).set_index("gene")
    assert {"segment_start", "segment_end", "segment_mb", "arm_fraction", "focal"} <= set(ev.columns)
    assert ev.loc["ERBB2", "alteration"] == "gain" and ev.loc["ERBB2", "focal"]
    assert ev.loc["ERBB2", "segment_mb"] == pytest.approx(1.0)
    assert ev.loc["NF1", "alteration"] == "loss" and not ev.loc["NF1", "focal"]
    # PTEN is reported gained in genes.tsv (most of it), so its loss event has no extent of its own
    assert gc.set_index("gene").loc["PTEN", "state"] == "gain"
    assert ev.loc["PTEN", "alteration"] == "loss" and pd.isna(ev.loc["PTEN", "segment_start"]) and not ev.loc["PTEN", "focal"]


def test_stage_finds_the_build_in_json_provenance(hg19, tmp_path):
    # cohort.h5ad keeps uns['ctcscope'] as JSON text: the drivers step reads the build from it
    import json

    from ctcscope.drivers.stage import _genome_for

    a = ad.AnnData(X=np.zeros((1, hg19.n_bins), np.float32), var=hg19.to_var())
    a.uns["ctcscope"] = json.dumps({"genome": {"build": "hg19", "bin_size": 500_000}})
    assert _genome_for(a, None).build == "hg19"
    b = ad.AnnData(X=np.zeros((1, hg19.n_bins), np.float32), var=hg19.to_var())
    b.uns["genome"] = {"build": "hg19", "bin_size": 500_000}
    assert _genome_for(b, None).n_bins == hg19.n_bins
