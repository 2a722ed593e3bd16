"""Validation source ``kronos``: real 10x Genomics single cells (JEFF, HeLa S3) as count matrices.

Data: ``kronos-10x-jeff-hela/`` of the project's shared data (Gnan D. et al., Nat Commun
2022;13:2530, doi 10.1038/s41467-022-30043-x; exported from the Kronos scRT user-interface
repository, GPL-3; see shared/data/PROVENANCE.md).  Two lines, two 10x scCNV runs each:

=========  =====  =====================================================  =================
replicate  cells  line                                                   truth
=========  =====  =====================================================  =================
Jeff_rep1    952  JEFF, normal lymphoblastoid line, karyotype 2n         ploidy 2, no WGD
Jeff_rep2    503  (same)
HeLa_rep1    459  HeLa S3, hypertriploid (3n+) with many CNAs           ploidy 3, no WGD
HeLa_rep2    293  (same)
=========  =====  =====================================================  =================

The truth is what is known of the lines independently, not Kronos' own integer calls
(those are noisy: Kronos puts a median 34 % / 40 % of a JEFF cell's genome off 2n in rep1 /
rep2, and a sixth of the HeLa cells at a modal 2n); Kronos' mean ploidy is kept as
``kronos_mean_ploidy`` for comparison only.  JEFF is not flat either: the median JEFF cell
of both replicates carries a gain of most of chr15 and of part of chr8 and losses of parts
of chr10 and chr12 (clonal in the culture), so the base ploidy is 2 but no JEFF cell is a
normal-like flat profile.

Today's engine (e66c419, no controls, 84-98 cells per cohort; ``__main__``): called at the
line's ploidy JEFF rep1 69.5 %, rep2 63.0 %; HeLa rep1 93.7 %, rep2 93.9 %.

What is real and what is synthetic
----------------------------------
There are no raw read counts, only Kronos' per-cell segments on 20 kb bins (hg38, autosomes
only) with ``reads``, Kronos' normalised read depth of each segment.  Each cell becomes a
row of counts on ctcscope's built-in **hg38** bins (``load_genome("hg38", bin_size)``,
QDNAseq.hg38 bins, 500 kb by default):

1. *structure (real)*: the expected depth of a bin is the length-weighted mean of the
   ``reads`` of the segments overlapping it - the cell's copy-number changes, its
   replication state (S-phase cells' depth follows replication timing) and the real
   depth variation between its segments.  A Kronos segment's ``end`` is the start of its
   last 20 kb bin (checked: consecutive segments then abut, and the first segments of chr14,
   chr15 start right at the end of their p-arm gaps), so a segment spans ``[start, end +
   20 kb)``.  Kronos leaves out single 20 kb bins and gaps; a bin covered by segments over
   at least half its length takes their mean depth over its full length, a bin covered over
   less gets the depth of its covered part only (fewer reads, like a poorly mappable bin),
   an uncovered bin gets nothing.  Bins that fewer than 90 % of a replicate's cells cover
   over half their length, and chromosomes X and Y (absent from the Kronos tables), are
   marked unusable (``var['use'] = False``) on top of ctcscope's own rule.
2. *depth (real by default)*: each cell's total is its ``coverage_per_1Mbp`` times the Mb
   its segments cover (``reads="coverage"``).  That column is Kronos' reads per Mb: it is
   88.7 +- 1.3 times the cell's mean segment depth in every replicate, and gives 0.2-6 M
   reads per cell (medians 0.84 M, 2.3 M, 1.2 M and 2.9 M for the four replicates), the range
   of 10x scCNV runs.  ``reads`` may instead be a fixed total or a (low, high) range drawn
   log-uniformly per cell (e.g. ``(5e5, 2e6)``).
3. *noise (synthetic)*: counts are drawn from a negative binomial around the expectation
   (gamma-Poisson; variance ``mu + phi * mu**2``) with a per-cell over-dispersion ``phi``
   set so that the MAPD of the cell's counts (median absolute difference of neighbouring
   bins' log2 ratios, structure and noise together) is a value drawn uniformly from
   ``mapd`` (default 0.15-0.30, typical of 10x single cells at 500 kb).  The structure
   matters here: Kronos' segments are short (600-1200 per cell) and their depths differ,
   so 5-40 % of neighbouring 500 kb bins differ by > 0.05 in log2 before any noise is
   added, and a ``phi`` set for a flat profile (MAPD ~ 1.376 sqrt(1/mu + phi)) overshoots
   by ~0.05; ``phi`` is therefore found by bisection per cell.  ``__main__`` prints the
   MAPD ctcscope measures after its corrections.
4. *GC (synthetic, optional)*: Kronos' depths are already GC-normalised, mostly (a flat
   JEFF cell's depth still rises ~15 % from the lowest to the middle GC decile).  With
   ``gc_bias > 0`` (default 1) each cell's expectation is also multiplied by a mild random
   GC curve ``exp(a x + b x**2)``, ``x`` = bin GC minus the median GC, ``a ~ N(0, 1.5)``,
   ``b ~ N(-8, 4)`` (times ``gc_bias``): at most ~ +-20 % across the usable GC range, so
   ctcscope's GC correction has something to remove.

Truth columns: ``ploidy`` (2 or 3), ``wgd`` 0, ``score`` True for every cell; ``phase`` =
``"S"`` where Kronos' ``is_high_dimapd`` is TRUE, else ``"G1/G2"`` (unknown between those:
Kronos flags few cells, 2 of 952 JEFF rep1 cells, while the depth of many unflagged cells
follows replication timing - see ``rt_signal``); ``kronos_mean_ploidy``, ``is_noisy``
(Kronos' flags), ``coverage_per_1Mbp``, ``target_mapd`` and ``rt_signal``: the correlation,
GC held fixed, between the cell's log depth relative to the replicate's median G1 cell and
the hg38 replication-timing track (:func:`ctcscope.genome.replication_timing`); high in
S-phase cells.

Split (default, hold-out by replicate): ``rep1`` of each line is ``"tune"``, ``rep2`` is
``"holdout"``.  Cells of a replicate are shuffled with ``seed`` and cut into near-equal cohorts
of at most ``cells_per_cohort`` (``None``: one cohort per replicate); a cell's counts depend only on
``seed`` and the cell, not on how the cohorts are cut.  ``controls > 0`` adds that many
flat diploid pseudo-leukocytes (``sample_type="wbc"``, not scored) to each cohort: each is
the per-bin median depth of ``control_cells`` JEFF G1 cells of the same replicate number
(cells not in the cohort), divided by its running median over 25 usable bins of the same
chromosome (which removes the JEFF culture's own CNAs, e.g. the chr15 gain of rep1, while
keeping bin-to-bin structure), then drawn like a cell.

Run ``python benchmarks/validation/kronos_source.py`` for today's engine numbers.
"""
from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from ctcscope.genome.intervals import mean_over_bins

