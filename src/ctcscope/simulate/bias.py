"""The technical bias of single-cell Ampli1 WGA + low-pass sequencing, term by term.

Expected reads of sample *s* in bin *b*::

    E[n_sb] = N_s * w_sb / sum_b w_sb
    w_sb    = cn_sb * eff_b * locus_b * gc_s(gc_b) * wave_s(b)

and ``n_sb ~ Poisson(E[n_sb] * G_sb)`` with ``G_sb ~ Gamma(1/phi_s, phi_s)``.  Why each term:

``eff_b`` (bases x mappability)
    Reads that align with MAPQ >= 30 come only from sequenced, uniquely mappable bases.
``locus_b`` (shared by every sample of a run; fixed by the run seed)
    Ampli1 is a deterministic restriction-adaptor PCR: MseI (TTAA) cuts the genome at the
    same sites in every cell, and each fragment amplifies with its own efficiency.  We place
    amplifiable fragments at fixed positions (density ~ ``sites_per_mb``, higher in AT-rich
    bins where TTAA is more frequent) with heavy-tailed (log-normal, ``site_sigma``)
    efficiencies; a bin's locus factor is the sum over its fragments.  Reads stack at those
    fragment ends in every cell (what :mod:`ctcscope.simulate.bam` writes), and the pattern is
    shared within a run, which is why a panel of the run's own normal controls corrects it.
``gc_s`` (per cell, curved)
    Amplification and library PCR favour some GC contents over others, by a curve that
    differs from cell to cell: a run-level Ampli1 trend plus random linear, quadratic and
    cubic terms (orthogonal polynomials of GC, so the terms do not trade off).
``wave_s`` (per cell, long range)
    Smooth genome-wide undulation seen in single-cell WGA data (uneven amplification of
    large domains, replication state): Gaussian-smoothed noise on a 1 Mb grid with a
    correlation length of ``wave_mb``, independent of the bin size.
``G_sb`` (over-dispersion)
    Cell-specific WGA noise (dropout and uneven amplification of fragments) makes counts
    more variable than Poisson; ``phi_s`` is solved so that the sample's MAPD (median
    absolute pairwise difference of log2 ratios of neighbouring bins) hits its target:
    single cells 0.15-0.35, pools and bulk DNA lower.
Blacklisted, unusable bins
    pile up extra reads (satellites, collapsed repeats), as in real data; they are masked
    by ``var.use`` downstream.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from ..genome import Genome
from .design import Bias

#: MAPD of Gaussian log2 noise with SD sigma is  MAPD_FACTOR * sigma  (median of |N(0, 2 sigma^2)|).
MAPD_FACTOR = 0.6744897501960817 * np.sqrt(2.0)
GC_CENTRE, GC_HALF = 0.42, 0.15


@dataclass
class RunBias:
    """Bias shared by all samples of a run (fixed by the run seed)."""

    eff: np.ndarray          # bases x mappability per bin (0 where nothing maps)
    locus: np.ndarray        # Ampli1 locus factor per bin (mean 1 over usable bins)
    boost: np.ndarray        # blacklist pile-up factor per bin (1 for usable bins)
    site_bin: np.ndarray     # bin of each amplified fragment (sorted by bin, then position)
    site_start: np.ndarray   # 0-based fragment start
    site_len: np.ndarray     # fragment length
    site_weight: np.ndarray  # amplification efficiency of each fragment
    gc_run: np.ndarray       # run-level GC coefficients (3,)
    gc_terms: np.ndarray     # gc_basis of the bins (n_bins, 3)
    wave_run: np.ndarray | None = None  # the run's shared waviness per bin (unit SD; None: not shared)

    @property
    def n_sites(self) -> int:
        return len(self.site_start)


def gc_basis(gc: np.ndarray) -> np.ndarray:
    """Orthogonal (on [-1, 1]) linear, quadratic, cubic terms of scaled GC; shape (n_bins, 3)."""
    t = np.clip((np.nan_to_num(gc, nan=GC_CENTRE) - GC_CENTRE) / GC_HALF, -1.0, 1.0)
    return np.stack([t, t * t - 1.0 / 3.0, t ** 3 - 0.6 * t], axis=1)


def run_bias(genome: Genome, bias: Bias, rng: np.random.Generator, min_fragment: int = 150) -> RunBias:
    """Draw the run-level bias: Ampli1 fragment positions/efficiencies and the locus factor."""
    b = genome.bins
    start = b.start.to_numpy(np.int64)
    end = b.end.to_numpy(np.int64)
    width = end - start
    bases = b.bases.fillna(0).to_numpy(float) if "bases" in b else np.ones(len(b))
    mapp = b.mappability.fillna(0).to_numpy(float) if "mappability" in b else np.ones(len(b))
    gc = b.gc.to_numpy(float) if "gc" in b else np.full(len(b), GC_CENTRE)
    eff = np.clip(bases, 0, 1) * np.clip(mapp, 0, 1)
    use = b.use.to_numpy(bool) if "use" in b else eff > 0

    # TTAA is commoner in AT-rich DNA: more MseI fragments there (softened: size selection).
    at = np.clip(1 - np.nan_to_num(gc, nan=GC_CENTRE), 0.2, 0.8) / (1 - GC_CENTRE)
    expected = bias.sites_per_mb * width / 1e6 * bases * at ** 2
    n = rng.poisson(expected)
    # fragments must fit inside their bin so every read of a fragment counts in that bin
    n[width < 2 * min_fragment] = 0
    site_bin = np.repeat(np.arange(len(b)), n)
    flen = rng.integers(min_fragment, np.minimum(1500, width[site_bin] // 2) + 1, dtype=np.int64)
    room = width[site_bin] - flen
    site_start = start[site_bin] + (rng.random(len(site_bin)) * room).astype(np.int64)
    # site_bin is sorted by construction (np.repeat over bins): the BAM writer relies on it
    s = bias.site_sigma
    weight = rng.lognormal(-s * s / 2, s, len(site_bin))
    # locus factor = amplified material relative to a uniform fragment density (the AT
    # preference and the per-fragment efficiencies), median 1 over usable bins
    uniform = bias.sites_per_mb * width / 1e6 * bases
    total = np.bincount(site_bin, weights=weight, minlength=len(b))
    locus = np.where(uniform > 0, total / np.maximum(uniform, 1e-12), 0.0)
    med = np.median(locus[use & (locus > 0)]) if (use & (locus > 0)).any() else 1.0
    locus = locus / med

    boost = np.ones(len(b))
    bl = b.blacklist.fillna(0).to_numpy(float) if "blacklist" in b else np.zeros(len(b))
    bad = (~use) & (bl > 0.25)
    boost[bad] += bias.blacklist_boost * bl[bad] * rng.lognormal(0.0, 0.7, bad.sum())
    # drawn last, so the fragments above do not depend on it
    wave_run = waviness(genome_position_mb(genome), 1.0, bias.wave_mb, rng) if bias.wave_shared > 0 else None
    return RunBias(eff=eff, locus=locus, boost=boost, site_bin=site_bin.astype(np.int32),
                   site_start=site_start, site_len=flen.astype(np.int32), site_weight=weight.astype(np.float32),
                   gc_run=np.asarray(bias.gc_run, float), gc_terms=gc_basis(gc), wave_run=wave_run)


@dataclass
class CellBias:
    gc_coef: np.ndarray   # (3,) cell GC coefficients (run trend included)
    wave_sd: float
    wave: np.ndarray      # log-waviness per bin
    mapd_target: float
    phi: float            # gamma over-dispersion (variance inflation over Poisson: var = mu + phi mu^2)
    reads: int


def genome_position_mb(genome: Genome) -> np.ndarray:
    """Genome-wide bin midpoints in Mb (chromosomes laid end to end in genome order)."""
    off = genome.chrom_offsets()
    b = genome.bins
    return ((b.start.to_numpy() + b.end.to_numpy()) / 2 + off.reindex(b.chrom).fillna(0).to_numpy()) / 1e6


def waviness(pos_mb: np.ndarray, sd: float, scale_mb: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth log-scale undulation with SD ``sd`` and correlation length ``scale_mb``."""
    grid = np.arange(0.0, pos_mb.max() + 2.0, 1.0)
    z = gaussian_filter1d(rng.standard_normal(len(grid)), sigma=max(scale_mb, 1.0), mode="reflect")
    z = (z - z.mean()) / (z.std() or 1.0)
    return sd * np.interp(pos_mb, grid, z)


