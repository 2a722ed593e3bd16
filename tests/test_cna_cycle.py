"""S-phase cells: the replication pattern is found, measured and divided out (ctcscope.cna.cycle).

The truth is constructed: a cell's ratio is its copy number times the replicated fraction of
each bin, 1 + 1 / (1 + exp(-(rt - theta) / w)), on the real replication-timing track of the
built-in hg19 bins, with multiplicative noise.  A G1 cell has the same copy numbers without
the replication factor.
"""
import numpy as np
import pytest

from ctcscope.cna.cycle import flag_replicating, replication_signal
from ctcscope.genome import load_genome, replication_timing


@pytest.fixture(scope="module")
def genome():
    g = load_genome("hg19", 500_000)
    return g, g.bins.copy(), replication_timing(g)


def _cell(genome, theta=None, seed=0, noise=0.12):
    g, bins, rt = genome
    rng = np.random.default_rng(seed)
    cn = np.full(len(bins), 2.0)
    chrom = bins.chrom.to_numpy()
    cn[chrom == "7"] = 3.0  # a whole-chromosome gain and a loss: copy-number blocks
    cn[(chrom == "13") & (bins.start.to_numpy() > 50e6)] = 1.0
    rep = np.ones(len(bins))
    if theta is not None:
        rep = 1.0 + 1.0 / (1.0 + np.exp(-(np.nan_to_num(rt) - theta) / 0.3))
    ratio = cn * rep * np.exp(rng.normal(0, noise, len(bins)))
    ratio = ratio / np.nanmedian(ratio)
    ratio[~bins.use.to_numpy()] = np.nan
    return ratio, cn


def test_replicating_cell_scores_high_and_g1_cell_near_zero(genome):
    g, bins, rt = genome
    scores_s = [replication_signal(_cell(genome, theta=t, seed=i)[0], bins, rt).score
                for i, t in enumerate((-0.8, 0.0, 0.6))]
    scores_g1 = [replication_signal(_cell(genome, seed=10 + i)[0], bins, rt).score for i in range(5)]
    assert min(scores_s) > 0.3, scores_s
    assert max(abs(s) for s in scores_g1) < 0.08, scores_g1


def test_fitted_factor_removes_the_pattern_and_keeps_copy_number(genome):
    g, bins, rt = genome
    ratio, cn = _cell(genome, theta=0.0, seed=3, noise=0.05)
    fit = replication_signal(ratio, bins, rt)
    corrected = ratio / fit.factor
    ok = np.isfinite(corrected) & np.isfinite(rt)
    # after division the replication pattern is (almost all) gone ...
    assert fit.score > 0.8
    assert abs(replication_signal(corrected, bins, rt).score) < 0.25 * fit.score
    # ... and the copy-number blocks are intact: chr7 reads 3/2 of the 2-copy autosomes
    chrom = bins.chrom.to_numpy()
    two = ok & (cn == 2)
    assert np.median(corrected[ok & (chrom == "7")]) / np.median(corrected[two]) == pytest.approx(1.5, abs=0.08)


def test_flagging_needs_a_high_score_that_stands_out_of_the_run():
    run = np.r_[np.random.default_rng(1).normal(0.02, 0.02, 30), [0.45, 0.5]]
    flag = flag_replicating(run)
    assert flag[-2:].all() and not flag[:-2].any()
    # a run whose cells all carry a little structure correlated with timing flags nobody
    assert not flag_replicating(np.full(20, 0.15) + np.random.default_rng(2).normal(0, 0.01, 20)).any()
    # with fewer than five cells only the absolute score applies
    assert flag_replicating(np.array([0.05, 0.4])).tolist() == [False, True]
