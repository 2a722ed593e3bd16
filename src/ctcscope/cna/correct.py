"""Read-depth correction: GC content, mappability, outlier bins and a panel of normals.

Whole-genome amplification of one cell (Ampli1, MALBAC, DOP-PCR...) gives each cell its own
curved dependence of read depth on GC content, plus a locus-specific bias that every cell of
a run shares.  :func:`gc_correct` removes the first per cell; :func:`build_panel_of_normals`
and :func:`apply_panel_of_normals` remove the second with the run's own controls.

Robustness to sparse cells (tens of thousands of reads, most bins holding 0-5 reads) comes
from fitting the bias on *strata of equal bin numbers* (GC quantiles, so no stratum is ever
empty) summarised by an interquartile mean (robust to copy-number changes, yet smooth for
small integer counts), then smoothing those summaries with LOWESS.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import InputError


def nan_median(x, **kwargs):
    """``np.nanmedian`` without the "All-NaN slice" warning: a sample with no usable bin (no
    reads) or a bin no sample covers is expected here, and its NaN result is handled."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        return np.nanmedian(x, **kwargs)


#: Default parameters of the correction (recorded in ``uns['ctcscope']``).
CORRECT_DEFAULTS = dict(n_strata=50, min_bins_per_stratum=20, lowess_frac=0.2, mappability=True,
                        outlier_sd=6.0)


def use_mask(bins: pd.DataFrame, use: np.ndarray | None = None) -> np.ndarray:
    """The usable-bin mask: ``use`` if given, else ``bins.use``, else all bins."""
    if use is not None:
        m = np.asarray(use, dtype=bool)
        if m.size != len(bins):
            raise InputError(f"the usable-bin mask has {m.size} values for {len(bins)} bins; give one value per bin")
        return m.copy()
    if "use" in bins:
        return bins["use"].to_numpy(dtype=bool).copy()
    return np.ones(len(bins), dtype=bool)


def _iq_mean(x: np.ndarray) -> float:
    """Mean of the values between the 25th and 75th percentile (robust yet smooth for integers)."""
    if x.size == 0:
        return np.nan
    lo, hi = np.percentile(x, [25, 75])
    sel = (x >= lo) & (x <= hi)
    return float(x[sel].mean()) if sel.any() else float(np.median(x))


