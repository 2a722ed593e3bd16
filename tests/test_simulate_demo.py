"""The demo cohort reproduces the design and findings reported by Oulhen et al. 2021
(npj Precis Oncol 5:71, doi:10.1038/s41698-021-00203-1) and is labelled as simulated."""
from __future__ import annotations

import numpy as np
import pytest

from ctcscope.genome import AUTOSOMES
from ctcscope.simulate import demo_design, simulate_demo
from ctcscope.simulate.cohort import karyotype_ok


@pytest.fixture(scope="module")
def demo():
    return simulate_demo()


#: Demo samples that are not among the study's analysed CTCs: two failed libraries (the
#: study: 76/83 libraries passed QC) and a putative CTC outside the refined FACS gates.
NOT_ANALYSED = {"SIM-P49_CTC15", "SIM-P46_CTC13", "SIM-P50_CTC06"}


@pytest.fixture(scope="module")
def all_samples(demo):
    return demo.truth.samples.set_index("sample_id")


@pytest.fixture(scope="module")
def truth(all_samples):
    """The samples the study's numbers speak of (its analysed CTCs, controls, biopsy)."""
    return all_samples.drop(index=sorted(NOT_ANALYSED))


def test_failed_libraries_and_regated_cell(all_samples):
    from ctcscope.pipeline import DEMO_OUTSIDE_GATES

    t = all_samples
    assert t.loc["SIM-P49_CTC15", "reads"] < 50_000                 # below the QC floor of reads
    assert t.loc["SIM-P46_CTC13", "mapd_target"] > 0.45             # above the QC ceiling of MAPD
    assert set(DEMO_OUTSIDE_GATES) == {"SIM-P50_CTC06"} <= NOT_ANALYSED


def _states(demo, patient, gene):
    g = demo.truth.genes
    return g[(g.patient == patient) & (g.gene == gene)].set_index("sample_id").state


def _num(ids):
    return {int(s.rsplit("CTC", 1)[1]) for s in ids}


def test_deterministic_and_labelled(demo):
    again = simulate_demo()
    np.testing.assert_array_equal(demo.counts, again.counts)
    a = demo.adata
    assert a.obs.index.str.startswith("SIM-").all() and a.obs.simulated.all()
    assert a.uns["simulation"]["simulated"] and demo.design.simulated
    for p in demo.design.patients:
        assert "SIMULATED" in p.sheet["notes"]
    assert 45 <= a.n_obs <= 60


def test_patients_treatments_and_pfs():
    d = {p.id: p for p in demo_design().patients}
    assert sorted(d) == ["P41", "P43", "P45", "P46", "P49", "P50"]
    pfs = {k: d[k].sheet["treatments"][-1]["months"] for k in d}
    drugs = {k: d[k].sheet["treatments"][-1]["drug"] for k in d}
    assert {k for k, v in drugs.items() if v == "crizotinib"} == {"P43", "P46", "P49", "P50"}
    assert {k for k, v in drugs.items() if v == "lorlatinib"} == {"P41", "P45"}
    assert pfs == {"P43": 4.7, "P46": 13.7, "P49": 3.6, "P50": 9.3, "P41": 13.3, "P45": 3.6}
    assert [(t["drug"], t["months"]) for t in d["P41"].sheet["treatments"]] == [
        ("crizotinib", 10.0), ("ceritinib", 16.0), ("lorlatinib", 13.3)]
    assert [(t["drug"], t["months"]) for t in d["P45"].sheet["treatments"]] == [
        ("crizotinib", 9.5), ("ceritinib", 1.5), ("brigatinib", 3.5), ("lorlatinib", 3.6)]
    muts = {m["name"]: m["found_in"] for m in d["P45"].sheet["mutations"]}
    assert set(muts) == {"G1202R+F1174C", "G1202R+T1151M"}
    assert "SIM-P45_BIOPSY" in muts["G1202R+F1174C"] and any("CTC" in s for s in muts["G1202R+F1174C"])
    assert d["P45"].sheet["variant"] == "v3" and all(d[k].sheet["variant"] == "v1" for k in d if k != "P45")
    assert all(d[k].sheet["fusion"] == "EML4-ALK" for k in d)


