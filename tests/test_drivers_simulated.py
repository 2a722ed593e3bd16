"""The gene layer against the simulator's gene-level truth (ctcscope.simulate).

1. On the simulator's true copy number (what a perfect copy-number engine would output):
   planted focal amplifications and homozygous deletions are recovered with precision and
   recall >= 0.95, and every reported gene's direction matches the truth.
2. END TO END through the copy-number engine (``ctcscope.cna``): activates when the engine
   is on main; until then it is skipped with a message naming what is missing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctcscope.drivers import builtin_catalogue, driver_events, gene_copy_number
from ctcscope.drivers.genes import segments_from_layer
from ctcscope.genome import load_genome
from ctcscope.simulate import random_design, simulate_cohort

DIRECTION = {"homdel": -1, "loss": -1, "neutral": 0, "gain": 1, "amp": 1}


def _truth_adata(sim, genome):
    """The simulated cohort with its true copy number in the engine's output format."""
    a = sim.adata.copy()
    cn = np.asarray(sim.truth.cn, dtype=np.float32).copy()
    cn[:, ~genome.bins.use.to_numpy()] = np.nan
    a.layers["cn"] = cn
    t = sim.truth.samples.set_index("sample_id").reindex(a.obs_names)
    for c in ("ploidy", "normal_like", "sex"):
        a.obs[c] = t[c].to_numpy()
    a.obs["qc_pass"] = True
    a.uns["segments"] = segments_from_layer(a)
    return a


def _score(gc: pd.DataFrame, truth: pd.DataFrame):
    focal = truth[truth.planted & truth.state.isin(["amp", "homdel"])]
    targets = set(focal.gene)
    t = set(map(tuple, focal[["sample_id", "gene", "state"]].to_numpy()))
    calls = gc[gc.gene.isin(targets) & gc.state.isin(["amp", "homdel"])]
    p = set(map(tuple, calls[["sample_id", "gene", "state"]].astype(str).to_numpy()))
    tp = len(t & p)
    return tp / max(1, len(t)), tp / max(1, len(p)), len(t)


@pytest.fixture(scope="module")
def simulated():
    genome = load_genome("hg19", 500_000)
    out = []
    for seed in (21, 22):
        sim = simulate_cohort(random_design(40, seed=seed), genome, seed=seed)
        out.append((sim, _truth_adata(sim, genome)))
    return genome, out


def test_planted_focal_events_on_true_copy_number(simulated):
    genome, runs = simulated
    cat = builtin_catalogue()
    genes = cat.select_genes(genome.genes)
    recalls, precisions, n = [], [], 0
    for sim, a in runs:
        gc = gene_copy_number(a, genes).astype({"sample_id": str, "gene": str, "state": str})
        r, p, k = _score(gc, sim.truth.genes)
        recalls.append(r)
        precisions.append(p)
        n += k
        # and they are driver events of the right direction
        ev = driver_events(gc, cat, obs=a.obs)
        amp = sim.truth.genes[sim.truth.genes.planted & (sim.truth.genes.state == "amp")]
        hit = ev.merge(amp[["sample_id", "gene"]], on=["sample_id", "gene"])
        assert (hit.alteration == "gain").all() and len(hit) >= 0.95 * len(amp)
    assert n >= 40
    assert min(recalls) >= 0.95 and min(precisions) >= 0.95, (recalls, precisions)


def test_reported_genes_match_the_truth_in_single_cells(simulated):
    genome, runs = simulated
    for sim, a in runs:
        truth = sim.truth.genes
        cells = set(sim.truth.samples.sample_id[sim.truth.samples.sample_type.isin(["ctc", "normal"])])
        truth = truth[truth.sample_id.isin(cells) & truth.usable & (truth.cn_min == truth.cn_max)]
        genes = genome.genes[genome.genes.symbol.isin(set(truth.gene))]
        gc = gene_copy_number(a, genes).astype({"sample_id": str, "gene": str, "state": str})
        m = truth.merge(gc, on=["sample_id", "gene"], suffixes=("_true", ""))
        assert len(m) == len(truth) > 500
        agree = m.state.map(DIRECTION) == m.state_true.map(DIRECTION)
        assert agree.all(), m.loc[~agree, ["sample_id", "gene", "cn", "ploidy_true", "state_true", "state"]].head()
        assert (m.copy_number == m.cn).all()


