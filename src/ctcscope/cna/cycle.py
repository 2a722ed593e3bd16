"""Cells caught replicating: the S-phase signal in read depth, and its removal.

A cell in S phase has copied its early-replicating DNA but not yet its late DNA, so its
read depth rises and falls with replication timing (RT) along the genome — up to 2:1
between the earliest and the latest regions.  Copy-number callers read that pattern as
gains and losses: a mid-S diploid cell looks like a genome with many one-copy changes, a
late-S cell like a doubled genome with losses (Kronos, Gnan et al. 2022, Nat Commun
13:2847; scAbsolute, Schneider et al. 2024).  This module measures the pattern against the
population RT track of the genome (:func:`ctcscope.genome.replication.replication_timing`)
and divides it out, so that a replicating cell is called on its G1 karyotype.

Copy-number changes are blocks of many megabases, replication domains alternate every
1-5 Mb: a running median over ``window_mb`` follows the blocks (a median filter keeps
steps) and not the domains, so ``log ratio - running median`` keeps the replication
pattern and drops the copy number.  The same high-pass is applied to the RT track and the
two are compared bin by bin:

* ``s_phase_score``: the Pearson correlation of the two high-passed profiles (0 for a cell in
  G1 or G2, whose DNA is all at one replication state; 0.3-0.7 for a cell in mid S);
* the replicated fraction of each bin, ``1 / (1 + exp(-(rt - theta) / width))``, fitted by
  least squares on the high-passed log ratio over a grid of ``theta`` (how far the cell is
  into S phase), with its amplitude ``beta`` (< 1 as a single cell's replication is sharper
  and less ordered than the population track);
* the factor ``exp(beta * log(1 + replicated))`` (mean 1 over usable bins) that the ratio of a
  flagged cell is divided by.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter

#: Default parameters (part of the copy-number step's one namespace).
CYCLE_DEFAULTS = dict(
    s_phase=True,  # measure the replication signal and divide it out of cells flagged as replicating
    s_phase_window_mb=10.0,  # running-median window of the high-pass (copy-number blocks are longer)
    s_phase_min_score=0.2,  # correlation with replication timing from which a cell is flagged
    s_phase_min_z=4.0,  # ... and standing out of the run's cells by this many robust SDs
    s_phase_width=0.35,  # width of the replicated-fraction sigmoid (RT SD units)
)


@dataclass
class ReplicationFit:
    """The replication signal of one cell."""

    score: float  # correlation of high-passed log ratio with high-passed RT
    theta: float  # RT value at which half the cell's DNA there is replicated (high = early in S)
    beta: float  # amplitude of the fitted replicated fraction in log ratio (0-1)
    factor: np.ndarray  # multiplicative replication factor per bin (1 where unknown), mean 1
    n: int  # bins compared


def _highpass(x: np.ndarray, chrom: np.ndarray, window: int) -> np.ndarray:
    """``x`` minus its running median over ``window`` usable bins, per chromosome (NaN kept)."""
    out = np.full(x.size, np.nan)
    ok = np.isfinite(x)
    for c in pd.unique(chrom):
        idx = np.flatnonzero((chrom == c) & ok)
        if idx.size < max(5, window // 2):
            continue
        v = x[idx]
        out[idx] = v - median_filter(v, size=min(window, idx.size | 1), mode="nearest")
    return out


def replication_signal(ratio: np.ndarray, bins: pd.DataFrame, rt: np.ndarray, *, window_mb: float = 10.0,
                       width: float = 0.35) -> ReplicationFit | None:
    """Measure one cell's replication pattern (``None`` without enough RT-known bins).

    Parameters
    ----------
    ratio : the cell's GC-corrected ratio per bin (NaN where unusable).
    bins : the bin table (``chrom``, ``start``, ``end``).
    rt : replication timing per bin, standardised, higher = earlier (NaN where unknown).
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    rt = np.asarray(rt, dtype=np.float64)
    chrom = bins["chrom"].astype(str).to_numpy()
    auto = ~np.isin(chrom, ["X", "Y"])
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = auto & np.isfinite(ratio) & (ratio > 0.05) & np.isfinite(rt)
        lr = np.where(ok, np.log(np.where(ok, ratio, 1.0)), np.nan)
    if ok.sum() < 200:
        return None
    width_bp = float(np.median((bins["end"] - bins["start"]).to_numpy()))
    window = int(max(5, round(window_mb * 1e6 / max(width_bp, 1.0)))) | 1
    y = _highpass(lr, chrom, window)
    # single-bin outliers (pile-ups, focal events) must not decide the correlation
    med = np.nanmedian(y)
    mad = 1.4826 * np.nanmedian(np.abs(y - med))
    if mad > 0:
        y = np.clip(y, med - 5 * mad, med + 5 * mad)
    r_hp = _highpass(np.where(ok, rt, np.nan), chrom, window)
    m = np.isfinite(y) & np.isfinite(r_hp)
    if m.sum() < 200:
        return None
    score = float(np.corrcoef(y[m], r_hp[m])[0, 1])
    # replicated fraction: a sigmoid of RT at the cell's progress theta
    best = (-np.inf, 0.0, 0.0)
    for theta in np.quantile(rt[ok], np.linspace(0.1, 0.9, 17)):
        f = np.log1p(1.0 / (1.0 + np.exp(-(rt - theta) / width)))
        x = _highpass(np.where(ok, f, np.nan), chrom, window)
        mm = m & np.isfinite(x)
        xx = float(np.dot(x[mm], x[mm]))
        if xx <= 0:
            continue
        xy = float(np.dot(x[mm], y[mm]))
        if xy * xy / xx > best[0]:
            best = (xy * xy / xx, float(theta), xy / xx)
    _, theta, beta = best
    beta = float(np.clip(beta, 0.0, 1.0))
    f = np.log1p(1.0 / (1.0 + np.exp(-(rt - theta) / width)))
    fac = np.where(np.isfinite(f), np.exp(beta * f), np.nan)
    usable = np.isfinite(fac) & np.isfinite(ratio)
    norm = float(np.median(fac[usable])) if usable.any() else 1.0
    fac = np.where(np.isfinite(fac), fac / norm, 1.0)
    return ReplicationFit(score=score, theta=theta, beta=beta, factor=fac, n=int(m.sum()))


def flag_replicating(scores: np.ndarray, *, min_score: float = CYCLE_DEFAULTS["s_phase_min_score"],
                     min_z: float = CYCLE_DEFAULTS["s_phase_min_z"]) -> np.ndarray:
    """Cells whose replication score is high in absolute terms and stands out of the run's.

    The run's cells are mostly in G1/G2 (a proliferating line has 10-40 % in S, sorted CTCs
    fewer): their scores give the null — residual GC or mappability structure correlates
    with replication timing a little in every cell of a run — as a median and a robust SD
    (MAD, at least 0.02).  With fewer than 5 scored cells, only ``min_score`` applies.
    """
    s = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(s)
    flag = ok & (s >= min_score)
    if ok.sum() >= 5:
        med = float(np.median(s[ok]))
        sd = max(1.4826 * float(np.median(np.abs(s[ok] - med))), 0.02)
        flag &= (s - med) / sd >= min_z
    return flag
