"""Unit tests of the copy-number steps against known truths (hand-made or planted signals)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctcscope.cna import (
    NoiseModel,
    WaveModel,
    apply_panel_of_normals,
    build_panel_of_normals,
    call_ploidy,
    changepoints,
    estimate_noise,
    flat_fraction,
    gc_correct,
    instability,
    mapd,
    merge_equal,
    min_rmse_ploidy,
    normal_like,
    qc,
    segment,
)
from ctcscope.errors import InputError
from ctcscope.genome import load_genome


@pytest.fixture(scope="module")
def bins():
    return load_genome("hg19", 500_000).bins


# ------------------------------------------------------------------ segmentation
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pelt_and_binseg_match_ruptures_exactly(seed):
    """The numba kernels give the same change points as ruptures' reference implementations."""
    rpt = pytest.importorskip("ruptures")
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.normal(m, 1, size=rng.integers(5, 40)) for m in rng.normal(0, 2, size=6)])
    pen = 3 * np.log(y.size)
    assert list(changepoints(y, pen, method="pelt")) == rpt.Pelt(model="l2", min_size=1, jump=1).fit(y).predict(pen=pen)
    assert list(changepoints(y, pen, method="binseg")) == rpt.Binseg(model="l2", min_size=1, jump=1).fit(y).predict(pen=pen)


def test_segment_finds_planted_breakpoints(bins):
    """Planted copy-number steps are found within one bin, on the variance-stabilised scale."""
    rng = np.random.default_rng(5)
    use = bins.use.to_numpy()
    level = np.ones(len(bins))
    chrom = bins.chrom.to_numpy()
    i1 = np.flatnonzero(chrom == "1")
    level[i1[100:160]] = 1.5  # a 30 Mb gain on chr1
    i5 = np.flatnonzero(chrom == "5")
    level[i5[50:]] = 0.5  # chr5 from 25 Mb lost
    depth, alpha = 150.0, 0.01
    mu = depth * level
    counts = rng.poisson(mu * rng.gamma(1 / alpha, alpha, size=mu.size)).astype(float)
    ratio = np.where(use, counts / depth, np.nan)
    seg, per_bin = segment(ratio, bins, noise=NoiseModel(depth, alpha))
    ends = set(seg.end_bin.to_numpy())
    for true_end in (i1[100], i1[160], i5[50]):
        assert any(abs(e - true_end) <= 1 for e in ends), true_end
    within = seg.groupby("chrom").size().drop(["1", "5"], errors="ignore")
    assert (within == 1).mean() > 0.9  # no spurious breakpoints on most flat chromosomes
    assert np.nanmax(np.abs(per_bin[i1[110:150]] - 1.5)) < 0.1


def test_focal_split_keeps_a_short_tail_after_a_focal_event():
    """A focal event one bin before a segment's end: the last bin keeps a segment of its own
    (it was dropped, leaving a usable bin without copy number in the demo's germline sample)."""
    from ctcscope.cna.segment import focal_split

    y = np.zeros(40)
    y[36:39] = 10.0                    # focal gain over bins 36-38, bin 39 back at the base
    ends = focal_split(y, np.array([40]), sigma2=1.0, max_len=5, z=6.0)
    assert ends.tolist() == [36, 39, 40]


def test_segment_covers_every_finite_bin(bins):
    """Segments tile every finite bin, also where a focal event sits just before a
    chromosome's end (noise at which PELT leaves the focal event to the focal scan)."""
    use = bins.use.to_numpy()
    chrom = bins.chrom.to_numpy()
    for seed in range(5):
        rng = np.random.default_rng(seed)
        ratio = np.where(use, 1 + rng.normal(0, 0.2, len(bins)), np.nan)
        for c in ("17", "20"):
            k = np.flatnonzero((chrom == c) & use)
            ratio[k[-4:-1]] = 2.0      # focal gain, then one ordinary last bin
        seg, per_bin = segment(ratio, bins)
        assert seg.n_bins.sum() == np.isfinite(ratio).sum(), seed
        assert np.isfinite(per_bin[np.isfinite(ratio)]).all(), seed


