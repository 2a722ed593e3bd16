"""Segmentation of corrected ratios into regions of constant copy number.

Two established change-point methods are implemented with numba, both minimising the
Gaussian (L2) cost of a piecewise-constant mean plus a penalty per change point, on the
variance-stabilised scale of :func:`ctcscope.cna.noise.vst` (unit noise variance at any copy
number, finite at zero reads):

- ``pelt``: the exact optimum by Pruned Exact Linear Time (Killick, Fearnhead & Eckley 2012,
  JASA 107:1590, doi:10.1080/01621459.2012.737745); gives the same change points as
  ``ruptures.Pelt(model="l2")`` (checked in the tests) at a fraction of the time.
- ``binseg``: greedy binary segmentation (Scott & Knott 1974; as in ``ruptures.Binseg``),
  stopping when the best split no longer pays its penalty.

The default (``pelt``) was chosen by breakpoint precision/recall on simulated cells with
known truth: see ``benchmarks/accuracy_cna.py`` and the figures in ``docs/cna.md``.

The penalty per change point is ``beta * sigma**2 * log(n)`` (a BIC-type penalty with a
robust noise estimate ``sigma`` from neighbouring-bin differences), so it adapts to each
cell's noise.  Chromosomes are segmented independently.
"""
from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from .noise import NoiseModel, estimate_noise, vst

#: Default parameters of :func:`segment` (recorded in ``uns['ctcscope']``).
SEGMENT_DEFAULTS = dict(method="pelt", beta=3.0, min_size=1, focal_z=1.0, focal_mb=3.0)

METHODS = ("pelt", "binseg")


@numba.njit(cache=True)
def _pelt_l2(y, pen, min_size):
    """Change points (segment ends, exclusive, last = n) of the penalised L2 optimum."""
    n = y.shape[0]
    s1 = np.zeros(n + 1)
    s2 = np.zeros(n + 1)
    for i in range(n):
        s1[i + 1] = s1[i] + y[i]
        s2[i + 1] = s2[i] + y[i] * y[i]
    F = np.full(n + 1, np.inf)
    F[0] = -pen
    last = np.zeros(n + 1, dtype=np.int64)
    cand = np.empty(n + 1, dtype=np.int64)
    ncand = 0
    costs = np.empty(n + 1)
    for t in range(min_size, n + 1):
        # the newest admissible change point becomes a candidate
        snew = t - min_size
        if snew == 0 or snew >= min_size:
            cand[ncand] = snew
            ncand += 1
        best = np.inf
        arg = 0
        for c in range(ncand):
            s = cand[c]
            m = t - s
            d = s1[t] - s1[s]
            cost = (s2[t] - s2[s]) - d * d / m
            v = F[s] + cost + pen
            costs[c] = F[s] + cost
            if v < best:
                best = v
                arg = s
        F[t] = best
        last[t] = arg
        # prune candidates that can never be optimal again (Killick et al. 2012, eq. 4)
        k = 0
        for c in range(ncand):
            if costs[c] <= best:
                cand[k] = cand[c]
                k += 1
        ncand = k
    # backtrack
    out = np.empty(n, dtype=np.int64)
    k = 0
    t = n
    while t > 0:
        out[k] = t
        k += 1
        t = last[t]
    res = out[:k][::-1].copy()
    return res


@numba.njit(cache=True)
def _best_split(s1, s2, a, b, min_size):
    """Best single split of y[a:b]: (gain, position)."""
    m = b - a
    tot = (s2[b] - s2[a]) - (s1[b] - s1[a]) ** 2 / m
    best = 0.0
    pos = -1
    for t in range(a + min_size, b - min_size + 1):
        l1 = s1[t] - s1[a]
        r1 = s1[b] - s1[t]
        c = (s2[b] - s2[a]) - l1 * l1 / (t - a) - r1 * r1 / (b - t)
        g = tot - c
        if g > best:
            best = g
            pos = t
    return best, pos


