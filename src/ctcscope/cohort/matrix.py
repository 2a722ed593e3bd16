"""The cohort matrix: every selected sample on one fixed grid, as log2 relative copy number.

Following the study (Oulhen et al. 2021, npj Precis Oncol 5:71, Methods "Hierarchical
clustering"), each profile is resampled to fixed 250 kb bins by length-weighted mean and
taken as log2 relative to the cell's main ploidy, then clipped to [-2, 2] as in Fig. 3.
"""
from __future__ import annotations

from typing import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from ..errors import InputError
from .rebin import DEFAULT_GRID, grid_for, overlap_matrix, rebin

SEX_CHROMS = ("X", "Y")
#: Sample types that carry tumour DNA (see docs/data-model.md).
TUMOUR_TYPES = ("ctc", "ctc_pool", "biopsy")
#: Sample types whose pairs enter the within/between-patient comparison.
CTC_TYPES = ("ctc", "ctc_pool")

VALUES = {
    # name: (layer, relative to ploidy?)
    "log2_cn_over_ploidy": ("cn", True),
    "log2_segment": ("segment", False),
    "log2_ratio": ("ratio", False),
}

#: Copy number 0 (homozygous loss) has no logarithm.  Rebinned copy number is floored at
#: half a copy, so a homozygous deletion maps to log2(0.5 / 2) = -2 at ploidy 2, i.e. to
#: the bottom of the study's colour range, and below it (then clipped) at higher ploidy.
CN_FLOOR = 0.5


def select_samples(obs: pd.DataFrame, samples: str | Sequence[str] = "qc_pass_tumour") -> np.ndarray:
    """Boolean mask of the samples that enter the matrix.

    ``"qc_pass_tumour"`` (default): tumour samples (``ctc``, ``ctc_pool``, ``biopsy``) that
    passed QC and are not flat normal-like profiles (those carry no tumour copy number and
    would only form a cluster of their own); ``"tumour"``: all tumour samples;
    ``"all"``: every sample; a list: sample ids, or patient ids (their QC-passed tumour
    samples).
    """
    n = len(obs)
    st = obs["sample_type"].astype(str).str.lower().to_numpy() if "sample_type" in obs else np.full(n, "ctc")
    tumour = np.isin(st, TUMOUR_TYPES)
    qc = obs["qc_pass"].fillna(False).astype(bool).to_numpy() if "qc_pass" in obs else np.ones(n, bool)
    normal_like = (obs["normal_like"].fillna(False).astype(bool).to_numpy() if "normal_like" in obs
                   else np.zeros(n, bool))
    if isinstance(samples, str):
        key = samples.lower().replace("-", "_").replace("tumor", "tumour")
        if key == "qc_pass_tumour":
            return tumour & qc & ~normal_like
        if key == "tumour":
            return tumour
        if key == "all":
            return np.ones(n, bool)
        samples = [samples]
    items = [str(s) for s in samples]
    ids = obs.index.astype(str)
    if all(s in set(ids) for s in items):
        return ids.isin(items)
    patients = obs["patient"].astype(str).to_numpy() if "patient" in obs else np.full(n, "")
    known = set(patients)
    if all(s in known for s in items):
        return np.isin(patients, items) & tumour & qc & ~normal_like
    unknown = [s for s in items if s not in set(ids) and s not in known][:3]
    raise InputError(
        f"samples {', '.join(unknown)} are neither sample ids nor patients of this cohort; give "
        "'qc_pass_tumour', 'tumour', 'all', or a list of sample ids or of patient ids")