def test_merge_equal_joins_neighbours_with_the_same_copy_number(bins):
    ratio = np.ones(len(bins))
    seg = pd.DataFrame({"chrom": ["1", "1", "1", "2"], "start": [0, 10, 20, 0], "end": [10, 20, 30, 10],
                        "first_bin": [0, 2, 4, 500], "end_bin": [2, 4, 6, 502], "n_bins": [2, 2, 2, 2],
                        "seg_mean": [1.0, 1.0, 1.0, 1.0], "cn": [2, 2, 3, 2]})
    m = merge_equal(seg, ratio)
    assert m[["chrom", "first_bin", "end_bin", "n_bins", "cn"]].values.tolist() == [
        ["1", 0, 4, 4, 2], ["1", 4, 6, 2, 3], ["2", 500, 502, 2, 2]]


# ------------------------------------------------------------------ correction
def _cell(bins, rng, reads, gc_curve, level=None):
    gc = bins.gc.fillna(0.4).to_numpy()
    w = np.exp(gc_curve(gc)) * (level if level is not None else 1.0)
    w = np.where(bins.use.to_numpy(), w, 0.0)
    return rng.poisson(reads * w / w.sum()).astype(float)


@pytest.mark.parametrize("seed,curve", [
    (3, lambda g: -25 * (g - 0.45) ** 2 + 3 * (g - 0.45)),  # curved, falling at both ends
    (4, lambda g: 8 * (g - 0.42)),  # steep exponential
    (5, lambda g: 40 * (g - 0.42) ** 3 - 5 * (g - 0.42)),  # S-shaped
])
def test_gc_correct_removes_a_curved_gc_bias(bins, seed, curve):
    rng = np.random.default_rng(seed)
    counts = _cell(bins, rng, 1_000_000, curve)
    raw = counts / np.median(counts[bins.use])
    r = gc_correct(counts, bins)
    use = bins.use.to_numpy()
    gc = bins.gc.to_numpy()
    assert abs(np.corrcoef(gc[use], raw[use])[0, 1]) > 0.3  # the bias was there
    assert abs(np.corrcoef(gc[use], r[use])[0, 1]) < 0.05  # and is gone
    # every GC decile and both 2 % tails within 3 % of 1
    q = np.quantile(gc[use], [0, 0.02, *np.linspace(0.1, 0.9, 9), 0.98, 1])
    idx = np.digitize(gc[use], q[1:-1])
    med = np.array([np.median(r[use][idx == k]) for k in range(idx.max() + 1)])
    assert np.all(np.abs(med - 1) < 0.03), med
    assert np.nanmedian(r[use]) == pytest.approx(1.0)
    assert np.isnan(r[~use]).all()


def test_gc_correct_keeps_copy_number_and_uses_level(bins):
    """A gain of GC-rich chromosomes (17, 19, 22) survives correction at its true height."""
    rng = np.random.default_rng(4)
    level = np.where(bins.chrom.isin(["17", "19", "22"]).to_numpy(), 1.5, 1.0)
    curve = lambda g: 8 * (g - 0.42)  # noqa: E731
    counts = _cell(bins, rng, 1_500_000, curve, level)
    r1 = gc_correct(counts, bins)
    seg, sb = segment(r1, bins, counts=counts)
    r2 = gc_correct(counts, bins, level=sb)
    sel = bins.chrom.isin(["17", "19", "22"]).to_numpy() & bins.use.to_numpy()
    rest = ~bins.chrom.isin(["17", "19", "22", "X"]).to_numpy() & bins.use.to_numpy()
    ratio2 = np.nanmean(r2[sel]) / np.nanmean(r2[rest])
    assert ratio2 == pytest.approx(1.5, abs=0.05)


@pytest.mark.parametrize("reads", [20_000, 2_000, 0])
def test_gc_correct_survives_sparse_cells(bins, reads):
    rng = np.random.default_rng(7)
    counts = _cell(bins, rng, reads, lambda g: 0 * g)
    r = gc_correct(counts, bins)
    assert r.shape == (len(bins),)
    if reads == 0:
        assert np.isnan(r).all()
    else:
        assert np.isfinite(r[bins.use.to_numpy()]).all()


def test_gc_correct_refuses_bad_input(bins):
    with pytest.raises(InputError, match="bins"):
        gc_correct(np.ones(10), bins)
    with pytest.raises(InputError, match="non-negative"):
        gc_correct(-np.ones(len(bins)), bins)