def _strata_curve(cov: np.ndarray, y: np.ndarray, n_strata: int, min_per: int, frac: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed robust level of ``y`` as a function of covariate ``cov``: returns (knots, values)."""
    n = cov.size
    k = int(max(3, min(n_strata, n // max(min_per, 1))))
    # quantile strata, narrower in the tails where GC curves bend most
    t = np.linspace(0.0, 1.0, k + 1)
    edges = np.unique(np.quantile(cov, 0.5 * (1.0 - np.cos(np.pi * t))))
    if edges.size < 3:  # covariate (almost) constant: no curve to fit
        return np.array([cov.min(), cov.max() + 1e-9]), np.full(2, _iq_mean(y))
    idx = np.clip(np.searchsorted(edges, cov, side="right") - 1, 0, edges.size - 2)
    xs, ys, ws = [], [], []
    for j in range(edges.size - 1):
        sel = idx == j
        if sel.sum() == 0:
            continue
        xs.append(np.median(cov[sel]))
        ys.append(_iq_mean(y[sel]))
        ws.append(sel.sum())
    xs, ys = np.asarray(xs), np.asarray(ys)
    if xs.size >= 5:
        from statsmodels.nonparametric.smoothers_lowess import lowess

        sm = lowess(ys, xs, frac=frac, it=2, return_sorted=False)
        # lowess can return NaN on degenerate neighbourhoods; fall back to the raw summaries there
        sm = np.where(np.isfinite(sm), sm, ys)
    else:
        sm = ys
    order = np.argsort(xs)
    return xs[order], sm[order]


def _interp_extrapolate(x: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Piecewise-linear curve through (xs, ys), continued beyond its ends along the slope of
    its outermost segments (the extreme GC bins lie beyond the last stratum's median, where a
    flat continuation would under-correct a steep curve); the ends are kept positive."""
    y = np.interp(x, xs, ys)
    if xs.size >= 2:
        lo, hi = x < xs[0], x > xs[-1]
        s0 = (ys[1] - ys[0]) / max(xs[1] - xs[0], 1e-12)
        s1 = (ys[-1] - ys[-2]) / max(xs[-1] - xs[-2], 1e-12)
        y = np.where(lo, ys[0] + s0 * (x - xs[0]), y)
        y = np.where(hi, ys[-1] + s1 * (x - xs[-1]), y)
        y = np.maximum(y, 0.05)
    return y


def gc_correct(
    counts: np.ndarray,
    bins: pd.DataFrame,
    *,
    use: np.ndarray | None = None,
    level: np.ndarray | None = None,
    n_strata: int = CORRECT_DEFAULTS["n_strata"],
    min_bins_per_stratum: int = CORRECT_DEFAULTS["min_bins_per_stratum"],
    lowess_frac: float = CORRECT_DEFAULTS["lowess_frac"],
    mappability: bool = CORRECT_DEFAULTS["mappability"],
) -> np.ndarray:
    """Correct one cell's read counts for GC content (and mappability) → ratio, median 1.

    Parameters
    ----------
    counts : reads per bin (length = number of bins).
    bins : table with ``gc`` (fraction or percent) and optionally ``mappability`` and ``use``.
    use : boolean mask of bins to use (default ``bins.use``; bins with unknown GC are dropped).
    level : optional current estimate of each bin's relative copy number (e.g. segment means
        from a first pass).  The bias is then fitted on ``counts / level`` so that gained or
        lost chromosomes with unusual GC (17, 19, 22...) do not bend the curve; the
        returned ratio still contains the copy-number signal.
    n_strata, min_bins_per_stratum : GC quantile strata (never empty by construction).
    lowess_frac : LOWESS span over the strata summaries.
    mappability : also fit a smooth mappability term (after GC) when the column exists.

    Returns
    -------
    ratio : float64 array, NaN where a bin is not usable; median 1 over usable bins.
    Cells without reads on usable bins give an all-NaN ratio (QC reports them; no crash).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size != len(bins):
        raise InputError(
            f"counts has {counts.size} values but the genome has {len(bins)} bins; "
            "count the reads with the same genome build and bin size"
        )
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise InputError("read counts must be finite and non-negative; check the count matrix for negative or missing values")
    if "gc" not in bins:
        raise InputError("the bin table has no 'gc' column; load bins with ctcscope.genome.load_genome or give GC per bin")
    gc = bins["gc"].to_numpy(dtype=np.float64)
    if np.nanmax(gc) > 1.5:  # percent → fraction
        gc = gc / 100.0
    usable = use_mask(bins, use) & np.isfinite(gc)
    ok = usable.copy()
    lev = None
    if level is not None:
        lev = np.asarray(level, dtype=np.float64)
        ok &= np.isfinite(lev) & (lev > 0.05)  # homozygous deletions carry no bias information
    ratio = np.full(counts.size, np.nan)
    if ok.sum() < 10 or counts[ok].sum() <= 0:
        return ratio
    y = counts[ok] / (lev[ok] if lev is not None else 1.0)
    scale = _iq_mean(y)
    if not scale > 0:
        scale = y.mean()
    y = y / scale
    xs, curve = _strata_curve(gc[ok], y, n_strata, min_bins_per_stratum, lowess_frac)
    # A stratum whose robust level is ~0 (sparse cell) would blow the ratio up: floor it.
    curve = np.maximum(curve, 0.05)
    expected = _interp_extrapolate(gc, xs, curve)
    if mappability and "mappability" in bins and bins["mappability"].notna().any():
        mp = bins["mappability"].to_numpy(dtype=np.float64)
        okm = ok & np.isfinite(mp)
        if okm.sum() >= 10 and np.ptp(mp[okm]) > 0.05:
            resid = counts[okm] / (lev[okm] if lev is not None else 1.0) / scale / expected[okm]
            xm, cm = _strata_curve(mp[okm], resid, max(5, n_strata // 3), min_bins_per_stratum, lowess_frac)
            expected = expected * np.where(np.isfinite(mp), _interp_extrapolate(mp, xm, np.maximum(cm, 0.05)), 1.0)
    r = counts / (scale * expected)
    med = np.median(r[usable]) if usable.any() else np.nan
    if not med > 0:
        med = np.mean(r[usable]) if usable.any() else np.nan
    if not med > 0:
        return ratio
    ratio[usable] = r[usable] / med
    return ratio


def outlier_bins(ratio: np.ndarray, segment_mean: np.ndarray, sd: np.ndarray | float,
                 threshold: float = CORRECT_DEFAULTS["outlier_sd"]) -> np.ndarray:
    """Bins whose ratio lies more than ``threshold`` noise SDs from their segment mean.

    ``sd`` is the expected bin-level SD (scalar or per bin, e.g. from
    :func:`ctcscope.cna.noise.bin_sd`).  Only single bins far from a well-supported segment are
    flagged; real focal events become their own segments before this is applied.
    """
    dev = np.abs(np.asarray(ratio) - np.asarray(segment_mean))
    with np.errstate(invalid="ignore"):
        return np.isfinite(dev) & (dev > threshold * np.asarray(sd))


def build_panel_of_normals(residuals: np.ndarray, *, min_samples: int = 2, shrink: bool = True) -> np.ndarray | None:
    """Median locus-bias profile from reference samples that share the run's WGA bias.

    Parameters
    ----------
    residuals : samples × bins array of GC-corrected ratios divided by their own segment
        means (so copy-number changes, e.g. the single X of male cells, cancel out); NaN where
        unusable.  For flat controls (``wbc``, ``germline``, ``normal``) the ratio itself
        works too.
    min_samples : with fewer usable samples, no panel is built (``None`` is returned and
        nothing is applied); with one sample its noise would be copied into every cell.
    shrink : shrink each bin's bias towards 1 by the fraction of its variance that is not
        sampling noise of the median (James-Stein style), so a small panel adds little noise.

    Returns
    -------
    A per-bin multiplicative bias (median 1, NaN where no reference has data), or ``None``.
    """
    R = np.atleast_2d(np.asarray(residuals, dtype=np.float64))
    good = np.isfinite(R).sum(axis=1) > 0.5 * R.shape[1]
    R = R[good]
    k = R.shape[0]
    if k < max(1, min_samples):
        return None
    with warnings.catch_warnings():  # bins no reference covers stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        pon = np.nanmedian(R, axis=0)
    med = np.nanmedian(pon)
    if not med > 0:
        return None
    pon = pon / med
    if shrink and k >= 2:
        # sampling variance of a median of k draws: (pi/2) * var / k, var from the per-bin
        # spread across the references (robust MAD); bias variance = total - sampling.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mad = np.nanmedian(np.abs(R / med - pon), axis=0) * 1.4826
        noise = np.nanmedian(mad) ** 2 * np.pi / (2 * k)
        dev = pon - 1.0
        total = np.nanmean(np.minimum(dev ** 2, np.nanquantile(dev ** 2, 0.99)))
        w = max(0.0, 1.0 - noise / total) if total > 0 else 0.0
        pon = 1.0 + w * dev
    return pon


def apply_panel_of_normals(ratio: np.ndarray, pon: np.ndarray | None, *, floor: float = 0.2) -> np.ndarray:
    """Divide ratios (one sample or samples × bins) by a panel-of-normals bias profile.

    Bins where the panel is missing or implausibly low (< ``floor``, i.e. the locus barely
    amplifies in any control) become NaN; the result is re-normalised to median 1 per sample.
    """
    if pon is None:
        return np.asarray(ratio, dtype=np.float64)
    r = np.asarray(ratio, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = r / np.where(np.isfinite(pon) & (pon >= floor), pon, np.nan)
        med = nan_median(out, axis=-1, keepdims=True)
        return out / np.where(med > 0, med, np.nan)


def smooth_by_chrom(values: np.ndarray, chrom: np.ndarray, pos: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian-kernel smooth of ``values`` along each chromosome (NaN ignored).

    ``pos`` are bin midpoints (bp) and ``bandwidth`` the kernel SD in bp.  Vectorised as a
    normalised convolution on each chromosome's regular grid of bins.
    """
    from scipy.ndimage import gaussian_filter1d

    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.size, np.nan)
    chrom = np.asarray(chrom)
    brk = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
    for lo, hi in zip(np.concatenate([[0], brk]), np.concatenate([brk, [values.size]])):
        v = values[lo:hi]
        ok = np.isfinite(v)
        if ok.sum() == 0:
            continue
        step = np.median(np.diff(pos[lo:hi])) if hi - lo > 1 else bandwidth
        sig = max(bandwidth / max(step, 1.0), 0.5)
        num = gaussian_filter1d(np.where(ok, v, 0.0), sig, mode="constant")
        den = gaussian_filter1d(ok.astype(np.float64), sig, mode="constant")
        with np.errstate(invalid="ignore", divide="ignore"):
            out[lo:hi] = np.where(den > 1e-3, num / den, np.nan)
    return out


