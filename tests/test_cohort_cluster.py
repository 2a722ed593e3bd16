"""Ward clustering, leaf order and clone calls against known clones."""
import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import pdist
from sklearn.metrics import adjusted_rand_score

from _cohort_synth import called_from_truth, synth_cohort
from ctcscope.cohort import cluster, cohort_matrix
from ctcscope.cohort.cluster import Distances, compress_columns, gw_order, neighbour_silhouette
from ctcscope.errors import InputError
from ctcscope.genome import load_genome
from ctcscope.simulate import random_design, simulate_cohort


@pytest.fixture(scope="module")
def hg19_500():
    return load_genome("hg19", 500_000)


def test_distances_are_exact_euclidean():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.normal(size=(30, 12)), rng.integers(1, 20, size=12), axis=1)  # runs of equal columns
    X[3, 5] = np.nan
    C = compress_columns(np.nan_to_num(X))
    assert C.shape[1] <= 14 < X.shape[1]  # 12 runs, the NaN cell splits one run in three
    d = Distances(X)
    ref = pdist(np.nan_to_num(X))
    from scipy.spatial.distance import squareform
    np.testing.assert_allclose(Distances(X, block=7).condensed(), ref, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(Distances(X, square_max=0).square(np.arange(30)), squareform(ref), atol=1e-9)
    np.testing.assert_allclose(d.square(np.arange(30)), squareform(ref), atol=1e-5)  # float32 copy
    assert d.pair(3, 17) == pytest.approx(squareform(ref)[3, 17])


def test_ward_tree_is_scipys():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 25))
    c = cluster(X, leaf_order_method="none")
    Z = linkage(X, method="ward")
    np.testing.assert_allclose(c.linkage[:, 2], Z[:, 2], rtol=1e-9)
    assert sorted(leaves_list(Z)) == sorted(c.order)


def test_optimal_leaf_order_is_optimal_by_brute_force():
    """Against all 2^(n-1) orders of small trees (SciPy's optimal_leaf_ordering fails this,
    scipy/scipy#11227)."""
    import itertools

    from scipy.spatial.distance import squareform

    from ctcscope.cohort._olo import optimal_order

    for s in range(12):
        rng = np.random.default_rng(s)
        n = int(rng.integers(3, 10))
        X = rng.normal(size=(n, 3))
        D = squareform(pdist(X))
        Z = linkage(X, "ward")

        def order(flips):
            def rec(node):
                if node < n:
                    return [node]
                k = node - n
                o = rec(int(Z[k, 0])) + rec(int(Z[k, 1]))
                return o[::-1] if flips[k] else o
            return rec(2 * n - 2)

        def length(o):
            return sum(D[a, b] for a, b in zip(o[:-1], o[1:]))

        allowed = [order(f) for f in itertools.product([0, 1], repeat=n - 1)]
        got = list(optimal_order(Z, D))
        assert got in allowed
        assert length(got) == pytest.approx(min(length(o) for o in allowed), abs=1e-9)


def test_leaf_orders_are_permutations_and_gw_keeps_neighbours_close():
    rng = np.random.default_rng(2)
    X = np.cumsum(rng.normal(size=(60, 8)), axis=0)  # a path: neighbours in index are close
    d = Distances(X)
    import fastcluster

    Z = fastcluster.linkage(d.condensed(), method="ward")
    gw = gw_order(Z, d)
    assert sorted(gw) == list(range(60))

    def path_length(o):
        return sum(d.pair(int(a), int(b)) for a, b in zip(o[:-1], o[1:]))

    opt = cluster(X, leaf_order_method="optimal").order
    raw = leaves_list(Z)
    assert path_length(opt) <= path_length(gw) + 1e-9
    assert path_length(gw) <= path_length(raw) + 1e-9


def test_neighbour_silhouette_hand_checked():
    # two tight pairs far apart, k = 1
    pts = np.array([[0.0], [1.0], [10.0], [11.0]])
    D = np.abs(pts - pts.T)
    sl, sr = neighbour_silhouette(D, np.array([True, True, False, False]), k=1)
    # sample 0: a = 1, b = 10 -> 0.9; sample 1: a = 1, b = 9 -> 8/9; the right side mirrors it
    expect = ((10 - 1) / 10 + (9 - 1) / 9) / 2
    assert sl == pytest.approx(expect) and sr == pytest.approx(expect)


