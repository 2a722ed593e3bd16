"""Exact re-binning of any genomic binning onto one fixed grid.

The study resampled every copy-number profile "on fixed bins length (weighted mean on
250,000 bp windows)" before clustering (Oulhen et al. 2021, npj Precis Oncol 5:71,
doi:10.1038/s41698-021-00203-1, Methods "Hierarchical clustering").  This module does that
for any input: fixed or variable bins (QDNAseq, Ginkgo, CopyKit varbins), the windows of
Control-FREEC, or per-sample segment tables (SEG files).

The value of a grid bin is the mean of the input values weighted by the number of base
pairs each input interval shares with the grid bin.  Input intervals whose value is NaN,
or that a mask marks unusable, carry no weight at all: they neither contribute a value
nor count in the denominator.  A grid bin without any usable overlap is NaN.  The work is
one sparse (input intervals x grid bins) overlap matrix, built without Python loops.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError
from ..genome.names import canonical_chroms, chrom_order

#: Grid width used by the study.
DEFAULT_GRID = 250_000

_CHROM_NAMES = ("chrom", "chromosome", "chr", "seqnames", "contig", "chrom_name")
_START_NAMES = ("start", "loc.start", "chromstart", "start.bp", "start_pos", "begin")
_END_NAMES = ("end", "loc.end", "chromend", "end.bp", "end_pos", "stop")


def make_grid(chrom_sizes: pd.Series | dict, bin_size: int = DEFAULT_GRID,
              chroms: Sequence[str] | None = None) -> pd.DataFrame:
    """Fixed-width bins tiling each chromosome from 0 to its end.

    The last bin of a chromosome is shorter (it stops at the chromosome end), so no grid
    bin ever spans two chromosomes.  ``chroms`` picks and orders chromosomes (default:
    those of ``chrom_sizes`` in genome order).  Returns ``chrom, start, end`` (0-based,
    half-open) with index ``chrom:start1-end``.
    """
    bin_size = int(bin_size)
    if bin_size <= 0:
        raise InputError(f"grid bin size must be a positive number of base pairs, got {bin_size}")
    sizes = pd.Series(chrom_sizes, dtype="int64")
    sizes.index = canonical_chroms(pd.Series(sizes.index.astype(str))).to_numpy()
    if chroms is not None:
        chroms = [str(c) for c in canonical_chroms(pd.Series(list(chroms), dtype=str))]
        missing = [c for c in chroms if c not in sizes.index]
        if missing:
            raise InputError(f"chromosome(s) {', '.join(missing)} have no known length; "
                             "give their sizes or leave them out of the grid")
        sizes = sizes.loc[chroms]
    else:
        sizes = sizes.loc[sorted(sizes.index, key=chrom_order)]
    n = np.ceil(sizes.to_numpy() / bin_size).astype(np.int64)
    chrom = np.repeat(sizes.index.to_numpy().astype(str), n)
    # position of each bin within its chromosome: 0, 1, 2, ... restarting per chromosome
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    start = k * bin_size
    end = np.minimum(start + bin_size, np.repeat(sizes.to_numpy(), n))
    grid = pd.DataFrame({"chrom": chrom, "start": start, "end": end})
    grid.index = (grid.chrom + ":" + (grid.start + 1).astype(str) + "-" + grid.end.astype(str)).to_numpy()
    return grid


def grid_for(var: pd.DataFrame, bin_size: int = DEFAULT_GRID, chrom_sizes: pd.Series | dict | None = None,
             chroms: Sequence[str] | None = None) -> pd.DataFrame:
    """The grid for an AnnData ``var`` table: its chromosomes, tiled from 0 to the
    chromosome end (``chrom_sizes``; by default the end of the last bin seen)."""
    v = normalise_intervals(var)
    if chroms is None:
        chroms = list(dict.fromkeys(v.chrom))
    ends = v.groupby("chrom", sort=False).end.max()
    if chrom_sizes is not None:
        cs = pd.Series(chrom_sizes, dtype="float64")
        cs.index = canonical_chroms(pd.Series(cs.index.astype(str))).to_numpy()
        ends = np.maximum(cs.reindex(ends.index).fillna(ends), ends).astype("int64")
    return make_grid(ends, bin_size, chroms=[c for c in chroms if c in ends.index])


def normalise_intervals(df: pd.DataFrame, one_based: bool = False) -> pd.DataFrame:
    """``chrom, start, end`` columns (canonical names, 0-based half-open) from common
    spellings (``chromosome``, ``loc.start``, ``loc.end``...).  ``one_based=True`` for
    tables with 1-based inclusive starts (SEG files, Control-FREEC)."""
    cols = {c.lower(): c for c in df.columns}

    def pick(names, what):
        for n in names:
            if n in cols:
                return cols[n]
        raise InputError(f"the interval table has no {what} column (looked for {', '.join(names)}); "
                         "rename it or give chrom/start/end columns")

    out = pd.DataFrame(index=df.index)
    out["chrom"] = canonical_chroms(df[pick(_CHROM_NAMES, "chromosome")].astype(str)).to_numpy()
    start = pd.to_numeric(df[pick(_START_NAMES, "start")], errors="coerce")
    end = pd.to_numeric(df[pick(_END_NAMES, "end")], errors="coerce")
    if start.isna().any() or end.isna().any():
        raise InputError("the interval table has missing or non-numeric start/end values; fix those rows")
    start = start.astype("int64") - (1 if one_based else 0)
    out["start"] = start.to_numpy()
    out["end"] = end.astype("int64").to_numpy()
    if (out.end < out.start).any():
        bad = out[out.end < out.start].iloc[0]
        raise InputError(f"interval {bad.chrom}:{bad.start}-{bad.end} ends before it starts; fix the table")
    return out


def _as_intervals(df: pd.DataFrame) -> pd.DataFrame:
    if {"chrom", "start", "end"} <= set(df.columns):
        out = df[["chrom", "start", "end"]].copy()
        out["chrom"] = canonical_chroms(out["chrom"].astype(str)).to_numpy()
        return out
    return normalise_intervals(df)


def overlap_matrix(from_bins: pd.DataFrame, grid: pd.DataFrame) -> sparse.csr_matrix:
    """Sparse ``(len(from_bins), len(grid))`` matrix of shared base pairs.

    ``from_bins`` may be any intervals (overlapping each other or not, in any order);
    ``grid`` must be sorted, non-overlapping bins per chromosome (as :func:`make_grid`
    makes).  Intervals on chromosomes absent from the grid, and the parts of intervals
    outside the grid, get no weight.
    """
    i, j, bp = _overlap_pairs(_as_intervals(from_bins), grid)
    return sparse.csr_matrix((bp.astype(np.float64), (i, j)), shape=(len(from_bins), len(grid)))


def _overlap_pairs(from_bins: pd.DataFrame, grid: pd.DataFrame):
    """(input index, grid index, shared bp) for every overlapping pair, vectorised.

    Both sides are placed on one genome-wide axis (chromosome offsets from the grid), with
    input intervals clipped to their chromosome's grid extent so that nothing bleeds into
    the next chromosome; two ``searchsorted`` calls then give each interval's range of
    grid bins.
    """
    g = grid
    gchrom = g["chrom"].astype(str).to_numpy()
    gstart = g["start"].to_numpy(np.int64)
    gend = g["end"].to_numpy(np.int64)
    if len(g) and np.any(gend <= gstart):
        raise InputError("the grid has empty or reversed bins; build it with make_grid")
    # chromosome blocks of the grid, in grid order
    first = np.r_[True, gchrom[1:] != gchrom[:-1]]
    block_chroms = gchrom[first]
    if len(set(block_chroms)) != len(block_chroms):
        raise InputError("the grid must list each chromosome's bins contiguously and sorted")
    bstart = np.flatnonzero(first)
    bend = np.r_[bstart[1:], len(g)]
    cmin = gstart[bstart]
    cmax = gend[bend - 1]
    if np.any((gstart[1:] < gend[:-1]) & ~first[1:]):
        raise InputError("the grid bins overlap or are unsorted within a chromosome; build it with make_grid")
    length = cmax - cmin
    offset = np.r_[0, np.cumsum(length)[:-1]] - cmin  # global = local + offset
    cidx = {c: k for k, c in enumerate(block_chroms)}
    G0 = gstart + np.repeat(offset, bend - bstart)
    G1 = gend + np.repeat(offset, bend - bstart)

    f = from_bins
    fchrom = f["chrom"].astype(str).to_numpy()
    k = pd.Series(fchrom).map(cidx).to_numpy(dtype=float)
    ok = ~np.isnan(k)
    kk = np.where(ok, k, 0).astype(np.int64)
    s = np.clip(f["start"].to_numpy(np.int64), cmin[kk], cmax[kk])
    e = np.clip(f["end"].to_numpy(np.int64), cmin[kk], cmax[kk])
    ok &= e > s
    F0 = s + offset[kk]
    F1 = e + offset[kk]
    j0 = np.searchsorted(G1, F0, side="right")  # first grid bin ending after the start
    j1 = np.searchsorted(G0, F1, side="left")   # grid bins starting before the end
    cnt = np.where(ok, np.maximum(j1 - j0, 0), 0)
    i = np.repeat(np.arange(len(f)), cnt)
    j = np.repeat(j0, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    bp = np.minimum(F1[i], G1[j]) - np.maximum(F0[i], G0[j])
    keep = bp > 0  # grid gaps (if a grid has them) give zero overlap
    return i[keep], j[keep], bp[keep]


def rebin(values: np.ndarray, from_bins: pd.DataFrame, grid: pd.DataFrame, *, mask: np.ndarray | None = None,
          min_coverage: float = 0.0, chunk: int = 2048, dtype=np.float32,
          weights: sparse.spmatrix | None = None) -> np.ndarray:
    """Length-weighted mean of ``values`` on ``grid``.

    Parameters
    ----------
    values
        ``(n_bins,)`` or ``(n_samples, n_bins)``, one column per row of ``from_bins``.
        NaN entries carry no weight.
    from_bins
        ``chrom, start, end`` of the input intervals (0-based half-open; see
        :func:`normalise_intervals` for other spellings).
    grid
        Target bins, e.g. from :func:`make_grid`.
    mask
        Optional boolean ``(n_bins,)``: False marks input bins that must carry no weight
        (e.g. ``var.use``), exactly as if their values were NaN.
    min_coverage
        Fraction (0-1) of a grid bin that usable input must cover for the bin to get a
        value; below it the bin is NaN.  0 (default) keeps any overlap.
    weights
        A precomputed :func:`overlap_matrix` (reuse it across calls with the same bins).

    Returns
    -------
    ``(n_grid,)`` or ``(n_samples, n_grid)`` array of ``dtype``.
    """
    v = np.asarray(values, dtype=np.float64)
    one = v.ndim == 1
    if one:
        v = v[None, :]
    if v.ndim != 2 or v.shape[1] != len(from_bins):
        raise InputError(f"values have {v.shape[-1]} columns but there are {len(from_bins)} input bins; "
                         "give one value per bin")
    W = overlap_matrix(_as_intervals(from_bins), grid) if weights is None else weights
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(from_bins),):
            raise InputError("the bin mask must have one True/False per input bin")
        W = sparse.diags(mask.astype(np.float64)) @ W
    W = sparse.csr_matrix(W)
    WT = W.T.tocsr()
    glen = (grid["end"].to_numpy(np.int64) - grid["start"].to_numpy(np.int64)).astype(np.float64)
    out = np.empty((v.shape[0], len(grid)), dtype=dtype)
    for a in range(0, v.shape[0], chunk):
        blk = v[a:a + chunk]
        valid = np.isfinite(blk)
        num = (WT @ np.where(valid, blk, 0.0).T).T
        den = (WT @ valid.T.astype(np.float64)).T
        with np.errstate(invalid="ignore", divide="ignore"):
            r = num / den
        r[(den <= 0) | (den < min_coverage * glen)] = np.nan
        out[a:a + chunk] = r
    return out[0] if one else out


def rebin_segments(segments: pd.DataFrame, grid: pd.DataFrame, *, value: str = "seg_mean",
                   sample: str = "sample_id", samples: Sequence[str] | None = None, one_based: bool = False,
                   min_coverage: float = 0.0, chunk: int = 1000, dtype=np.float32) -> tuple[np.ndarray, list[str]]:
    """Per-sample segment table (long form: one row per segment) → ``(n_samples, n_grid)``.

    Reads the SEG layout of IGV/DNAcopy (``ID chrom loc.start loc.end num.mark seg.mean``,
    pass ``one_based=True``, ``sample="ID"``, ``value="seg.mean"``) as well as ctcscope's
    ``uns['segments']``.  Regions without a segment (gaps, filtered bins) are simply not
    covered: they carry no weight.  Returns the matrix and the sample order (``samples``
    if given, else order of first appearance).
    """
    for col in (value, sample):
        if col not in segments.columns:
            raise InputError(f"the segment table has no '{col}' column; name the value and sample columns")
    seg = normalise_intervals(segments, one_based=one_based)
    sid = segments[sample].astype(str).to_numpy()
    order = list(dict.fromkeys(sid)) if samples is None else [str(s) for s in samples]
    pos = pd.Series(np.arange(len(order)), index=order)
    srow = pos.reindex(sid).to_numpy()
    vals = pd.to_numeric(segments[value], errors="coerce").to_numpy(np.float64)
    keep = ~np.isnan(srow) & np.isfinite(vals)
    seg, vals, srow = seg[keep].reset_index(drop=True), vals[keep], srow[keep].astype(np.int64)
    i, j, bp = _overlap_pairs(seg, grid)
    s_of = srow[i]
    ng = len(grid)
    glen = (grid["end"].to_numpy(np.int64) - grid["start"].to_numpy(np.int64)).astype(np.float64)
    out = np.full((len(order), ng), np.nan, dtype=dtype)
    # process samples in chunks so the dense accumulators stay small
    by = np.argsort(s_of, kind="stable")
    s_sorted = s_of[by]
    for a in range(0, len(order), chunk):
        lo, hi = np.searchsorted(s_sorted, [a, a + chunk])
        sel = by[lo:hi]
        flat = (s_of[sel] - a) * ng + j[sel]
        n = min(chunk, len(order) - a) * ng
        num = np.bincount(flat, weights=bp[sel] * vals[i[sel]], minlength=n)
        den = np.bincount(flat, weights=bp[sel].astype(np.float64), minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (num / den).reshape(-1, ng)
        r[(den.reshape(-1, ng) <= 0) | (den.reshape(-1, ng) < min_coverage * glen)] = np.nan
        out[a:a + chunk] = r
    return out, order


def rebin_table(table: pd.DataFrame, grid: pd.DataFrame, *, one_based: bool = False,
                min_coverage: float = 0.0, dtype=np.float32) -> tuple[np.ndarray, list[str]]:
    """Wide bin table (``chrom start end`` then one column per sample, as CopyKit's and
    Ginkgo's per-bin outputs) → ``(n_samples, n_grid)`` and the sample names."""
    iv = normalise_intervals(table, one_based=one_based)
    lower = {c.lower() for c in (*_CHROM_NAMES, *_START_NAMES, *_END_NAMES)}
    cols = [c for c in table.columns if c.lower() not in lower]
    if not cols:
        raise InputError("the bin table has no sample columns after chrom/start/end")
    vals = table[cols].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64).T
    return rebin(vals, iv, grid, min_coverage=min_coverage, dtype=dtype), [str(c) for c in cols]


