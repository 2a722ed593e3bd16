"""The count-level simulator: determinism, truth consistency, bias model, designs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctcscope.errors import InputError
from ctcscope.genome import AUTOSOMES, load_genome
from ctcscope.simulate import (Clone, Design, Event, Patient, Sample, design_from_dict, parse_event,
                               random_design, region_mask, simulate_cohort)
from ctcscope.simulate.bias import MAPD_FACTOR


@pytest.fixture(scope="module")
def g500():
    return load_genome("hg19", 500_000)


@pytest.fixture(scope="module")
def sim(g500):
    return simulate_cohort(random_design(40, seed=11, genome=g500, biopsy=True, sparse=1), g500, seed=11)


def _mapd(x):
    x = x[np.isfinite(x)]
    return float(np.median(np.abs(np.diff(x))))


def test_same_seed_same_counts_and_truth(g500):
    d = random_design(12, seed=5, genome=g500)
    a = simulate_cohort(d, g500, seed=5)
    b = simulate_cohort(random_design(12, seed=5, genome=g500), g500, seed=5)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.truth.cn, b.truth.cn)
    pd.testing.assert_frame_equal(a.truth.samples, b.truth.samples)
    c = simulate_cohort(d, g500, seed=6)
    assert not np.array_equal(a.counts, c.counts)


def test_sample_streams_keyed_by_id(g500):
    """Adding a sample does not change the others' counts (each sample has its own stream)."""
    d = random_design(8, seed=3, genome=g500, controls=False, pools_per_patient=0)
    a = simulate_cohort(d, g500, seed=1)
    d.patients[0].samples.append(Sample("SIM-EXTRA", clone="normal"))
    b = simulate_cohort(d, g500, seed=1)
    np.testing.assert_array_equal(a.counts, b.counts[: a.counts.shape[0]])


def test_anndata_layout(sim, g500):
    a = sim.adata
    assert a.layers["counts"].dtype == np.int32
    assert a.n_vars == g500.n_bins
    assert list(a.var.index[:2]) == list(g500.to_var().index[:2])
    for col in ("patient", "sample_type", "pool_size", "phenotype", "isolation", "gii"):
        assert col in a.obs
    assert a.obs.simulated.all() and a.uns["simulation"]["simulated"]
    assert (a.obs.index.str.startswith("SIM-")).all()
    assert set(a.obs.sample_type) >= {"ctc", "ctc_pool", "wbc", "germline", "biopsy"}
    pools = a.obs[a.obs.sample_type == "ctc_pool"]
    assert (pools.pool_size > 1).all()
    # truth rows line up with obs
    assert list(sim.truth.samples.sample_id) == list(a.obs_names)
    assert sim.truth.cn.shape == a.shape


def test_counts_follow_truth_times_bias(sim):
    """Expected counts are proportional to true CN x bias; observed totals match."""
    from ctcscope.simulate.bias import bias_weights

    for i, sid in enumerate(sim.adata.obs_names[:10]):
        w = sim.truth.cn[i] * bias_weights(sim.genome, sim.run, sim.cell_bias[sid])
        exp = sim.expected[i]
        ok = w > 0
        ratio = exp[ok] / w[ok]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
        assert np.all(exp[~ok] == 0) and np.all(sim.counts[i][~ok] == 0)
        # counts are unbiased draws around the expectation
        tot, etot = sim.counts[i].sum(), exp.sum()
        assert abs(tot - etot) < 6 * np.sqrt(etot * (1 + sim.cell_bias[sid].phi * etot / ok.sum()))


def test_cn_signal_recoverable(sim, g500):
    """Dividing counts by the known bias leaves the true copy number (up to noise)."""
    from ctcscope.simulate.bias import bias_weights

    use = g500.bins.use.to_numpy()
    for i, sid in enumerate(sim.adata.obs_names[:15]):
        w = bias_weights(g500, sim.run, sim.cell_bias[sid])
        ok = use & (w > 0)
        est = sim.counts[i][ok] / w[ok]
        cn = sim.truth.cn[i][ok]
        est = est / np.median(est[cn == np.median(cn)]) * np.median(cn)
        # per-state medians land on the true integer states
        for state in np.unique(cn):
            sel = cn == state
            if sel.sum() >= 20 and state > 0:
                assert abs(np.median(est[sel]) - state) < 0.15 * state + 0.2