def test_samples_controls_pools_biopsy(truth):
    t = truth
    for p in ["P41", "P43", "P45", "P46", "P49", "P50"]:
        sub = t[t.patient == p]
        wbc = sub[sub.sample_type == "wbc"]
        assert len(wbc) == 1 and wbc.pool_size.iloc[0] == 200 and wbc.phenotype.iloc[0] == "CD45+"
        assert (sub.sample_type == "germline").sum() == 1
    pools = t[t.sample_type == "ctc_pool"]
    assert dict(zip(pools.index, pools.pool_size)) == {
        "SIM-P46_CTC01": 2, "SIM-P43_CTC01": 5, "SIM-P43_CTC02": 10, "SIM-P43_CTC03": 10}
    assert list(t.index[t.sample_type == "biopsy"]) == ["SIM-P45_BIOPSY"]
    assert 0 < t.loc["SIM-P45_BIOPSY", "purity"] < 1


def test_phenotype_mix(truth):
    t = truth[truth.sample_type.isin(["ctc", "ctc_pool"])]
    by = t.groupby("patient").phenotype.agg(lambda s: s.value_counts().to_dict())
    assert set(by["P41"]) == {"ALK+/CK-"} and set(by["P43"]) == {"ALK+/CK-"}
    for p in ("P46", "P49", "P50"):
        assert set(by[p]) == {"ALK-/CK+"}
    assert by["P45"]["ALK-/CK+"] > by["P45"].get("ALK+/CK+", 0) > 0


def test_ploidy_and_wgd_as_reported(truth):
    t = truth
    tum = t[t.sample_type.isin(["ctc", "ctc_pool"]) & ~t.normal_like]
    four = set(tum.index[tum.ploidy == 4])
    assert {"SIM-P46_CTC01", "SIM-P46_CTC03", "SIM-P49_CTC03", "SIM-P49_CTC04", "SIM-P49_CTC14"} <= four
    assert t.loc["SIM-P49_CTC06", "ploidy"] == 6
    for s in ("SIM-P41_CTC01", "SIM-P45_CTC02", "SIM-P45_CTC04", "SIM-P45_CTC06"):
        assert t.loc[s, "wgd"] and t.loc[s, "wgd_event"]
    # all ALK+/CK- CTCs are >= 3n
    assert (tum[tum.phenotype == "ALK+/CK-"].ploidy >= 3).all()
    assert set(tum.ploidy) == {2, 3, 4, 6} or set(tum.ploidy) >= {2, 3, 4, 6}
    # P46 pool of two 4n cells and P49 about half >= 3n
    p49 = tum[tum.patient == "P49"]
    assert 0.4 <= (p49.ploidy >= 3).mean() <= 0.6
    assert (t.wgd == (t.ploidy >= 4)).all()


def test_five_normal_like_epithelial_cells(truth):
    nl = truth[(truth.sample_type == "ctc") & truth.normal_like]
    assert len(nl) == 5 and (nl.phenotype == "ALK-/CK+").all()


def test_karyotypes_identifiable(demo, all_samples):
    """Every tumour cell's base ploidy is its modal copy number, with single-copy steps."""
    b = demo.genome.bins
    auto = (b.use & b.chrom.isin(AUTOSOMES)).to_numpy()
    for i, sid in enumerate(demo.adata.obs_names):
        if all_samples.loc[sid, "sample_type"] != "ctc" or all_samples.loc[sid, "normal_like"]:
            continue
        cn = demo.truth.cn[i]
        assert karyotype_ok(cn, int(all_samples.loc[sid, "ploidy"]), demo.genome, cn == 0), sid
        assert all_samples.loc[sid, "modal_cn"] == all_samples.loc[sid, "ploidy"]
        assert auto.any()


