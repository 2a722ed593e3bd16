"""Ploidy, WGD and confidence on sources the engine was not built on (fast versions).

The full validation is ``benchmarks/validate_ploidy.py`` (figures and splits in docs/cna.md);
the slow floors are in ``tests/test_cna_floors.py``.  Here, in the default suite:

* a held-out CNAsim cohort (Weiner & Bansal 2023; its own trees, doublings and read model)
  with a doubled clone next to its undoubled relatives — the case where a clone consensus
  once pooled lineages of different ploidy (structure only: accuracy on CNAsim is not yet
  at the issue's floor, docs/cna.md);
* held-out real 10x JEFF (2n) and HeLa S3 (3n) cells (Gnan et al. 2022) rebuilt from their
  segment depths;
* calling each cell as its own patient (no clone prior) and all cells together must agree
  wherever a cell's own read depth is confident: a group prior may sharpen, never flip.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctcscope.cna import call_copy_number

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))


#: Share of held-out JEFF/HeLa cells at the line's ploidy that the test asserts (measured 0.90-0.93
#: on these 60 cells; tuning replicates 0.91, docs/cna.md)
RIGHT_KRONOS = 0.85


def _scored(cohort, out) -> pd.DataFrame:
    from validation import scoring

    r = scoring.sample_rows(cohort, out)
    return r[r.score & np.isfinite(r.ploidy_true)]


def _alone(adata):
    """The same cells, each its own patient: no clone groups, no group prior."""
    a = adata.copy()
    a.obs["patient"] = [f"solo{i}" for i in range(a.n_obs)]
    return a


def _no_flip(together, alone) -> pd.DataFrame:
    """Cells whose own call (alone) is confident but whose call together differs."""
    o1, o2 = together.obs, alone.obs.loc[together.obs_names]
    own = (o2.ploidy_basis.astype(str) == "read depth") & (o2.ploidy_confidence >= 0.99)
    bad = own & (pd.to_numeric(o1.ploidy) != pd.to_numeric(o2.ploidy))
    return pd.DataFrame({"alone": o2.ploidy[bad], "conf": o2.ploidy_confidence[bad], "together": o1.ploidy[bad],
                         "basis": o1.ploidy_basis[bad]})


@pytest.fixture(scope="module")
def hexaploid_cohort():
    pytest.importorskip("CNAsim")
    pytest.importorskip("msprime")
    pytest.importorskip("Bio")
    from validation import cnasim_source

    # held-out seed (tuning used 1-5), a 3n lineage with a doubled 6n clone
    return next(cnasim_source.cohorts([109], split="holdout", n_cells=30, hexaploid=True))


def test_cnasim_doubled_lineage_alone_and_together(hexaploid_cohort):
    """A clone prior never flips a cell's confident own call, and never pools a doubled clone
    with its undoubled relatives into a mean copy number below either.

    Not asserted, because the engine does not reach it on this cohort (docs/cna.md, "Known
    failures"): accuracy.  Measured: 11/30 together, 14/30 alone; the consensus of the 4n
    lineage fits 8n and moves four 4n members there at 0.55-0.98; two 3n cells are called 6n
    at 0.990-0.99996 on their own read depth.
    """
    c = hexaploid_cohort
    together = call_copy_number(c.adata, workers=2, quiet=True)
    alone = call_copy_number(_alone(c.adata), workers=2, quiet=True)
    d = _scored(c, together)
    assert (d.ploidy_true >= 6).sum() >= 3     # the doubled clone (8n here: CNAsim's founder was 4n)
    assert _no_flip(together, alone).empty, _no_flip(together, alone)
    # the failure: a 6n clone pooled with its 3n parent read mean copy number 1.4
    clone = d[d.basis == "clone consensus"]
    assert (clone.mean_cn >= 0.8 * d.loc[clone.index, "ploidy_true"].clip(upper=4)).all(), clone
    # a clone prior only ever moves unresolved members: every such call had < 0.95 on its own
    moved = together.obs.ploidy_basis.astype(str) == "clone consensus"
    own = alone.obs.loc[together.obs_names]
    changed = moved & (pd.to_numeric(together.obs.ploidy) != pd.to_numeric(own.ploidy))
    assert (own.ploidy_confidence[changed] < 0.95).all()


def test_kronos_held_out_cells():
    from validation import kronos_source

    rows = []
    # 30 held-out cells of each line (rep2), in one cohort per line
    for c in kronos_source.cohorts(splits=("holdout",), max_cells=30, cells_per_cohort=None, seed=7):
        rows.append(_scored(c, call_copy_number(c.adata, workers=2, quiet=True)))
    d = pd.concat(rows)
    assert len(d) >= 20
    right = d.ploidy == d.ploidy_true
    assert right.mean() >= RIGHT_KRONOS, d.groupby("cohort").apply(lambda x: (x.ploidy == x.ploidy_true).mean())
    assert not ((d.conf >= 0.99) & ~right).any(), d[(d.conf >= 0.99) & ~right]


def test_own_simulator_alone_and_together_agree():
    from ctcscope.genome import load_genome
    from ctcscope.simulate import random_design, simulate_cohort

    sim = simulate_cohort(random_design(30, seed=203), load_genome("hg19", 500_000), seed=203)
    together = call_copy_number(sim.adata, workers=2, quiet=True)
    alone = call_copy_number(_alone(sim.adata), workers=2, quiet=True)
    assert _no_flip(together, alone).empty, _no_flip(together, alone)
    t = sim.truth.samples.set_index("sample_id").loc[together.obs_names]
    tum = t.sample_type.isin(["ctc", "ctc_pool"]).to_numpy() & ~t.normal_like.to_numpy(bool)
    right = together.obs.ploidy.to_numpy(float)[tum] == t.ploidy.to_numpy(float)[tum]
    assert right.mean() >= 0.9
    # statuses: every inferred call is resolved or ambiguous, resolved ones at >= 0.95
    o = together.obs
    inferred = o.ploidy_basis.astype(str).isin(["read depth", "clone consensus"])
    assert set(o.ploidy_status[inferred].astype(str)) <= {"resolved", "ambiguous"}
    assert (o.ploidy_confidence[inferred & (o.ploidy_status == "resolved")] >= 0.95).all()
    P = np.asarray(together.obsm["ploidy_probabilities"])
    assert np.allclose(P[inferred.to_numpy()].sum(axis=1), 1.0, atol=1e-6)