def test_mapd_in_range_and_near_target(sim, g500):
    use = g500.bins.use.to_numpy()
    t = sim.truth.samples
    single = t[(t.sample_type == "ctc") & (t.reads >= 3e5)]
    assert len(single) >= 20
    got = []
    for i in single.index:
        sid = t.sample_id[i]
        exp = sim.expected[i]
        nolocus = np.where(sim.run.locus > 0, exp / np.where(sim.run.locus > 0, sim.run.locus, 1), 0)
        ok = use & (nolocus > 0)
        r = sim.counts[i][ok] / nolocus[ok]
        m = _mapd(np.log2(r / np.median(r)))
        got.append(m)
        assert 0.12 <= m <= 0.40, (sid, m)
        # the target is reached unless depth + locus noise alone exceed it
        assert m <= t.mapd_target[i] * 1.15 or t.phi[i] == 0
    assert np.ptp(got) > 0.08  # the cohort spans a range of qualities


def test_sparse_cell(sim):
    t = sim.truth.samples
    sparse = t[t.reads < 60_000]
    assert len(sparse) == 1 and 40_000 < sparse.reads.iloc[0] < 60_000


def test_truth_ploidy_is_modal_and_identifiable(sim, g500):
    b = g500.bins
    auto = (b.use & b.chrom.isin(AUTOSOMES)).to_numpy()
    t = sim.truth.samples
    cells = t[t.sample_type == "ctc"]
    assert set(cells.ploidy) >= {2}
    for i in cells.index:
        cn = sim.truth.cn[i][auto]
        vals, n = np.unique(cn, return_counts=True)
        assert vals[np.argmax(n)] == t.ploidy[i] == t.modal_cn[i]
        assert t.wgd[i] == (t.ploidy[i] >= 4)
        if not t.normal_like[i]:
            assert (np.abs(cn - t.ploidy[i]) == 1).any()  # single-copy steps exist
        else:
            assert (cn == 2).all()
    np.testing.assert_allclose(
        t.mean_cn, [sim.truth.cn[i][auto].mean() for i in range(len(t))], rtol=1e-5)  # equal-width bins


def test_random_design_covers_2n_to_6n_and_wgd(g500):
    seen, wgd = set(), set()
    for s in range(4):
        d = random_design(60, seed=100 + s, genome=g500)
        for p in d.patients:
            for c in p.clones:
                seen.add(c.ploidy)
                if c.wgd:
                    wgd.add(c.ploidy)
    assert seen == {2, 3, 4, 5, 6}
    assert wgd == {4, 6}


def test_sex_aware_controls(g500):
    d = Design(patients=[
        Patient("M1", sex="M", samples=[Sample("SIM-M_WBC", sample_type="wbc", composition={"normal": 200})]),
        Patient("F1", sex="F", samples=[Sample("SIM-F_WBC", sample_type="wbc", composition={"normal": 200})]),
    ])
    sim = simulate_cohort(d, g500, seed=0)
    chrom = g500.bins.chrom.to_numpy()
    m, f = sim.truth.cn
    assert set(m[chrom == "X"]) == {1} and set(m[chrom == "Y"]) == {1} and set(m[np.isin(chrom, AUTOSOMES)]) == {2}
    assert set(f[chrom == "X"]) == {2} and set(f[chrom == "Y"]) == {0}
    assert sim.counts[1][chrom == "Y"].sum() == 0 and sim.counts[0][chrom == "Y"].sum() > 0
    assert sim.adata.obs.pool_size.tolist() == [200, 200]
    assert sim.truth.samples.normal_like.all()


def test_wgd_doubles_pre_events_then_adds_post(g500):
    p = Patient("P", sex="F", trunk=[Event("8q", +1)],
                clones=[Clone("W", ploidy=4, wgd=True, pre_wgd=[Event("13", -1)], events=[Event("3p", -1)])],
                samples=[Sample("SIM-W1", clone="W")])
    sim = simulate_cohort(Design(patients=[p]), g500, seed=0)
    cn = sim.truth.cn[0]
    b = g500.bins
    assert set(cn[(b.chrom == "8") & (b.arm == "q")]) == {6}     # (2+1) x 2
    assert set(cn[b.chrom == "13"]) == {2}                         # (2-1) x 2
    assert set(cn[(b.chrom == "3") & (b.arm == "p")]) == {3}       # 4 - 1 after doubling
    assert set(cn[b.chrom == "1"]) == {4}
    t = sim.truth.samples.iloc[0]
    assert t.ploidy == 4 and t.wgd and t.wgd_event


