"""Genomes from a FASTA: hand-checked GC and N content, caching, blacklist, refusals."""
from __future__ import annotations

import gzip
import time

import numpy as np
import pysam
import pytest

from _bamutil import Read, header, write_bam
from ctcscope.errors import InputError
from ctcscope.genome.fasta import genome_from_fasta, interval_fraction
from ctcscope.io.bam import count_bam

# chr1: bin 0 = 250 GC + 250 AT → GC 0.5; bin 1 = 500 N + 500 G → bases 0.5, GC 1;
# bin 2 (partial, 500 bp) = ACGT×125 → GC 0.5, bases 0.5 of the nominal 1 kb.
CHR1 = "GC" * 250 + "AT" * 250 + "N" * 500 + "G" * 500 + "ACGT" * 125
# chr2: bin 0 = 700 A + 300 c (lower case counts) → GC 0.3; bin 1 = 1000 N → no GC
CHR2 = "A" * 700 + "c" * 300 + "N" * 1000


def write_fasta(path, seqs: dict[str, str], width=60):
    with open(path, "w") as f:
        for name, s in seqs.items():
            f.write(f">{name} some description\n")
            for i in range(0, len(s), width):
                f.write(s[i:i + width] + "\n")
    return path


@pytest.fixture
def fasta(tmp_path):
    return write_fasta(tmp_path / "toy.fa", {"chr1": CHR1, "chr2": CHR2, "chrUn_gl000220": "A" * 1500,
                                             "chrM": "GATC" * 400, "tiny": "ACGT" * 10})


def test_gc_and_n_content_by_hand(tmp_path, fasta):
    g = genome_from_fasta(fasta, 1000, cache_dir=tmp_path / "cache")
    b = g.bins.set_index(["chrom", "start"])
    assert list(g.chrom_sizes.index[:2]) == ["1", "2"] and g.chrom_sizes["1"] == 2500
    assert "tiny" in g.chrom_sizes.index and "tiny" not in set(g.bins.chrom)  # shorter than a bin
    np.testing.assert_allclose(b.loc[("1", 0), ["bases", "gc"]].to_numpy(float), [1.0, 0.5])
    np.testing.assert_allclose(b.loc[("1", 1000), ["bases", "gc"]].to_numpy(float), [0.5, 1.0])
    np.testing.assert_allclose(b.loc[("1", 2000), ["bases", "gc"]].to_numpy(float), [0.5, 0.5])
    assert b.loc[("1", 2000), "end"] == 2500
    np.testing.assert_allclose(b.loc[("2", 0), ["bases", "gc"]].to_numpy(float), [1.0, 0.3])
    assert b.loc[("2", 1000), "bases"] == 0 and np.isnan(b.loc[("2", 1000), "gc"])
    # usable: enough A/C/G/T, primary chromosome; unplaced contigs and chrM never
    assert g.bins.use.tolist() == [True, False, False, True, False, False, False, False, False]
    assert g.bins.mappability.isna().all() and g.genes.empty
    assert g.build == "toy" and g.bin_size == 1000
    assert list(g.to_var().index[:2]) == ["1:1-1000", "1:1001-2000"]


def test_cache_makes_the_second_call_instant(tmp_path, fasta):
    cache = tmp_path / "cache"
    t0 = time.perf_counter()
    g1 = genome_from_fasta(fasta, 1000, cache_dir=cache)
    t1 = time.perf_counter()
    g2 = genome_from_fasta(fasta, 1000, cache_dir=cache)
    t2 = time.perf_counter()
    assert g1.bins.equals(g2.bins)
    assert len(list(cache.glob("fasta-*-1000-*.tsv.gz"))) == 1
    assert (t2 - t1) < 0.5
    # a copy under another name (same bytes) hits the same entry; another bin size does not
    copy = tmp_path / "copy.fa"
    copy.write_bytes(fasta.read_bytes())
    genome_from_fasta(copy, 1000, cache_dir=cache)
    assert len(list(cache.glob("fasta-*.tsv.gz"))) == 1
    genome_from_fasta(copy, 2000, cache_dir=cache)
    assert len(list(cache.glob("fasta-*.tsv.gz"))) == 2
    # changed content → new entry, new values
    write_fasta(copy, {"chr1": "G" * 2000})
    g3 = genome_from_fasta(copy, 1000, cache_dir=cache)
    assert g3.bins.gc.tolist() == [1.0, 1.0]


def test_blacklist_bed_and_bgzip(tmp_path, fasta):
    bed = tmp_path / "bl.bed"
    bed.write_text("chr1\t100\t400\nchr1\t300\t600\nchr2\t0\t1000\n")
    g = genome_from_fasta(fasta, 1000, cache_dir=tmp_path / "c", blacklist=bed)
    b = g.bins.set_index(["chrom", "start"])
    assert b.loc[("1", 0), "blacklist"] == pytest.approx(0.5)  # union of 100-600
    assert b.loc[("2", 0), "blacklist"] == 1.0 and not b.loc[("2", 0), "use"]
    # bgzip-compressed FASTA reads the same
    bgz = tmp_path / "toy.fa.gz"
    pysam.tabix_compress(str(fasta), str(bgz))
    g2 = genome_from_fasta(bgz, 1000, cache_dir=tmp_path / "c")
    np.testing.assert_array_equal(g2.bins.gc.to_numpy(), genome_from_fasta(fasta, 1000, cache_dir=tmp_path / "c").bins.gc.to_numpy())


def test_interval_fraction_edges():
    import pandas as pd

    bins = pd.DataFrame({"chrom": ["1"] * 3, "start": [0, 10, 20], "end": [10, 20, 25]})
    iv = pd.DataFrame({0: ["1", "1", "1"], 1: [5, 10, 22], 2: [10, 12, 30]})
    np.testing.assert_allclose(interval_fraction(bins, iv), [0.5, 0.2, 0.6])


def test_bam_counted_on_a_fasta_genome(tmp_path, fasta):
    g = genome_from_fasta(fasta, 1000, cache_dir=tmp_path / "c")
    contigs = dict(zip(["chr1", "chr2"], [2500, 2000]))
    reads = [Read(0, 10), Read(0, 999), Read(0, 1000), Read(0, 2400), Read(1, 1500)]
    r = count_bam(write_bam(tmp_path / "x.bam", header(contigs), reads, length=20), g)
    assert r.counts.tolist() == [2, 1, 1, 0, 1, 0, 0, 0, 0][: g.n_bins]


@pytest.mark.parametrize("kind, expected", [
    ("plain_gzip", "is gzip- but not bgzip-compressed"),
    ("not_fasta", "is not a FASTA file"),
    ("missing", "does not exist"),
])
def test_bad_fasta(tmp_path, fasta, kind, expected):
    p = tmp_path / f"{kind}.fa"
    if kind == "plain_gzip":
        p = tmp_path / "x.fa.gz"
        p.write_bytes(gzip.compress(fasta.read_bytes()))
    elif kind == "not_fasta":
        p.write_text("ACGT\n")
    with pytest.raises(InputError) as e:
        genome_from_fasta(p, 1000, cache_dir=tmp_path / "c")
    assert expected in str(e.value)