def locus_noise_var(locus: np.ndarray, use: np.ndarray) -> float:
    """Half the variance of neighbouring-bin log differences of the locus factor (what it
    adds to a MAPD), robustly estimated."""
    v = np.log(locus[use & (locus > 0)])
    if v.size < 3:
        return 0.0
    d = np.diff(v)
    sd = 1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2)
    return float(sd * sd)


def solve_phi(mapd_target: float, mean_reads_per_bin: float, locus_var: float) -> float:
    """Gamma over-dispersion giving ``mapd_target`` on top of Poisson and locus noise."""
    sigma_nat = mapd_target / MAPD_FACTOR * np.log(2.0)
    rest = sigma_nat ** 2 - 1.0 / max(mean_reads_per_bin, 1e-9) - locus_var
    if rest <= 0:
        return 0.0  # the depth and the locus bias alone are noisier than the target
    # var(log G) for G ~ Gamma(1/phi, phi) is trigamma(1/phi) (~ phi when phi is small)
    from scipy.optimize import brentq
    from scipy.special import polygamma

    return float(brentq(lambda phi: float(polygamma(1, 1.0 / phi)) - rest, 1e-8, 50.0))


def cell_bias(genome: Genome, bias: Bias, run: RunBias, rng: np.random.Generator, *, reads: int,
              mapd_target: float, pos_mb: np.ndarray, expected_cn_weight: np.ndarray,
              n_cells: float = 1.0) -> CellBias:
    """Draw one sample's GC curve, waviness and over-dispersion.

    ``expected_cn_weight``: the sample's bias-free weights (cn x eff x locus), used to know
    its reads per usable bin when solving the over-dispersion for the MAPD target.
    ``n_cells``: cells amplified together (pools; bulk DNA counts as many): the sample's
    private waviness averages over them (``bias.wave_pool_average``), the run's shared part
    does not.
    """
    coef = run.gc_run + rng.normal(0.0, 1.0, 3) * np.asarray(bias.gc_sd)
    lo, hi = bias.wave_sd
    wsd = float(rng.uniform(lo, hi))
    own = waviness(pos_mb, 1.0, bias.wave_mb, rng)
    rho = float(bias.wave_shared) if run.wave_run is not None else 0.0
    k = max(float(n_cells), 1.0) if bias.wave_pool_average else 1.0
    wave = wsd * np.sqrt(1.0 - rho) / np.sqrt(k) * own
    if rho > 0:
        wave = wave + wsd * np.sqrt(rho) * run.wave_run
    use = genome.bins.use.to_numpy(bool)
    tot = expected_cn_weight.sum()
    lam = reads * expected_cn_weight / tot if tot > 0 else np.zeros_like(expected_cn_weight)
    lam_use = lam[use & (lam > 0)]
    mean_per_bin = float(np.median(lam_use)) if lam_use.size else 0.0
    phi = solve_phi(mapd_target, mean_per_bin, locus_noise_var(run.locus, use))
    return CellBias(gc_coef=coef, wave_sd=wsd, wave=wave, mapd_target=float(mapd_target), phi=phi, reads=int(reads))