def test_recovers_clones_of_synthetic_cohorts():
    for seed in range(4):
        a, truth = synth_cohort({"P1": [10, 8], "P2": [12], "P3": [6, 6, 5], "P4": [3, 4]}, seed=seed,
                                cell_errors=4)
        c = cluster(cohort_matrix(a))
        assert adjusted_rand_score(truth, c.clones) >= 0.95, seed


def test_recovers_clones_of_simulator_cohorts(hg19_500):
    """Random designs of ctcscope.simulate (1-3 clones per patient, WGD, focal events),
    with private caller-like errors on each cell: ARI >= 0.95 on every cohort."""
    aris = []
    for seed in (11, 12, 13):
        sim = simulate_cohort(random_design(60, seed=seed, genome=hg19_500, biopsy=True), hg19_500, seed=seed)
        a = called_from_truth(sim, seed=seed)
        m = cohort_matrix(a)
        c = cluster(m)
        cells = (m.obs.sample_type == "ctc").to_numpy()
        truth = (m.obs.patient.astype(str) + "/" + m.obs.true_clone.astype(str)).to_numpy()
        aris.append(adjusted_rand_score(truth[cells], c.clones[cells]))
    assert min(aris) >= 0.95, aris


def test_one_clone_is_not_split():
    for seed in range(6):
        a, _ = synth_cohort({"P1": [40]}, seed=seed, cell_errors=6)
        c = cluster(cohort_matrix(a))
        assert c.params["n_clones"] == 1, (seed, c.splits)


def test_min_clone_size_and_fixed_number_of_clones():
    a, truth = synth_cohort({"P1": [10, 2], "P2": [12]}, seed=3)
    m = cohort_matrix(a)
    small = cluster(m, min_clone_size=2)
    big = cluster(m, min_clone_size=3)
    assert pd.Series(small.clones).value_counts().min() >= 2
    assert pd.Series(big.clones).value_counts().min() >= 3
    # the 2-cell clone is found when allowed, and absorbed (into its own patient) when not
    assert adjusted_rand_score(truth, small.clones) == 1.0
    p1_small = truth == "P1/1"
    assert len(set(big.clones[p1_small])) == 1 and big.clones[p1_small][0] in set(big.clones[truth == "P1/0"])
    fixed = cluster(m, n_clones=2)
    assert len(set(fixed.clones)) == 2


def test_clone_names_follow_the_heatmap_and_consensus_is_the_median():
    a, truth = synth_cohort({"P1": [6], "P2": [5]}, seed=4, cell_errors=0)
    m = cohort_matrix(a)
    c = cluster(m)
    top = c.clones[c.order]
    assert top[0] == "C1" and top[-1] == "C2"
    for name in ("C1", "C2"):
        rows = np.asarray(m.X)[c.clones == name]
        np.testing.assert_allclose(c.consensus.loc[name].to_numpy(), np.nanmedian(rows, axis=0), equal_nan=True)
    t = c.table()
    assert t.cluster_order.tolist() == list(range(11))
    assert set(t.clone_assignment) == {"tree"}


def test_deterministic_and_needs_two_samples():
    a, _ = synth_cohort({"P1": [8, 8]}, seed=5)
    m = cohort_matrix(a)
    c1, c2 = cluster(m), cluster(m)
    assert (c1.order == c2.order).all() and (c1.clones == c2.clones).all()
    with pytest.raises(InputError, match="at least 2"):
        cluster(m[:1])


def test_nanmedian_columns_matches_numpy():
    from ctcscope.cohort.cluster import nanmedian_columns

    rng = np.random.default_rng(9)
    A = rng.normal(size=(7, 50))
    A[rng.random(A.shape) < 0.3] = np.nan
    A[:, 0] = np.nan
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = np.nanmedian(A, axis=0)
    np.testing.assert_allclose(nanmedian_columns(A), ref, equal_nan=True)


def test_induced_tree_keeps_the_restricted_structure():
    from ctcscope.cohort.cluster import induced_linkage

    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 4))
    Z = linkage(X, "ward")
    keep = np.array([0, 2, 3, 7, 8, 11])
    Zs = induced_linkage(Z, keep)
    assert Zs.shape == (5, 4) and Zs[-1, 3] == 6
    assert np.all(np.diff(Zs[:, 2]) >= 0)  # heights stay ordered
    # two kept leaves are merged in the induced tree at the height of their lowest common
    # ancestor in the full tree (cophenetic distances agree)
    from scipy.cluster.hierarchy import cophenet
    from scipy.spatial.distance import squareform

    full = squareform(cophenet(Z))
    sub = squareform(cophenet(Zs))
    np.testing.assert_allclose(sub, full[np.ix_(keep, keep)])


