"""Count matrices as input, on the real raw-count single-cell files in tests/data."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from ctcscope.errors import GenomeMismatchError, InputError
from ctcscope.genome import load_genome
from ctcscope.io.counts import load_counts, read_counts
from ctcscope.io.export import write_count_matrix

SCOPE = "scope-10x-demo/scope_demo_10x_3cells_hg19_500kb_counts.tsv.gz"
EUPLOID = "aneufinder-testdata/euploid_HB150318_1_003.bam_binsize_500000.tsv.gz"
MOUSE = "aneufinder-testdata/trisomy_BB150803_IV_003.bam_binsize_500000.tsv.gz"
SCCLUST = "scclust-jysonganan/example1.varbin.20k.tsv.gz"
VARBINS = "scclust-jysonganan/hg19.varbin.gc.20k.tsv.gz"


@pytest.fixture(scope="module")
def hg19():
    return load_genome("hg19", 500_000)


def test_aneufinder_cell_lands_on_builtin_bins(data_path, hg19):
    raw = pd.read_csv(data_path(EUPLOID), sep="\t", dtype={"chrom": str})
    a = read_counts(data_path(EUPLOID), hg19)
    assert a.obs_names.tolist() == ["euploid_HB150318_1_003"]
    assert a.n_vars == hg19.n_bins and a.layers["counts"].dtype == np.int32
    # reads on the unplaced contig GL000192.1 (13) are set aside: it has no bin in hg19
    on_genome = raw.chrom.isin(hg19.chrom_sizes.index)
    assert (~on_genome).sum() == 1 and raw["counts"][~on_genome].sum() == 13
    assert int(a.layers["counts"].sum()) == int(raw["counts"][on_genome].sum()) == int(a.obs.reads.iloc[0])
    assert a.uns["counts_input"]["bins_set_aside"] == 1
    # 1-based "1:1000001-1500000" (25 reads in the file) is the 0-based bin 1:1000000-1500000
    k = int(np.flatnonzero((a.var.chrom == "1") & (a.var.start == 1_000_000))[0])
    assert a.layers["counts"][0, k] == 25
    # the file stops at 249,000,000 on chr1: the built-in last bin has no data and is not used
    last = int(np.flatnonzero((a.var.chrom == "1") & (a.var.end == 249_250_621))[0])
    assert not a.var.use.iloc[last]
    assert a.uns["genome"]["build"] == "hg19" and a.uns["genome"]["bin_size"] == 500_000
    assert a.obs.sample_type.iloc[0] == "ctc" and a.obs.pool_size.iloc[0] == 1


def test_scope_cells_keep_their_own_bins(data_path, hg19):
    raw = pd.read_csv(data_path(SCOPE), sep="\t")
    a, g = load_counts(data_path(SCOPE), hg19)
    assert a.obs_names.tolist() == ["AAAGCAATCTGACGCG", "GCAGTTACACTGTATG", "TAAACCGCACGACGCT"]
    assert a.n_vars == len(raw) == 5577
    # SCOPE's bins are 1-based (chr1:69091-569090) and do not line up with 0/500 kb bins
    assert a.var.start.iloc[0] == 69090 and a.var.end.iloc[0] == 569090
    np.testing.assert_array_equal(a.layers["counts"].sum(axis=1), raw.iloc[:, 5:].sum().to_numpy())
    assert g.bin_size == 500_000 and "own bins" in g.source
    # the file's own GC (percent) is kept, as a fraction
    np.testing.assert_allclose(a.var.gc.to_numpy(), raw.gc.to_numpy() / 100)
    # blacklist/N content come from the build: the first bin overlaps the 1p telomere gap
    assert a.var.blacklist.iloc[0] > 0.5 and not a.var.use.iloc[0]
    assert a.var.use.mean() > 0.9
    with pytest.raises(InputError, match="do not line up with the hg19 500 kb bins"):
        load_counts(data_path(SCOPE), hg19, own_bins=False)


def test_scclust_varbins_from_starts_match_the_varbin_table(data_path, hg19):
    a = read_counts(data_path(SCCLUST), hg19)
    vb = pd.read_csv(data_path(VARBINS), sep="\t")
    assert a.n_vars == len(vb) == 20000
    assert int(a.layers["counts"].sum()) == 759_155
    # ends derived from the next bin's start (last: chromosome end) = the table's inclusive ends + 1
    np.testing.assert_array_equal(a.var.start.to_numpy(), vb["bin.start"].to_numpy())
    np.testing.assert_array_equal(a.var.end.to_numpy(), vb["bin.end"].to_numpy() + 1)
    # GC estimated from the build's 50 kb bins agrees with SCclust's own GC per bin
    r = np.corrcoef(a.var.gc.to_numpy(), vb["gc.content"].to_numpy())[0, 1]
    assert r > 0.98, r
    assert np.nanmax(np.abs(a.var.gc.to_numpy() - vb["gc.content"].to_numpy())) < 0.05


def test_mouse_counts_refused_on_human_build(data_path, hg19):
    with pytest.raises(GenomeMismatchError) as e:
        read_counts(data_path(MOUSE), hg19)
    assert "ends past the end of chromosome 13 in hg19 (115,169,878 bp)" in str(e.value)


def test_roundtrip_text_and_h5ad_and_cells_by_bins(tmp_path, data_path, hg19):
    a = read_counts(data_path(EUPLOID), hg19)
    for name in ("m.tsv.gz", "m.csv", "m.h5ad"):
        write_count_matrix(a, tmp_path / name)
        b = read_counts(tmp_path / name, hg19)
        np.testing.assert_array_equal(b.layers["counts"], a.layers["counts"])
        assert b.obs_names.tolist() == a.obs_names.tolist()
    # cells × bins with chrom:start-end (1-based) column names
    sub = a[:, a.var.chrom == "2"]
    cb = pd.DataFrame(sub.layers["counts"], columns=sub.var_names)
    cb.insert(0, "cell", ["euploid"])
    cb.to_csv(tmp_path / "cb.tsv", sep="\t", index=False)
    b = read_counts(tmp_path / "cb.tsv", hg19)
    assert b.n_vars == hg19.n_bins
    np.testing.assert_array_equal(b[:, b.var.chrom == "2"].layers["counts"], sub.layers["counts"])
    assert b.var.use[b.var.chrom == "1"].sum() == 0  # no data → unusable


@pytest.mark.parametrize("text, expected", [
    ("chrom\tstart\tend\tc1\n1\t0\t500000\t1.5\n1\t500000\t1000000\t2\n", "not whole non-negative numbers"),
    ("chrom\tstart\tend\tc1\n1\t0\t500000\t-1\n1\t500000\t1000000\t2\n", "not whole non-negative numbers"),
    ("chrom\tstart\tend\tc1\n1\t0\t500000\tx\n1\t500000\t1000000\t2\n", "holds text, not read counts"),
    ("chrom\tstart\tend\n1\t0\t500000\n", "has bin columns but no cell columns"),
    ("chrom\tstart\tend\tc1\tc1\n1\t0\t500000\t1\t1\n", "appears twice"),
    ("chrom\tstart\tend\tc1\nchr2L\t0\t500000\t1\n", "no chromosome name fits genome hg19"),
    ("cell\tfoo\tbar\nc1\t1\t2\n", "is not a bin name like"),
    ("chrom\tstart\tend\tc1\n1\t0\t600000\t1\n1\t500000\t1000000\t2\n", "bins on chromosome 1 overlap"),
    ("", "is an empty file"),
])
def test_bad_matrices(tmp_path, hg19, text, expected):
    p = tmp_path / "m.tsv"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        read_counts(p, hg19)
    msg = str(e.value)
    assert expected in msg, msg
    assert "\n" not in msg and not re.search(r"\.\s+[A-Z]", msg)