def test_panel_of_normals_recovers_a_shared_locus_bias(bins):
    rng = np.random.default_rng(11)
    use = bins.use.to_numpy()
    locus = np.exp(rng.normal(0, 0.15, len(bins)))
    normals = []
    for _ in range(5):
        counts = rng.poisson(400 * locus * use).astype(float)
        normals.append(gc_correct(counts, bins, mappability=False))
    pon = build_panel_of_normals(np.vstack(normals))
    assert np.corrcoef(np.log(pon[use]), np.log(locus[use]))[0, 1] > 0.9
    tumour = gc_correct(rng.poisson(400 * locus * use).astype(float), bins, mappability=False)
    fixed = apply_panel_of_normals(tumour, pon)
    assert np.nanstd(fixed[use]) < 0.8 * np.nanstd(tumour[use])
    assert build_panel_of_normals(np.vstack(normals[:1]), min_samples=2) is None
    assert apply_panel_of_normals(tumour, None) is not None


def test_noise_model_recovers_overdispersion(bins):
    rng = np.random.default_rng(2)
    use = bins.use.to_numpy()
    depth, alpha = 200.0, 0.02
    counts = rng.poisson(depth * rng.gamma(1 / alpha, alpha, len(bins))).astype(float)
    r = np.where(use, counts / np.median(counts[use]), np.nan)
    nm = estimate_noise(counts, r, bins.chrom.to_numpy())
    assert nm.depth == pytest.approx(depth, rel=0.05)
    assert nm.alpha == pytest.approx(alpha, rel=0.25)
    assert 0.1 < mapd(r, bins.chrom.to_numpy()) < 0.4


# ------------------------------------------------------------------ ploidy
def _profile(levels_spans, scale, noise, rng, wave=0.0):
    """Segments table of a cell with the given (chrom, n_bins, copies) and its ratio."""
    rows, ratio, start = [], [], 0
    for k, (chrom, nb, cn) in enumerate(levels_spans):
        mu = scale * cn * (1 + wave * rng.standard_normal())
        r = mu + rng.normal(0, 1, nb) * noise.bin_sd(max(mu, 1e-3))
        rows.append({"chrom": chrom, "start": k * 10**8, "end": k * 10**8 + nb * 500_000, "first_bin": start,
                     "end_bin": start + nb, "n_bins": nb, "seg_mean": r.mean()})
        ratio.append(r)
        start += nb
    return pd.DataFrame(rows), np.concatenate(ratio)


def _karyotype(base, events):
    """22 autosomes of 200 bins at ``base`` copies, chromosome i split at 100 bins when an
    event (chrom index -> copies of its q half) is given."""
    out = []
    for c in range(1, 23):
        if c in events:
            out += [(str(c), 100, base), (str(c), 100, events[c])]
        else:
            out.append((str(c), 200, base))
    return out


@pytest.mark.parametrize("base,events,truth", [
    (2, {1: 3, 3: 1, 5: 3, 8: 1, 13: 1}, 2),
    (3, {1: 4, 2: 2, 7: 4, 9: 2, 17: 5}, 3),
    # doubled genome: even steps from before the doubling, odd ones after
    (4, {1: 6, 3: 2, 5: 5, 8: 3, 10: 6, 17: 5}, 4),
])
def test_call_ploidy_finds_the_planted_base_and_copy_numbers(base, events, truth):
    rng = np.random.default_rng(base)
    noise = NoiseModel(depth=150.0, alpha=0.01)
    seg, ratio = _profile(_karyotype(base, events), 1.0 / base, noise, rng)
    pc = call_ploidy(seg, noise, wave=WaveModel(0.01, 20))
    assert pc.ploidy == truth
    assert pc.confidence > 0.8
    expected = np.array([cn for _, _, cn in _karyotype(base, events)], dtype=float)
    assert np.array_equal(pc.segment_cn, expected)
    assert pc.wgd == (truth >= 4)
    assert pc.posterior.sum() == pytest.approx(1.0)


def test_plain_rmse_fit_drifts_to_high_ploidy_where_the_posterior_does_not():
    """The failure mode of a min-RMSE fit: noisy 2n segments look better on a finer lattice."""
    rng = np.random.default_rng(21)
    noise = NoiseModel(depth=60.0, alpha=0.04)
    kary = _karyotype(2, {1: 3, 4: 1, 6: 3, 9: 1, 12: 3, 15: 1})
    seg, _ = _profile(kary, 0.5, noise, rng, wave=0.05)
    assert min_rmse_ploidy(seg) > 2
    assert call_ploidy(seg, noise, wave=WaveModel(0.05, 20)).ploidy == 2


