"""Accuracy of the cohort step: clone calls and the patient permutation test.

1. Random designs of ``ctcscope.simulate`` (60 cells, 1-3 clones per patient, WGD, focal
   events, pools, a biopsy), with caller-like errors added to each cell's true copy number
   (0-3 private 1-5 Mb segments of +-1 copy): adjusted Rand index of the clones found vs
   the true clones over single CTCs (a cell left unassigned counts as its own group).
2. The demo cohort (modelled on Oulhen et al. 2021): ARI, cross-patient clones, and the
   P49-like patient's two lineages (the study's "two distant clusters of 7 and 6 CTCs").
3. Permutation test: p-value on the random designs, and on single-clone cohorts whose
   cells are dealt to three "patients" at random.
4. Real data: the 1,502 CopyKit BL1 cells against the published labels.

    python benchmarks/eval_cohort_clones.py [--seeds 20]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from ctcscope.cohort import cluster, cohort_matrix, patient_test
from ctcscope.genome import load_genome
from ctcscope.simulate import random_design, simulate_cohort, simulate_demo

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def with_calls(sim, seed: int, max_errors: int = 3):
    """The simulator's true copy number with caller-like private errors per single cell."""
    a = sim.with_truth()
    rng = np.random.default_rng(seed)
    chrom = a.var["chrom"].to_numpy()
    cn = a.layers["true_cn"].astype(np.float32).copy()
    for i in np.flatnonzero((a.obs["sample_type"].astype(str) == "ctc").to_numpy()):
        for _ in range(int(rng.integers(0, max_errors + 1))):
            s = int(rng.integers(0, len(cn[i])))
            e = s
            while e < len(cn[i]) and e - s < int(rng.integers(2, 11)) and chrom[e] == chrom[s]:
                e += 1
            cn[i, s:e] = np.maximum(cn[i, s:e] + rng.choice([-1, 1]), 0)
    cn[:, ~a.var["use"].to_numpy()] = np.nan
    a.layers["cn"] = cn
    a.obs["ploidy"] = a.obs["true_ploidy"].astype(int)
    a.obs["normal_like"] = a.obs["true_normal_like"].astype(bool)
    a.obs["qc_pass"] = True
    return a


def ari_cells(m, c):
    cells = (m.obs["sample_type"].astype(str) == "ctc").to_numpy()
    truth = (m.obs["patient"].astype(str) + "/" + m.obs["true_clone"].astype(str)).to_numpy()
    lab = c.clones.astype(object).copy()
    un = lab == "unassigned"
    lab[un] = [f"u{i}" for i in range(un.sum())]
    return adjusted_rand_score(truth[cells], lab[cells])


def mixed(m, c):
    pat = m.obs["patient"].astype(str).to_numpy()
    return sum(len(set(pat[c.clones == k])) > 1 for k in set(c.clones) - {"unassigned"})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args()
    g = load_genome("hg19", 500_000)

    aris, ps, mix, t_cl = [], [], 0, []
    for seed in range(100, 100 + args.seeds):
        sim = simulate_cohort(random_design(60, seed=seed, genome=g, biopsy=True), g, seed=seed)
        m = cohort_matrix(with_calls(sim, seed))
        t0 = time.perf_counter()
        c = cluster(m)
        t_cl.append(time.perf_counter() - t0)
        aris.append(ari_cells(m, c))
        mix += mixed(m, c)
        ps.append(patient_test(m, n_permutations=999, seed=seed)["p_value"])
    aris = np.array(aris)
    print(f"random designs ({args.seeds} cohorts of 60 cells): ARI min {aris.min():.3f}, median "
          f"{np.median(aris):.3f}, mean {aris.mean():.3f}; cohorts with ARI >= 0.95: {(aris >= 0.95).sum()}/"
          f"{len(aris)}; clones spanning two patients: {mix}; clustering {np.median(t_cl):.2f} s median")
    ps = np.array(ps)
    print(f"  permutation test, multi-patient: p <= 0.001 in {(ps <= 0.001 + 1e-12).sum()}/{len(ps)} "
          f"(max p {np.nanmax(ps):.3g})")

    null_p = []
    for seed in range(args.seeds):
        sim = simulate_cohort(random_design(45, seed=500 + seed, genome=g, n_patients=1,
                                            clones_per_patient=(1, 1), normal_like=0.0, pools_per_patient=0,
                                            controls=False), g, seed=seed)
        m = cohort_matrix(with_calls(sim, seed))
        m.obs["patient"] = np.random.default_rng(seed).choice(["A", "B", "C"], size=m.n_obs)
        null_p.append(patient_test(m, n_permutations=999, seed=seed)["p_value"])
    null_p = np.array(null_p)
    print(f"  permutation test, one clone dealt to 3 'patients': p < 0.05 in {(null_p < 0.05).sum()}/"
          f"{len(null_p)} (expected ~5 % by chance), median p {np.median(null_p):.2f}")

    sim = simulate_demo()
    m = cohort_matrix(with_calls(sim, 1))
    c = cluster(m)
    p49 = (m.obs["patient"] == "P49").to_numpy() & (m.obs["sample_type"] == "ctc").to_numpy()
    lineage = m.obs["true_clone"].astype(str).str[0].to_numpy()  # A*, B* lineages of P49
    pos = c.position
    blocks = pd.Series(lineage[p49], index=pos[p49]).sort_index()
    runs = int((blocks.to_numpy()[1:] != blocks.to_numpy()[:-1]).sum()) + 1
    print(f"demo cohort: {m.n_obs} samples, ARI {ari_cells(m, c):.3f} (singleton true clones included), "
          f"clones spanning two patients: {mixed(m, c)}, unassigned {c.params['n_unassigned']}; "
          f"P49-like lineages A/B ({(lineage[p49] == 'A').sum()}/{(lineage[p49] == 'B').sum()} cells) form "
          f"{runs} contiguous blocks in the heatmap order")
    t = patient_test(m, n_permutations=999)
    print(f"  demo permutation test: within {t['mean_within']:.3f} vs between {t['mean_between']:.3f}, "
          f"p {t['p_value']:.3g}, z {t['z']:.1f}")

    import anndata as ad

    from ctcscope.cohort.rebin import normalise_intervals

    t0 = time.perf_counter()
    tab = pd.read_csv(DATA / "copykit-BL1-example" / "copykit_BL1_unfiltered_segment_ratios_hg38_200kb.tsv.gz",
                      sep="\t")
    tumour = set(pd.read_csv(DATA / "copykit-BL1-example" / "copykit_BL1_filtered_umap.tsv", sep="\t").cell)
    var = normalise_intervals(tab)
    var["use"] = True
    var.index = var.chrom + ":" + var.start.astype(str)
    cells = list(tab.columns[3:])
    seg = tab[cells].to_numpy(np.float32).T
    pub = np.where(np.all(seg == 1, axis=1), "diploid", np.where(np.isin(cells, list(tumour)), "tumour", "dropped"))
    a = ad.AnnData(X=seg, obs=pd.DataFrame({"sample_type": "ctc"}, index=cells), var=var, layers={"segment": seg})
    m = cohort_matrix(a, value="log2_segment", samples="all")
    c = cluster(m)
    el = time.perf_counter() - t0
    ct = pd.crosstab(c.clones, pub)
    print(f"CopyKit BL1 ({len(cells)} cells, read + matrix + clustering {el:.1f} s):")
    print(ct.to_string())


if __name__ == "__main__":
    main()