def wave_profile(ratio: np.ndarray, level: np.ndarray, bins: pd.DataFrame, *, bandwidth_mb: float = 5.0,
                 min_level: float = 0.1) -> np.ndarray:
    """Smooth multiplicative trend of ``ratio / level`` (long-range waviness), per chromosome.

    ``level`` is what the ratio should be without waviness (segment means, or the fitted
    copy-number levels ``scale * cn``).  Returns a per-bin factor (1 where unknown) that the
    ratio can be divided by.  Bins at very low level (homozygous deletions) are ignored.
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    level = np.asarray(level, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(ratio) & np.isfinite(level) & (level > min_level) & (ratio > 0)
        lr = np.where(ok, np.log(np.where(ok, ratio, 1.0) / np.where(ok, level, 1.0)), np.nan)
    # winsorise single-bin noise so the smooth follows the trend, not outliers
    if np.isfinite(lr).any():
        q = np.nanquantile(lr, [0.01, 0.99])
        lr = np.clip(lr, q[0], q[1])
    pos = 0.5 * (bins["start"].to_numpy() + bins["end"].to_numpy())
    w = smooth_by_chrom(lr, bins["chrom"].astype(str).to_numpy(), pos, bandwidth_mb * 1e6)
    return np.where(np.isfinite(w), np.exp(w), 1.0)


def shared_wave(ratios: np.ndarray, levels: np.ndarray, bins: pd.DataFrame, *, bandwidth_mb: float = 1.0,
                min_samples: int = 8, max_loading: float = 3.0,
                groups: np.ndarray | None = None, reliability: str = "split-half",
                min_reliability: float = 0.0) -> tuple[np.ndarray | None, np.ndarray]:
    """The long-range undulation that the samples of one run share, and each sample's share of it.

    Single-cell WGA profiles of one run wander together: in three real 10x cells of one run
    the 5 Mb-smoothed profiles correlate at r = 0.51-0.60 (benchmarks/real_noise.py), and
    whole chromosomes may sit a few per cent off their level in every cell (residual
    GC/mappability effects at the scale of chromosomes).  Each sample's log residual from its
    called copy number, ``log(ratio / level)``, is smoothed along each chromosome (Gaussian,
    ``bandwidth_mb``); the shared profile ``w`` is the per-bin median over samples (events
    of one cell, or a wrongly called level, do not move a median of many) — where ``groups``
    labels samples of one clone, the clone first collapses to its own median and votes once
    (its cells share their events, and their errors) — shrunk towards 0 by its reliability:
    the correlation of the medians of two halves of the votes, stepped up to all votes
    (Spearman-Brown; ``reliability="sampling"``: a James-Stein shrinkage by the per-bin
    sampling noise instead).  Below ``min_reliability`` the run is taken to share no clear
    undulation and nothing is divided out: on simulated runs without a shared wave the
    residual medians still agree at 0.57-0.70 (first-call errors, panel imprints), with one
    at 0.83-0.90 (tuning seeds 1-6), and dividing out the former cost 4 points of ploidy
    accuracy.  Each sample's loading is the
    least-squares coefficient of its own smoothed residual on ``w`` (clipped to
    ``[0, max_loading]``).

    Parameters
    ----------
    ratios : samples × bins corrected ratios.
    levels : samples × bins expected ratio of each bin without waviness (``scale × copy
        number`` of a first call); NaN where unknown or a homozygous deletion.
    bins : the bin table (``chrom``, ``start``, ``end``, ``use``).

    Returns
    -------
    ``(w, loadings)``: the shared log-profile per bin (0 where unknown), or ``None`` with
    fewer than ``min_samples`` usable samples or nothing beyond noise; loadings per sample.
    Divide sample ``s``'s ratio by ``exp(loadings[s] * w)``.
    """
    R = np.atleast_2d(np.asarray(ratios, dtype=np.float64))
    Lv = np.atleast_2d(np.asarray(levels, dtype=np.float64))
    n = R.shape[0]
    chrom = bins["chrom"].astype(str).to_numpy()
    use = use_mask(bins) & ~np.isin(chrom, ["X", "Y"])
    pos = 0.5 * (bins["start"].to_numpy(np.float64) + bins["end"].to_numpy(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = use[None, :] & np.isfinite(R) & np.isfinite(Lv) & (R > 0) & (Lv > 0.05)
        L = np.where(ok, np.log(np.where(ok, R, 1.0) / np.where(ok, Lv, 1.0)), np.nan)
    good = np.flatnonzero(np.isfinite(L).mean(axis=1) > 0.5 * use.mean())
    if good.size < min_samples:
        return None, np.zeros(n)
    S = np.full_like(L, np.nan)
    for i in good:
        x = L[i]
        # bin-level outliers (pile-ups, unsegmented focal events) must not leak into the smooth
        med = np.nanmedian(x)
        mad = 1.4826 * np.nanmedian(np.abs(x - med))
        x = np.where(np.abs(x - med) > 5 * mad, np.nan, x) if mad > 0 else x
        s = smooth_by_chrom(x, chrom, pos, bandwidth_mb * 1e6)
        S[i] = s - np.nanmedian(s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if groups is None:
            V = S[good]
        else:
            lab = np.asarray(groups, dtype=object)[good]
            rows = [np.nanmedian(S[good][lab == g], axis=0) for g in pd.unique(lab[lab != ""])]
            V = np.vstack(rows + [S[good][lab == ""]]) if rows else S[good][lab == ""]
        if V.shape[0] < min_samples:
            return None, np.zeros(n)
        w = np.nanmedian(V, axis=0)
        # sampling noise of the median: the spread of the votes around it (robust), / n
        spread = 1.4826 * np.nanmedian(np.abs(V - w), axis=0)
    inside = use & np.isfinite(w)
    if inside.sum() < 50:
        return None, np.zeros(n)
    if reliability == "split-half":
        # how much of the median is shared signal: the medians of two halves of the votes agree
        # only on what the run shares (smoothed residuals are correlated along the genome, so
        # a per-bin sampling variance would understate the noise); Spearman-Brown gives the
        # reliability of the median of all votes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            h1, h2 = np.nanmedian(V[0::2], axis=0), np.nanmedian(V[1::2], axis=0)
        both = inside & np.isfinite(h1) & np.isfinite(h2)
        r = float(np.corrcoef(h1[both], h2[both])[0, 1]) if both.sum() > 50 else 0.0
        keep = 2 * r / (1 + r) if r > 0 else 0.0
        if keep < min_reliability:
            keep = 0.0
    else:
        noise = float(np.nanmedian(spread[inside]) ** 2 * np.pi / (2 * V.shape[0]))
        total = float(np.var(w[inside]))
        keep = max(0.0, 1.0 - noise / total) if total > 0 else 0.0
    if keep <= 0:
        return None, np.zeros(n)
    w = np.where(inside, keep * (w - np.mean(w[inside])), 0.0)
    ww = float(np.sum(w[inside] ** 2))
    load = np.zeros(n)
    for i in good:
        m = inside & np.isfinite(S[i])
        if m.sum() > 50 and ww > 0:
            load[i] = float(np.clip(np.sum(S[i][m] * w[m]) / np.sum(w[m] ** 2), 0.0, max_loading))
    # samples too sparse to measure their own share are given the typical one
    rest = np.setdiff1d(np.arange(n), good)
    load[rest] = float(np.median(load[good]))
    return w, load