def bias_weights(genome: Genome, run: RunBias, cell: CellBias) -> np.ndarray:
    """Per-bin multiplicative technical factor of one sample (everything but copy number)."""
    gcf = np.exp(run.gc_terms @ cell.gc_coef)
    return run.eff * run.locus * run.boost * gcf * np.exp(cell.wave)


def draw_counts(mean: np.ndarray, phi: float, rng: np.random.Generator) -> np.ndarray:
    """Gamma-Poisson (negative binomial) counts with mean ``mean`` and ``var = mean + phi mean^2``."""
    lam = mean
    if phi > 0:
        lam = mean * rng.gamma(1.0 / phi, phi, size=mean.shape)
    return rng.poisson(lam).astype(np.int64)


def bias_table(cells: dict[str, CellBias]) -> pd.DataFrame:
    """Per-sample bias parameters as a table (for the truth)."""
    return pd.DataFrame({
        "sample_id": list(cells),
        "reads_target": [c.reads for c in cells.values()],
        "mapd_target": [c.mapd_target for c in cells.values()],
        "phi": [c.phi for c in cells.values()],
        "gc_linear": [c.gc_coef[0] for c in cells.values()],
        "gc_quadratic": [c.gc_coef[1] for c in cells.values()],
        "gc_cubic": [c.gc_coef[2] for c in cells.values()],
        "wave_sd": [c.wave_sd for c in cells.values()],
    })
