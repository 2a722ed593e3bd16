"""The DNA index joined to read depth (issue 11): a doubled genome read depth cannot place,
2n G1 against 4n G1 against 2n G2/M, a strong disagreement flagged and not forced, and a
simulated cohort of doublings with few later changes called with and without it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctcscope.cna.dna_content import dna_log_likelihood, flat_profile_posterior
from ctcscope.cna.noise import NoiseModel, WaveModel
from ctcscope.cna.ploidy import call_ploidy

from test_cna_steps import _karyotype, _profile


def _doubled_profile(seed=4):
    """A 4n genome whose every change came before its doubling (even steps only): the same
    profile as a 2n genome with single-copy changes, so read depth cannot tell them apart."""
    rng = np.random.default_rng(seed)
    noise = NoiseModel(depth=150.0, alpha=0.01)
    seg, _ = _profile(_karyotype(4, {1: 6, 3: 2, 5: 6, 8: 2, 13: 2}), 1 / 4, noise, rng)
    return seg, noise


def test_dna_likelihood_is_a_density_over_the_measured_index():
    # hand check: a 4n G1 cell measured at index 2.0 with a 4 % SD and a 4 % floor
    ll, phase = dna_log_likelihood(np.array([4.0]), 2.0, 0.08, cycle_prior=(1, 0, 0), dna_dim_prob=1e-12,
                                   dna_outlier=1e-12)
    sd = np.hypot(0.04, 0.04)
    assert ll[0] == pytest.approx(-np.log(sd * np.sqrt(2 * np.pi)), abs=1e-6)
    assert phase[0, 0] == pytest.approx(1.0)
    # integrates to one over log(index)
    x = np.linspace(np.log(0.1), np.log(20), 20001)
    dens = [np.exp(dna_log_likelihood(np.array([3.0]), float(np.exp(v)), 0.05 * np.exp(v))[0][0]) for v in x[::50]]
    from scipy.integrate import trapezoid

    assert trapezoid(dens, x[::50]) == pytest.approx(1.0, abs=0.02)


def test_dna_index_places_a_doubled_genome_read_depth_cannot():
    seg, noise = _doubled_profile()
    wave = WaveModel(0.01, 20)
    rd = call_ploidy(seg, noise, wave=wave)
    assert rd.ploidy_probs.get(2, 0) > 0.05 and rd.ploidy_probs.get(4, 0) > 0.05  # read depth: either
    g1_2n = call_ploidy(seg, noise, wave=wave, dna_index=1.02, dna_index_sd=0.035)
    assert g1_2n.ploidy == 2 and g1_2n.confidence > 0.99 and g1_2n.dna_used and not g1_2n.dna_conflict
    assert g1_2n.rd_ploidy == rd.ploidy and g1_2n.phase_probs[0] > 0.95
    # index 2: 4n in G1, or 2n in G2/M; the phase prior (G1 0.85, G2/M 0.10) favours 4n
    # but cannot make it certain: the call moves to 4n and stays short of resolved
    g = call_ploidy(seg, noise, wave=wave, dna_index=2.0, dna_index_sd=0.07)
    p2, p4 = rd.ploidy_probs.get(2, 0), rd.ploidy_probs.get(4, 0)
    expected = p4 * 0.85 / (p4 * 0.85 + p2 * 0.10)
    assert g.ploidy_probs[4] == pytest.approx(expected, abs=0.05)
    assert g.ploidy == (4 if expected > 0.5 else 2)
    assert g.confidence < 0.99


def test_strong_disagreement_is_flagged_not_forced():
    # a clear 3n cell (odd steps at 3n) whose DNA index says half of that
    rng = np.random.default_rng(3)
    noise = NoiseModel(depth=150.0, alpha=0.01)
    seg, _ = _profile(_karyotype(3, {1: 4, 2: 2, 7: 4, 9: 2, 17: 5}), 1 / 3, noise, rng)
    c = call_ploidy(seg, noise, wave=WaveModel(0.01, 20), dna_index=0.62, dna_index_sd=0.03)
    rd = call_ploidy(seg, noise, wave=WaveModel(0.01, 20))
    assert c.dna_conflict and c.ploidy == 3 == c.rd_ploidy
    # kept, but no longer stated as certain: one of the two measures is wrong
    assert c.confidence < min(rd.confidence, 0.95)
    assert sum(c.ploidy_probs.values()) == pytest.approx(1.0)


def test_flat_profile_from_the_dna_index():
    probs, phase = flat_profile_posterior(1.0, 0.04)
    assert max(probs, key=probs.get) == 2 and probs[2] > 0.98 and phase[0] > 0.95
    probs, _ = flat_profile_posterior(3.0, 0.1)
    assert max(probs, key=probs.get) == 6  # 6n G1 over 3n G2/M (prior 0.85 vs 0.10)
    probs, phase = flat_profile_posterior(2.0, 0.07)
    assert 0.3 < probs[2] < 0.8 and 0.2 < probs[4] < 0.7  # 2n G2/M or 4n G1: open


@pytest.fixture(scope="module")
def doubled_cohort():
    """A cohort of 2n and 4n clones whose doublings gained at most one change since, 15 %
    of cells in S phase; seed 171 is used by no validation split."""
    from ctcscope.genome import load_genome
    from ctcscope.simulate import Bias, random_design, simulate_cohort

    g = load_genome("hg19", 500_000)
    design = random_design(40, seed=171, genome=g, bias=Bias(s_phase=0.15), ploidies=(2, 4), focal=False,
                           private_events=(0, 0), post_wgd_events=(0, 1))
    sim = simulate_cohort(design, g, seed=171)
    tr = sim.truth.samples.set_index("sample_id").loc[sim.adata.obs_names]
    rng = np.random.default_rng(171)
    single = (tr["sample_type"] == "ctc").to_numpy()
    # the index sort: true DNA content x staining factor, 4.5 % CV; leukocyte CV 3.5 %
    di = tr["dna_index"].to_numpy() * tr["hoechst_factor"].to_numpy() * np.exp(rng.normal(0, 0.045, len(tr)))
    return sim, tr, single, np.where(single, di, np.nan)


def test_cohort_with_and_without_the_dna_index(doubled_cohort):
    from ctcscope.cna import call_copy_number

    sim, tr, single, di = doubled_cohort
    without = call_copy_number(sim.adata, workers=1, quiet=True).obs
    a = sim.adata.copy()
    a.obs["dna_index"], a.obs["dna_index_sd"] = di, di * 0.035
    withdna = call_copy_number(a, workers=1, quiet=True).obs
    tum = single & ~tr["normal_like"].to_numpy()
    truth = tr["ploidy"].to_numpy()
    acc0 = (pd.to_numeric(without["ploidy"]).to_numpy()[tum] == truth[tum]).mean()
    acc1 = (pd.to_numeric(withdna["ploidy"]).to_numpy()[tum] == truth[tum]).mean()
    assert acc1 >= acc0 and acc1 >= 0.9
    # what read depth alone could not place is placed: more resolved calls, none wrong
    res1 = (withdna["ploidy_status"] == "resolved").to_numpy() & tum
    res0 = (without["ploidy_status"] == "resolved").to_numpy() & tum
    assert res1.sum() > res0.sum()
    assert (pd.to_numeric(withdna["ploidy"]).to_numpy()[res1] == truth[res1]).mean() >= 0.97
    conf = withdna["ploidy_confidence"].to_numpy()
    assert not np.any((conf >= 0.99) & tum & (pd.to_numeric(withdna["ploidy"]).to_numpy() != truth))
    # S phase: flagged from the reads, read as S by the joint call, never doubled by replication
    s = (tr["phase"] == "S").to_numpy() & single
    assert s.sum() >= 3 and withdna["s_phase"].to_numpy()[s].mean() >= 0.9
    assert (withdna["cycle_phase"].astype(str).to_numpy()[s] == "S").mean() >= 0.9
    called_wgd = withdna["wgd"].to_numpy(bool)
    assert not np.any(s & called_wgd & (truth < 4))
    # the basis says which evidence decided; flat cells with an index are placed by it
    basis = withdna["ploidy_basis"].astype(str)
    assert basis[tum].eq("read depth + DNA index").mean() > 0.8
    assert set(basis[single & tr["normal_like"].to_numpy()]) <= {"flat profile: DNA index"}