try:
    from .common import SPLITS, Cohort
except ImportError:  # run as a script or imported with benchmarks/validation on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import SPLITS, Cohort

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "kronos"
REPLICATES = ("Jeff_rep1", "Jeff_rep2", "HeLa_rep1", "HeLa_rep2")
TRUTH = {"Jeff": (2.0, 0.0), "HeLa": (3.0, 0.0)}  # line -> (base ploidy, WGD)
KRONOS_BIN = 20_000
MAPD_FACTOR = 1.376  # MAPD of log2 ratios = sqrt(2) * 0.6745 / ln 2 * SD of log ratio
MIN_CELL_COVER = 0.5  # a bin is covered by a cell's segments over at least this fraction
MIN_CELLS_COVER = 0.9  # ... in at least this fraction of a replicate's cells to be usable


def default_split(replicate: str) -> str:
    """Hold-out by replicate: ``rep1`` of each line tunes, ``rep2`` is held out."""
    return "tune" if replicate.endswith("rep1") else "holdout"


def default_data_dir() -> Path:
    """``$CTCSCOPE_SHARED_DATA``, else the ``shared/data`` folder next to the repository."""
    env = os.environ.get("CTCSCOPE_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


# ----------------------------------------------------------------------------- loading
@functools.lru_cache(maxsize=8)
def _genome(bin_size: int):
    from ctcscope.genome import load_genome

    return load_genome("hg38", bin_size)


@functools.lru_cache(maxsize=16)
def load_replicate(name: str, bin_size: int = 500_000, data_dir: str | None = None):
    """One replicate on ctcscope's hg38 bins: ``(depth, cover, cells)``.

    ``depth``: cells x bins mean Kronos depth of the covered part of each bin (NaN where
    uncovered); ``cover``: the covered fraction of each bin; ``cells``: Kronos' per-cell table
    (index ``Cell``), in file order.
    """
    d = Path(data_dir) if data_dir else default_data_dir()
    d = d / "kronos-10x-jeff-hela"
    if not (d / f"{name}_PerCell.tsv.gz").exists():
        raise FileNotFoundError(f"{d / (name + '_PerCell.tsv.gz')} not found; set data_dir or $CTCSCOPE_SHARED_DATA")
    cells = pd.read_csv(d / f"{name}_PerCell.tsv.gz", sep="\t").set_index("Cell")
    seg = pd.read_csv(d / f"{name}_CNV_segments_hg38.tsv.gz", sep="\t",
                      usecols=["Cell", "chr", "start", "end", "reads"], dtype={"chr": str})
    g = _genome(bin_size)
    off = g.chrom_offsets()
    bins = g.bins
    bs = bins.start.to_numpy(np.int64) + off.reindex(bins.chrom).to_numpy(np.int64)
    be = bs + (bins.end - bins.start).to_numpy(np.int64)
    chrom = seg["chr"].str.replace(r"^chr", "", regex=True)
    o = off.reindex(chrom).to_numpy(np.float64)
    seg = seg.assign(a=seg["start"].to_numpy() + o, b=seg["end"].to_numpy() + KRONOS_BIN + o)
    seg = seg[np.isfinite(o)].sort_values(["Cell", "a"])
    depth = np.full((len(cells), len(bins)), np.nan, dtype=np.float64)
    cover = np.zeros((len(cells), len(bins)), dtype=np.float64)
    row = {c: i for i, c in enumerate(cells.index)}
    width = (be - bs).astype(np.float64)
    for cell, s in seg.groupby("Cell", sort=False):
        a, b, r = s["a"].to_numpy(), s["b"].to_numpy(), s["reads"].to_numpy(np.float64)
        if np.any(a[1:] < b[:-1]):
            raise ValueError(f"{name}/{cell}: Kronos segments overlap; the [start, end + 20 kb) reading is wrong")
        i = row[cell]
        depth[i], dG = mean_over_bins(a, b, r, bs, be)
        cover[i] = dG / width
    return depth, cover, cells


def usable(bin_size: int, covers: Sequence[np.ndarray]) -> np.ndarray:
    """ctcscope's usable bins that (nearly) every cell of the given replicates covers."""
    from ctcscope.genome import AUTOSOMES

    g = _genome(bin_size)
    ok = g.bins.use.to_numpy(bool) & g.bins.chrom.isin(AUTOSOMES).to_numpy()
    for c in covers:
        ok &= (c >= MIN_CELL_COVER).mean(axis=0) >= MIN_CELLS_COVER
    return ok


def expected_depth(depth: np.ndarray, cover: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Expected reads per bin up to a factor: mean depth x bin width where covered over at
    least half the bin, the depth of the covered part only where less, 0 where uncovered."""
    d = np.nan_to_num(depth)
    return np.where(cover >= MIN_CELL_COVER, d * width, d * cover * width)


def _gc_curve(gc: np.ndarray, centre: float, rng: np.random.Generator, strength: float) -> np.ndarray:
    if strength <= 0:
        return np.ones_like(gc)
    a = rng.normal(0.0, 1.5 * strength)
    b = rng.normal(-8.0 * strength, 4.0 * strength)
    x = np.nan_to_num(gc - centre)
    return np.exp(np.clip(a * x + b * x * x, -1.0, 1.0))


def _mapd(x: np.ndarray, use: np.ndarray, chrom: np.ndarray) -> float:
    from ctcscope.cna.noise import mapd

    r = np.where(use & (x > 0), x / max(np.median(x[use]), 1e-9), np.nan)
    return mapd(r, chrom)


def draw_counts(mu: np.ndarray, total: float, target_mapd: float, use: np.ndarray, chrom: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Negative-binomial counts around ``mu`` scaled to ``total`` reads, over-dispersed so that
    the MAPD of the counts (structure and noise together, before any correction) is about
    ``target_mapd``; returns the counts and the over-dispersion ``phi`` (0 when the structure
    and Poisson noise alone already reach the target).

    ``phi`` is found by bisection with the noise seed held fixed, starting from the value that
    gives the target on a flat profile: ``(target / 1.376)**2 - 1 / median(mu)``.
    """
    mu = mu * (total / mu.sum())
    noise_seed = int(rng.integers(2**62))

    def draw(phi: float) -> np.ndarray:
        r = np.random.default_rng(noise_seed)
        lam = mu * r.gamma(1.0 / phi, phi, size=mu.size) if phi > 0 else mu
        return r.poisson(lam).astype(np.int64)

    m = float(np.median(mu[use & (mu > 0)]))
    flat = max((target_mapd / MAPD_FACTOR) ** 2 - 1.0 / m, 0.0)
    if _mapd(draw(0.0), use, chrom) >= target_mapd:
        return draw(0.0), 0.0
    lo, hi = 0.0, max(2.0 * flat, 1e-3)
    while _mapd(draw(hi), use, chrom) < target_mapd and hi < 4.0:
        lo, hi = hi, 2.0 * hi
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        if _mapd(draw(mid), use, chrom) < target_mapd:
            lo = mid
        else:
            hi = mid
    phi = 0.5 * (lo + hi)
    return draw(phi), phi


def _total(reads, coverage_per_mb: float, covered_mb: float, rng: np.random.Generator) -> float:
    if isinstance(reads, str):
        if reads != "coverage":
            raise ValueError(f"reads must be 'coverage', a number or a (low, high) range, not {reads!r}")
        return float(coverage_per_mb) * covered_mb
    if np.ndim(reads) == 0:
        return float(reads)
    lo, hi = reads
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _rt_signal(depth: np.ndarray, ref: np.ndarray, rt: np.ndarray, gc: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Per cell: corr(log depth / ref, RT) over usable bins with known RT, GC held fixed (cubic)."""
    ok = use & np.isfinite(rt) & np.isfinite(ref) & (ref > 0)

    def resid(v, m):
        c = np.polyfit(gc[m], v[m], 3)
        return v[m] - np.polyval(c, gc[m])

    out = np.full(len(depth), np.nan)
    t = resid(rt, ok)
    for i in range(len(depth)):
        with np.errstate(invalid="ignore", divide="ignore"):
            lr = np.log(depth[i] / ref)
        m = ok & np.isfinite(lr)
        if m.sum() < 50:
            continue
        out[i] = np.corrcoef(resid(lr, m), t[m[ok]])[0, 1]
    return out


def _controls(n: int, depth: np.ndarray, cells: pd.DataFrame, exclude: set, use: np.ndarray, chrom: np.ndarray,
              k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Flat diploid depth profiles from JEFF G1 cells (see the module docstring)."""
    pool = np.flatnonzero(~cells.is_high_dimapd.astype(bool).to_numpy()
                          & ~cells.is_noisy.astype("boolean").fillna(False).to_numpy(bool)
                          & ~cells.index.isin(list(exclude)))
    out = []
    for _ in range(n):
        pick = rng.choice(pool, size=min(k, pool.size), replace=False)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            norm = depth[pick] / np.nanmedian(depth[pick][:, use], axis=1, keepdims=True)
            prof = np.nanmedian(norm, axis=0)
        flat = np.full(prof.shape, np.nan)
        for c in pd.unique(chrom):
            idx = np.flatnonzero((chrom == c) & use & np.isfinite(prof))
            if idx.size == 0:
                continue
            run = pd.Series(prof[idx]).rolling(25, center=True, min_periods=1).median().to_numpy()
            flat[idx] = prof[idx] / run
        out.append(flat)
    return out


# ----------------------------------------------------------------------------- cohorts
def cohorts(*, split_of: Callable[[str], str] | Mapping[str, str] = default_split,
            splits: Sequence[str] = SPLITS, replicates: Sequence[str] = REPLICATES,
            cells_per_cohort: int | None = 100, max_cells: int | None = None, bin_size: int = 500_000,
            seed: int = 0, reads="coverage", mapd: tuple[float, float] = (0.15, 0.30), gc_bias: float = 1.0,
            controls: int = 0, control_cells: int = 15, drop_noisy: bool = False,
            data_dir: str | Path | None = None) -> Iterator[Cohort]:
    """Cohorts of real 10x JEFF/HeLa cells as count matrices (see the module docstring).

    Parameters
    ----------
    split_of : replicate name -> ``"tune"``/``"holdout"`` (function or mapping); default
        :func:`default_split` (rep1 tune, rep2 hold-out).
    splits : only yield cohorts of these splits (replicates of other splits are not loaded).
    replicates : which of :data:`REPLICATES`.
    cells_per_cohort : at most this many cells per cohort, a replicate being cut into
        near-equal cohorts (952 cells -> 10 of 95-96); ``None`` for one cohort per replicate.
    max_cells : at most this many cells of each replicate (after the seeded shuffle).
    bin_size : a built-in hg38 bin size (50, 100, 500 or 1000 kb).
    seed : cell order, noise, GC curves and control picks.
    reads : ``"coverage"`` (each cell's own depth), a total, or a ``(low, high)`` range.
    mapd : range of the per-cell target MAPD (uniform).
    gc_bias : strength of the synthetic per-cell GC curve (0: none).
    controls : flat diploid ``wbc`` pseudo-controls added to each cohort (not scored).
    control_cells : JEFF G1 cells whose median makes one control.
    drop_noisy : leave out the cells Kronos flags ``is_noisy``.
    data_dir : the shared data folder (default :func:`default_data_dir`).
    """
    from ctcscope.genome import replication_timing

    split_fn = split_of.__getitem__ if isinstance(split_of, Mapping) else split_of
    bad = [r for r in replicates if r not in REPLICATES]
    if bad:
        raise ValueError(f"unknown replicate(s) {bad}; choose from {REPLICATES}")
    dd = str(data_dir) if data_dir is not None else None
    g = _genome(int(bin_size))
    bins = g.bins
    gc = bins.gc.to_numpy(np.float64)
    width = (bins.end - bins.start).to_numpy(np.float64)
    chrom = bins.chrom.to_numpy()
    rt = replication_timing(g)
    for ri, rep in enumerate(REPLICATES):
        if rep not in replicates:
            continue
        split = split_fn(rep)
        if split not in SPLITS:
            raise ValueError(f"split_of({rep!r}) gave {split!r}; must be one of {SPLITS}")
        if split not in splits:
            continue
        line = rep.split("_")[0]
        ploidy, wgd = TRUTH[line]
        depth, cover, cells = load_replicate(rep, int(bin_size), dd)
        jeff = f"Jeff_{rep.split('_')[1]}"
        jdepth, jcover, jcells = load_replicate(jeff, int(bin_size), dd) if controls > 0 else (None, None, None)
        use = usable(int(bin_size), [cover] + ([jcover] if controls > 0 else []))
        var = g.to_var()
        var["use"] = use
        gc_centre = float(np.nanmedian(gc[use]))
        # replicate-level reference for rt_signal: median normalised depth of unflagged, non-noisy cells
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            norm = depth / np.nanmedian(np.where(use, depth, np.nan), axis=1, keepdims=True)
            flag_s = cells.is_high_dimapd.astype(bool).to_numpy()
            noisy = cells.is_noisy.astype("boolean").fillna(False).to_numpy(bool)
            ref = np.nanmedian(norm[~flag_s & ~noisy], axis=0)
        keep = np.flatnonzero(~noisy) if drop_noisy else np.arange(len(cells))
        order = keep[np.random.default_rng([seed, ri]).permutation(keep.size)]
        if max_cells is not None:
            order = order[: int(max_cells)]
        # near-equal cohorts of at most cells_per_cohort (no 3-cell remainder cohort)
        n_chunks = int(np.ceil(order.size / int(cells_per_cohort))) if cells_per_cohort else 1
        chunks = np.array_split(order, max(n_chunks, 1))
        for k, idx in enumerate(chunks):
            X, ids, rows = [], [], []
            for i in idx:
                rng = np.random.default_rng([seed, ri, int(i), 1])
                mu = expected_depth(depth[i], cover[i], width) * _gc_curve(gc, gc_centre, rng, gc_bias)
                target = float(rng.uniform(*mapd))
                covered_mb = float((cover[i] * width).sum() / 1e6)
                total = _total(reads, cells.coverage_per_1Mbp.iloc[i], covered_mb, rng)
                x, phi = draw_counts(mu, total, target, use, chrom, rng)
                X.append(x)
                c = cells.iloc[i]
                ids.append(f"{rep}:{cells.index[i].removesuffix('.bam')}")
                rows.append(dict(ploidy=ploidy, wgd=wgd, score=True, phase="S" if bool(c.is_high_dimapd) else "G1/G2",
                                 kronos_mean_ploidy=float(c.mean_ploidy),
                                 is_noisy=(bool(c.is_noisy) if pd.notna(c.is_noisy) else np.nan),
                                 coverage_per_1Mbp=float(c.coverage_per_1Mbp), target_mapd=target, phi=phi,
                                 sample_type="ctc"))
            if controls > 0:
                crng = np.random.default_rng([seed, ri, k, 2])
                exclude = set(cells.index[idx]) if line == "Jeff" else set()
                for j, flat in enumerate(_controls(int(controls), jdepth, jcells, exclude, use,
                                                        chrom, int(control_cells), crng)):
                    mu = expected_depth(flat, np.where(np.isfinite(flat), 1.0, 0.0), width)
                    mu = mu * _gc_curve(gc, gc_centre, crng, gc_bias)
                    target = float(crng.uniform(*mapd))
                    total = _total(reads, float(np.median(jcells.coverage_per_1Mbp)),
                                   float((cover[idx[0]] * width).sum() / 1e6) if len(idx) else 2800.0, crng)
                    x, phi = draw_counts(mu, total, target, use, chrom, crng)
                    X.append(x)
                    ids.append(f"{rep}:wbc{k:02d}_{j:02d}")
                    rows.append(dict(ploidy=2.0, wgd=0.0, score=False, phase="G1", kronos_mean_ploidy=np.nan,
                                     is_noisy=np.nan, coverage_per_1Mbp=np.nan, target_mapd=target, phi=phi,
                                     sample_type="wbc"))
            truth = pd.DataFrame(rows, index=ids)
            obs = pd.DataFrame({"sample_type": truth.pop("sample_type").to_numpy(), "patient": rep,
                                "pool_size": 1, "line": line, "replicate": rep}, index=ids)
            is_cell = (obs.sample_type == "ctc").to_numpy()
            sig = np.full(len(ids), np.nan)
            sig[is_cell] = _rt_signal(depth[idx], ref, rt, gc, use)
            truth["rt_signal"] = sig
            adata = ad.AnnData(X=None, obs=obs, var=var)
            adata.layers["counts"] = np.vstack(X).astype(np.int32)
            name = rep if cells_per_cohort is None else f"{rep}_{k + 1:02d}"
            yield Cohort(source=SOURCE, name=name, split=split, adata=adata, truth=truth, cn=None,
                         note=(f"{rep}: real 10x cells (Gnan et al. 2022) from Kronos segment depths on hg38 "
                               f"{bin_size // 1000} kb bins; NB noise synthetic (MAPD {mapd[0]}-{mapd[1]}), "
                               f"GC curve {'x' + str(gc_bias) if gc_bias else 'none'}; truth = the line's known "
                               f"karyotype ({int(ploidy)}n, no WGD); phase S = Kronos is_high_dimapd"),
                         params={})


# ----------------------------------------------------------------------------- __main__
def _summarise(res: pd.DataFrame) -> None:
    """Per replicate: agreement with the truth ploidy, WGD rate, by S-phase flag, confidence of wrong calls."""
    pd.set_option("display.width", 200)
    cells = res[res.score]
    for rep, d in cells.groupby("replicate", sort=False):
        ok = d.ploidy_called == d.ploidy
        print(f"\n== {rep} ({d.split.iloc[0]}): {len(d)} cells, truth {int(d.ploidy.iloc[0])}n; "
              f"MAPD measured median {d.mapd.median():.3f} (IQR {d.mapd.quantile(.25):.3f}-{d.mapd.quantile(.75):.3f}); "
              f"QC pass {d.qc_pass.mean():.1%}")
        print(f"   called at the truth ploidy: {ok.mean():.1%}   (QC-passed cells: {ok[d.qc_pass].mean():.1%} of "
              f"{int(d.qc_pass.sum())})   called WGD: {d.wgd_called.mean():.1%}")
        print("   called ploidy: " + ", ".join(f"{int(k)}n {v:.1%}" for k, v in
                                               d.ploidy_called.value_counts(normalize=True).sort_index().items()))
        for ph, e in d.groupby("phase"):
            okp = e.ploidy_called == e.ploidy
            print(f"   phase {ph:<5}: n={len(e):>4}  at truth {okp.mean():.1%}  WGD {e.wgd_called.mean():.1%}  "
                  f"calls " + ", ".join(f"{int(k)}n:{v}" for k, v in e.ploidy_called.value_counts().sort_index().items()))
        hi = d.rt_signal >= 0.3
        print(f"   rt_signal >= 0.3 (S-like depth, {hi.mean():.0%} of cells): at truth {ok[hi].mean():.1%}; "
              f"< 0.3: {ok[~hi].mean():.1%}")
        w = d[~ok]
        if len(w):
            conf = w.ploidy_confidence
            print(f"   wrong calls: {len(w)}; basis " + ", ".join(f"{k}: {v}" for k, v in w.ploidy_basis.value_counts().items() if v))
            fin = conf.dropna()
            if len(fin):
                q = fin.quantile([0.1, 0.25, 0.5, 0.75, 0.9])
                print(f"   ploidy_confidence of wrong calls (n={len(fin)}, NaN {conf.isna().sum()}): "
                      + ", ".join(f"q{int(100 * k)} {v:.2f}" for k, v in q.items())
                      + f"; >= 0.9: {(fin >= 0.9).mean():.0%}, >= 0.99: {(fin >= 0.99).mean():.0%}")
        r = d[ok].ploidy_confidence.dropna()
        if len(r):
            print(f"   ploidy_confidence of right calls (n={len(r)}): median {r.median():.2f}, >= 0.9: {(r >= 0.9).mean():.0%}")


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    import argparse
    import time

    from ctcscope.cna import call_copy_number

    ap = argparse.ArgumentParser(description="Run ctcscope's copy-number engine on the Kronos 10x cohorts")
    ap.add_argument("--cells-per-cohort", type=int, default=100)
    ap.add_argument("--max-cells", type=int, default=None, help="per replicate")
    ap.add_argument("--controls", type=int, default=0)
    ap.add_argument("--bin-size", type=int, default=500_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gc-bias", type=float, default=1.0)
    ap.add_argument("--replicates", nargs="*", default=list(REPLICATES))
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", type=Path, default=None, help="write the per-cell table (TSV) here")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    parts = []
    t0 = time.time()
    for co in cohorts(cells_per_cohort=a.cells_per_cohort, max_cells=a.max_cells, controls=a.controls,
                      bin_size=a.bin_size, seed=a.seed, gc_bias=a.gc_bias, replicates=a.replicates,
                      data_dir=a.data_dir):
        t = time.time()
        out = call_copy_number(co.adata, workers=a.workers, quiet=True, **co.params)
        o = out.obs
        df = co.truth.copy()
        df["cohort"], df["split"], df["replicate"] = co.name, co.split, o["replicate"].to_numpy()
        df["ploidy_called"] = o["ploidy"].astype("float").to_numpy()
        df["wgd_called"] = o["wgd"].astype(bool).to_numpy()
        for col in ("ploidy_confidence", "ploidy_basis", "wgd_probability", "mapd", "qc_pass", "reads", "mean_cn"):
            df[col] = o[col].to_numpy()
        df["ploidy_basis"] = df["ploidy_basis"].astype(str)
        parts.append(df)
        print(f"{co.name}: {co.adata.n_obs} samples, {time.time() - t:.0f} s", flush=True)
    res = pd.concat(parts)
    print(f"total {time.time() - t0:.0f} s")
    if a.out:
        res.to_csv(a.out, sep="\t")
    _summarise(res)
    return res


if __name__ == "__main__":
    main()


def cohorts_for_split(split: str, *, quick: bool = False, max_cells: int = 200) -> Iterator[Cohort]:
    """The cohorts of one split for benchmarks/validate_ploidy.py: ``max_cells`` cells of each
    replicate of the split (rep1 tune, rep2 held out), in cohorts of at most 100 (quick: 100
    cells of each replicate)."""
    yield from cohorts(splits=(split,), max_cells=100 if quick else max_cells, cells_per_cohort=100)