def test_p46_chr2p_alk_mycn_ccnd3_sept9(demo, truth):
    epi = truth[(truth.patient == "P46") & truth.sample_type.isin(["ctc", "ctc_pool"]) & ~truth.normal_like].index
    assert len(epi) == 11
    gained = lambda gene: _states(demo, "P46", gene).loc[epi].isin(["gain", "amp"])  # noqa: E731
    assert gained("ALK").sum() == 10 and gained("MYCN").sum() == 10
    assert (gained("ALK") == gained("MYCN")).all()
    assert gained("CCND3").all() and gained("SEPT9").all()
    # whole 2p gained in the ALK-gained cells (arm-level, not focal)
    b = demo.genome.bins
    p2 = ((b.chrom == "2") & (b.arm == "p")).to_numpy()
    i = demo.adata.obs_names.get_loc("SIM-P46_CTC02")
    assert (demo.truth.cn[i][p2] > truth.loc["SIM-P46_CTC02", "ploidy"]).mean() > 0.95


def test_p49_two_clones_chr8_gain_chr13_loss(demo, truth):
    cells = truth[(truth.patient == "P49") & (truth.sample_type == "ctc") & ~truth.normal_like]
    assert sorted(cells.lineage.value_counts().tolist()) == [6, 7]
    fgfr1, myc, rb1, tp53 = (_states(demo, "P49", g) for g in ("FGFR1", "MYC", "RB1", "TP53"))
    with8 = set(cells.index[(fgfr1.loc[cells.index] == "gain") & (myc.loc[cells.index] == "gain")])
    with13 = set(cells.index[rb1.loc[cells.index] == "loss"])
    assert _num(with8) == _num(with13) == {1, 3, 6, 8, 9, 11, 12}
    both = set(cells.index[(tp53.loc[cells.index] == "loss") & (rb1.loc[cells.index] == "loss")])
    assert 1 <= len(both) < len(with13)


def test_p45_cdk4_and_ctc6_homdel(demo, truth):
    cells = truth[(truth.patient == "P45") & (truth.sample_type == "ctc")].index
    cdk4 = _states(demo, "P45", "CDK4")
    assert len(cells) == 7 and cdk4.loc[cells].isin(["gain", "amp"]).sum() == 5
    assert cdk4.loc["SIM-P45_BIOPSY"] == "gain"
    for gene in ("BAP1", "FANCD2", "MLH1"):
        st = _states(demo, "P45", gene)
        assert st.loc["SIM-P45_CTC06"] == "homdel"
        assert (st.drop("SIM-P45_CTC06") != "homdel").all()
    # the biopsy carries fewer alterations than the CTCs
    seg = demo.truth.segments
    nseg = seg.groupby("sample_id").size()
    assert nseg["SIM-P45_BIOPSY"] < nseg[cells].median()


def test_bypass_and_other_recurrent_genes(demo):
    met = _states(demo, "P41", "MET")
    assert 1 <= (met == "amp").sum() < 3 + 1
    for p in ("P46", "P49", "P45"):
        assert (_states(demo, p, "ERBB2") == "gain").any(), p
    for p in ("P41", "P43", "P45", "P46", "P49", "P50"):
        assert _states(demo, p, "MYC").isin(["gain", "amp"]).any(), p
    for gene in ("AKT1", "MDM2", "MDM4", "CDK6"):
        assert _states(demo, "P50", gene).isin(["gain", "amp"]).any(), gene
    assert _states(demo, "P50", "CDKN2A").isin(["loss", "homdel"]).any()
    assert _states(demo, "P50", "CDKN2B").isin(["loss", "homdel"]).any()
    # MDM2/MDM4 gains in all patients except P43 and P46 (as the study)
    for p in ("P43", "P46"):
        assert not _states(demo, p, "MDM2").isin(["gain", "amp"]).any()
        assert not _states(demo, p, "MDM4").isin(["gain", "amp"]).any()
    # TP53 lost in ~41 % of CTC samples, but never every copy
    tp53 = demo.truth.genes[demo.truth.genes.gene == "TP53"].set_index("sample_id")
    t = demo.truth.samples.set_index("sample_id")
    tum = t.index[t.sample_type.isin(["ctc", "ctc_pool"]) & ~t.normal_like]
    assert (tp53.cn > 0).all() and 0.3 <= (tp53.state.loc[tum] == "loss").mean() <= 0.5


def test_read_depth_and_quality(truth):
    cells = truth[truth.sample_type == "ctc"]
    assert cells.reads.between(4.5e5, 1.1e6).all()
    assert cells.mapd_target.between(0.15, 0.35).all()