def test_focal_events_at_real_loci_and_gene_truth(g500):
    p = Patient("P", sex="M", clones=[Clone("A", ploidy=2, events=[
        Event("MET", cn=10), Event("CDKN2A", cn=0, width=1_000_000), Event("ERBB2", cn=3), Event("RB1", change=-1)])],
        samples=[Sample("SIM-A1", clone="A"), Sample("SIM-POOL", sample_type="ctc_pool", composition={"A": 1, "normal": 1})])
    sim = simulate_cohort(Design(patients=[p]), g500, seed=0)
    genes = g500.genes.set_index("symbol")
    for sym, cn in (("MET", 10), ("CDKN2A", 0), ("ERBB2", 3)):
        gg = genes.loc[sym]
        m = (g500.bins.chrom == gg.chrom) & (g500.bins.start < gg.end) & (g500.bins.end > gg.start)
        assert set(sim.truth.cn[0][m.to_numpy()]) == {cn}
    gt = sim.truth.genes.set_index(["sample_id", "gene"])
    assert gt.loc[("SIM-A1", "MET"), "state"] == "amp" and gt.loc[("SIM-A1", "MET"), "planted"]
    assert gt.loc[("SIM-A1", "CDKN2A"), "state"] == "homdel"
    assert gt.loc[("SIM-A1", "ERBB2"), "state"] == "gain"
    assert gt.loc[("SIM-A1", "RB1"), "state"] == "loss" and gt.loc[("SIM-A1", "RB1"), "cn"] == 1
    assert gt.loc[("SIM-A1", "MYC"), "state"] == "neutral" and not gt.loc[("SIM-A1", "MYC"), "planted"]
    # a 1:1 pool with a normal cell is the mean of the two karyotypes
    assert gt.loc[("SIM-POOL", "MET"), "cn"] == pytest.approx(6.0)
    assert gt.loc[("SIM-POOL", "CDKN2A"), "cn"] == pytest.approx(1.0)
    t = sim.truth.samples.set_index("sample_id")
    assert t.loc["SIM-POOL", "purity"] == pytest.approx(0.5) and t.loc["SIM-POOL", "composition"] == "A:1;normal:1"


def test_pool_truth_is_mixture(sim):
    t = sim.truth.samples
    for i in t.index[t.sample_type.isin(["ctc_pool", "biopsy"])]:
        d = next(s for _, s in sim.design.samples if s.id == t.sample_id[i])
        patient = next(p for p, s in sim.design.samples if s.id == t.sample_id[i])
        from ctcscope.simulate.karyotype import patient_profiles

        prof = patient_profiles(patient, sim.genome)
        w = d.weights
        exp = sum(prof[k] * v for k, v in w.items()) / sum(w.values())
        np.testing.assert_allclose(sim.truth.cn[i], exp, rtol=1e-6)


def test_segments_and_breakpoints_reconstruct_truth(sim, g500):
    seg = sim.truth.segments
    b = g500.bins
    for i, sid in enumerate(sim.adata.obs_names[:8]):
        s = seg[seg.sample_id == sid]
        rebuilt = np.repeat(s.cn.to_numpy(), s.n_bins.to_numpy())
        np.testing.assert_array_equal(rebuilt, sim.truth.cn[i])
        assert s.n_bins.sum() == g500.n_bins
    bp = sim.truth.breakpoints()
    assert (bp.cn_left != bp.cn_right).all()
    assert set(bp.pos) <= set(b.start)


def test_region_forms(g500):
    n = lambda r: int(region_mask(g500, Event(r, change=1)).sum())  # noqa: E731
    assert n("8") == n("chr8") == (g500.bins.chrom == "8").sum()
    assert n("8p") + n("8q") == n("8")
    assert n("7:55000000-56000000") == 2
    assert 0 < n("3p21") < n("3p")
    assert n("SEPT9") >= 1
    with pytest.raises(InputError, match="neither a chromosome"):
        region_mask(g500, Event("NOTAGENE", change=1))


def test_design_round_trip_and_bad_inputs():
    d = random_design(6, seed=2)
    d2 = design_from_dict(d.to_dict())
    assert d2.to_dict() == d.to_dict()
    assert parse_event("8q+1").change == 1 and parse_event("CDKN2A=0").cn == 0 and parse_event("13-1").change == -1
    with pytest.raises(InputError, match="reserved"):
        Clone("normal")
    with pytest.raises(InputError, match="even base ploidy"):
        Clone("X", ploidy=3, wgd=True)
    with pytest.raises(InputError, match="does not define"):
        Patient("P", clones=[Clone("A")], samples=[Sample("s", clone="B")])
    with pytest.raises(InputError, match="unique"):
        Design(patients=[Patient("P", samples=[Sample("s", clone="normal"), Sample("s", clone="normal")])])
    with pytest.raises(InputError, match="sample_type"):
        Sample("s", sample_type="tumour", clone="normal")
    with pytest.raises(InputError, match="unknown field"):
        design_from_dict({"patients": [{"id": "P", "colour": "red"}]})
    with pytest.raises(InputError, match="cannot read event"):
        parse_event("8q")


def test_mapd_factor():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.2, 200_000)
    assert _mapd(x) == pytest.approx(MAPD_FACTOR * 0.2, rel=0.01)

