"""Per-cell noise model: read depth per unit ratio and negative-binomial over-dispersion.

The corrected ratio ``r`` of a bin whose cell has ``D`` reads per unit ratio behaves like a
negative binomial count ``x = r * D`` divided by ``D``:

    var(r) = r / D + alpha * r**2

(Poisson sampling of reads, plus the multiplicative amplification noise of WGA).  Both terms
are estimated from the cell's own bin-to-bin differences, so the model is calibrated on the
data rather than assumed.  The same model gives the variance-stabilising transform used by
segmentation and the segment-level likelihood used by the ploidy caller.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class NoiseModel:
    """``var(ratio) = ratio / depth + alpha * ratio**2`` (per bin)."""

    depth: float  # reads per unit ratio (≈ median reads per usable bin)
    alpha: float  # over-dispersion (squared coefficient of variation beyond Poisson)

    def bin_var(self, level: np.ndarray | float) -> np.ndarray:
        lev = np.maximum(np.asarray(level, dtype=np.float64), 0.0)
        return lev / max(self.depth, 1e-9) + self.alpha * lev ** 2

    def bin_sd(self, level: np.ndarray | float) -> np.ndarray:
        return np.sqrt(self.bin_var(level))

    def as_dict(self) -> dict:
        return {"depth": float(self.depth), "alpha": float(self.alpha)}


def _mad_var(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if x.size < 3:
        return np.nan
    return float((1.4826 * np.median(np.abs(x - np.median(x)))) ** 2)


def within_chrom_pairs(chrom: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (i, j) of consecutive usable bins on the same chromosome."""
    idx = np.flatnonzero(ok)
    if idx.size < 2:
        return np.empty(0, int), np.empty(0, int)
    c = np.asarray(chrom)[idx]
    same = c[1:] == c[:-1]
    return idx[:-1][same], idx[1:][same]


def estimate_noise(counts: np.ndarray, ratio: np.ndarray, chrom: np.ndarray, level: np.ndarray | None = None) -> NoiseModel:
    """Fit :class:`NoiseModel` to one cell.

    ``depth`` is the median of ``counts / ratio``; ``alpha`` comes from the robust variance of
    relative differences between neighbouring bins (which cancels copy-number steps except
    at the rare breakpoints, and a robust variance ignores those), minus the Poisson part.
    If ``level`` (e.g. segment means) is given, residuals ``ratio / level`` are used instead of
    differences, which is slightly more efficient.
    """
    counts = np.asarray(counts, dtype=np.float64)
    ratio = np.asarray(ratio, dtype=np.float64)
    ok = np.isfinite(ratio) & (ratio > 0)
    if ok.sum() < 10:
        return NoiseModel(depth=max(float(np.nansum(counts)) / max(ratio.size, 1), 1e-3), alpha=0.05)
    depth = float(np.median(counts[ok] / ratio[ok]))
    depth = max(depth, 1e-3)
    if level is not None:
        lev = np.asarray(level, dtype=np.float64)
        sel = ok & np.isfinite(lev) & (lev > 0.3)
        rel = ratio[sel] / lev[sel] - 1.0
        v_rel = _mad_var(rel)
        pois = float(np.median(1.0 / (depth * lev[sel]))) if sel.any() else 1.0 / depth
        alpha = v_rel - pois
    else:
        i, j = within_chrom_pairs(chrom, ok)
        m = 0.5 * (ratio[i] + ratio[j])
        sel = m > 0.3
        d = (ratio[j][sel] - ratio[i][sel]) / m[sel]
        v_rel = _mad_var(d) / 2.0
        pois = float(np.median(1.0 / (depth * m[sel]))) if sel.any() else 1.0 / depth
        alpha = v_rel - pois
    if not np.isfinite(alpha):
        alpha = 0.05
    return NoiseModel(depth=depth, alpha=float(max(alpha, 1e-4)))


def vst(ratio: np.ndarray, noise: NoiseModel) -> np.ndarray:
    """Variance-stabilising transform of ratios: unit variance under :class:`NoiseModel`.

    ``y = 2/sqrt(alpha) * asinh(sqrt(alpha * x))`` with ``x = ratio * depth`` (the negative
    binomial VST; ``2*sqrt(x)`` when ``alpha → 0``).  Zeros (homozygous deletions) stay finite,
    unlike a log transform.
    """
    x = np.maximum(np.asarray(ratio, dtype=np.float64), 0.0) * noise.depth
    a = max(noise.alpha, 1e-8)
    return 2.0 / np.sqrt(a) * np.arcsinh(np.sqrt(a * (x + 0.375)))


def mapd(ratio: np.ndarray, chrom: np.ndarray) -> float:
    """Median absolute pairwise difference of log2 ratios of neighbouring usable bins."""
    ratio = np.asarray(ratio, dtype=np.float64)
    ok = np.isfinite(ratio) & (ratio > 0)
    i, j = within_chrom_pairs(chrom, ok)
    if i.size == 0:
        return float("nan")
    return float(np.median(np.abs(np.log2(ratio[j]) - np.log2(ratio[i]))))