def _chrom_sizes(adata: ad.AnnData) -> pd.Series | None:
    """Chromosome lengths of the build the cohort was called on, when it is built in
    (read from ``uns['genome']``, the run's provenance ``uns['ctcscope']``, or a
    simulation's record)."""
    u = dict(adata.uns)
    if isinstance(u.get("ctcscope"), str):  # stored as JSON text in cohort.h5ad
        import json

        try:
            u["ctcscope"] = json.loads(u["ctcscope"])
        except ValueError:
            u["ctcscope"] = {}
    build = None
    for path in (("genome", "build"), ("ctcscope", "genome", "build"), ("ctcscope", "parameters", "genome", "build"),
                 ("simulation", "build")):
        node = u
        for key in path:
            node = node.get(key) if isinstance(node, dict) or hasattr(node, "get") else None
            if node is None:
                break
        if isinstance(node, str):
            build = node
            break
    if build is None:
        return None
    from ..genome import BUILTIN_BUILDS, load_genome

    if str(build).lower() not in BUILTIN_BUILDS:
        return None
    return load_genome(str(build).lower(), 1_000_000).chrom_sizes


def cohort_matrix(adata: ad.AnnData, grid: int | pd.DataFrame = DEFAULT_GRID, *,
                  value: str = "log2_cn_over_ploidy", samples: str | Sequence[str] = "qc_pass_tumour",
                  clip: tuple[float, float] | None = (-2.0, 2.0), floor: float | None = None,
                  max_missing: float = 0.5, min_coverage: float = 0.0,
                  chrom_sizes: pd.Series | dict | None = None, sex_chromosomes: bool = False,
                  chunk: int = 256) -> ad.AnnData:
    """Selected samples x fixed-grid bins of log2 relative copy number.

    Parameters
    ----------
    adata
        The cohort AnnData (``layers['cn']`` and ``obs['ploidy']``, or ``layers['segment']``).
    grid
        Grid bin width in bp (the study: 250 kb), or a ready grid table (``chrom, start, end``).
        A width is tiled over each chromosome that has usable bins, from 0 to the
        chromosome's end in the cohort's genome build.
    value
        ``"log2_cn_over_ploidy"`` (default, the study's scale): log2(copy number / ploidy),
        copy number rebinned first and floored at :data:`CN_FLOOR` copies;
        ``"log2_segment"``: log2 of the segment mean ratio (1 = the cell's median level);
        ``"log2_ratio"``: log2 of the unsegmented corrected ratio.  Ratios are floored at
        ``2 ** clip[0]`` (or 1/8 without clipping).
    samples
        Which samples enter, see :func:`select_samples`.
    clip
        Limits of the values (the study drew and clustered [-2, 2]); ``None`` keeps all.
    max_missing
        Grid bins with no value in more than this fraction of the samples (centromeres,
        unusable regions) are left out.  Remaining gaps stay NaN in ``X``; the clustering
        reads them as 0 (= the cell's ploidy).
    min_coverage
        See :func:`ctcscope.cohort.rebin.rebin`.
    sex_chromosomes
        Include X and Y.  Off by default: relative to the cell's ploidy a male X sits at
        log2(1/2) = -1 along 5 % of the genome, so the tree would sort cells by sex before
        tumour copy number (on the demo cohort, male patients' cells mix into one block).

    Returns
    -------
    AnnData with ``X`` (float32, samples x grid bins), ``obs`` copied from the selected
    samples, ``var`` = grid (``chrom, start, end, missing``) and ``uns['cohort_matrix']``
    (the parameters).
    """
    if value not in VALUES:
        raise InputError(f"unknown matrix value '{value}'; choose one of {', '.join(VALUES)}")
    layer, relative = VALUES[value]
    if layer not in adata.layers:
        raise InputError(f"the cohort has no '{layer}' layer needed for {value}; run the copy-number step "
                         "first or choose another value")
    sel = select_samples(adata.obs, samples)
    if sel.sum() < 1:
        raise InputError("no sample is left to cluster after selection (QC-passed tumour samples by default); "
                         "check qc_pass/sample_type or choose samples='all'")
    obs = adata.obs.loc[sel].copy()
    var = adata.var
    for col in ("chrom", "start", "end"):
        if col not in var:
            raise InputError(f"the cohort's var table has no '{col}' column; it must list each bin's chrom/start/end")
    use = var["use"].fillna(False).astype(bool).to_numpy() if "use" in var else np.ones(adata.n_vars, bool)
    if isinstance(grid, (int, np.integer)):
        chroms = list(dict.fromkeys(var["chrom"].astype(str).to_numpy()[use]))
        if not sex_chromosomes:
            chroms = [c for c in chroms if c not in SEX_CHROMS]
            if not chroms:
                raise InputError("the cohort has no usable autosomal bins; pass sex_chromosomes=True to cluster on X/Y")
        g = grid_for(var, int(grid), chrom_sizes if chrom_sizes is not None else _chrom_sizes(adata), chroms=chroms)
        grid_size = int(grid)
    else:
        g = grid[["chrom", "start", "end"]].copy()
        if not sex_chromosomes:
            g = g[~g["chrom"].astype(str).isin(SEX_CHROMS)]
        grid_size = int(np.median(g.end - g.start)) if len(g) else 0
    ploidy = None
    if relative:
        if "ploidy" not in obs:
            raise InputError("the cohort has no 'ploidy' column needed for log2(CN / ploidy); run the copy-number "
                             "step first or use value='log2_segment'")
        ploidy = pd.to_numeric(obs["ploidy"], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(ploidy) | (ploidy <= 0)
        if bad.any():
            raise InputError(f"{int(bad.sum())} selected samples have no ploidy (e.g. {obs.index[bad][0]}); "
                             "exclude them or use value='log2_segment'")
    if floor is None:
        floor = CN_FLOOR if relative else (2.0 ** clip[0] if clip is not None else 0.125)

    W = overlap_matrix(var[["chrom", "start", "end"]], g)
    # grid bins without any usable input bin are empty in every sample: leave them out now
    cover = np.asarray(W.T @ use.astype(np.float64)).ravel()
    has = cover > max(min_coverage, 1e-12) * (g["end"] - g["start"]).to_numpy() if min_coverage > 0 else cover > 0
    n_empty = int((~has).sum())
    g = g.loc[has]
    W = W[:, np.flatnonzero(has)]
    rows = np.flatnonzero(sel)
    X = np.empty((len(rows), len(g)), dtype=np.float32)
    n_missing = np.zeros(len(g), dtype=np.int64)
    L = adata.layers[layer]
    for a in range(0, len(rows), chunk):
        r = rows[a:a + chunk]
        blk = L[r]
        blk = blk.toarray() if hasattr(blk, "toarray") else np.asarray(blk)
        v = rebin(blk.astype(np.float64), var, g, mask=use, weights=W, min_coverage=min_coverage,
                  dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.maximum(v, floor)  # NaN stays NaN
            if relative:
                v = v / ploidy[a:a + chunk, None]
            v = np.log2(v)
        if clip is not None:
            v = np.clip(v, clip[0], clip[1])
        X[a:a + chunk] = v
        n_missing += np.count_nonzero(np.isnan(v), axis=0)
    missing = n_missing / max(len(rows), 1)
    keep = missing <= max_missing
    if not keep.any():
        raise InputError("no grid bin has values in enough samples; check the cohort's 'use' bins and layers")
    g = g.loc[keep].copy()
    g["missing"] = missing[keep].astype(np.float32)
    m = ad.AnnData(X=X if keep.all() else X[:, keep], obs=obs, var=g)
    m.uns["cohort_matrix"] = {
        "value": value, "layer": layer, "grid": grid_size, "clip": list(clip) if clip is not None else [],
        "floor": float(floor), "samples": samples if isinstance(samples, str) else list(map(str, samples)),
        "max_missing": float(max_missing), "min_coverage": float(min_coverage),
        "sex_chromosomes": bool(sex_chromosomes),
        "n_grid_bins_dropped": int((~keep).sum()) + n_empty,
        "nan_fraction": float(n_missing[keep].sum() / max(m.X.size, 1)),
    }
    return m
