"""Intra- and inter-patient copy-number diversity of CTCs.

The study read "significant intra-patient and wide inter-patient CTC diversity" from its
clustering heatmap, and how far each patient's CTCs sat from the matched biopsy (Oulhen
et al. 2021, npj Precis Oncol 5:71, Results "Hierarchical clustering").  This module puts
numbers on those statements:

- :func:`patient_test`: within-patient vs between-patient distances between CTCs, with a
  label-permutation test (patients shuffled over CTCs, as in a Mantel or PERMANOVA test,
  because pairs sharing a cell are not independent), its p-value and effect sizes;
- :func:`patient_spread`: each patient's CTC-to-CTC distances;
- :func:`distance_to_reference`: each CTC's distance to the patient's biopsy, or to the
  consensus (median) of the patient's other CTCs when there is no biopsy;
- :func:`altered_regions`: regions altered in (nearly) all of a patient's CTCs (shared),
  in some (subclonal) or in one only (private).

Distances are Euclidean distances between rows of the cohort matrix divided by the square
root of the number of bins, i.e. the root-mean-square difference in log2 relative copy
number per bin (0 = identical profiles; 1 = one doubling or halving on average).  NaN
bins are read as 0 (the cell's ploidy), as in the clustering.
"""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from .cluster import Distances, nan_to_zero
from .matrix import CTC_TYPES

#: Most CTCs used for the permutation test (a seeded sample above it).
TEST_MAX = 1000
#: Patients with more CTCs than this use the plain (not leave-one-out) consensus.
LOO_MAX = 200


def _rms_distances(X: np.ndarray) -> np.ndarray:
    d = Distances(X)
    D = d.square(np.arange(X.shape[0]))
    return D / np.sqrt(max(X.shape[1], 1))


def _ctc_mask(obs: pd.DataFrame) -> np.ndarray:
    if "sample_type" not in obs:
        return np.ones(len(obs), bool)
    return obs["sample_type"].astype(str).str.lower().isin(CTC_TYPES).to_numpy()


def _patients(obs: pd.DataFrame) -> np.ndarray:
    if "patient" not in obs:
        return np.full(len(obs), "", dtype=object)
    return obs["patient"].astype(str).replace({"nan": "", "None": ""}).to_numpy()


