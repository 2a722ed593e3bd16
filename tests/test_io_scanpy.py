"""cohort.h5ad as a bioinformatician opens it: scanpy's PCA and heatmap on the demo cohort,
X against segments.seg, no NaN where there is a call, every obs/var column documented."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # noqa: E402  (before scanpy imports pyplot)

import anndata as ad
import numpy as np
import pandas as pd
import pytest

sc = pytest.importorskip("scanpy", reason="scanpy is in the test extra: pip install '.[test]'")

DOCS = Path(__file__).parents[1] / "docs" / "data-model.md"


@pytest.fixture(scope="module")
def cohort(demo_run):
    return ad.read_h5ad(demo_run / "cohort.h5ad")


def test_x_is_the_seg_value_on_every_bin_and_finite(cohort, demo_run):
    a = cohort
    assert a.X is not None and a.X.shape == (a.n_obs, a.n_vars) and a.X.dtype == np.float32
    assert np.isfinite(a.X).all()
    use = a.var["use"].to_numpy(bool)
    called = a.obs["ploidy"].notna().to_numpy()
    assert called.sum() >= 50
    # no NaN in a usable bin of a called sample: segment and copy number cover every usable bin
    for layer in ("segment", "cn"):
        assert np.isfinite(a.layers[layer][np.ix_(called, use)]).all(), layer
    assert (a.X[:, ~use] == 0).all()
    # X is segments.seg's seg.mean painted onto the bins (the file igv.js reads, test_seg_igvjs)
    seg = pd.read_csv(demo_run / "segments.seg", sep="\t", dtype={"ID": str, "chrom": str})
    row = {s: i for i, s in enumerate(a.obs_names)}
    chrom, start, end = a.var["chrom"].astype(str).to_numpy(), a.var["start"].to_numpy(), a.var["end"].to_numpy()
    rng = np.random.default_rng(0)
    for k in rng.choice(len(seg), 200, replace=False):
        s = seg.iloc[k]
        cols = np.flatnonzero((chrom == s.chrom) & (start >= s["loc.start"] - 1) & (end <= s["loc.end"]) & use)
        np.testing.assert_allclose(a.X[row[s.ID], cols], s["seg.mean"], atol=2e-4)


def test_scanpy_pca_and_heatmap_run_on_the_cohort(cohort):
    a = cohort[:, cohort.var["use"].to_numpy(bool)].copy()
    sc.pp.pca(a, n_comps=10)
    pcs = a.obsm["X_pca"]
    assert pcs.shape == (a.n_obs, 10) and np.isfinite(pcs).all()
    # PC1 follows the largest axis of variation: a known profile difference, not noise
    assert a.uns["pca"]["variance_ratio"][0] > a.uns["pca"]["variance_ratio"][9]
    bins = list(a.var_names[:: max(1, a.n_vars // 40)])
    axes = sc.pl.heatmap(a, bins, groupby="patient", show=False)
    img = np.asarray(axes["heatmap_ax"].get_images()[0].get_array())
    # the drawn rows are the samples' X, grouped by patient (scanpy's order within a group is
    # its own): compare each patient's block as a set of rows
    x = a[:, bins].X
    patients = a.obs["patient"].astype("category")
    top = 0
    for p in patients.cat.categories:
        mine = x[(patients == p).to_numpy()]
        block = img[top:top + len(mine)]
        np.testing.assert_allclose(np.sort(block, axis=0), np.sort(mine, axis=0), atol=1e-6)
        top += len(mine)
    assert top == img.shape[0] == a.n_obs


def _documented(section: str) -> set[str]:
    text = DOCS.read_text()
    body = text.split(section, 1)[1].split("\n\n", 1)[1]
    table = body.split("\n\n", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([^`]+)`", cell)}


def test_every_obs_and_var_column_is_documented(cohort):
    obs_doc = _documented("`obs`: one row per sample")
    var_doc = _documented("`var`: one row per bin")
    assert {"patient", "cluster_order", "plate"} <= obs_doc and {"chrom", "end", "use"} <= var_doc  # the parser works
    assert sorted(set(cohort.obs.columns) - obs_doc) == [], "obs columns missing from docs/data-model.md"
    assert sorted(set(cohort.var.columns) - var_doc) == [], "var columns missing from docs/data-model.md"