def test_group_prior_moves_an_ambiguous_cell():
    """A flat profile fits any ploidy; a clone's consensus (as a prior) decides."""
    rng = np.random.default_rng(1)
    noise = NoiseModel(depth=100.0, alpha=0.02)
    seg, _ = _profile([(str(c), 200, 3) for c in range(1, 23)], 1 / 3, noise, rng)
    free = call_ploidy(seg, noise)
    assert free.ploidy == 2 and free.confidence < 0.7  # honest: flat = unknown, simplest = 2
    assert call_ploidy(seg, noise, ploidy_prior={3: 1.0}).ploidy == 3


def test_pool_levels_allow_fractions():
    """A pool of 4 cells where one cell gained chromosome 1: 2.25 copies per cell-equivalent."""
    rng = np.random.default_rng(8)
    noise = NoiseModel(depth=600.0, alpha=0.002)
    kary = [("1", 200, 2.25)] + [(str(c), 200, 2) for c in range(2, 23)] + [("5", 100, 3)]
    seg, _ = _profile(kary, 0.5, noise, rng)
    pc = call_ploidy(seg, noise, pool_size=4, wave=WaveModel(0.005, 20))
    assert pc.ploidy == 2
    assert pc.segment_cn[0] == pytest.approx(2.25)


# ------------------------------------------------------------------ QC, instability
def test_instability_hand_checked():
    b = pd.DataFrame({"chrom": ["1"] * 4 + ["2"] * 4 + ["X"] * 2, "start": np.arange(10) * 100,
                      "end": np.arange(10) * 100 + 100})
    cn = np.array([2, 2, 3, 3, 2, 1, 2, np.nan, 1, 1], dtype=float)
    m = instability(cn, b, 2)
    assert m["fga"] == pytest.approx(3 / 7)  # 3 of 7 usable autosomal bins altered (X ignored)
    assert m["breakpoints"] == 3  # 2->3 on chr1, 2->1->2 on chr2
    assert m["wgii"] == pytest.approx((2 / 4 + 1 / 3) / 2)
    assert m["n_cn_states"] == 3 and m["max_amplification"] == 3
    assert np.isnan(instability(cn, b, None)["fga"])


def test_qc_names_every_failed_rule():
    ok, why = qc(reads=1e6, mapd=0.2, usable_bins=5000, genome_usable_bins=5300, n_segments=40, usable_mb=2800,
                 ploidy_called=True)
    assert ok and why == ""
    ok, why = qc(reads=1e4, mapd=0.6, usable_bins=100, genome_usable_bins=5300, n_segments=900, usable_mb=2800,
                 ploidy_called=False)
    assert not ok
    for word in ("reads", "MAPD", "usable bins", "hyper-segmented", "ploidy"):
        assert word in why


