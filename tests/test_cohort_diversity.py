"""Intra/inter-patient diversity: permutation test on simulations, hand-checked distances
and shared/private regions."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from _cohort_synth import called_from_truth, synth_cohort
from ctcscope.cohort import altered_regions, cohort_matrix, distance_to_reference, patient_spread, patient_test
from ctcscope.cohort.diversity import cell_states, diversity_table
from ctcscope.genome import load_genome
from ctcscope.simulate import random_design, simulate_cohort


def mat(rows, patients, types=None, ploidy=None, chrom=None):
    X = np.asarray(rows, dtype=np.float32)
    n, b = X.shape
    obs = pd.DataFrame({"patient": patients, "sample_type": types or ["ctc"] * n},
                       index=[f"s{i}" for i in range(n)])
    if ploidy is not None:
        obs["ploidy"] = ploidy
    var = pd.DataFrame({"chrom": chrom or ["1"] * b, "start": np.arange(b) * 100, "end": np.arange(1, b + 1) * 100})
    var.index = var.chrom + ":" + var.start.astype(str)
    return ad.AnnData(X=X, obs=obs, var=var)


def test_permutation_test_separates_patients_of_a_simulation():
    g = load_genome("hg19", 500_000)
    sim = simulate_cohort(random_design(45, seed=21, genome=g, n_patients=3), g, seed=21)
    m = cohort_matrix(called_from_truth(sim, seed=21))
    t = patient_test(m, n_permutations=999, seed=0)
    assert t["n_patients"] == 3
    assert t["p_value"] <= 0.001 + 1e-12  # no shuffle reaches the observed separation
    assert t["mean_between"] > 2 * t["mean_within"] and t["z"] > 5


def test_permutation_test_does_not_separate_one_clone():
    """One clone whose cells are dealt out to three 'patients': no separation."""
    ps = []
    for seed in range(3):
        a, _ = synth_cohort({"P1": [45]}, seed=seed, cell_errors=4)
        rng = np.random.default_rng(seed)
        a.obs["patient"] = rng.choice(["A", "B", "C"], size=a.n_obs)
        t = patient_test(cohort_matrix(a), n_permutations=999, seed=seed)
        ps.append(t["p_value"])
        assert abs(t["z"]) < 2.5
    assert min(ps) > 0.05, ps


def test_permutation_test_needs_two_patients():
    t = patient_test(mat([[0, 0], [1, 1]], ["P1", "P1"]))
    assert np.isnan(t["p_value"]) and "two patients" in t["note"]


def test_spread_and_reference_distances_hand_checked():
    m = mat([[0, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 2],        # P1: three CTCs, no biopsy
             [1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]],       # P2: two CTCs and a biopsy
            ["P1", "P1", "P1", "P2", "P2", "P2"], types=["ctc"] * 5 + ["biopsy"])
    sp = patient_spread(m).set_index("patient")
    # RMS distances in P1: 1, 2, 1
    assert sp.loc["P1", "n_ctcs"] == 3
    assert sp.loc["P1", "spread_median"] == pytest.approx(1.0)
    assert sp.loc["P1", "spread_mean"] == pytest.approx(4 / 3)
    assert sp.loc["P1", "spread_max"] == pytest.approx(2.0)
    assert sp.loc["P2", "spread_median"] == pytest.approx(np.sqrt(2 / 4))
    ref = distance_to_reference(m).set_index("sample_id")
    # P1, leave-one-out median of the other two CTCs: 1.5, 1.0, 0.5
    np.testing.assert_allclose(ref.loc[["s0", "s1", "s2"], "distance_to_reference"], [1.5, 0.0, 1.5])
    assert set(ref.loc[["s0", "s1", "s2"], "reference_type"]) == {"consensus"}
    # P2 against its biopsy [1, 1, 1, 0]
    np.testing.assert_allclose(ref.loc[["s3", "s4"], "distance_to_reference"], [0.5, 0.5])
    assert ref.loc["s3", "reference"] == "s5" and "s5" not in ref.index


def test_cell_states_use_half_a_copy_at_the_cells_ploidy():
    v = np.log2(np.array([[3 / 2, 2.4 / 2, 1 / 2, 2.6 / 2],      # ploidy 2: +1, +0.4, -1, +0.6 copies
                          [5 / 4, 4.4 / 4, 3.45 / 4, 3.6 / 4]]))  # ploidy 4: +1, +0.4, -0.55, -0.4 copies
    S = cell_states(mat(v, ["P", "P"], ploidy=[2, 4]))
    assert S.tolist() == [[1, 0, -1, 1], [1, 0, -1, 0]]


def test_shared_subclonal_private_regions_hand_checked():
    g, l = np.log2(3 / 2), np.log2(1 / 2)
    m = mat([[g, g, 0, l, 0], [g, 0, 0, l, g], [g, 0, g, l, g], [g, 0, 0, 0, 0], [g, 0, 0, l, 0]],
            ["P1"] * 4 + ["P2"], ploidy=[2] * 5, chrom=["1", "1", "1", "1", "2"])
    r = altered_regions(m, shared_fraction=0.75)
    p1 = r[r.patient == "P1"].sort_values(["direction", "start"])
    got = [(x.direction, x.chrom, x.start, x.end, x["class"], x.min_carriers, x.max_carriers) for _, x in p1.iterrows()]
    assert got == [
        ("gain", "1", 0, 100, "shared", 4, 4),        # all four CTCs
        ("gain", "1", 100, 300, "private", 1, 1),     # bins 1 and 2, one CTC each: merged
        ("gain", "2", 400, 500, "subclonal", 2, 2),   # 2 of 4 < 75 %
        ("loss", "1", 300, 400, "shared", 3, 3),      # 3 of 4 = 75 %
    ]
    p2 = r[r.patient == "P2"]
    assert set(p2["class"]) == {"single_cell"} and set(p2.direction) == {"gain", "loss"}


def test_diversity_table_counts_clones_per_patient():
    a, truth = synth_cohort({"P1": [6, 6], "P2": [7]}, seed=2)
    m = cohort_matrix(a)
    per, ref, regions = diversity_table(m, np.array([t.replace("/", "-") for t in truth]))
    per = per.set_index("patient")
    assert per.loc["P1", "n_clones"] == 2 and per.loc["P2", "n_clones"] == 1
    assert per.loc["P1", "spread_max"] > per.loc["P2", "spread_max"]
    assert 0 < per.loc["P2", "fraction_shared"] < 1
    assert len(ref) == m.n_obs
