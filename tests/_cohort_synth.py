"""Test helper (not a simulator): small AnnData cohorts with known clones.

Each patient gets a base ploidy and "trunk" copy-number changes; each clone adds its own
changes; each cell is its clone's integer profile with a few private segment errors, and
some cells are whole-genome doubled (copy number and ploidy both doubled, so log2(CN /
ploidy) is unchanged).  Layers follow docs/data-model.md: ``cn`` (NaN where ``var.use`` is
False), ``segment`` (cn / mean cn) and ``ratio`` (segment with noise).
"""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from ctcscope.genome import load_genome


def _add_segments(cn, chrom, rng, n_seg, min_bins, max_bins, deltas, floor=0):
    """Add ``n_seg`` random segments (within one chromosome) changing CN by a delta."""
    n = len(cn)
    for _ in range(n_seg):
        i = int(rng.integers(0, n))
        L = int(rng.integers(min_bins, max_bins + 1))
        j = i
        while j < n and j - i < L and chrom[j] == chrom[i]:
            j += 1
        cn[i:j] = np.maximum(cn[i:j] + rng.choice(deltas), floor)
    return cn


def synth_cohort(design: dict[str, list[int]], seed: int = 0, build: str = "hg19", bin_size: int = 500_000,
                 clone_changes: int = 4, cell_errors: int = 2, wgd_rate: float = 0.2,
                 ploidies=(2, 3, 4)) -> tuple[ad.AnnData, np.ndarray]:
    """``design``: patient -> clone sizes, e.g. ``{"P1": [10, 8], "P2": [12]}``.

    Returns the AnnData and the true clone label of each cell (``"P1/0"`` ...).
    """
    rng = np.random.default_rng(seed)
    g = load_genome(build, bin_size)
    var = g.to_var()
    use = var["use"].to_numpy()
    chrom = var["chrom"].to_numpy()
    nb = len(var)
    rows, obs, truth = [], [], []
    for pi, (patient, sizes) in enumerate(design.items()):
        ploidy = int(ploidies[pi % len(ploidies)])
        trunk = _add_segments(np.full(nb, ploidy, float), chrom, rng, 12, 20, 150, [-1, 1, 2])
        for ci, size in enumerate(sizes):
            clone = _add_segments(trunk.copy(), chrom, rng, clone_changes, 40, 120, [-1, 1, 2, 3])
            for k in range(size):
                cell = _add_segments(clone.copy(), chrom, rng, int(rng.integers(0, cell_errors + 1)), 2, 10, [-1, 1])
                p = ploidy
                if rng.random() < wgd_rate:
                    cell, p = cell * 2, ploidy * 2
                rows.append(cell)
                sid = f"{patient}_CTC{len([o for o in obs if o['patient'] == patient]) + 1}"
                obs.append({"sample_id": sid, "patient": patient, "sample_type": "ctc", "ploidy": p,
                            "qc_pass": True, "normal_like": False, "wgd": p >= 4,
                            "phenotype": ["ALK+/CK-", "ALK-/CK+"][ci % 2],
                            "treatment_group": ["crizotinib", "lorlatinib"][pi % 2]})
                truth.append(f"{patient}/{ci}")
    cn = np.vstack(rows).astype(np.float32)
    cn[:, ~use] = np.nan
    mean = np.nanmean(cn, axis=1, keepdims=True)
    seg = (cn / mean).astype(np.float32)
    ratio = (seg * (1 + 0.1 * rng.standard_normal(seg.shape))).astype(np.float32)
    o = pd.DataFrame(obs).set_index("sample_id")
    o.index.name = None
    a = ad.AnnData(X=np.nan_to_num(cn), obs=o, var=var, layers={"cn": cn, "segment": seg, "ratio": ratio})
    a.uns["ctcscope"] = {"genome": {"build": build, "bin_size": bin_size}}
    return a, np.asarray(truth)


def called_from_truth(sim, seed: int = 0, max_errors: int = 3) -> ad.AnnData:
    """What a copy-number caller would hand the cohort step for a ``ctcscope.simulate``
    cohort: the true copy number with 0..``max_errors`` private segment errors (1-5 Mb,
    +-1 copy) per single cell, the true ploidy, every sample passing QC."""
    a = sim.with_truth()
    rng = np.random.default_rng(seed)
    chrom = a.var["chrom"].to_numpy()
    cn = a.layers["true_cn"].astype(np.float32).copy()
    single = (a.obs["sample_type"].astype(str) == "ctc").to_numpy()
    for i in np.flatnonzero(single):
        cn[i] = _add_segments(cn[i], chrom, rng, int(rng.integers(0, max_errors + 1)), 2, 10, [-1, 1])
    cn[:, ~a.var["use"].to_numpy()] = np.nan
    a.layers["cn"] = cn
    a.obs["ploidy"] = a.obs["true_ploidy"].astype(int)
    a.obs["wgd"] = a.obs["ploidy"] >= 4
    a.obs["normal_like"] = a.obs["true_normal_like"].astype(bool)
    a.obs["qc_pass"] = True
    a.uns["ctcscope"] = {"genome": {"build": a.uns["simulation"]["build"], "bin_size": a.uns["simulation"]["bin_size"]}}
    return a