def test_mapd_limit_follows_the_bin_size():
    """One flat cell of 330,000 reads with WGA-like overdispersion (variance 2.6 × mean) binned
    at 500 kb and at 100 kb: its MAPD grows by ~sqrt(5) at the smaller bins (0.3 → 0.67), so a
    fixed limit of 0.45 failed a cell that passes at 500 kb; the scaled limit (1.006 at 100 kb)
    keeps the verdict of the same cell, and still fails one twice as noisy."""
    from ctcscope.cna.noise import mapd
    from ctcscope.cna.qc import mapd_limit

    assert mapd_limit(500_000) == pytest.approx(0.45)
    assert mapd_limit(100_000) == pytest.approx(0.45 * np.sqrt(5))
    rng = np.random.default_rng(7)
    reads, disp, m = {}, 2.6, {}
    for size in (500_000, 100_000):
        n = int(2.8e9 / size)
        mu = 330_000 / n
        k = mu / (disp - 1.0)  # negative binomial: variance = mu + mu^2 / k = disp * mu
        counts = rng.negative_binomial(k, k / (k + mu), n).astype(float)
        chrom = np.repeat(np.arange(22).astype(str), -(-n // 22))[:n]
        m[size] = mapd(counts / counts.mean(), chrom)
        reads[size] = counts.sum()
    assert m[100_000] / m[500_000] == pytest.approx(np.sqrt(5), rel=0.1)
    assert 0.25 < m[500_000] < 0.35 and m[100_000] > 0.45
    verdict = {size: qc(reads=reads[size], mapd=m[size], usable_bins=100, genome_usable_bins=100, n_segments=1,
                        usable_mb=2800, ploidy_called=True, max_mapd=mapd_limit(size))[0] for size in m}
    assert verdict == {500_000: True, 100_000: True}
    assert not qc(reads=reads[100_000], mapd=2 * m[100_000], usable_bins=100, genome_usable_bins=100, n_segments=1,
                  usable_mb=2800, ploidy_called=True, max_mapd=mapd_limit(100_000))[0]


def test_flat_fraction_and_normal_like():
    seg = pd.DataFrame({"chrom": ["1", "2", "3", "4"], "start": [0] * 4, "end": [10**8] * 4,
                        "n_bins": [200, 200, 200, 200], "seg_mean": [1.0, 1.02, 0.98, 1.5]})
    assert flat_fraction(seg) == pytest.approx(0.25)
    assert flat_fraction(seg.iloc[:3]) == 0.0
    nl = normal_like(np.array([0.0, 0.25, 0.03, 0.02]), np.array([True, False, False, True]))
    assert nl.tolist() == [True, False, True, True]  # the cut adapts to the noisiest control (0.02 + 0.01)


def test_clone_focal_levels_gives_the_clone_level_only_to_members_that_agree():
    """Four 5n cells of one clone share a 3-bin amplicon at 10 copies.  Measured alone, cell 0
    reads 9.3 copies there (called 9) and cell 1's amplicon was not segmented (called 5, its
    bins at ~10); cell 3 truly lacks it (5 copies).  The clone's median places the amplicon at
    10: cells 0 and 1 take 10, cell 3 keeps 5, cell 2 (already 10) is untouched."""
    from types import SimpleNamespace

    from ctcscope.cna.pipeline import clone_focal_levels

    nb = 40
    bins = pd.DataFrame({"chrom": "1", "start": np.arange(nb) * 500_000, "end": (np.arange(nb) + 1) * 500_000,
                         "use": True})
    amp = slice(20, 23)
    level = [9.3, 10.2, 10.0, 5.0]
    called = [9.0, 5.0, 10.0, 5.0]
    results, ratios = [], []
    rng = np.random.default_rng(3)
    for lv, c in zip(level, called):
        copies = np.full(nb, 5.0)
        copies[amp] = lv
        ratio = copies * 0.2 * np.exp(rng.normal(0, 0.01, nb))
        cn = np.full(nb, 5.0, np.float32)
        seg = [("1", 0, 20, 5.0), ("1", 20, 23, c), ("1", 23, nb, 5.0)] if c != 5 else [("1", 0, nb, 5.0)]
        segs = pd.DataFrame({"chrom": [s[0] for s in seg], "start": [s[1] * 500_000 for s in seg],
                             "end": [s[2] * 500_000 for s in seg], "first_bin": [s[1] for s in seg],
                             "end_bin": [s[2] for s in seg], "n_bins": [s[2] - s[1] for s in seg],
                             "seg_mean": [float(ratio[s[1]:s[2]].mean()) for s in seg], "cn": [s[3] for s in seg]})
        cn[amp] = c
        results.append({"call": SimpleNamespace(ploidy=5, scale=0.2), "cn": cn, "segment": ratio.astype(np.float32),
                        "segments": segs, "instability": {}})
        ratios.append(ratio)
    sd = np.full(4, 0.15)  # per-bin log-scale noise of each cell
    n = clone_focal_levels(results, ratios, np.array(["g"] * 4, dtype=object), sd, bins, max_mb=3.0)
    assert n == 2
    for i, want in enumerate([10, 10, 10, 5]):
        assert (results[i]["cn"][amp] == want).all(), i
        assert (results[i]["cn"][:20] == 5).all() and (results[i]["cn"][23:] == 5).all()
    s1 = results[1]["segments"]
    assert list(s1.cn) == [5.0, 10.0, 5.0] and list(s1.first_bin) == [0, 20, 23] and s1.n_bins.sum() == nb
    # a clone of fewer than three members lends nothing
    assert clone_focal_levels(results[:2], ratios[:2], np.array(["g", "g"], dtype=object), sd[:2], bins) == 0