def freec_windows(ratio: pd.DataFrame, window: int | None = None) -> pd.DataFrame:
    """Intervals of a Control-FREEC ``*_ratio.txt`` table (``Chromosome Start ...``; 1-based
    starts, no end).  Each window ends ``window`` bp after its start (default: the most
    common distance between consecutive starts), or at the next start if that is nearer."""
    cols = {c.lower(): c for c in ratio.columns}
    if "chromosome" not in cols or "start" not in cols:
        raise InputError("a Control-FREEC ratio table needs 'Chromosome' and 'Start' columns")
    chrom = canonical_chroms(ratio[cols["chromosome"]].astype(str)).to_numpy()
    start = ratio[cols["start"]].to_numpy(np.int64) - 1
    same = np.r_[chrom[1:] == chrom[:-1], False]
    step = np.r_[np.diff(start), 0]
    if window is None:
        d = step[same & (step > 0)]
        if not len(d):
            raise InputError("cannot infer the Control-FREEC window size; pass window=")
        vals, counts = np.unique(d, return_counts=True)
        window = int(vals[np.argmax(counts)])
    end = start + window
    end = np.where(same & (step > 0), np.minimum(end, start + step), end)
    return pd.DataFrame({"chrom": chrom, "start": start, "end": end}, index=ratio.index)


__all__ = ["DEFAULT_GRID", "make_grid", "grid_for", "normalise_intervals", "overlap_matrix", "rebin",
           "rebin_segments", "rebin_table", "freec_windows"]