@dataclass
class WaveModel:
    """Long-range multiplicative waviness: relative SD ``sd`` with Gaussian correlation of
    length ``length_mb`` (corr(d) = exp(-d**2 / (2 * length_mb**2)))."""

    sd: float
    length_mb: float

    def corr(self, d_mb: np.ndarray | float) -> np.ndarray:
        d = np.asarray(d_mb, dtype=np.float64)
        return np.exp(-0.5 * (d / max(self.length_mb, 1e-6)) ** 2)

    def mean_var_factor(self, span_mb: np.ndarray | float) -> np.ndarray:
        """Variance of the wave averaged over a segment of ``span_mb``, relative to ``sd**2``.

        ``(2/L^2) * integral_0^L (L - u) corr(u) du`` in closed form for a Gaussian correlation.
        """
        from scipy.special import erf

        L = np.maximum(np.asarray(span_mb, dtype=np.float64), 1e-9)
        a = max(self.length_mb, 1e-6) * np.sqrt(2.0)
        x = L / a
        # ∫0^L (L-u) exp(-u²/a²) du = L a √π/2 erf(x) - a²/2 (1 - exp(-x²))
        integral = L * a * np.sqrt(np.pi) / 2 * erf(x) - a * a / 2 * (1 - np.exp(-x * x))
        return np.clip(2.0 * integral / (L * L), 0.0, 1.0)

    def as_dict(self) -> dict:
        return {"wave_sd": float(self.sd), "wave_length_mb": float(self.length_mb)}


#: Lags (Mb) at which the within-segment variogram is measured.
_WAVE_LAGS_MB = (0.5, 1, 2, 3, 5, 8, 12, 16, 24, 32, 48, 64)


