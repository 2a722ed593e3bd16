"""Built-in genome builds: bins, usable flags, names and build recognition."""
import numpy as np
import pandas as pd
import pytest

from ctcscope.errors import InputError
from ctcscope.genome import (BUILTIN_BIN_SIZES, CHROMS, canonical_chrom, canonical_chroms, guess_build,
                             load_genome)


@pytest.mark.parametrize("build", ["hg19", "hg38"])
@pytest.mark.parametrize("size", BUILTIN_BIN_SIZES)
def test_builtin_bins_tile_the_chromosomes(build, size):
    g = load_genome(build, size)
    b = g.bins
    assert list(pd.unique(b.chrom)) == CHROMS
    # contiguous fixed-width tiling from 0 to the chromosome end, per chromosome
    for c, d in b.groupby("chrom", sort=False):
        assert d.start.iloc[0] == 0
        assert (d.start.to_numpy()[1:] == d.end.to_numpy()[:-1]).all()
        assert (d.end - d.start).iloc[:-1].eq(size).all()
        assert d.end.iloc[-1] <= g.chrom_sizes[c] + size
    assert b.gc.dropna().between(0.2, 0.8).all()
    # usable: autosomes and X only, a large majority of the genome
    assert not b.use[b.chrom == "Y"].any()
    assert 0.8 < b.use.mean() < 0.92


def test_hg19_values_match_qdnaseq_and_encode():
    g = load_genome("hg19", 500_000)
    # hand-checked against QDNAseq hg19 500 kbp row "1:1000001-1500000": gc 59.8332 %, map 81.7876 %
    row = g.bins.iloc[2]
    assert (row.chrom, row.start, row.end) == ("1", 1_000_000, 1_500_000)
    assert row.gc == pytest.approx(0.5983, abs=1e-4)
    assert row.mappability == pytest.approx(0.8179, abs=1e-4)
    assert bool(row.use)
    # chr1 centromere/heterochromatin gap (no bases) is unusable
    gap = g.bins[(g.bins.chrom == "1") & (g.bins.start == 125_500_000)].iloc[0]
    assert gap.bases == 0 and not gap.use
    # ENCODE v2 hg19 lists chr10:38,726,200-42,489,100 as a high-signal region
    bl = g.bins[(g.bins.chrom == "10") & (g.bins.start == 39_000_000)].iloc[0]
    assert bl.blacklist == pytest.approx(1.0) and not bl.use


def test_arms_and_genes():
    g = load_genome("hg38", 1_000_000)
    # ERBB2 (17q12) and ALK (2p23) on the right arms
    genes = g.genes.set_index("symbol")
    assert genes.loc["ALK", "chrom"] == "2" and genes.loc["ERBB2", "chrom"] == "17"
    i = g.bin_index(["2", "17"], [genes.loc["ALK", "start"], genes.loc["ERBB2", "start"]])
    assert g.bins.arm.iloc[i].tolist() == ["p", "q"]
    assert len(g.genes) > 19_000 and len(g.cytobands) > 800


def test_bin_index_edges():
    g = load_genome("hg19", 1_000_000)
    idx = g.bin_index(np.array(["1", "1", "1", "Z"]), np.array([0, 999_999, 1_000_000, 5]))
    assert idx.tolist() == [0, 0, 1, -1]


def test_names_and_builds():
    assert canonical_chrom("chr1") == "1" and canonical_chrom("chrX") == "X" and canonical_chrom("chrM") == "MT"
    assert canonical_chroms(pd.Series(["chr2", "2", "chrY", "M"])).tolist() == ["2", "2", "Y", "MT"]
    assert guess_build({"chr1": 249_250_621, "chr2": 243_199_373}) == "hg19"
    assert guess_build({"1": 248_956_422, "2": 242_193_529}) == "hg38"
    assert guess_build({"1": 195_471_971, "2": 182_113_224}) == "mm10"
    assert guess_build({"1": 1000}) is None


def test_bad_build_and_bin_size_are_one_sentence():
    with pytest.raises(InputError, match="not built in; use one of hg19, hg38"):
        load_genome("hg17", 500_000)
    with pytest.raises(InputError, match="bin size 250000 bp is not built in"):
        load_genome("hg19", 250_000)
    assert load_genome("GRCh37", 1_000_000).build == "hg19"
