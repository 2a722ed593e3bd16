"""The ``kronos`` validation source (benchmarks/validation/kronos_source.py) builds valid cohorts.

Needs the project's shared data (``kronos-10x-jeff-hela``); skipped without it.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "validation"))

K = pytest.importorskip("kronos_source")
if not (K.default_data_dir() / "kronos-10x-jeff-hela" / "Jeff_rep1_PerCell.tsv.gz").exists():
    pytest.skip("shared data kronos-10x-jeff-hela not available", allow_module_level=True)


def test_cohorts_structure_split_and_determinism():
    cos = list(K.cohorts(replicates=["Jeff_rep1"], cells_per_cohort=6, max_cells=12, controls=2))
    assert [c.name for c in cos] == ["Jeff_rep1_01", "Jeff_rep1_02"] and cos[1].adata.n_obs == 8
    c = cos[0]
    assert c.source == "kronos" and c.split == "tune"
    assert c.adata.shape == (8, 6188)
    obs = c.adata.obs
    assert obs.sample_type.tolist() == ["ctc"] * 6 + ["wbc"] * 2
    assert (obs.patient == "Jeff_rep1").all() and (obs.pool_size == 1).all()
    t = c.truth
    assert (t.ploidy == 2).all() and (t.wgd == 0).all()
    assert t.score.tolist() == [True] * 6 + [False] * 2
    assert set(t.phase[:6]) <= {"S", "G1/G2"}
    X = c.adata.layers["counts"]
    use = c.adata.var["use"].to_numpy()
    chrom = c.adata.var["chrom"].to_numpy()
    assert not use[np.isin(chrom, ["X", "Y"])].any() and use.sum() > 5000
    assert (X[:, np.isin(chrom, ["X", "Y"])] == 0).all()         # Kronos has autosomes only
    reads = X[:6].sum(axis=1)
    expect = t.coverage_per_1Mbp[:6].to_numpy() * 2.7e3            # ~2.7-2.8 Gb covered
    assert np.all((reads > 0.9 * expect) & (reads < 1.1 * expect))
    # MAPD of the counts follows the per-cell target
    m = np.array([K._mapd(x, use, chrom) for x in X])
    assert np.allclose(m, t.target_mapd, atol=0.01)
    # a cell's counts do not depend on how the cohorts are cut
    one = next(K.cohorts(replicates=["Jeff_rep1"], cells_per_cohort=None, max_cells=12))
    assert one.split == "tune" and one.adata.n_obs == 12
    np.testing.assert_array_equal(one.adata.layers["counts"][:6], X[:6])
    np.testing.assert_array_equal(one.adata.obs_names[6:], cos[1].adata.obs_names[:6])


def test_split_filter_and_custom_split():
    assert [c.split for c in K.cohorts(splits=("holdout",), replicates=["Jeff_rep1", "Jeff_rep2"],
                                       cells_per_cohort=None, max_cells=3)] == ["holdout"]
    cos = list(K.cohorts(split_of={"Jeff_rep1": "holdout"}, replicates=["Jeff_rep1"], max_cells=3))
    assert cos[0].split == "holdout"
