"""Replication-timing tracks of the built-in genomes (ctcscope.genome.replication)."""
import numpy as np
import pandas as pd
import pytest

from ctcscope.genome import BUILTIN_BIN_SIZES, Genome, load_genome, replication_timing


@pytest.mark.parametrize("build", ["hg19", "hg38"])
def test_tracks_load_aligned_and_standardised(build):
    g = load_genome(build, 500_000)
    t = replication_timing(g)
    assert t.shape == (len(g.bins),)
    known = np.isfinite(t)
    assert 0.9 < known.mean() < 0.95          # centromeres, gaps and most of Y unknown
    assert known[g.bins.use.to_numpy()].mean() > 0.99
    assert t[known].mean() == pytest.approx(0.0, abs=1e-9)
    assert t[known].std() == pytest.approx(1.0, abs=1e-9)
    assert not known[(g.bins.chrom == "1").to_numpy() & (g.bins.start.to_numpy() == 125_500_000)].any()


@pytest.mark.parametrize("size", BUILTIN_BIN_SIZES)
def test_every_packaged_size_loads(size):
    for build in ("hg19", "hg38"):
        g = load_genome(build, size)
        assert np.isfinite(replication_timing(g)).mean() > 0.9


def test_early_replication_goes_with_gc_on_both_builds():
    # measured when the tracks were built (scripts/build_replication_timing.py --validate):
    # hg19 0.624, hg38 (derived) 0.627 over usable bins at 500 kb
    r = {}
    for build in ("hg19", "hg38"):
        g = load_genome(build, 500_000)
        t = replication_timing(g)
        ok = np.isfinite(t) & g.bins.use.to_numpy()
        r[build] = np.corrcoef(t[ok], g.bins.gc.to_numpy()[ok])[0, 1]
    assert r["hg19"] == pytest.approx(0.624, abs=0.01)
    assert r["hg38"] == pytest.approx(0.627, abs=0.01)


def test_hg19_values_are_the_source_values():
    # hand-checked against shared/data/scabsolute-annotations/replicationTiming_hg19_500kb.tsv.gz
    # (ENCODE RepliChip via scAbsolute; 1-based bins there)
    g = load_genome("hg19", 500_000)
    t = pd.Series(replication_timing(g, standardise=False),
                  index=pd.MultiIndex.from_arrays([g.bins.chrom, g.bins.start]))
    assert t[("1", 0)] == pytest.approx(-0.072195, abs=6e-4)
    assert t[("1", 1_000_000)] == pytest.approx(0.43459, abs=6e-4)
    assert t[("1", 1_500_000)] == pytest.approx(0.6137, abs=6e-4)
    assert t[("4", 100_000_000)] == pytest.approx(-0.32482, abs=6e-4)
    assert t[("17", 37_500_000)] == pytest.approx(0.8343, abs=6e-4)   # ERBB2 amplicon region: early
    assert t[("X", 50_000_000)] == pytest.approx(0.030358, abs=6e-4)
    assert np.isnan(t[("1", 125_500_000)])                               # chr1 heterochromatin gap


def test_hg38_track_agrees_with_hg19_at_the_same_genes():
    a, b = load_genome("hg19", 500_000), load_genome("hg38", 500_000)
    ta, tb = replication_timing(a), replication_timing(b)
    ga = a.genes.drop_duplicates("symbol").set_index("symbol")
    gb = b.genes.drop_duplicates("symbol").set_index("symbol")
    common = ga.index.intersection(gb.index)
    ga, gb = ga.loc[common], gb.loc[common]
    same = (ga.chrom == gb.chrom).to_numpy()
    ia = a.bin_index(ga.chrom.to_numpy()[same], ga.start.to_numpy()[same])
    ib = b.bin_index(gb.chrom.to_numpy()[same], gb.start.to_numpy()[same])
    ok = (ia >= 0) & (ib >= 0)
    x, y = ta[ia[ok]], tb[ib[ok]]
    fin = np.isfinite(x) & np.isfinite(y)
    assert fin.sum() > 15_000
    assert np.corrcoef(x[fin], y[fin])[0, 1] > 0.9   # 0.948 when built
    # MYC (8q24) replicates early on both builds
    i19 = a.bin_index([ga.loc["MYC", "chrom"]], [ga.loc["MYC", "start"]])[0]
    i38 = b.bin_index([gb.loc["MYC", "chrom"]], [gb.loc["MYC", "start"]])[0]
    assert ta[i19] > 1 and tb[i38] > 1


def test_bins_are_matched_by_position():
    g = load_genome("hg38", 500_000)
    full = replication_timing(g, standardise=False)
    sub = load_genome("hg38", 500_000)
    keep = sub.bins.chrom.isin(["17", "2"]).to_numpy()
    sub.bins = sub.bins[keep].iloc[::-1].reset_index(drop=True)
    np.testing.assert_array_equal(replication_timing(sub, standardise=False), full[keep][::-1])


def test_custom_genomes_have_no_track():
    g = load_genome("hg38", 500_000)
    fasta_like = Genome(build="hg38", bin_size=500_000, bins=g.bins, chrom_sizes=g.chrom_sizes,
                        source="FASTA GRCh38.fa (sha256 0123456789ab), 500 kb bins")
    assert np.isnan(replication_timing(fasta_like)).all()
    other = Genome(build="chm13", bin_size=500_000, bins=g.bins, chrom_sizes=g.chrom_sizes, source="built-in?")
    assert np.isnan(replication_timing(other)).all()


def test_mean_over_bins_is_the_length_weighted_mean():
    from ctcscope.genome.intervals import mean_over_bins

    # intervals [0,10)=1, [10,20)=3, gap [20,30), [30,40)=5; bins [0,20), [5,15), [15,35), [20,30)
    mean, cov = mean_over_bins(np.array([0, 10, 30]), np.array([10, 20, 40]), np.array([1.0, 3.0, 5.0]),
                               np.array([0, 5, 15, 20]), np.array([20, 15, 35, 30]))
    np.testing.assert_allclose(cov, [20, 10, 10, 0])
    np.testing.assert_allclose(mean[:3], [2.0, 2.0, (5 * 3 + 5 * 5) / 10])
    assert np.isnan(mean[3])