def test_unique_cells_stay_unassigned_and_never_join_another_patient():
    """CTC cohorts: many patients have a few cells that all differ.  Such cells are left
    unassigned; cells of two patients never share a clone; real clones are still found."""
    design = {f"P{i}": [1, 1, 1] for i in range(1, 5)}      # 12 unique cells
    design.update({"P5": [4, 3], "P6": [5, 1]})             # and real clones beside them
    for seed in range(3):
        a, truth = synth_cohort(design, seed=seed, cell_errors=2)
        c = cluster(cohort_matrix(a))
        pat = a.obs.patient.to_numpy()
        for cl in set(c.clones) - {"unassigned"}:
            assert len(set(pat[c.clones == cl])) == 1, (seed, cl)
        unique = np.isin(pat, ["P1", "P2", "P3", "P4"]) | (truth == "P6/1")
        assert (c.clones[unique] == "unassigned").mean() >= 0.75, seed
        kept = ~unique
        assert adjusted_rand_score(truth[kept], c.clones[kept]) == 1.0, seed


def test_pools_and_biopsies_are_placed_but_form_no_clone():
    a, truth = synth_cohort({"P1": [6, 5], "P2": [6]}, seed=6)
    a.obs.loc[a.obs_names[:2], "sample_type"] = ["ctc_pool", "biopsy"]
    c = cluster(cohort_matrix(a, samples="all"))
    assert list(c.assigned[:2]) == ["not_single_cell"] * 2 and list(c.clones[:2]) == ["unassigned"] * 2
    assert adjusted_rand_score(truth[2:], c.clones[2:]) == 1.0
    assert sorted(c.order) == list(range(a.n_obs))


def test_large_cohort_paths_without_the_square_matrix(monkeypatch):
    """Above SQUARE_MAX distances come from the features; above EXACT_MAX the tree is
    built on principal components.  Both still recover the clones."""
    import importlib

    mod = importlib.import_module("ctcscope.cohort.cluster")
    a, truth = synth_cohort({"P1": [12, 10], "P2": [14]}, seed=12)
    m = cohort_matrix(a)
    monkeypatch.setattr(mod, "SQUARE_MAX", 10)
    c1 = cluster(m)
    assert adjusted_rand_score(truth, c1.clones) == 1.0
    monkeypatch.setattr(mod, "EXACT_MAX", 10)
    c2 = cluster(m)
    assert "principal components" in c2.params["tree"]
    assert adjusted_rand_score(truth, c2.clones) == 1.0
    assert c2.params["leaf_order"] == "optimal"


def test_demo_cohort_patients_and_the_p49_split():
    """The demo cohort (modelled on Oulhen et al. 2021): no clone spans two patients, and
    the P49-like patient's two lineages (7 and 6 CTCs, as the study's two distant P49
    clusters) are two separate blocks of the heatmap order, each with clones of its own."""
    from ctcscope.simulate import simulate_demo

    a = called_from_truth(simulate_demo(), seed=1)
    # the demo's two failed libraries and its re-gated putative CTC do not pass QC
    a.obs["qc_pass"] = ~a.obs_names.isin(["SIM-P49_CTC15", "SIM-P46_CTC13", "SIM-P50_CTC06"])
    m = cohort_matrix(a)
    c = cluster(m)
    pat = m.obs.patient.to_numpy()
    for cl in set(c.clones) - {"unassigned"}:
        assert len(set(pat[c.clones == cl])) == 1
    p49 = (pat == "P49") & (m.obs.sample_type == "ctc").to_numpy()
    lineage = m.obs.true_clone.astype(str).str[0].to_numpy()[p49]
    assert sorted(pd.Series(lineage).value_counts().tolist()) == [6, 7]
    in_order = lineage[np.argsort(c.position[p49])]
    assert (in_order[1:] != in_order[:-1]).sum() == 1  # A...A then B...B (or the reverse)
    clones_a = set(c.clones[p49][lineage == "A"]) - {"unassigned"}
    clones_b = set(c.clones[p49][lineage == "B"]) - {"unassigned"}
    assert clones_a and clones_b and not clones_a & clones_b