@numba.njit(cache=True)
def _binseg_l2(y, pen, min_size):
    n = y.shape[0]
    s1 = np.zeros(n + 1)
    s2 = np.zeros(n + 1)
    for i in range(n):
        s1[i + 1] = s1[i] + y[i]
        s2[i + 1] = s2[i] + y[i] * y[i]
    bounds = np.zeros(n + 1, dtype=np.int64)
    bounds[0] = 0
    bounds[1] = n
    nb = 2
    # gains of splitting each current segment (recomputed only for new segments)
    gain = np.full(n + 1, -1.0)
    gpos = np.full(n + 1, -1, dtype=np.int64)
    g, p = _best_split(s1, s2, 0, n, min_size)
    gain[0] = g
    gpos[0] = p
    while True:
        best = -1.0
        bi = -1
        for i in range(nb - 1):
            if gain[i] > best:
                best = gain[i]
                bi = i
        if bi < 0 or best <= pen or gpos[bi] < 0:
            break
        p = gpos[bi]
        # insert p after bounds[bi]
        for j in range(nb, bi + 1, -1):
            bounds[j] = bounds[j - 1]
            gain[j] = gain[j - 1]
            gpos[j] = gpos[j - 1]
        bounds[bi + 1] = p
        nb += 1
        g, q = _best_split(s1, s2, bounds[bi], bounds[bi + 1], min_size)
        gain[bi] = g
        gpos[bi] = q
        g, q = _best_split(s1, s2, bounds[bi + 1], bounds[bi + 2], min_size)
        gain[bi + 1] = g
        gpos[bi + 1] = q
    return bounds[1:nb].copy()


@numba.njit(cache=True)
def _best_focal(y, a, b, max_len, sigma2):
    """Most significant short interval of y[a:b] against the rest: (|z|, start, end)."""
    L = b - a
    best, bs, be = 0.0, -1, -1
    if L < 3:
        return best, bs, be
    tot = 0.0
    for i in range(a, b):
        tot += y[i]
    for i in range(a, b):
        acc = 0.0
        for w in range(1, max_len + 1):
            j = i + w
            if j > b or L - w < 2:
                break
            acc += y[j - 1]
            ms = acc / w
            mr = (tot - acc) / (L - w)
            z = abs(ms - mr) / np.sqrt(sigma2 * (1.0 / w + 1.0 / (L - w)))
            if z > best:
                best, bs, be = z, i, j
    return best, bs, be


def focal_split(y: np.ndarray, ends: np.ndarray, sigma2: float, *, max_len: int, z: float) -> np.ndarray:
    """Split short, strong events out of segments (a scan statistic on top of PELT).

    A BIC-type penalty charges two change points for a focal amplification or homozygous
    deletion of a few bins, which at single-cell noise can exceed its whole evidence.  Here
    every interval of at most ``max_len`` bins inside a segment is compared with the rest of
    the segment; if the best one reaches ``z`` standard errors it becomes its own segment,
    and the pieces are scanned again.  ``z`` sits above the largest value noise reaches over
    all intervals of a genome (about sqrt(2 log(n * max_len)) ≈ 4.5 for 5,000 bins).
    """
    ends = [int(e) for e in ends]
    out = []
    a = 0
    stack = []
    for e in ends:
        stack.append((a, e))
        a = e
    while stack:
        a, b = stack.pop()
        best, bs, be = _best_focal(y, a, b, max_len, sigma2)
        if best >= z and bs >= 0:
            pieces = [(a, bs), (bs, be), (be, b)]
            # b stays an end: a tail (be, b) too short to scan again would otherwise be lost,
            # leaving its bins without a segment (and without a copy number)
            out.extend((be, b))
            if bs > a:
                out.append(bs)
            for lo, hi in pieces:
                if hi - lo >= 3 and (lo, hi) != (bs, be):
                    stack.append((lo, hi))
        else:
            out.append(b)
    return np.array(sorted(set(out)), dtype=np.int64)


def changepoints(y: np.ndarray, penalty: float, *, method: str = "pelt", min_size: int = 1) -> np.ndarray:
    """Segment ends (exclusive, the last one is ``len(y)``) minimising L2 cost + ``penalty`` each."""
    y = np.ascontiguousarray(y, dtype=np.float64)
    if y.size == 0:
        return np.empty(0, dtype=np.int64)
    if y.size < 2 * min_size:
        return np.array([y.size], dtype=np.int64)
    if method == "pelt":
        return _pelt_l2(y, float(penalty), int(min_size))
    if method == "binseg":
        return _binseg_l2(y, float(penalty), int(min_size))
    raise ValueError(f"unknown segmentation method {method!r}; choose one of {', '.join(METHODS)}")


def noise_sigma2(y: np.ndarray, chrom: np.ndarray) -> float:
    """Robust noise variance of ``y`` from neighbouring differences within chromosomes."""
    same = chrom[1:] == chrom[:-1]
    d = np.diff(y)[same]
    d = d[np.isfinite(d)]
    if d.size < 3:
        return 1.0
    return float((1.4826 * np.median(np.abs(d - np.median(d)))) ** 2 / 2.0)


