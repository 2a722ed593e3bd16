"""Output files: SEG conventions, h5ad with provenance and mixed-type columns."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from ctcscope.io.export import SEG_COLUMNS, read_cohort, segments_to_seg, write_copy_number_outputs


def test_seg_is_one_based_log2_and_finite_for_homdel():
    seg = pd.DataFrame({"sample_id": ["a", "a"], "chrom": ["9", "9"], "start": [0, 21_000_000],
                        "end": [21_000_000, 22_500_000], "n_bins": [42, 3], "seg_mean": [1.0, 0.0], "cn": [2.0, 0.0]})
    out = segments_to_seg(seg)
    assert out.columns.tolist() == ["ID", "chrom", "loc.start", "loc.end", "num.mark", "copy_number", "seg.mean"]
    assert out["loc.start"].tolist() == [1, 21_000_001] and out["loc.end"].tolist() == [21_000_000, 22_500_000]
    assert out["seg.mean"].tolist() == [0.0, -10.0]


def test_seg_value_column_is_last_so_a_flat_4n_cell_is_not_gained(tmp_path):
    # SEG readers (IGV, igv.js) take the LAST column as the value: it must be the log2 ratio.
    # Flat 4n cell: ratio to its own mean 1 -> log2 0, copy number 4 in its own column.
    seg = pd.DataFrame({"sample_id": ["wgd"], "chrom": ["1"], "start": [0], "end": [249_000_000],
                        "n_bins": [498], "seg_mean": [1.0], "cn": [4.0]})
    a = ad.AnnData(obs=pd.DataFrame(index=pd.Index(["wgd"], name="sample_id")),
                   var=pd.DataFrame({"chrom": ["1"], "start": [0], "end": [10]}, index=["1:1-10"]))
    a.uns["segments"] = seg
    write_copy_number_outputs(a, tmp_path)
    lines = (tmp_path / "segments.seg").read_text().splitlines()
    assert lines[0].split("\t") == SEG_COLUMNS and SEG_COLUMNS[-1] == "seg.mean"
    assert lines[1].split("\t") == ["wgd", "1", "1", "249000000", "498", "4.0", "0.0"]


def test_h5ad_roundtrip_with_provenance_and_mixed_columns(tmp_path):
    obs = pd.DataFrame({"patient": ["P1", "P2"], "note": [None, "x"], "mixed": [3, "x"], "flag": [True, False]},
                       index=pd.Index(["c/1", "c2"], name="sample_id"))
    var = pd.DataFrame({"chrom": ["1", "1"], "start": [0, 10], "end": [10, 20]}, index=["1:1-10", "1:11-20"])
    a = ad.AnnData(obs=obs, var=var, layers={"counts": np.array([[1, 2], [3, 4]], np.int32)})
    a.uns["ctcscope"] = {"parameters": {"genome": {"build": "hg19"}}, "inputs": [{"path": "/x/y.bam", "sha256": "ab"}]}
    a.uns["segments"] = pd.DataFrame({"sample_id": ["c/1"], "chrom": ["1"], "start": [0], "end": [20], "n_bins": [2],
                                      "seg_mean": [1.5], "cn": [3.0]})
    written = write_copy_number_outputs(a, tmp_path)
    assert set(written) == {"cohort.h5ad", "cells.tsv", "segments.seg"}
    b = read_cohort(tmp_path)
    assert b.uns["ctcscope"] == a.uns["ctcscope"]
    assert b.obs.note.tolist() == ["", "x"] and b.obs.mixed.tolist() == ["3", "x"] and b.obs.flag.tolist() == [True, False]
    np.testing.assert_array_equal(b.layers["counts"], a.layers["counts"])
    cells = pd.read_csv(tmp_path / "cells.tsv", sep="\t")
    assert cells.sample_id.tolist() == ["c/1", "c2"]
    assert a.uns["ctcscope"]["inputs"][0]["path"] == "/x/y.bam"  # the caller's object is untouched
    assert not list(tmp_path.glob(".*tmp-*"))


def test_h5ad_x_is_log2_segment_ratio_and_zero_where_there_is_no_call(tmp_path):
    var = pd.DataFrame({"chrom": ["1"] * 4, "start": [0, 10, 20, 30], "end": [10, 20, 30, 40],
                        "use": [True, True, True, False]}, index=["a", "b", "c", "d"])
    seg = np.array([[1.0, 2.0, 0.0, np.nan],            # flat, gain (log2 1), homdel (floor), unusable bin
                    [np.nan] * 4], np.float32)          # a sample without a call
    a = ad.AnnData(obs=pd.DataFrame(index=["s1", "s2"]), var=var, layers={"segment": seg})
    write_copy_number_outputs(a, tmp_path)
    b = read_cohort(tmp_path)
    np.testing.assert_array_equal(b.X, np.array([[0.0, 1.0, -10.0, 0.0], [0.0] * 4], np.float32))
    assert a.X is None  # the caller's object is untouched