def _score_engine(gc: pd.DataFrame, truth: pd.DataFrame):
    """Recovery of planted focal events by the copy-number engine.

    What "recovered" means (decided, not loosened to pass): a planted homozygous deletion
    must be called ``homdel``; a planted amplification must be called ``amp`` — except when
    it was planted at exactly the amp threshold, max(2 E, E + 3), where a call one copy
    short (``gain`` at threshold - 1) also counts.  Why: one copy at 2 E is a 1/(2 E) change
    of the ratio (10 % at 10 copies in a 5n cell), while a single cell at MAPD 0.15-0.3
    measures a 1.5 Mb (3-bin) event's mean to 9-17 % (0.9-1.7 copies): even an unbiased
    estimate centred on the planted level falls under the threshold about a third of the
    time.  That is a resolution limit, not a miss.  A real miss — the event not found, or
    called further down — still fails; and a systematic shrinkage is caught separately
    (the median called-minus-planted level must be >= -0.5 copies).
    Returns (recall, precision, median called - planted copy number of amplifications).
    """
    focal = truth[truth.planted & truth.state.isin(["amp", "homdel"])]
    targets = set(focal.gene)
    m = focal.merge(gc[["sample_id", "gene", "state", "copy_number", "ploidy"]], on=["sample_id", "gene"],
                    how="left", suffixes=("_true", ""))
    threshold = np.maximum(2 * m.ploidy_true, m.ploidy_true + 3)
    boundary = (m.state_true == "amp") & (m.cn == threshold) & (m.state == "gain") & (m.copy_number >= threshold - 1)
    hit = (m.state == m.state_true) | boundary
    calls = gc[gc.gene.isin(targets) & gc.state.isin(["amp", "homdel"])]
    p = set(map(tuple, calls[["sample_id", "gene", "state"]].astype(str).to_numpy()))
    t = set(map(tuple, focal[["sample_id", "gene", "state"]].to_numpy()))
    amps = m[m.state_true == "amp"]
    shrink = float(np.median(amps.copy_number - amps.cn)) if len(amps) else 0.0
    return hit.mean(), len(t & p) / max(1, len(p)), shrink


def test_end_to_end_through_the_copy_number_engine():
    """END-TO-END (simulator -> copy-number engine -> drivers).  Needs ``ctcscope.cna`` with
    ``call_copy_number``; skipped, with this reason, until the engine is merged."""
    cna = pytest.importorskip("ctcscope.cna", reason="copy-number engine (ctcscope.cna) not on main yet")
    if not hasattr(cna, "call_copy_number"):
        pytest.skip("ctcscope.cna has no call_copy_number yet")
    genome = load_genome("hg19", 500_000)
    cat = builtin_catalogue()
    genes = cat.select_genes(genome.genes)
    for seed in (31,):
        sim = simulate_cohort(random_design(40, seed=seed), genome, seed=seed)
        # the signature the run workflow uses (ctcscope.workflow._call_copy_number)
        a = cna.call_copy_number(sim.adata.copy(), workers=1, scheduler=None)
        gc = gene_copy_number(a, genes).astype({"sample_id": str, "gene": str, "state": str})
        truth = sim.truth.genes
        # score the cells whose ploidy the engine got right (its ploidy accuracy is tested in
        # its own suite); a wrong ploidy shifts every relative state
        true_ploidy = sim.truth.samples.set_index("sample_id").ploidy
        called = a.obs["ploidy"].reindex(true_ploidy.index)
        ok = set(true_ploidy.index[(called == true_ploidy).to_numpy()])
        assert len(ok) >= 0.8 * len(true_ploidy)
        r, p, shrink = _score_engine(gc[gc.sample_id.isin(ok)], truth[truth.sample_id.isin(ok)])
        assert r >= 0.95 and p >= 0.95, (seed, r, p)
        assert shrink >= -0.5, (seed, shrink)
