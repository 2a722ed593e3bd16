"""Quality control of each sample, and detection of normal-like (flat) profiles.

Pass/fail rules (:data:`QC_DEFAULTS`; every failed rule is named in ``qc_reason``):

- ``reads < min_reads`` (default 50,000): too few reads in usable bins to call copy number
  at the bin size (single-cell studies at 0.5-2 M reads; below ~50 k reads even 500 kb bins
  hold a handful of reads).
- ``mapd > max_mapd`` (default 0.45 at ``mapd_bin_size`` = 500 kb bins, scaled to the run's
  bin size by :func:`mapd_limit`): neighbouring-bin noise so high that single-copy changes of
  a 2n cell (a log2 step of 0.58) are no longer separable from noise.  The study's libraries
  lie at 0.15-0.35 at 500 kb.  MAPD is a per-bin figure: at a given read depth, read-count
  noise per bin falls as 1/sqrt(reads per bin), i.e. as 1/sqrt(bin size), while what the rule
  protects — the precision of a segment's mean over a given stretch of genome, which holds
  bin size / bin-length-many bins — depends on MAPD × sqrt(bin size) only.  The limit is
  therefore ``max_mapd × sqrt(mapd_bin_size / bin size)``: 1.01 at 100 kb (a cell of ~330 k
  reads there has MAPD ≈ 0.6, ≈ 0.3 at 500 kb: the same cell), 0.32 at 1 Mb.
- ``usable_bins < min_usable_fraction`` of the genome's usable bins (default 0.8): most of
  the genome has no signal (empty WGA product, failed library).
- ``n_segments > max_segments_per_100mb`` (default 20 per 100 Mb of usable genome):
  a hyper-segmented profile is noise, not copy number.
- ``ploidy could not be called``: no autosomal signal at all.

``normal_like`` (the study found five "CTCs" with flat profiles like the leukocyte controls,
probably normal epithelial cells): a profile is flat when the fraction of its usable
autosomal genome in segments (of at least ``flat_min_bins`` bins) that stand out from the
sample's median level — by more than ``flat_delta`` (0.25 = half a copy of a 2n genome) or
by more than ``flat_z`` (3) standard deviations of the segment mean under the sample's noise
and the run's waviness, whichever is smaller — is below
``flat_max_fraction`` (default 0.01) — or, when the run has normal controls, below the
largest such fraction seen among them (plus 0.01, at most ``flat_cap`` = 0.05), so the
threshold adapts to the run's noise.  A sample is normal-like as well when its ploidy
posterior puts at least ``flat_min_posterior`` (0.5) of its mass on solutions with nothing
altered, or when it is called 2n with at most ``flat_max_fga`` (0.5 %) of its genome altered,
or at another ploidy with at most ``flat_max_fga_other`` (4 %) altered: a profile (almost)
entirely at its base level carries no information on what that base is, and a few short noise
segments can make a finer lattice (5n) fit them better than 2n.
Normal-like cells are called 2n (a flat profile fits any ploidy; they are most probably normal
diploid cells); their ploidy confidence, runner-up and P(WGD) are not reported (NaN), since
read depth cannot tell (the read-depth posterior stays in ``obsm['ploidy_posterior']``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..genome.names import AUTOSOMES

#: Default QC thresholds (recorded in ``uns['ctcscope']``).
QC_DEFAULTS = dict(min_reads=50_000, max_mapd=0.45, mapd_bin_size=500_000, min_usable_fraction=0.8, max_segments_per_100mb=20.0,
                   flat_delta=0.25, flat_z=3.0, flat_min_bins=3, flat_max_fraction=0.01, flat_cap=0.05,
                   flat_max_fga=0.005, flat_max_fga_other=0.04, flat_min_posterior=0.5)


def mapd_limit(bin_size: float, *, max_mapd: float = QC_DEFAULTS["max_mapd"],
               mapd_bin_size: float = QC_DEFAULTS["mapd_bin_size"]) -> float:
    """The MAPD limit at bins of ``bin_size`` bp: ``max_mapd`` holds at ``mapd_bin_size`` and
    scales with sqrt(mapd_bin_size / bin_size) (per-bin noise ∝ 1/sqrt(reads per bin))."""
    if not bin_size > 0:
        return float(max_mapd)
    return float(max_mapd * np.sqrt(mapd_bin_size / bin_size))


def qc(*, reads: float, mapd: float, usable_bins: int, genome_usable_bins: int, n_segments: int,
       usable_mb: float, ploidy_called: bool, min_reads: int = QC_DEFAULTS["min_reads"],
       max_mapd: float = QC_DEFAULTS["max_mapd"], min_usable_fraction: float = QC_DEFAULTS["min_usable_fraction"],
       max_segments_per_100mb: float = QC_DEFAULTS["max_segments_per_100mb"]) -> tuple[bool, str]:
    """Pass/fail of one sample and the ``;``-joined reasons for a failure (``""`` if passed)."""
    reasons = []
    if not reads >= min_reads:
        reasons.append(f"reads {int(reads)} < {min_reads}")
    if not (np.isfinite(mapd) and mapd <= max_mapd):
        reasons.append(f"MAPD {mapd:.2f} > {max_mapd}" if np.isfinite(mapd) else "MAPD not computable")
    if usable_bins < min_usable_fraction * genome_usable_bins:
        reasons.append(f"usable bins {usable_bins} < {min_usable_fraction:.0%} of {genome_usable_bins}")
    if usable_mb > 0 and n_segments > max_segments_per_100mb * usable_mb / 100.0:
        reasons.append(f"{n_segments} segments (> {max_segments_per_100mb:g} per 100 Mb): hyper-segmented")
    if not ploidy_called:
        reasons.append("ploidy could not be called")
    return (not reasons), "; ".join(reasons)


def flat_fraction(segments: pd.DataFrame, noise=None, wave=None, *, delta: float = QC_DEFAULTS["flat_delta"],
                  z: float = QC_DEFAULTS["flat_z"], min_bins: int = QC_DEFAULTS["flat_min_bins"]) -> float:
    """Fraction of usable autosomal bins in segments that stand out from the sample's median
    level: by more than ``delta`` (relative), or — given the sample's ``noise`` and ``wave``
    models — by more than ``z`` standard deviations of a segment mean (sampling noise plus
    waviness over the segment's span), whichever is smaller, but never less than a quarter
    of ``delta``.  Segments shorter than ``min_bins`` bins are ignored.  0 = flat profile.

    The significance rule matters for high-ploidy cells, whose single-copy changes are small
    relative steps (1/5 at 5n) that a fixed threshold would miss.
    """
    seg = segments[segments["chrom"].astype(str).isin(AUTOSOMES)]
    if seg.empty:
        return float("nan")
    m = seg["seg_mean"].to_numpy(dtype=np.float64)
    n = seg["n_bins"].to_numpy(dtype=np.float64)
    ok = np.isfinite(m) & (n > 0)
    m, n = m[ok], n[ok]
    if n.sum() == 0:
        return float("nan")
    order = np.argsort(m)
    cum = np.cumsum(n[order])
    med = m[order][np.searchsorted(cum, cum[-1] / 2.0)]
    if not med > 0:
        return 1.0
    thr = np.full(m.size, delta)
    if noise is not None:
        var = noise.bin_var(np.maximum(m, 0.0)) / n / med ** 2
        if wave is not None and {"start", "end"} <= set(seg.columns):
            span = ((seg["end"] - seg["start"]).to_numpy(dtype=np.float64)[ok]) / 1e6
            var = var + wave.sd ** 2 * wave.mean_var_factor(span) * (m / med) ** 2
        thr = np.clip(z * np.sqrt(var), delta / 4.0, delta)
    off = (np.abs(m / med - 1.0) > thr) & (n >= min_bins)
    return float(n[off].sum() / n.sum())


def normal_like(flat: np.ndarray, is_control: np.ndarray, *, max_fraction: float = QC_DEFAULTS["flat_max_fraction"],
                cap: float = QC_DEFAULTS["flat_cap"]) -> np.ndarray:
    """Which samples have flat profiles like the run's normal controls.

    ``flat`` holds :func:`flat_fraction` per sample and ``is_control`` marks the normal
    controls (``wbc``, ``germline``, ``normal``); controls themselves are normal-like by
    definition.  The cut-off is ``max_fraction``, raised to the largest flat fraction among
    the controls (+ 0.01) when they are noisier than that, but never above ``cap`` (one odd
    control must not make every tumour cell look normal).
    """
    flat = np.asarray(flat, dtype=np.float64)
    is_control = np.asarray(is_control, dtype=bool)
    cut = max_fraction
    ctrl = flat[is_control & np.isfinite(flat)]
    if ctrl.size:
        cut = min(max(cut, float(ctrl.max()) + 0.01), max(cap, max_fraction))
    return is_control | (np.isfinite(flat) & (flat <= cut))