def patient_test(matrix: ad.AnnData, *, n_permutations: int = 999, seed: int = 0,
                 max_cells: int = TEST_MAX) -> dict:
    """Are CTCs of the same patient closer to each other than CTCs of different patients?

    Statistic: mean between-patient distance minus mean within-patient distance over CTC
    pairs.  p-value: share of ``n_permutations`` patient-label shuffles whose statistic is
    at least the observed one, ``(1 + count) / (1 + n_permutations)``.  Effect sizes: the
    ratio of the mean distances, Cohen's d of the two pair-distance distributions, and
    the standardised statistic ``(observed - mean of shuffles) / sd of shuffles``.

    Returns a dict (NaN statistics and a ``note`` when fewer than two patients or no
    within-patient pair exist).
    """
    obs = matrix.obs
    sel = _ctc_mask(obs) & (_patients(obs) != "")
    idx = np.flatnonzero(sel)
    rng = np.random.default_rng(seed)
    sampled = len(idx) > max_cells
    if sampled:
        idx = np.sort(rng.choice(idx, size=max_cells, replace=False))
    pat = _patients(obs)[idx]
    codes, uniq = pd.factorize(pat)
    out = {"n_ctcs": int(len(idx)), "n_patients": int(len(uniq)), "n_permutations": int(n_permutations),
           "seed": int(seed), "subsampled": bool(sampled), "statistic": "mean_between - mean_within",
           "mean_within": np.nan, "mean_between": np.nan, "difference": np.nan, "ratio": np.nan,
           "cohens_d": np.nan, "z": np.nan, "p_value": np.nan, "note": ""}
    counts = np.bincount(codes) if len(codes) else np.array([])
    n_within = int((counts * (counts - 1) // 2).sum()) if len(counts) else 0
    if len(uniq) < 2 or n_within == 0:
        out["note"] = ("needs CTCs of at least two patients, one with two or more CTCs"
                       if len(uniq) < 2 else "no patient has two CTCs")
        return out
    D = _rms_distances(np.asarray(matrix.X)[idx])
    iu = np.triu_indices(len(idx), 1)
    dv = D[iu]
    same = codes[iu[0]] == codes[iu[1]]
    w, b = dv[same], dv[~same]
    total = dv.sum()
    n_pairs = len(dv)
    n_between = n_pairs - n_within

    def stat(c: np.ndarray) -> float:
        # within sum = sum over patients of the pair distances inside the patient's block
        H = np.zeros((len(c), len(uniq)))
        H[np.arange(len(c)), c] = 1.0
        ws = 0.5 * float(np.einsum("ik,ik->", D @ H, H))
        return (total - ws) / n_between - ws / n_within

    obs_stat = float(b.mean() - w.mean())
    null = np.array([stat(rng.permutation(codes)) for _ in range(int(n_permutations))])
    sd_pooled = np.sqrt(((len(w) - 1) * w.var(ddof=1 if len(w) > 1 else 0) +
                         (len(b) - 1) * b.var(ddof=1 if len(b) > 1 else 0)) / max(len(w) + len(b) - 2, 1))
    out.update({
        "n_within_pairs": int(len(w)), "n_between_pairs": int(len(b)),
        "mean_within": float(w.mean()), "mean_between": float(b.mean()), "difference": obs_stat,
        "ratio": float(b.mean() / w.mean()) if w.mean() > 0 else np.inf,
        "cohens_d": float(obs_stat / sd_pooled) if sd_pooled > 0 else np.nan,
        "z": float((obs_stat - null.mean()) / null.std(ddof=1)) if len(null) > 1 and null.std() > 0 else np.nan,
        "p_value": float((1 + np.sum(null >= obs_stat - 1e-12)) / (1 + len(null))) if len(null) else np.nan,
        "within_quantiles": np.quantile(w, [0, 0.25, 0.5, 0.75, 1]).tolist(),
        "between_quantiles": np.quantile(b, [0, 0.25, 0.5, 0.75, 1]).tolist(),
    })
    return out


def patient_spread(matrix: ad.AnnData) -> pd.DataFrame:
    """Per patient: number of CTCs and the median, mean, IQR and maximum of their pairwise
    distances (NaN with fewer than two CTCs)."""
    obs = matrix.obs
    pat = _patients(obs)
    ctc = _ctc_mask(obs)
    rows = []
    X = np.asarray(matrix.X)
    for p in pd.unique(pat[pat != ""]):
        idx = np.flatnonzero((pat == p) & ctc)
        r = {"patient": p, "n_ctcs": len(idx), "spread_median": np.nan, "spread_mean": np.nan,
             "spread_q25": np.nan, "spread_q75": np.nan, "spread_max": np.nan}
        if len(idx) >= 2:
            D = _rms_distances(X[idx])
            d = D[np.triu_indices(len(idx), 1)]
            r.update(spread_median=float(np.median(d)), spread_mean=float(d.mean()),
                     spread_q25=float(np.quantile(d, 0.25)), spread_q75=float(np.quantile(d, 0.75)),
                     spread_max=float(d.max()))
        rows.append(r)
    return pd.DataFrame(rows, columns=["patient", "n_ctcs", "spread_median", "spread_mean", "spread_q25",
                                       "spread_q75", "spread_max"])


def distance_to_reference(matrix: ad.AnnData) -> pd.DataFrame:
    """Each CTC's distance to its patient's reference profile.

    The reference is the patient's biopsy (the nearest one if several were sequenced),
    else the median profile of the patient's *other* CTCs (leave-one-out, so a cell is
    not compared with itself; the plain median above :data:`LOO_MAX` CTCs).  Returns
    ``sample_id, patient, reference, reference_type (biopsy | consensus | none),
    distance_to_reference`` for every CTC.
    """
    obs = matrix.obs
    pat = _patients(obs)
    ctc = _ctc_mask(obs)
    st = obs["sample_type"].astype(str).str.lower().to_numpy() if "sample_type" in obs else np.full(len(obs), "ctc")
    X = nan_to_zero(matrix.X)
    scale = np.sqrt(max(X.shape[1], 1))
    # runs of identical columns carry the same value in every profile and in every median:
    # work on one column per run, weighted by the run length (exact, and much smaller)
    change = np.r_[True, np.any(X[:, 1:] != X[:, :-1], axis=0)] if X.shape[1] > 1 else np.ones(X.shape[1], bool)
    starts = np.flatnonzero(change)
    w = np.diff(np.r_[starts, X.shape[1]]).astype(np.float64)
    X = X[:, starts]

    def dist(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
        return np.sqrt(((a - ref) ** 2) @ w) / scale

    ids = np.asarray(matrix.obs_names).astype(str)
    rows = []
    for p in pd.unique(pat):
        cells = np.flatnonzero((pat == p) & ctc)
        if not len(cells):
            continue
        bio = np.flatnonzero((pat == p) & (st == "biopsy")) if p != "" else np.array([], dtype=np.int64)
        if len(bio):
            d = np.column_stack([dist(X[cells], X[j]) for j in bio])
            k = d.argmin(axis=1)
            for i, c in enumerate(cells):
                rows.append((ids[c], p, ids[bio[k[i]]], "biopsy", float(d[i, k[i]])))
            continue
        if p == "" or len(cells) < 2:
            for c in cells:
                rows.append((ids[c], p, "", "none", np.nan))
            continue
        if len(cells) > LOO_MAX:
            d = dist(X[cells], np.median(X[cells], axis=0))
            rows.extend((ids[c], p, "consensus", "consensus", float(d[i])) for i, c in enumerate(cells))
            continue
        for i, c in enumerate(cells):
            med = np.median(X[np.delete(cells, i)], axis=0)
            rows.append((ids[c], p, "consensus of other CTCs", "consensus", float(dist(X[c], med))))
    return pd.DataFrame(rows, columns=["sample_id", "patient", "reference", "reference_type",
                                       "distance_to_reference"])


def cell_states(matrix: ad.AnnData, ploidy: np.ndarray | None = None) -> np.ndarray:
    """+1 (gain), -1 (loss) or 0 per sample and bin: a bin is altered when the cell's copy
    number is at least half a copy away from its ploidy, i.e. ``|2**v * p - p| >= 0.5``
    for log2 relative value ``v`` and ploidy ``p`` (2 when unknown).  NaN bins are 0."""
    X = np.asarray(matrix.X, dtype=np.float64)
    if ploidy is None:
        ploidy = pd.to_numeric(matrix.obs["ploidy"], errors="coerce").to_numpy(np.float64) \
            if "ploidy" in matrix.obs else np.full(matrix.n_obs, 2.0)
    ploidy = np.where(np.isfinite(ploidy) & (ploidy > 0), ploidy, 2.0)[:, None]
    with np.errstate(invalid="ignore"):
        delta = (np.exp2(X) - 1.0) * ploidy
    out = np.zeros(X.shape, dtype=np.int8)
    out[delta >= 0.5] = 1
    out[delta <= -0.5] = -1
    return out


def altered_regions(matrix: ad.AnnData, *, shared_fraction: float = 0.8) -> pd.DataFrame:
    """Gained and lost regions of each patient's CTCs, classed by how many carry them.

    A bin is ``shared`` when at least ``shared_fraction`` of the patient's CTCs (and at
    least two) carry the change, ``private`` when exactly one of two or more CTCs does,
    ``subclonal`` in between, and ``single_cell`` when the patient has one CTC.  Adjacent
    bins of one chromosome with the same direction and class are merged.  Returns
    ``patient, chrom, start, end, n_bins, direction, class, n_ctcs, min_carriers,
    max_carriers``.
    """
    obs = matrix.obs
    pat = _patients(obs)
    ctc = _ctc_mask(obs)
    S = cell_states(matrix)
    var = matrix.var
    chrom = var["chrom"].astype(str).to_numpy()
    start = var["start"].to_numpy(np.int64)
    end = var["end"].to_numpy(np.int64)
    classes = np.array(["", "shared", "subclonal", "private", "single_cell"], dtype=object)
    rows = []
    for p in pd.unique(pat[pat != ""]):
        cells = np.flatnonzero((pat == p) & ctc)
        n = len(cells)
        if not n:
            continue
        for direction, sign in (("gain", 1), ("loss", -1)):
            k = (S[cells] == sign).sum(axis=0)
            if n == 1:
                cls = np.where(k > 0, 4, 0)
            else:
                cls = np.select([(k >= 2) & (k >= shared_fraction * n), k == 1, k >= 2], [1, 3, 2], 0)
            # runs of equal class on one chromosome
            brk = np.r_[True, (cls[1:] != cls[:-1]) | (chrom[1:] != chrom[:-1])]
            starts = np.flatnonzero(brk)
            ends = np.r_[starts[1:], len(cls)]
            for a, b in zip(starts, ends):
                if cls[a] == 0:
                    continue
                rows.append((p, chrom[a], int(start[a]), int(end[b - 1]), int(b - a), direction, classes[cls[a]], n,
                             int(k[a:b].min()), int(k[a:b].max())))
    return pd.DataFrame(rows, columns=["patient", "chrom", "start", "end", "n_bins", "direction", "class", "n_ctcs",
                                       "min_carriers", "max_carriers"])


def region_summary(regions: pd.DataFrame, matrix: ad.AnnData) -> pd.DataFrame:
    """Per patient, fraction of the matrix's genome (bp) in each class of altered region
    (a bin both gained in some and lost in other CTCs counts in both)."""
    genome_bp = float((matrix.var["end"] - matrix.var["start"]).sum())
    if regions.empty:
        return pd.DataFrame(columns=["patient"])
    r = regions.assign(bp=regions.end - regions.start)
    t = r.pivot_table(index="patient", columns="class", values="bp", aggfunc="sum", fill_value=0) / genome_bp
    t.columns = [f"fraction_{c}" for c in t.columns]
    return t.reset_index()


def diversity_table(matrix: ad.AnnData, clones: np.ndarray | None = None, *,
                    shared_fraction: float = 0.8) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-patient table (spread, reference distances, clones, altered fractions), the
    per-CTC reference distances and the altered regions."""
    spread = patient_spread(matrix)
    ref = distance_to_reference(matrix)
    regions = altered_regions(matrix, shared_fraction=shared_fraction)
    summ = region_summary(regions, matrix)
    per = spread
    if len(ref):
        agg = ref.groupby("patient").agg(reference_type=("reference_type", "first"),
                                         reference_distance_median=("distance_to_reference", "median"),
                                         reference_distance_max=("distance_to_reference", "max")).reset_index()
        per = per.merge(agg, on="patient", how="left")
    obs = matrix.obs
    pat = _patients(obs)
    if clones is not None:
        ctc = _ctc_mask(obs)
        cl = pd.DataFrame({"patient": pat[ctc], "clone": np.asarray(clones)[ctc]})
        cl = cl[cl.patient != ""]

        def names(s: pd.Series) -> str:
            c = sorted(pd.unique(s[s != "unassigned"]), key=lambda x: int(str(x)[1:]) if str(x)[1:].isdigit() else 0)
            return ";".join(map(str, c))

        agg = cl.groupby("patient").clone.agg(n_clones=lambda s: int(s[s != "unassigned"].nunique()),
                                              n_unassigned=lambda s: int((s == "unassigned").sum()),
                                              clones=names).reset_index()
        per = per.merge(agg, on="patient", how="left")
    if len(summ):
        per = per.merge(summ, on="patient", how="left")
    for c in ("fraction_shared", "fraction_subclonal", "fraction_private", "fraction_single_cell"):
        if c not in per:
            per[c] = 0.0
        per[c] = per[c].fillna(0.0)
    return per, ref, regions
