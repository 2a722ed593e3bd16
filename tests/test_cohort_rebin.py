"""Re-binning onto a fixed grid, checked against values worked out by hand."""
import numpy as np
import pandas as pd
import pytest

from ctcscope.cohort.rebin import (freec_windows, make_grid, overlap_matrix, rebin, rebin_segments,
                                   rebin_table)
from ctcscope.errors import InputError
from ctcscope.genome import load_genome


@pytest.fixture
def grid():
    # chr1: 4 bins of 250 bp; chr2 (600 bp): 250, 250 and a short last bin of 100 bp
    return make_grid({"1": 1000, "chr2": 600}, 250)


def bins(rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def test_make_grid_tiles_chromosomes_to_their_ends(grid):
    assert grid.chrom.tolist() == ["1"] * 4 + ["2"] * 3
    assert grid.start.tolist() == [0, 250, 500, 750, 0, 250, 500]
    assert grid.end.tolist() == [250, 500, 750, 1000, 250, 500, 600]
    g = make_grid(load_genome("hg19", 1_000_000).chrom_sizes, 250_000)
    last = g.groupby("chrom", sort=False).end.max()
    assert last["1"] == 249_250_621 and last["X"] == 155_270_560
    assert (g.groupby("chrom", sort=False).size()["1"]) == int(np.ceil(249_250_621 / 250_000))
    assert g.index[0] == "1:1-250000"


FROM = bins([
    ("chr1", 0, 100),      # 1  inside grid bin 0
    ("chr1", 100, 300),    # 2  straddles the 250 edge: 150 bp in bin 0, 50 bp in bin 1
    ("chr1", 300, 450),    # NaN (masked): no weight anywhere
    ("chr1", 450, 600),    # 4  50 bp in bin 1, 100 bp in bin 2
    ("chr1", 700, 1000),   # 5  gap 600-700 before it; 50 bp in bin 2, 250 bp in bin 3
    ("chr1", 900, 1200),   # 7  runs past the chromosome end: only 900-1000 counts
    ("chr2", 550, 650),    # 3  past the end of chr2 (600): 50 bp in the short last bin
    ("chr3", 0, 500),      # 9  chromosome not in the grid: ignored
])
V = np.array([1, 2, np.nan, 4, 5, 7, 3, 9], dtype=float)


def test_rebin_hand_checked(grid):
    out = rebin(V, FROM, grid, dtype=np.float64)
    expect = [
        (100 * 1 + 150 * 2) / 250,            # 1.6
        (50 * 2 + 50 * 4) / 100,              # 3.0 (the NaN bin carries no weight)
        (100 * 4 + 50 * 5) / 150,             # 4.333 (gap 600-700 carries no weight)
        (250 * 5 + 100 * 7) / 350,            # 5.571 (overlapping inputs both count)
        np.nan, np.nan,                        # chr2 0-500: nothing there
        3.0,                                   # clipped to the chromosome end
    ]
    np.testing.assert_allclose(out, expect, rtol=0, atol=1e-12)


def test_overlap_matrix_counts_shared_base_pairs(grid):
    W = overlap_matrix(FROM, grid).toarray()
    assert W[1].tolist() == [150, 50, 0, 0, 0, 0, 0]
    assert W[5].tolist() == [0, 0, 0, 100, 0, 0, 0]
    assert W[7].sum() == 0
    # every base of every input interval inside the grid is counted exactly once
    assert W.sum() == 100 + 200 + 150 + 150 + 300 + 100 + 50


def test_mask_is_the_same_as_nan(grid):
    mask = np.ones(len(FROM), bool)
    mask[3] = False  # drop the 450-600 bin
    out = rebin(V, FROM, grid, mask=mask, dtype=np.float64)
    assert out[1] == 2.0  # only 250-300 (value 2) is left in bin 1
    assert out[2] == 5.0  # only 700-750 (value 5) is left in bin 2
    v2 = V.copy()
    v2[3] = np.nan
    np.testing.assert_array_equal(out, rebin(v2, FROM, grid, dtype=np.float64))


def test_per_sample_nan_and_min_coverage(grid):
    vals = np.vstack([V, V])
    vals[1, 0] = np.nan  # second sample lost its 0-100 bin
    out = rebin(vals, FROM, grid, dtype=np.float64)
    assert out[0, 0] == pytest.approx(1.6) and out[1, 0] == 2.0
    cov = rebin(V, FROM, grid, min_coverage=0.5, dtype=np.float64)
    assert np.isnan(cov[1])                 # 100 of 250 bp covered < 50 %
    assert cov[2] == pytest.approx(650 / 150)  # 150 of 250 bp covered
    assert cov[6] == 3.0


def test_identity_when_input_is_the_grid(grid):
    rng = np.random.default_rng(1)
    vals = rng.normal(size=(3, len(grid)))
    np.testing.assert_allclose(rebin(vals, grid, grid, dtype=np.float64), vals, atol=1e-12)


def test_coarsening_fixed_bins_is_the_block_mean():
    fine = make_grid({"1": 1_000_000}, 50_000)
    coarse = make_grid({"1": 1_000_000}, 250_000)
    vals = np.arange(20, dtype=float)
    out = rebin(vals, fine, coarse, dtype=np.float64)
    np.testing.assert_allclose(out, vals.reshape(4, 5).mean(axis=1))


def test_segments_seg_file_one_based(grid):
    seg = pd.DataFrame({
        "ID": ["A", "A", "B", "B"],
        "chrom": ["chr1", "chr1", "1", "2"],
        "loc.start": [1, 251, 101, 1],
        "loc.end": [250, 1000, 400, 600],
        "num.mark": [1, 3, 2, 3],
        "seg.mean": [1.0, 3.0, 2.0, -1.0],
    })
    out, order = rebin_segments(seg, grid, value="seg.mean", sample="ID", one_based=True)
    assert order == ["A", "B"]
    np.testing.assert_allclose(out[0], [1, 3, 3, 3, np.nan, np.nan, np.nan])
    np.testing.assert_allclose(out[1], [2, 2, np.nan, np.nan, -1, -1, -1])
    # a chosen sample order, with a sample absent from the table
    out2, order2 = rebin_segments(seg, grid, value="seg.mean", sample="ID", one_based=True,
                                  samples=["B", "C", "A"], chunk=1)
    np.testing.assert_allclose(out2[0], out[1])
    assert np.isnan(out2[1]).all()
    np.testing.assert_allclose(out2[2], out[0])


def test_segments_equal_dense_rebin_of_the_same_intervals(grid):
    seg = FROM.assign(sample_id="s", seg_mean=V)
    out, _ = rebin_segments(seg.dropna(), grid)
    np.testing.assert_allclose(out[0], rebin(V, FROM, grid, dtype=np.float64), rtol=1e-6)


def test_wide_table_and_freec_windows(grid):
    t = pd.DataFrame({"Chromosome": ["1", "1"], "Start": [0, 250], "End": [250, 1000],
                      "cellA": [1.0, 2.0], "cellB": [np.nan, 4.0]})
    out, names = rebin_table(t, grid)
    assert names == ["cellA", "cellB"]
    np.testing.assert_allclose(out[0, :4], [1, 2, 2, 2])
    np.testing.assert_allclose(out[1, :4], [np.nan, 4, 4, 4])
    fr = pd.DataFrame({"Chromosome": ["1", "1", "1", "2"], "Start": [1, 50001, 100001, 1],
                       "Ratio": [1, 1, 1, 1]})
    w = freec_windows(fr)
    assert w.start.tolist() == [0, 50000, 100000, 0]
    assert w.end.tolist() == [50000, 100000, 150000, 50000]


def test_bad_input_is_one_sentence(grid):
    with pytest.raises(InputError, match="one value per bin"):
        rebin(np.zeros(3), FROM, grid)
    with pytest.raises(InputError, match="start"):
        rebin_table(pd.DataFrame({"chrom": ["1"], "x": [1]}), grid)
    with pytest.raises(InputError, match="positive"):
        make_grid({"1": 100}, 0)