def estimate_waviness(ratio: np.ndarray, level: np.ndarray, bins, *, lags_mb=_WAVE_LAGS_MB,
                      min_pairs: int = 30, length_mb: float | None = None) -> WaveModel:
    """Fit :class:`WaveModel` to one cell from its within-segment variogram.

    For bins ``i, j`` of the same chromosome and the same segment (``level`` equal), the
    relative difference ``(r_j - r_i) / level`` has half-variance
    ``noise + sd**2 * (1 - corr(d_ij))``; robust (MAD) half-variances at increasing lags give
    ``sd`` and ``length_mb`` by least squares (``length_mb`` may be fixed, e.g. to the run's
    value, which makes one cell's ``sd`` much more precise).  Copy-number steps do not enter
    (pairs never straddle a breakpoint), so the fit sees only the smooth technical undulation.
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    level = np.asarray(level, dtype=np.float64)
    chrom = bins["chrom"].astype(str).to_numpy()
    mid = 0.5 * (bins["start"].to_numpy(np.float64) + bins["end"].to_numpy(np.float64)) / 1e6
    ok = np.isfinite(ratio) & np.isfinite(level) & (level > 0.1)
    idx = np.flatnonzero(ok)
    if idx.size < 50:
        return WaveModel(sd=0.03, length_mb=20.0)
    rel = ratio[idx] / level[idx]
    c = chrom[idx]
    lv = level[idx]
    pos = mid[idx]
    step = float(np.median(np.diff(pos)[c[1:] == c[:-1]])) if idx.size > 1 else 0.5
    step = max(step, 1e-3)
    lags, halfvar = [], []
    for lag_mb in lags_mb:
        h = int(round(lag_mb / step))
        if h < 1 or h >= idx.size:
            continue
        same = (c[h:] == c[:-h]) & (lv[h:] == lv[:-h])
        if same.sum() < min_pairs:
            continue
        d = (rel[h:] - rel[:-h])[same]
        dist = float(np.median((pos[h:] - pos[:-h])[same]))
        v = (1.4826 * np.median(np.abs(d - np.median(d)))) ** 2 / 2.0
        lags.append(dist)
        halfvar.append(v)
    if len(lags) < 4:
        return WaveModel(sd=0.03, length_mb=20.0)
    lags = np.asarray(lags)
    halfvar = np.asarray(halfvar)
    best = (np.inf, 0.03, 20.0)
    # grid search over the correlation length; sd^2 and the white noise by least squares
    ells = [float(length_mb)] if length_mb else np.exp(np.linspace(np.log(2.0), np.log(80.0), 40))
    for ell in ells:
        x = 1.0 - np.exp(-0.5 * (lags / ell) ** 2)
        X = np.stack([np.ones_like(x), x], axis=1)
        coef, *_ = np.linalg.lstsq(X, halfvar, rcond=None)
        coef[1] = max(coef[1], 0.0)
        rss = float(np.sum((X @ coef - halfvar) ** 2))
        if rss < best[0]:
            best = (rss, float(np.sqrt(coef[1])), float(ell))
    return WaveModel(sd=best[1], length_mb=best[2])


def fit_wave_model(offsets: np.ndarray, span_mb: np.ndarray, sampling_var: np.ndarray,
                   default: WaveModel | None = None, min_segments: int = 10) -> WaveModel:
    """Fit the run's :class:`WaveModel` to relative offsets of segment means from their
    known level (e.g. chromosome arms of diploid controls: ``mean / median - 1``).

    For every candidate correlation length the variance ``sd**2`` is the weighted
    least-squares solution of ``offset**2 - sampling_var = sd**2 * mean_var_factor(span)``;
    the length with the best Gaussian likelihood wins.
    """
    default = default or WaveModel(sd=0.04, length_mb=20.0)
    o = np.asarray(offsets, dtype=np.float64)
    L = np.asarray(span_mb, dtype=np.float64)
    v = np.asarray(sampling_var, dtype=np.float64)
    ok = np.isfinite(o) & np.isfinite(L) & np.isfinite(v) & (L > 0)
    o, L, v = o[ok], L[ok], v[ok]
    if o.size < min_segments:
        return default
    # robustness: a control with a real aberration (or a mis-called tumour segment) must not
    # inflate the fit; drop offsets beyond 5 robust SDs
    rs = 1.4826 * np.median(np.abs(o)) + 1e-9
    keep = np.abs(o) <= 5 * rs
    o, L, v = o[keep], L[keep], v[keep]
    best = (-np.inf, default)
    for ell in np.exp(np.linspace(np.log(2.0), np.log(100.0), 50)):
        w = WaveModel(1.0, float(ell))
        f = w.mean_var_factor(L)
        # one-dimensional ML for sd^2 by a fine search (variance must stay positive)
        for sd in np.linspace(0.002, 0.15, 75):
            var = v + sd * sd * f
            ll = float(np.sum(-0.5 * np.log(var) - 0.5 * o * o / var))
            if ll > best[0]:
                best = (ll, WaveModel(float(sd), float(ell)))
    return best[1]


#: Window sizes (Mb) at which :func:`waviness_profile` measures the excess scatter.
PROFILE_WINDOWS_MB = (2.0, 5.0, 10.0, 20.0, 50.0)


def waviness_profile(ratio: np.ndarray, bins, level: np.ndarray | None = None, *,
                     windows_mb=PROFILE_WINDOWS_MB, min_fill: float = 0.8) -> dict:
    """How far one sample's corrected ratio wanders from its level, scale by scale.

    ``rel = ratio / level`` (``level``: e.g. segment means or the known copy-number level;
    default: the median of each autosome, for flat cells).  ``white`` is the bin-level noise
    SD (from neighbouring-bin differences); ``excess_<W>mb`` is the SD of the means of
    ``W``-Mb windows within chromosomes *beyond* what white noise gives them
    (``sqrt(var(window means) - white² / n)``, windows at least ``min_fill`` full, outliers
    beyond 6 MADs set aside); ``excess_arm`` the same over chromosome arms (≥ 20 bins).
    A white-noise profile has excess 0 at every scale; long-range waviness of SD ``s`` and
    correlation length ``L`` gives about ``s`` at windows much shorter than ``L``, falling
    as windows grow past it.  Used to compare real cells with the simulator
    (benchmarks/real_noise.py).
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    chrom = bins["chrom"].astype(str).to_numpy()
    auto = ~np.isin(chrom, ["X", "Y"])
    if level is None:
        level = pd.Series(np.where(auto, ratio, np.nan)).groupby(chrom).transform("median").to_numpy()
    level = np.asarray(level, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(auto & np.isfinite(level) & (level > 0.1), ratio / level, np.nan)
    i, j = within_chrom_pairs(chrom, np.isfinite(rel))
    out = {"white": float("nan"), **{f"excess_{w:g}mb": float("nan") for w in windows_mb}, "excess_arm": float("nan")}
    if i.size < 20:
        return out
    white = _mad_var(rel[j] - rel[i]) / 2.0
    out["white"] = float(np.sqrt(white))
    start = bins["start"].to_numpy(np.float64)

    def excess(keys, fill: float) -> float:
        df = pd.DataFrame({"k": keys, "r": rel}).dropna()
        grp = df.groupby("k")["r"]
        m, n = grp.mean(), grp.size()
        full = n >= max(fill * n.max(), 2)
        off = m[full] - m[full].median()
        if off.size < 5:
            return float("nan")
        s = 1.4826 * np.median(np.abs(off))
        keep = np.abs(off) <= 6 * s if s > 0 else np.ones(off.size, bool)
        v = float(np.var(off[keep]) - np.mean(white / n[full][keep]))
        return float(np.sqrt(max(v, 0.0)))

    for w in windows_mb:
        out[f"excess_{w:g}mb"] = excess(pd.Series(chrom) + ":" + pd.Series((start // (w * 1e6)).astype(np.int64)).astype(str),
                                          min_fill)
    if "arm" in bins:
        arm = pd.Series(chrom) + bins["arm"].astype(str).reset_index(drop=True)
        n_arm = arm.map(arm.value_counts())
        out["excess_arm"] = excess(arm.where(n_arm >= 20).to_numpy(), 0.0)
    return out
