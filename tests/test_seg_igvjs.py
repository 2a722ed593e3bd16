"""segments.seg read by IGV's own SEG parser (igv.js in headless Chromium).

IGV plots the last column of a SEG file.  A whole-genome-doubled cell with no change must
read as log2 ratio 0 (not gained) and still carry its copy number, 4.  Skips with the reason
when igv.js (``scripts/setup-igvjs.sh``) or Chromium is missing.
"""
from __future__ import annotations

import math

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from _igvjs import igvjs_missing, read_seg_with_igvjs
from ctcscope.io.export import write_copy_number_outputs

pytestmark = [pytest.mark.browser, pytest.mark.skipif(igvjs_missing() is not None, reason=str(igvjs_missing()))]


@pytest.fixture(scope="module")
def chromium():
    from ctcscope.report.browser import Chromium

    with Chromium() as c:
        yield c


def _cohort_with(segments: pd.DataFrame) -> ad.AnnData:
    ids = segments.sample_id.unique()
    obs = pd.DataFrame({"patient": ["P1"] * len(ids)}, index=pd.Index(ids, name="sample_id"))
    var = pd.DataFrame({"chrom": ["1"], "start": [0], "end": [500_000]}, index=["1:1-500000"])
    a = ad.AnnData(obs=obs, var=var, layers={"counts": np.ones((len(ids), 1), np.int32)})
    a.uns["segments"] = segments
    return a


def test_igv_reads_log2_ratio_as_the_value_and_copy_number_beside_it(chromium, tmp_path):
    # hand-checked truth: flat 4n cell -> ratio 1 -> log2 0, CN 4; a 2n cell with a 3-copy gain
    # (ratio 1.5 -> log2 0.585) and a homozygous deletion (ratio 0 -> floored at log2 -10)
    seg = pd.DataFrame({
        "sample_id": ["wgd_flat", "wgd_flat", "diploid", "diploid", "diploid"],
        "chrom": ["1", "2", "1", "2", "2"],
        "start": [0, 0, 0, 0, 100_000_000],
        "end": [249_000_000, 243_000_000, 249_000_000, 100_000_000, 101_000_000],
        "n_bins": [498, 486, 498, 200, 2],
        "seg_mean": [1.0, 1.0, 1.5, 1.0, 0.0],
        "cn": [4.0, 4.0, 3.0, 2.0, 0.0],
    })
    write_copy_number_outputs(_cohort_with(seg), tmp_path)
    rows = read_seg_with_igvjs(chromium, tmp_path / "segments.seg", ["1", "2"], tmp_path)
    got = {(r["sample"], r["chr"], r["start"]): r for r in rows}
    assert len(got) == 5
    assert {r["value_column"] for r in rows} == {"seg.mean"}
    for chrom in ("1", "2"):
        flat = got[("wgd_flat", chrom, 0)]
        assert abs(flat["value"]) < 1e-9                # not drawn as a gain
        assert float(flat["attrs"]["copy_number"]) == 4.0
    gain = got[("diploid", "1", 0)]
    assert gain["value"] == pytest.approx(math.log2(1.5), abs=1e-4) and float(gain["attrs"]["copy_number"]) == 3.0
    homdel = got[("diploid", "2", 100_000_000)]         # 0-based start back from the 1-based file
    assert homdel["end"] == 101_000_000 and homdel["value"] == -10.0