def segment(
    ratio: np.ndarray,
    bins: pd.DataFrame,
    *,
    noise: NoiseModel | None = None,
    counts: np.ndarray | None = None,
    method: str = SEGMENT_DEFAULTS["method"],
    beta: float = SEGMENT_DEFAULTS["beta"],
    min_size: int = SEGMENT_DEFAULTS["min_size"],
    penalty: float | None = None,
    focal_z: float = SEGMENT_DEFAULTS["focal_z"],
    focal_mb: float = SEGMENT_DEFAULTS["focal_mb"],
) -> tuple[pd.DataFrame, np.ndarray]:
    """Segment one cell's corrected ratios, chromosome by chromosome.

    Parameters
    ----------
    ratio : corrected ratio per bin (NaN = not usable / outlier; those bins are skipped).
    bins : the bin table (``chrom``, ``start``, ``end``).
    noise : the cell's :class:`NoiseModel` for the variance-stabilising transform (estimated
        from ``counts`` and ``ratio`` if not given; without counts a plain log transform of
        the ratio is used).
    method : ``"pelt"`` (default) or ``"binseg"``.
    beta : penalty multiplier; penalty = ``beta * sigma**2 * log(n)``.
    penalty : an explicit penalty on the transformed scale (overrides ``beta``).
    focal_z, focal_mb : short events (at most ``focal_mb`` Mb) standing out of a segment by
        ``sqrt(2 log(n * L)) + focal_z`` standard errors (n usable bins, L the longest interval
        in bins: the largest value pure noise reaches, plus a margin; 5.5 at 500 kb, 6.5 at
        50 kb) are split out after PELT (:func:`focal_split`); ``focal_z = 0`` disables.

    Returns
    -------
    segments : DataFrame ``chrom, start, end, first_bin, end_bin, n_bins, seg_mean`` — one
        row per segment; ``first_bin``/``end_bin`` index the full bin table (half-open), ``start``
        and ``end`` are the genomic span of its first and last usable bin, ``n_bins`` counts
        usable bins and ``seg_mean`` is the mean ratio of those bins.
    seg_per_bin : the segment mean of each bin (NaN where the ratio is NaN).
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    chrom = bins["chrom"].astype(str).to_numpy()
    ok = np.isfinite(ratio)
    if noise is None and counts is not None:
        noise = estimate_noise(counts, ratio, chrom)
    if noise is not None:
        y_all = vst(ratio, noise)
    else:
        y_all = np.log2(np.maximum(ratio, 1e-3) + 0.05)
    idx = np.flatnonzero(ok)
    y = y_all[idx]
    c = chrom[idx]
    seg_per_bin = np.full(ratio.size, np.nan)
    cols = {k: [] for k in ("chrom", "start", "end", "first_bin", "end_bin", "n_bins", "seg_mean")}
    if idx.size == 0:
        return pd.DataFrame(cols), seg_per_bin
    if penalty is None:
        penalty = beta * noise_sigma2(y, c) * np.log(max(idx.size, 2))
    starts = bins["start"].to_numpy()
    ends = bins["end"].to_numpy()
    # boundaries of runs of the same chromosome (bins are sorted by chromosome then position)
    brk = np.flatnonzero(c[1:] != c[:-1]) + 1
    lo_all = np.concatenate([[0], brk])
    hi_all = np.concatenate([brk, [idx.size]])
    r_ok = ratio[idx]
    sigma2 = noise_sigma2(y, c)
    width = float(np.median(ends - starts)) if len(starts) else 0.0
    max_len = int(min(60, max(3, round(focal_mb * 1e6 / width)))) if (focal_z and width > 0) else 0
    z_focal = float(np.sqrt(2.0 * np.log(max(idx.size, 2) * max(max_len, 1)))) + float(focal_z)
    for lo, hi in zip(lo_all, hi_all):
        cps = changepoints(y[lo:hi], penalty, method=method, min_size=min_size)
        if max_len:
            cps = focal_split(np.ascontiguousarray(y[lo:hi]), cps, sigma2, max_len=max_len, z=z_focal)
        a = lo
        for e in cps:
            b = lo + int(e)
            sel = idx[a:b]
            m = float(r_ok[a:b].mean())
            seg_per_bin[sel] = m
            cols["chrom"].append(c[a])
            cols["start"].append(int(starts[sel[0]]))
            cols["end"].append(int(ends[sel[-1]]))
            cols["first_bin"].append(int(sel[0]))
            cols["end_bin"].append(int(sel[-1]) + 1)
            cols["n_bins"].append(int(b - a))
            cols["seg_mean"].append(m)
            a = b
    return pd.DataFrame(cols), seg_per_bin


def merge_equal(segments: pd.DataFrame, ratio: np.ndarray, key: str = "cn") -> pd.DataFrame:
    """Merge neighbouring segments of one chromosome that share the same ``key`` value.

    ``seg_mean`` is recomputed as the mean ratio over the merged usable bins.
    """
    if segments.empty:
        return segments.copy()
    s = segments.reset_index(drop=True)
    new_run = np.ones(len(s), dtype=bool)
    new_run[1:] = (s["chrom"].to_numpy()[1:] != s["chrom"].to_numpy()[:-1]) | (s[key].to_numpy()[1:] != s[key].to_numpy()[:-1])
    run = np.cumsum(new_run) - 1
    ratio = np.asarray(ratio, dtype=np.float64)
    sums = np.array([np.nansum(ratio[a:b]) for a, b in zip(s.first_bin, s.end_bin)])
    g = pd.DataFrame({"run": run, "sum": sums, "n_bins": s.n_bins})
    agg = s.groupby(run, sort=True).agg(chrom=("chrom", "first"), start=("start", "first"), end=("end", "last"),
                                        first_bin=("first_bin", "first"), end_bin=("end_bin", "last"),
                                        n_bins=("n_bins", "sum"), **{key: (key, "first")})
    tot = g.groupby("run")["sum"].sum().to_numpy()
    agg["seg_mean"] = tot / np.maximum(agg["n_bins"].to_numpy(), 1)
    extra = [col for col in s.columns if col not in agg.columns]
    for col in extra:
        agg[col] = s.groupby(run, sort=True)[col].first().to_numpy()
    return agg.reset_index(drop=True)[list(s.columns)]


def merge_insignificant(segments: pd.DataFrame, ratio: np.ndarray, noise: NoiseModel, wave=None, *,
                        z: float = 3.0, max_segments: int | None = None) -> pd.DataFrame:
    """Merge neighbouring segments whose means do not differ beyond noise and waviness.

    PELT's penalty knows only the white, bin-level noise; long-range waviness makes a
    low-noise cell's profile wander by a few per cent over megabases, and PELT cuts those
    wanderings into segments (a DLP+ cell at MAPD 0.08 came out in ~350 segments).  Their
    means then sit between copy-number levels and let a finer lattice "explain" them.  Here
    the least distinct pair of neighbours (same chromosome) is merged while its difference is
    below ``z`` standard errors — sampling noise of both means from ``noise`` plus the wave's
    variance over each segment's span (``wave``: :class:`~ctcscope.cna.noise.WaveModel`) —
    and the test repeated with the merged segment's new neighbours.  With ``max_segments``,
    merging goes on (least distinct pair first) until at most that many segments are left.
    """
    if segments is None or len(segments) < 2:
        return segments
    ratio = np.asarray(ratio, dtype=np.float64)
    rows = [dict(r) for r in segments.reset_index(drop=True).to_dict("records")]
    sums = [float(np.nansum(ratio[r["first_bin"]:r["end_bin"]])) for r in rows]

    def var_mean(r, m):
        v = float(noise.bin_var(max(m, 0.0))) / max(r["n_bins"], 1)
        if wave is not None and wave.sd > 0:
            span = (r["end"] - r["start"]) / 1e6
            v += (wave.sd * max(m, 0.0)) ** 2 * float(wave.mean_var_factor(span))
        return v

    def zscore(i):
        a, b = rows[i], rows[i + 1]
        if a["chrom"] != b["chrom"]:
            return np.inf
        return abs(b["seg_mean"] - a["seg_mean"]) / np.sqrt(var_mean(a, a["seg_mean"]) + var_mean(b, b["seg_mean"]))

    zs = [zscore(i) for i in range(len(rows) - 1)]
    while zs:
        i = int(np.argmin(zs))
        if not zs[i] < z and (max_segments is None or len(rows) <= max_segments or not np.isfinite(zs[i])):
            break
        a, b = rows[i], rows[i + 1]
        n = a["n_bins"] + b["n_bins"]
        tot = sums[i] + sums[i + 1]
        merged = {**a, "end": b["end"], "end_bin": b["end_bin"], "n_bins": n, "seg_mean": tot / max(n, 1)}
        rows[i:i + 2] = [merged]
        sums[i:i + 2] = [tot]
        del zs[i]
        if i < len(zs):
            zs[i] = zscore(i)
        if i > 0:
            zs[i - 1] = zscore(i - 1)
    return pd.DataFrame(rows, columns=segments.columns).astype(segments.dtypes.to_dict())
