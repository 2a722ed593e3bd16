"""The optional external validation sources: staged TSVs -> Cohorts on built-in bins.

The real data are not in the repository; these tests stage a tiny fake dataset in the same
layout and check the loader's bin placement, masking and skipping.
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.validation import external_sources as ext  # noqa: E402


def _stage(root: Path, key: str, bins: pd.DataFrame, counts: np.ndarray, truth: pd.DataFrame, cn=None):
    d = root / key
    d.mkdir(parents=True)
    cells = list(truth.cell)
    df = pd.concat([bins.reset_index(drop=True), pd.DataFrame(counts.T, columns=cells)], axis=1)
    df.to_csv(d / "counts.tsv.gz", sep="\t", index=False)
    truth.to_csv(d / "truth.tsv", sep="\t", index=False)
    if cn is not None:
        c = pd.concat([bins.reset_index(drop=True), pd.DataFrame(cn.T, columns=cells)], axis=1)
        c.to_csv(d / "cn.tsv.gz", sep="\t", index=False)


def test_missing_root_yields_nothing(tmp_path, caplog):
    caplog.set_level("INFO")
    assert list(ext.external_cohorts(tmp_path / "absent")) == []
    assert "skipped" in caplog.text


def test_env_var_sets_root(tmp_path, monkeypatch):
    monkeypatch.setenv(ext.ENV_VAR, str(tmp_path))
    assert ext.data_root() == tmp_path
    assert ext.data_root("/x") == Path("/x")


def test_dlp_bins_placed_by_start_and_unlisted_bins_masked(tmp_path):
    # three DLP-style chr1 bins (staged 0-based) plus a chromosome-end bin that runs past
    # the chromosome (as DLP's last bins do): all placed on the hg19 500 kb built-in bins
    bins = pd.DataFrame({"chrom": ["1", "1", "1", "1"],
                         "start": [0, 1_000_000, 1_500_000, 249_000_000],
                         "end": [500_000, 1_500_000, 2_000_000, 249_500_000]})
    counts = np.array([[10, 20, 30, 40], [1, 2, 3, 4]])
    truth = pd.DataFrame({"cell": ["a", "b"], "ploidy": [4.0, 2.0], "wgd": [1.0, 0.0],
                          "truth_method": "test", "reads": counts.sum(1), "sample": ["s1", "s2"]})
    _stage(tmp_path, "dlp_ov081_signals", bins, counts, truth, cn=np.array([[4, 4, 3, 4], [2, 2, 1, 2]]))
    cohorts = list(ext.dlp_cohorts(tmp_path))
    assert len(cohorts) == 1
    c = cohorts[0]
    assert c.source == "external:dlp" and c.split == "holdout"
    var = c.adata.var
    X = c.adata.layers["counts"]
    first = np.flatnonzero((var.chrom == "1").to_numpy())
    assert X[0, first[0]] == 10 and X[0, first[2]] == 20 and X[0, first[3]] == 30
    assert X[0, first[-1]] == 40  # the chromosome-end bin, matched by its start
    assert X[:, first[1]].sum() == 0 and not var["use"].iloc[first[1]]  # source lacks this bin
    assert not var["use"][var.chrom != "1"].any()  # nothing staged elsewhere: all masked
    assert list(c.truth.ploidy) == [4.0, 2.0] and c.truth.score.all()
    assert c.cn.shape == c.adata.shape and c.cn[0, first[2]] == 4 and np.isnan(c.cn[0, first[1]])
    assert list(c.adata.obs.patient) == ["s1", "s2"]


def test_constrained_source_is_not_scored(tmp_path):
    bins = pd.DataFrame({"chrom": ["2", "2"], "start": [0, 500_000], "end": [500_000, 1_000_000]})
    truth = pd.DataFrame({"cell": ["x"], "ploidy": [2.0], "wgd": [0.0], "truth_method": "t", "reads": [5]})
    _stage(tmp_path, "scabsolute_peo1", bins, np.array([[2, 3]]), truth)
    (c,) = list(ext.scabsolute_cohorts(tmp_path))
    assert not c.truth.score.any()
    assert c.truth.ploidy.iloc[0] == 2.0
