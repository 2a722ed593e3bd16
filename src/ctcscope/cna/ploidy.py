"""Ploidy and absolute copy number: a posterior over the copy-number scale.

The corrected ratio of a segment measures ``scale * copy_number``; the scale (ratio units per
copy) is unknown.  Every candidate scale ``s`` on a fine grid — expressed as the mean copy
number ``M = mean ratio / s`` of the solution, 1-8.5 copies in 0.2 % steps — is scored by the
marginal likelihood of a chain model over the segments of each chromosome (forward
algorithm, numba), times a prior on ``M``:

* **levels**: each segment mean against its lattice level ``s * k`` under a Student-t whose
  variance is the sampling noise of the mean (the cell's :class:`~ctcscope.cna.noise.NoiseModel`,
  Poisson + over-dispersion, over the segment's bins), a span-independent floor, and
  long-range waviness averaged over the segment's span (:class:`~ctcscope.cna.noise.WaveModel`;
  the cell's amplitude is marginalised over a log-normal spread);
* **local steps**: the change between the last and first bins on either side of each
  breakpoint, nearly free of waviness (it is the same on both sides), against ``s * d`` for
  a step of ``d`` copies;
* **priors on the profile**: a segment sits at the base (the modal level) with probability
  0.8; off-base levels ∝ ``exp(-|k - B| / (0.5 B))`` — relative deviations, so a finer lattice
  pays for every level it uses (what stops the "fit error keeps falling as ploidy rises"
  failure of a plain RMSE fit); steps: "no change" 0.2, otherwise geometric in copies; for an
  even base ≥ 4 a doubled-genome model is mixed in (prior 0.7) whose off-base levels and steps
  are even (doubled pre-WGD events) or odd (post-WGD events);
* **prior on M**: flat on 1.8-6.5 (the study's 2n-6n with room), half-Gaussian on log M
  outside, and ``-log M`` (one lattice level per base: fewer copies is the simpler
  explanation when nothing else decides, e.g. a flat profile).

A Viterbi pass gives each grid point's levels.  The integer ``ploidy`` of a solution is its
modal copy number (length-weighted over autosomes), as the base ploidy of the study (Oulhen
et al. 2021, npj Precis Oncol 5:71, doi:10.1038/s41698-021-00203-1) was reported; the
posterior of each ploidy is the mass of the grid points whose solution has that mode.

The ×2 ambiguity, stated honestly: a profile with levels {1, 2, 3} fits the halved lattice as
{2, 4, 6} exactly as well; the lower solution wins only through the priors above (each
off-base segment and step costs more on the finer lattice).  A genuine whole-genome doubling
is recognised by odd levels and odd steps after the doubling (3, 5 around a base of 4), which
the halved lattice puts at half copies.  A doubled genome with no odd change at all is
indistinguishable from its undoubled form in read depth and is called at the lower ploidy
(with the doubled solution as runner-up); related cells can help (``ploidy_prior``, the
consensus of a clone).

Pools of ``n`` cells are mixtures: levels in steps of ``1/n`` copy, fractional levels and
steps with a low prior shared over the fractions (most events are shared by a pool's clones).
The sex chromosomes never enter the fit (a male cell has one X); they are called with the
chosen scale.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import math

import numba
import numpy as np
import pandas as pd

from ..genome.names import AUTOSOMES
from .dna_content import DNA_DEFAULTS, DNA_LIKELIHOOD_KEYS, dna_log_likelihood
from .noise import NoiseModel, WaveModel


#: Default parameters of :func:`call_ploidy` (recorded in ``uns['ctcscope']``).
PLOIDY_DEFAULTS = dict(
    grid_min=1.0,
    grid_max=10.0,
    grid_step=0.002,  # on log(mean CN)
    t_df=10.0,
    # (waviness amplitude x, correlation length x, span-independent floor, prior weight)
    noise_regimes=((1.0, 1.0, 0.02, 0.30), (0.6, 1.0, 0.02, 0.15), (1.6, 1.0, 0.05, 0.15),
                   (1.0, 2.5, 0.02, 0.15), (1.0, 0.4, 0.02, 0.10), (1.6, 2.5, 0.10, 0.15)),
    coarse_factor=5,
    coarse_margin=12.0,
    scan_min_mb=8.0,
    step_window_mb=5.0,
    p_same=0.2,
    step_decay=0.5,
    base_prior=0.8,
    deviation_scale=0.5,
    call_deviation_scale=2.0,
    call_step_decay=0.8,
    wgd_prior=0.7,
    post_wgd_grid=(0.05, 0.35),
    post_wgd_weights=(0.5, 0.5),
    prior_range=(1.5, 8.0),
    prior_decay=0.25,
    fraction_prior=0.05,
    max_cn=40,
    report_step=0.05,
    prior_weight=0.99,
    temperature=1.0,
    evidence_segments=40,
    contamination=0.0,
)

#: Grid of mean copy number at which ``obsm['ploidy_posterior']`` is reported.
def report_grid(step: float = PLOIDY_DEFAULTS["report_step"], lo: float = PLOIDY_DEFAULTS["grid_min"],
                hi: float = PLOIDY_DEFAULTS["grid_max"]) -> np.ndarray:
    n = int(round((hi - lo) / step)) + 1
    return np.round(lo + step * np.arange(n), 6)


@dataclass
class PloidyCall:
    """The result of :func:`call_ploidy` for one sample."""

    ploidy: int | None
    mean_cn: float
    scale: float
    confidence: float
    runner_up: int | None
    runner_up_prob: float
    wgd: bool
    wgd_probability: float
    segment_cn: np.ndarray  # copy number per input segment (float; integers for single cells)
    posterior: np.ndarray  # on report_grid()
    ploidy_probs: dict = field(default_factory=dict)
    n_levels: int = 0
    tau: float = float("nan")
    p_flat: float = float("nan")  # posterior probability that nothing is altered (all at base)
    # with a DNA index: the read-depth-only call, the phase posterior, and whether the two
    # measures disagree strongly (then the read-depth call is kept and flagged)
    dna_used: bool = False
    rd_ploidy: int | None = None
    rd_confidence: float = float("nan")
    phase_probs: np.ndarray | None = None
    dna_conflict: bool = False

    def restate(self, probs: dict, wgd_probability: float | None = None) -> None:
        """Take ``probs`` ({ploidy: probability}) as the posterior stated for the reported
        ploidy: its confidence, the runner-up and P(WGD) (the mass at >= 4n unless given)."""
        self.ploidy_probs = {int(k): float(v) for k, v in probs.items()}
        self.confidence = float(self.ploidy_probs.get(self.ploidy, 0.0))
        others = sorted(((v, k) for k, v in self.ploidy_probs.items() if k != self.ploidy), reverse=True)
        self.runner_up, self.runner_up_prob = (others[0][1], others[0][0]) if others else (None, 0.0)
        self.wgd_probability = (float(sum(v for k, v in self.ploidy_probs.items() if k >= 4))
                                if wgd_probability is None else float(wgd_probability))

    def as_dict(self) -> dict:
        return {
            "ploidy": self.ploidy, "mean_cn": self.mean_cn, "scale": self.scale,
            "ploidy_confidence": self.confidence, "ploidy_runner_up": self.runner_up,
            "ploidy_runner_up_prob": self.runner_up_prob, "wgd": self.wgd,
            "wgd_probability": self.wgd_probability,
        }


def wave_lengths(length_mb: float, factors=(1.0,)) -> np.ndarray:
    """Candidate waviness correlation lengths (Mb) around an estimate, kept within 1-80 Mb."""
    return np.clip(float(length_mb) * np.asarray(factors, dtype=np.float64), 1.0, 80.0)


def log_prior(M: np.ndarray, prior_range=PLOIDY_DEFAULTS["prior_range"],
              prior_decay: float = PLOIDY_DEFAULTS["prior_decay"]) -> np.ndarray:
    """Log prior of mean copy number ``M`` (per unit log M).

    ``-log M`` (the base level is one point of a lattice whose spacing is ∝ 1/M: with nothing
    else to go on, fewer copies is the simpler explanation), flat otherwise on
    ``prior_range`` and decaying as a half-Gaussian on log M outside it.
    """
    lo, hi = np.log(prior_range[0]), np.log(prior_range[1])
    x = np.log(np.asarray(M, dtype=np.float64))
    d = np.where(x < lo, lo - x, np.where(x > hi, x - hi, 0.0))
    return -0.5 * (d / prior_decay) ** 2 - x


def _modal(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Row-wise weighted mode of small non-negative integers (G × S arrays)."""
    v = np.clip(values.astype(np.int64), 0, None)
    K = int(v.max()) + 1 if v.size else 1
    G = v.shape[0]
    acc = np.zeros((G, K))
    rows = np.repeat(np.arange(G), v.shape[1])
    np.add.at(acc, (rows, v.ravel()), np.broadcast_to(weights, v.shape).ravel())
    return acc.argmax(axis=1)


def _class_mass(weights: np.ndarray, ploidy_g: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Posterior mass of each integer ploidy in ``classes`` (grid points labelled ``ploidy_g``)."""
    return np.bincount(ploidy_g, weights=weights, minlength=int(np.max(classes)) + 1)[classes]


def _empty_call(n_seg: int, grid: np.ndarray) -> PloidyCall:
    return PloidyCall(ploidy=None, mean_cn=float("nan"), scale=float("nan"), confidence=float("nan"),
                      runner_up=None, runner_up_prob=float("nan"), wgd=False, wgd_probability=float("nan"),
                      segment_cn=np.full(n_seg, np.nan), posterior=np.full(grid.size, np.nan))


@numba.njit(cache=True)
def _tlp(r, v, df, lg):
    # Student-t log density of residual r with scale^2 v; lg = lgamma((df+1)/2) - lgamma(df/2)
    return lg - 0.5 * np.log(df * np.pi * v) - (df + 1.0) / 2.0 * np.log1p(r * r / (v * df))


@numba.njit(cache=True)
def _robust(ll, lcont, level):
    """A segment mean or step that fits no lattice: with probability ``exp(lcont)`` it is
    drawn from a broad density (uniform over +-50 % of the segment's level, the same for every
    lattice), so a noise segment, one that straddles a breakpoint or a subclonal one costs
    every candidate scale alike instead of rewarding the finest lattice that happens to fit it."""
    if lcont == -np.inf:
        return ll
    lu = lcont - np.log(max(level, 0.05))
    a = np.log1p(-np.exp(lcont)) + ll
    mx = a if a > lu else lu
    return mx + np.log(np.exp(a - mx) + np.exp(lu - mx))


#: Variance inflation of the local step at a breakpoint that does not change the copy number
#: (selection bias: segmentation puts breakpoints where noise made the local difference peak).
ZERO_STEP_INFLATE = 2.25


@numba.njit(cache=True)
def _level_prior(B, kmax, log_pi0, log_pi1, lam):
    """log P(level k | base B), k = 0..kmax: B with prob pi0, else ∝ exp(-|k-B| / (lam B))."""
    out = np.empty(kmax + 1)
    Z = 0.0
    for k in range(kmax + 1):
        if k != B:
            Z += np.exp(-abs(k - B) / (lam * B))
    for k in range(kmax + 1):
        out[k] = log_pi0 if k == B else log_pi1 - abs(k - B) / (lam * B) - np.log(Z)
    return out


@numba.njit(cache=True)
def _step_prior(kmax, log_p0, log_pc, log_rho):
    """log P(step of |d| copies), d = 0..2 kmax: no change with p0, else geometric."""
    out = np.empty(2 * kmax + 1)
    out[0] = log_p0
    for d in range(1, 2 * kmax + 1):
        out[d] = log_pc + (d - 1) * log_rho
    return out


@numba.njit(cache=True)
def _wgd_priors(B, kmax, log_pi0, log_pi1, lam, log_p0, log_pc, log_rho, log_eps):
    """Level and step priors of a doubled genome with base B (even).

    The base keeps probability pi0.  Off-base levels are either even (doubled pre-WGD
    events: the pre-doubling deviation law of base B/2, probability 1 - eps) or odd (a ±1
    change after the doubling, probability eps).  Even steps follow the pre-doubling step law
    in units of two copies (with 1 - eps); odd steps, which bound an odd level, the plain
    step law (the level has paid eps for the event).
    """
    h = B // 2
    # pre-doubling off-base law over j = 0..kmax//2 (j != h)
    J = kmax // 2
    Zp = 0.0
    for j in range(J + 1):
        if j != h:
            Zp += np.exp(-abs(j - h) / (lam * h))
    Zo = 0.0
    for k in range(1, kmax + 1, 2):
        Zo += np.exp(-abs(k - B) / (lam * B))
    l1e = np.log(max(1.0 - np.exp(log_eps), 1e-9))
    lq = np.empty(kmax + 1)
    for k in range(kmax + 1):
        if k == B:
            lq[k] = log_pi0
        elif k % 2 == 0:
            lq[k] = log_pi1 + l1e - abs(k // 2 - h) / (lam * h) - np.log(Zp)
        else:
            lq[k] = log_pi1 + log_eps - abs(k - B) / (lam * B) - np.log(Zo)
    ls = np.empty(2 * kmax + 1)
    ls[0] = log_p0
    for d in range(1, 2 * kmax + 1):
        if d % 2 == 0:
            ls[d] = log_pc + l1e + (d // 2 - 1) * log_rho
        else:
            # an odd step bounds an odd level, which has paid for the change after the
            # doubling once already: charging eps again for each of its two edges would count
            # one event three times (and make one clear odd segment worth almost nothing)
            ls[d] = log_pc + ((d + 1) // 2 - 1) * log_rho
    return lq, ls


@numba.njit(cache=True)
def _chain(s, tau2, phi2, m, vlev, wave2, fl2, start, step, vstep, wstep2, df, lg, N, lq, ls, log_frac, lcont,
           viterbi, path):
    """Forward (log marginal) or Viterbi pass over the segments' chains at scale ``s``.

    Each segment may take one of 4 lattice levels around its mean (in 1/N copies); a chain
    restarts at every chromosome.  ``lq``/``ls`` are the log priors of whole levels and of
    steps (in copies).  Returns the log likelihood (sum over chains); with ``viterbi`` the
    best levels are written to ``path``.
    """
    S = m.shape[0]
    NS = 4
    kmax = lq.shape[0] - 1
    prev = np.empty(NS)
    prevc = np.empty(NS, dtype=np.int64)
    cur = np.empty(NS)
    curc = np.empty(NS, dtype=np.int64)
    vals = np.empty(NS)
    cand_buf = np.empty(NS, dtype=np.int64)
    back = np.zeros((S, NS), dtype=np.int64)
    cands = np.zeros((S, NS), dtype=np.int64)
    total = 0.0
    kmaxN = kmax * N
    for j in range(S):
        x = m[j] / s * N
        v = vlev[j] + tau2 * wave2[j] + phi2 * fl2[j]
        # candidate levels (in 1/N copies), kept inside [0, kmax]: for single cells the four
        # lattice points around the mean; for mixtures the two nearest fractional levels and
        # the two nearest whole copies (a whole level must always be on offer)
        if N == 1:
            base = int(np.floor(x)) - 1
            if base > kmaxN - NS + 1:
                base = kmaxN - NS + 1
            if base < 0:
                base = 0
            for a in range(NS):
                cand_buf[a] = base + a
        else:
            f = int(np.floor(x))
            w = int(np.floor(x / N))
            cand_buf[0] = f
            cand_buf[1] = f + 1
            cand_buf[2] = w * N
            cand_buf[3] = (w + 1) * N
            for a in range(NS):
                cand_buf[a] = min(max(cand_buf[a], 0), kmaxN)
        for a in range(NS):
            c = cand_buf[a]
            curc[a] = c
            cands[j, a] = c
            dup = False
            for b in range(a):
                if cand_buf[b] == c:
                    dup = True
            if dup:
                cur[a] = -np.inf
                continue
            kw = (c + N // 2) // N
            e = _robust(_tlp(m[j] - s * c / N, v, df, lg), lcont, m[j]) + lq[min(kw, kmax)]
            if (c % N) != 0:
                # the fractional share is spread over the N - 1 levels between whole copies
                e += log_frac - np.log(N - 1.0)
            if start[j]:
                cur[a] = e
                continue
            vs = vstep[j] + tau2 * wstep2[j]
            best = -np.inf
            arg = 0
            for b in range(NS):
                if prev[b] == -np.inf:
                    vals[b] = -np.inf
                    continue
                d = c - prevc[b]
                ad = abs(d)
                dw = (ad + N - 1) // N
                sp = ls[min(dw, ls.shape[0] - 1)]
                if (ad % N) != 0:
                    sp += log_frac - np.log(N - 1.0)
                # a breakpoint that changes nothing was still placed by the segmentation
                # where the local difference peaked: its step is inflated by that selection
                vsd = vs * ZERO_STEP_INFLATE if d == 0 else vs
                vals[b] = prev[b] + sp + _robust(_tlp(step[j] - s * d / N, vsd, df, lg), lcont, m[j])
                if vals[b] > best:
                    best = vals[b]
                    arg = b
            if best == -np.inf:
                cur[a] = -np.inf
                continue
            if viterbi:
                cur[a] = e + best
                back[j, a] = arg
            else:
                acc = 0.0
                for b in range(NS):
                    if vals[b] > -np.inf:
                        acc += np.exp(vals[b] - best)
                cur[a] = e + best + np.log(acc)
        end = (j == S - 1) or start[j + 1]
        if end:
            mx = -np.inf
            am = 0
            for a in range(NS):
                if cur[a] > mx:
                    mx = cur[a]
                    am = a
            if viterbi:
                total += mx
                a = am
                jj = j
                while True:
                    path[jj] = cands[jj, a]
                    if start[jj]:
                        break
                    a = back[jj, a]
                    jj -= 1
            else:
                acc = 0.0
                for a in range(NS):
                    if cur[a] > -np.inf:
                        acc += np.exp(cur[a] - mx)
                total += mx + np.log(acc)
        for a in range(NS):
            prev[a] = cur[a]
            prevc[a] = curc[a]
    return total


@numba.njit(cache=True)
def _model_priors(B, wgd, kmax, log_pi0, log_pi1, lam, log_p0, log_pc, log_rho, log_eps):
    if wgd:
        return _wgd_priors(B, kmax, log_pi0, log_pi1, lam, log_p0, log_pc, log_rho, log_eps)
    return _level_prior(B, kmax, log_pi0, log_pi1, lam), _step_prior(kmax, log_p0, log_pc, log_rho)


@numba.njit(cache=True)
def _scan(s_grid, base, tau2s, phi2s, lidx, log_wk, m, vlev, wave2, fl2, start, step, vstep, wstep2, df, lg, N, kmax,
          log_frac, lcont, log_pi0, log_pi1, lam, log_p0, log_pc, log_rho, log_epss, log_weps, log_wgd,
          out_lp, out_k, out_model, out_pwgd, paths):
    """Marginal likelihood of every grid scale and the best nuisance setting with its levels.

    Marginalised: the systematic error of segment means (``K`` settings of waviness
    amplitude ``tau2s``, correlation length — row ``lidx`` of ``wave2``/``wstep2`` — and
    span-independent floor ``phi2s``, prior weights ``log_wk``) and,
    where the base is even and >= 4, the doubled-genome model with its rate of changes after
    the doubling (``E`` settings ``log_epss``, weights ``log_weps``).  ``out_model`` is 0 for
    the plain lattice, ``1 + e`` for the doubled model with rate ``e``.
    """
    G = s_grid.shape[0]
    K = tau2s.shape[0]
    E = log_epss.shape[0]
    nmod = 1 + E
    dummy = np.zeros(m.shape[0], dtype=np.int64)
    acc = np.empty(nmod * K)
    for g in range(G):
        B = base[g]
        has_wgd = (B >= 4) and (B % 2 == 0)
        for mi in range(nmod):
            if mi > 0 and not has_wgd:
                for k in range(K):
                    acc[mi * K + k] = -np.inf
                continue
            if mi == 0:
                lq = _level_prior(B, kmax, log_pi0, log_pi1, lam)
                ls = _step_prior(kmax, log_p0, log_pc, log_rho)
                lw = np.log(1.0 - np.exp(log_wgd)) if has_wgd else 0.0
            else:
                lq, ls = _wgd_priors(B, kmax, log_pi0, log_pi1, lam, log_p0, log_pc, log_rho, log_epss[mi - 1])
                lw = log_wgd + log_weps[mi - 1]
            for k in range(K):
                acc[mi * K + k] = lw + log_wk[k] + _chain(s_grid[g], tau2s[k], phi2s[k], m, vlev, wave2[lidx[k]], fl2,
                                                         start, step, vstep, wstep2[lidx[k]], df, lg, N, lq, ls,
                                                         log_frac, lcont, False, dummy)
        mx = acc.max()
        if mx == -np.inf:
            out_lp[g] = -np.inf
            out_pwgd[g] = 0.0
            out_k[g] = 0
            out_model[g] = 0
            continue
        tot = 0.0
        wsum = 0.0
        for i in range(nmod * K):
            if acc[i] > -np.inf:
                e = np.exp(acc[i] - mx)
                tot += e
                if i >= K:
                    wsum += e
        out_lp[g] = mx + np.log(tot)
        out_pwgd[g] = wsum / tot
        ib = int(np.argmax(acc))
        out_k[g] = ib % K
        out_model[g] = ib // K
        if out_model[g] == 0:
            lq = _level_prior(B, kmax, log_pi0, log_pi1, lam)
            ls = _step_prior(kmax, log_p0, log_pc, log_rho)
        else:
            lq, ls = _wgd_priors(B, kmax, log_pi0, log_pi1, lam, log_p0, log_pc, log_rho, log_epss[out_model[g] - 1])
        kk = ib % K
        _chain(s_grid[g], tau2s[kk], phi2s[kk], m, vlev, wave2[lidx[kk]], fl2, start, step, vstep, wstep2[lidx[kk]],
               df, lg, N, lq, ls, log_frac, lcont, True, paths[g])


def local_steps(segments: pd.DataFrame, ratio: np.ndarray, noise: NoiseModel, window: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Copy-number step into each segment from its left neighbour, measured locally.

    The step is the difference between the mean ratio of the first ``window`` usable bins of
    the segment and the last ``window`` of the previous one: long-range waviness is nearly
    the same on both sides of a breakpoint, so local steps are almost free of it, unlike the
    segment means.  Returns (step, variance); NaN at the first segment of each chromosome.
    """
    seg = segments.reset_index(drop=True)
    S = len(seg)
    step = np.full(S, np.nan)
    var = np.full(S, np.nan)
    ratio = np.asarray(ratio, dtype=np.float64)
    okb = np.flatnonzero(np.isfinite(ratio))
    fb, eb, ch = seg["first_bin"].to_numpy(), seg["end_bin"].to_numpy(), seg["chrom"].astype(str).to_numpy()
    lo = np.searchsorted(okb, fb)
    hi = np.searchsorted(okb, eb)
    for j in range(1, S):
        if ch[j] != ch[j - 1]:
            continue
        left = okb[max(lo[j - 1], hi[j - 1] - window):hi[j - 1]]
        right = okb[lo[j]:min(hi[j], lo[j] + window)]
        if left.size == 0 or right.size == 0:
            continue
        ml, mr = ratio[left].mean(), ratio[right].mean()
        step[j] = mr - ml
        var[j] = noise.bin_var(max(ml, 0.0)) / left.size + noise.bin_var(max(mr, 0.0)) / right.size
    return step, var


def call_ploidy(
    segments: pd.DataFrame,
    noise: NoiseModel,
    *,
    ratio: np.ndarray | None = None,
    wave: WaveModel | None = None,
    pool_size: int = 1,
    prior_range: tuple[float, float] = PLOIDY_DEFAULTS["prior_range"],
    prior_decay: float = PLOIDY_DEFAULTS["prior_decay"],
    grid_min: float = PLOIDY_DEFAULTS["grid_min"],
    grid_max: float = PLOIDY_DEFAULTS["grid_max"],
    grid_step: float = PLOIDY_DEFAULTS["grid_step"],
    t_df: float = PLOIDY_DEFAULTS["t_df"],
    noise_regimes: tuple = PLOIDY_DEFAULTS["noise_regimes"],
    coarse_factor: int = PLOIDY_DEFAULTS["coarse_factor"],
    coarse_margin: float = PLOIDY_DEFAULTS["coarse_margin"],
    scan_min_mb: float = PLOIDY_DEFAULTS["scan_min_mb"],
    step_window_mb: float = PLOIDY_DEFAULTS["step_window_mb"],
    p_same: float = PLOIDY_DEFAULTS["p_same"],
    step_decay: float = PLOIDY_DEFAULTS["step_decay"],
    base_prior: float = PLOIDY_DEFAULTS["base_prior"],
    deviation_scale: float = PLOIDY_DEFAULTS["deviation_scale"],
    wgd_prior: float = PLOIDY_DEFAULTS["wgd_prior"],
    call_deviation_scale: float = PLOIDY_DEFAULTS["call_deviation_scale"],
    call_step_decay: float = PLOIDY_DEFAULTS["call_step_decay"],
    post_wgd_grid: tuple = PLOIDY_DEFAULTS["post_wgd_grid"],
    post_wgd_weights: tuple = PLOIDY_DEFAULTS["post_wgd_weights"],
    fraction_prior: float = PLOIDY_DEFAULTS["fraction_prior"],
    max_cn: int = PLOIDY_DEFAULTS["max_cn"],
    report_step: float = PLOIDY_DEFAULTS["report_step"],
    report_range: tuple[float, float] | None = None,
    ploidy_prior: dict | None = None,
    prior_weight: float = PLOIDY_DEFAULTS["prior_weight"],
    temperature: float = PLOIDY_DEFAULTS["temperature"],
    evidence_segments: int = PLOIDY_DEFAULTS["evidence_segments"],
    scan_segments: pd.DataFrame | None = None,
    contamination: float = PLOIDY_DEFAULTS["contamination"],
    dna_index: float | None = None,
    dna_index_sd: float = float("nan"),
    cycle_prior: tuple = DNA_DEFAULTS["cycle_prior"],
    dna_params: dict | None = None,
) -> PloidyCall:
    """Posterior over the copy-number scale of one sample, and its absolute copy numbers.

    Parameters
    ----------
    segments : ``chrom, start, end, first_bin, end_bin, n_bins, seg_mean`` per segment in
        genome order (from :func:`ctcscope.cna.segment`).
    noise : the sample's calibrated bin-level noise model.
    ratio : the sample's corrected ratio per bin, used to measure local steps at breakpoints
        (without it, steps are differences of segment means).
    wave : long-range waviness (:class:`~ctcscope.cna.noise.WaveModel`), best calibrated on
        the whole run (:func:`ctcscope.cna.noise.estimate_waviness`); default 4 % over 20 Mb.
    pool_size : cells in the sample; > 1 allows levels in steps of ``1/pool_size`` copy.
    prior_range, prior_decay : prior on the mean copy number: flat on ``prior_range``
        (the study's 2n-6n with some room), decaying as a half-Gaussian of SD ``prior_decay`` on
        the log scale outside it.
    grid_min, grid_max, grid_step : the grid of mean copy number (log-spaced by ``grid_step``).
    t_df : Student-t degrees of freedom of the level and step likelihoods.
    noise_regimes : the systematic error of segment means is marginalised over these
        settings of (the cell's waviness amplitude x a factor, its correlation length x a
        factor, a span-independent floor, prior weight): a point value of any of them decides
        the scale when it is wrong (the DLP+ and 10x failures in docs/cna.md).
    coarse_factor, coarse_margin : the scale is scanned on a grid ``coarse_factor`` times
        coarser first; the fine grid is evaluated around every coarse point within
        ``coarse_margin`` (log units) of the best.
    step_window_mb : span on each side of a breakpoint used to measure its local step (at
        least 3 bins).
    p_same : prior probability that a detected breakpoint does not change the copy number.
    step_decay : prior ratio P(step of n+1 copies) / P(step of n copies).
    base_prior : prior probability that a segment sits at the base ploidy.
    deviation_scale : off-base levels have prior ∝ exp(-|k - B| / (deviation_scale * B)).
    call_deviation_scale, call_step_decay : the same two priors when the copy numbers of the
        chosen solution are called (flatter, so focal amplifications keep their height).
    wgd_prior : prior probability that a genome with an even base >= 4 arose by doubling;
        its level prior then favours even copy numbers (doubled pre-WGD events).
    post_wgd_grid, post_wgd_weights : in a doubled genome, the fraction of off-base segments
        (and of copy-number steps) that are odd, i.e. due to a change after the doubling,
        marginalised over these values: a doubling may be recent (almost no odd change) or old.
    fraction_prior : prior weight of a fractional level or step relative to a whole one (pools).
    report_step, report_range : spacing and span of the reported posterior (``report_grid``;
        the span defaults to the search grid).
    ploidy_prior : optional prior over integer ploidies (``{ploidy: probability}``), e.g. the
        posterior of the consensus of the sample's clone; mixed as
        ``prior_weight * prior + (1 - prior_weight) * uniform``.
    temperature : the log posterior is divided by this before normalising (calibration of
        the stated confidence on held-out sources; 1 = the model's own posterior).
    contamination : prior probability that a segment mean (or step) fits no lattice: it is
        then scored by a broad density the same for every scale (0 = off).
    scan_segments : optional coarser segmentation of the same ratio (same columns) on which
        the lattice is judged; ``segments`` are then called at the scale it picks.
    evidence_segments : with more segments than this in the scan, the likelihood is
        tempered by ``n / evidence_segments`` (0 = never).
    dna_index, dna_index_sd : the cell's DNA index from the index sort
        (:mod:`ctcscope.cna.dna_content`); its likelihood multiplies the read-depth posterior.
    cycle_prior : prior of G1, S, G2/M for the DNA index.
    dna_params : the DNA model's other settings (``DNA_DEFAULTS`` keys but the priors).

    Returns
    -------
    :class:`PloidyCall` (``segment_cn`` aligned with the rows of ``segments``).
    """
    rgrid = report_grid(report_step, *(report_range or (grid_min, grid_max)))
    wave = wave or WaveModel(sd=0.04, length_mb=20.0)
    seg = segments.reset_index(drop=True)
    n_seg = len(seg)
    if n_seg == 0:
        return _empty_call(0, rgrid)
    m = seg["seg_mean"].to_numpy(dtype=np.float64)
    nb = seg["n_bins"].to_numpy(dtype=np.float64)
    chrom = seg["chrom"].astype(str).to_numpy()
    valid = np.isfinite(m) & (nb > 0)
    auto = np.isin(chrom, AUTOSOMES) & valid
    if auto.sum() == 0 or not (np.sum(m[auto] * nb[auto]) > 0):
        return _empty_call(n_seg, rgrid)
    rbar = float(np.sum(m[auto] * nb[auto]) / np.sum(nb[auto]))
    N = max(1, int(pool_size))
    if {"start", "end"} <= set(seg.columns):
        span = (seg["end"].to_numpy(dtype=np.float64) - seg["start"].to_numpy(dtype=np.float64)) / 1e6
    else:
        span = np.full(n_seg, 10.0)
    bin_mb = float(np.median(span / np.maximum(nb, 1))) if n_seg else 0.5
    step_window = int(max(3, round(step_window_mb / max(bin_mb, 1e-3))))

    # per-segment inputs of the chain model
    floor2 = (0.01 * rbar) ** 2
    regimes = np.asarray(noise_regimes, dtype=np.float64).reshape(-1, 4)
    lengths = wave_lengths(wave.length_mb, np.unique(regimes[:, 1]))
    has_ratio = ratio is not None and {"first_bin", "end_bin"} <= set(seg.columns)

    def _columns(tab):
        mm = tab["seg_mean"].to_numpy(dtype=np.float64)
        nn = tab["n_bins"].to_numpy(dtype=np.float64)
        sp = ((tab["end"].to_numpy(dtype=np.float64) - tab["start"].to_numpy(dtype=np.float64)) / 1e6
              if {"start", "end"} <= set(tab.columns) else np.full(len(tab), 10.0))
        return mm, nn, sp, tab["chrom"].astype(str).to_numpy()

    def _arrays(sel, tab=None):
        """Chain inputs of the segments ``sel`` of ``tab`` (default: the segments called), in
        genome order, with the steps between consecutive ones."""
        tab = seg if tab is None else tab
        sub = tab[sel].reset_index(drop=True)
        mm, nn, sp, ch = _columns(tab)
        mm, nn, sp, ch = mm[sel], nn[sel], sp[sel], ch[sel]
        mpos = np.maximum(mm, 0.0)
        # sampling noise of the mean and a small absolute floor; the systematic relative errors
        # (waviness over the segment's span, a span-independent floor) enter in the kernel,
        # marginalised over their uncertain sizes
        vl = noise.bin_var(mpos) / np.maximum(nn, 1) + floor2
        w2 = np.stack([mpos ** 2 * WaveModel(1.0, L).mean_var_factor(sp) for L in lengths])
        if has_ratio:
            stp, vs = local_steps(sub, ratio, noise, step_window)
        else:
            stp = np.r_[np.nan, np.diff(mm)]
            vs = np.r_[np.nan, vl[1:] + vl[:-1]]
        vs = vs + floor2
        # the local windows still see the wave's change over their distance
        mloc = np.maximum(np.r_[mm[:1], 0.5 * (mm[1:] + mm[:-1])], 0.0)
        ws2 = np.stack([mloc ** 2 * 2.0 * (1.0 - WaveModel(1.0, L).corr(step_window * bin_mb)) for L in lengths])
        st = np.ones(mm.size, dtype=np.bool_)
        st[1:] = ch[1:] != ch[:-1]
        # a chain also restarts where the step is unknown (no usable bins around it)
        st |= ~np.isfinite(stp)
        stp = np.where(st, 0.0, stp)
        vs = np.where(st, 1.0, vs)
        return (np.ascontiguousarray(mm), np.ascontiguousarray(vl), np.ascontiguousarray(w2),
                np.ascontiguousarray(mpos ** 2), st, np.ascontiguousarray(stp), np.ascontiguousarray(vs),
                np.ascontiguousarray(ws2))

    log_p0 = np.log(p_same)
    log_pc = np.log((1 - p_same) / 2 * (1 - step_decay))
    lg = math.lgamma((t_df + 1) / 2) - math.lgamma(t_df / 2)
    pri = (np.log(base_prior), np.log(1 - base_prior), float(deviation_scale), log_p0, log_pc, np.log(step_decay))
    epss = np.asarray(post_wgd_grid, dtype=np.float64)
    weps = np.asarray(post_wgd_weights, dtype=np.float64)
    log_epss, log_weps = np.log(epss), np.log(weps / weps.sum())
    lcont = float(np.log(contamination)) if contamination > 0 else -np.inf

    # the lattice is judged on segments of at least scan_min_mb, and on the steps between
    # consecutive ones: short segments (focal events, pieces the focal scan cut out because
    # they looked extreme, and the many short noise segments of a hyper-segmented profile)
    # have means biased by that selection, and their steps in and out — each a few bins — are
    # what lets a finer lattice "explain" noise; they are called at the end like all others
    stab = seg
    if scan_segments is not None and len(scan_segments):
        # a coarser segmentation of the same ratio (major events only) judges the lattice;
        # the segments given are called with the scale it picks
        stab = scan_segments.reset_index(drop=True)
    sm, snb, sspan, sch = _columns(stab)
    sauto = np.isin(sch, AUTOSOMES) & np.isfinite(sm) & (snb > 0)
    scan_sel = sauto & (sspan >= scan_min_mb)
    if scan_sel.sum() < 3:
        scan_sel = sauto
    if scan_sel.sum() == 0:
        stab, scan_sel = seg, auto
        snb = nb
    A = _arrays(scan_sel, stab)
    na = snb[scan_sel]
    # systematic error of segment means, marginalised over the noise regimes: the cell's
    # waviness amplitude and correlation length, and a span-independent floor
    lidx = np.ascontiguousarray(np.searchsorted(np.unique(regimes[:, 1]), regimes[:, 1]).astype(np.int64))
    tau2s = np.ascontiguousarray((wave.sd * regimes[:, 0]) ** 2)
    phi2s = np.ascontiguousarray(regimes[:, 2] ** 2)
    log_wk = np.ascontiguousarray(np.log(regimes[:, 3] / regimes[:, 3].sum()))

    def scan(Mg, A=A, na=na):
        sg = rbar / Mg
        # base ploidy of each grid point from the nearest whole levels (length-weighted mode)
        bg = np.maximum(_modal(np.rint(A[0][None, :] / sg[:, None]), na), 1).astype(np.int64)
        out = (np.empty(Mg.size), np.empty(Mg.size, dtype=np.int64), np.zeros(Mg.size, dtype=np.int64),
               np.zeros(Mg.size), np.zeros((Mg.size, A[0].size), dtype=np.int64))
        _scan(sg, bg, tau2s, phi2s, lidx, log_wk, *A, float(t_df), lg, N, int(max_cn), np.log(fraction_prior), lcont,
              *pri, log_epss, log_weps, np.log(wgd_prior), *out)
        return (sg, bg) + out

    # grid of mean copy number M (log-spaced) ↔ scale s = rbar / M (ratio per copy): a coarse
    # pass over the whole range, then the fine grid around every coarse point that is not
    # negligible (the posterior is a few narrow peaks, one per candidate lattice)
    G = int(np.ceil(np.log(grid_max / grid_min) / grid_step)) + 1
    M_all = grid_min * np.exp(grid_step * np.arange(G))
    stride = max(1, int(round(coarse_factor)))
    if stride > 1 and G > 4 * stride:
        ci = np.arange(0, G, stride)
        cs = scan(M_all[ci])
        clp = cs[2] + log_prior(M_all[ci], prior_range, prior_decay)
        near = clp >= clp.max() - coarse_margin
        if dna_index is not None and np.isfinite(dna_index) and dna_index > 0:
            # the contents the DNA index finds plausible are scanned too, however far read
            # depth puts them: the joint posterior must be able to reach them
            dcl = dna_log_likelihood(M_all[ci], float(dna_index), float(dna_index_sd), cycle_prior=cycle_prior,
                                     **{k: v for k, v in (dna_params or {}).items() if k in DNA_LIKELIHOOD_KEYS})[0]
            near |= dcl >= dcl.max() - DNA_DEFAULTS["dna_conflict_nats"]
        keep = ci[near]
        fine = np.unique(np.clip(keep[:, None] + np.arange(-stride, stride + 1)[None, :], 0, G - 1).ravel())
    else:
        fine = np.arange(G)
    M = M_all[fine]
    s, base, fit, kbest, mbest, pwgd, paths = scan(M)
    lev = paths / N  # copies, (G, S_auto)

    # integer base ploidy of each grid solution: its modal whole copy number over autosomes
    ploidy_g = _modal(np.rint(lev), na)
    # the chain treats every segment's misfit as independent evidence; a hyper-segmented
    # profile (hundreds of segments cut from waves and short events) multiplies small,
    # correlated misfits into certainty — a DLP+ cell of 230 segments put 30 nats on the
    # wrong lattice.  Beyond evidence_segments segments the evidence is tempered as if there
    # were that many (a quasi-likelihood correction: docs/cna.md)
    n_scan = int(scan_sel.sum())
    t_seg = max(1.0, n_scan / float(evidence_segments)) if evidence_segments else 1.0
    lp = (fit - fit.max()) / t_seg + log_prior(M, prior_range, prior_decay)
    if ploidy_prior:
        # evidence from related samples (a clone's consensus): mixed with a flat share so a
        # sample with strong evidence of its own keeps it
        labels = np.arange(1, int(np.ceil(grid_max)) + 1)
        q = np.array([float(ploidy_prior.get(int(p), 0.0)) for p in labels])
        q = q / q.sum() if q.sum() > 0 else np.full(labels.size, 1.0 / labels.size)
        mix = prior_weight * q + (1.0 - prior_weight) / labels.size
        lp = lp + np.log(mix[np.clip(ploidy_g, 1, labels.size) - 1])
    # calibration: the posterior tempered (T > 1 flattens it) so that a stated confidence is
    # right as often as it says on held-out sources (docs/cna.md)
    T = max(float(temperature), 1e-6)
    dna = None
    if dna_index is not None and np.isfinite(dna_index) and dna_index > 0:
        dp = {k: v for k, v in (dna_params or {}).items() if k in DNA_LIKELIHOOD_KEYS}
        dll, dphase = dna_log_likelihood(M, float(dna_index), float(dna_index_sd), cycle_prior=cycle_prior, **dp)
        # a second doubling (8n G1) against one doubling in G2/M: ctcscope.cna.dna_content
        high = float((dna_params or {}).get("dna_above_6n_prior", DNA_DEFAULTS["dna_above_6n_prior"]))
        hp = np.where(ploidy_g > 6, np.log(max(high, 1e-12)), 0.0)
        rd = np.exp((lp - lp.max()) / T)
        rd /= rd.sum()
        u0 = np.unique(ploidy_g)
        m0 = _class_mass(rd, ploidy_g, u0)
        rd_best, rd_conf = int(u0[np.argmax(m0)]), float(m0.max())
        g_rd = int(np.argmax(np.where(ploidy_g == rd_best, lp, -np.inf)))
        g_j = int(np.argmax(lp + dll + hp))
        # a strong disagreement: the DNA index fits some content far better than the one the
        # joint call settles on, or than the one read depth resolved on its own (efflux, a
        # doublet, a wrong well): flagged, and read depth's call kept rather than forced
        nats = float((dna_params or {}).get("dna_conflict_nats", DNA_DEFAULTS["dna_conflict_nats"]))
        # the DNA index's own best content, over the whole range (the scan's grid keeps only
        # the neighbourhoods of read-depth peaks)
        best = float(dna_log_likelihood(np.exp(np.linspace(np.log(grid_min), np.log(grid_max), 400)),
                                        float(dna_index), float(dna_index_sd), cycle_prior=cycle_prior, **dp)[0].max())
        best = max(best, float(dll.max()))
        conflict = bool(best - dll[g_j] > nats or (rd_conf >= 0.95 and best - dll[g_rd] > nats))
        robust = None
        if conflict:
            # read depth's call is kept, but not its certainty: one of the two measures is
            # wrong, and read depth is wrong at high confidence more often on foreign data than
            # its posterior says (docs/cna.md, validation).  The stated confidence is that of a
            # joint in which read depth's posterior is trusted with probability 1 - dna_rd_doubt
            eps = float((dna_params or {}).get("dna_rd_doubt", DNA_DEFAULTS["dna_rd_doubt"]))
            ks = u0
            rk = _class_mass(rd, ploidy_g, ks)
            dk = np.array([float(np.max((dll + hp)[ploidy_g == k])) for k in ks])
            q = np.log((1 - eps) * rk + eps / ks.size) + dk
            q = np.exp(q - q.max())
            robust = {int(k): float(v) for k, v in zip(ks, q / q.sum())}
        else:
            lp = lp + dll + hp
        dna = (rd_best, rd_conf, dphase, conflict, robust)
    post = np.exp((lp - lp.max()) / T)
    post /= post.sum()

    uniq = np.unique(ploidy_g)
    mass = _class_mass(post, ploidy_g, uniq)
    order = np.argsort(-mass)
    best_p = int(uniq[order[0]])
    conf = float(mass[order[0]])
    runner, runner_p = (int(uniq[order[1]]), float(mass[order[1]])) if uniq.size > 1 else (None, 0.0)
    wgd_prob = float(post[ploidy_g >= 4].sum())
    # posterior mass of solutions with every autosomal segment at the base (no alteration)
    allbase = np.all(np.rint(lev) == ploidy_g[:, None], axis=1)
    p_flat = float(post[allbase].sum())

    # the best solution with the chosen ploidy; copy numbers of all segments (X too) by Viterbi
    cand = np.flatnonzero(ploidy_g == best_p)
    g = cand[np.argmax(lp[cand])]
    if stab is not seg and cand.size:
        # the merged scan segments pick the ploidy; the scale within it is refined on the
        # segments called, where weak steps (±1 copy at 4n) merged away in the scan still
        # pull the scale (otherwise the call can drift half a step and flatten them)
        fsel = auto & (span >= scan_min_mb)
        if fsel.sum() < 3:
            fsel = auto
        if fsel.any():
            Af = _arrays(fsel)
            _, _, ffit, fk, fm, _, fpaths = scan(M[cand], A=Af, na=nb[fsel])
            same = _modal(np.rint(fpaths / N), nb[fsel]) == best_p
            if same.any():
                score = np.where(same, ffit + log_prior(M[cand], prior_range, prior_decay), -np.inf)
                j = int(np.argmax(score))
                g = cand[j]
                kbest, mbest = kbest.copy(), mbest.copy()
                kbest[g], mbest[g] = fk[j], fm[j]
    s_hat = float(s[g])
    Aall = _arrays(valid)
    path = np.zeros(Aall[0].size, dtype=np.int64)
    # final copy numbers: the same chain, but with flatter priors on the size of deviations and
    # steps, so that short strong events (focal amplifications) are not shrunk towards the base
    cpri = (pri[0], pri[1], float(call_deviation_scale), pri[3],
            np.log((1 - p_same) / 2 * (1 - call_step_decay)), np.log(call_step_decay))
    mb = int(mbest[g])
    lq, ls = _model_priors(int(base[g]), mb > 0, int(max_cn), *cpri, log_epss[max(mb - 1, 0)])
    kb = int(kbest[g])
    Ak = list(Aall)
    Ak[2], Ak[7] = np.ascontiguousarray(Aall[2][lidx[kb]]), np.ascontiguousarray(Aall[7][lidx[kb]])
    _chain(s_hat, tau2s[kb], phi2s[kb], *Ak, float(t_df), lg, N, lq, ls, np.log(fraction_prior), lcont, True, path)
    cn_all = np.full(n_seg, np.nan)
    cn_all[valid] = path / N
    ka, nauto = cn_all[auto], nb[auto]
    mean_cn = (float(np.sum(ka * nauto) / np.sum(nauto)) if N > 1
               else float(np.sum(np.rint(ka) * nauto) / np.sum(nauto)))

    # posterior on the coarse reporting grid (mass of each report cell)
    edges = np.concatenate([[rgrid[0] - report_step / 2], (rgrid[1:] + rgrid[:-1]) / 2, [rgrid[-1] + report_step / 2]])
    cell = np.clip(np.searchsorted(edges, M, side="right") - 1, 0, rgrid.size - 1)
    rep = np.bincount(cell, weights=post, minlength=rgrid.size)

    srt = np.sort(paths[g])
    n_levels = int(np.sum((np.r_[True, srt[1:] != srt[:-1]]) & (srt > 0)))
    call = PloidyCall(ploidy=best_p, mean_cn=mean_cn, scale=s_hat, confidence=conf,
                      runner_up=runner, runner_up_prob=runner_p, wgd=best_p >= 4, wgd_probability=wgd_prob,
                      segment_cn=cn_all, posterior=rep,
                      ploidy_probs={int(p): float(q) for p, q in zip(uniq, mass)}, n_levels=n_levels,
                      tau=float(np.sqrt(tau2s[kbest[g]])), p_flat=p_flat)
    if dna is not None:
        call.dna_used = True
        call.rd_ploidy, call.rd_confidence, dphase, call.dna_conflict, robust = dna
        call.phase_probs = post @ dphase
        if robust is not None:
            call.restate(robust)
    return call


def min_rmse_ploidy(segments: pd.DataFrame, ploidies=range(2, 7)) -> int:
    """Baseline: the Control-FREEC-style choice used by the study's pipeline.

    For each candidate ploidy ``P`` the median ratio is taken as ``P`` copies, each segment is
    rounded to the nearest integer and the length-weighted RMSE of the ratio to those levels
    is computed; the ploidy with the smallest RMSE wins.  Kept only as a comparison: a finer
    lattice always leaves a smaller error, so this drifts to high ploidy.
    """
    seg = segments[segments["chrom"].astype(str).isin(AUTOSOMES)]
    m = seg["seg_mean"].to_numpy(dtype=np.float64)
    n = seg["n_bins"].to_numpy(dtype=np.float64)
    ok = np.isfinite(m) & (n > 0)
    m, n = m[ok], n[ok]
    if m.size == 0:
        return 2
    med = float(np.median(np.repeat(m, n.astype(int))))
    best, best_rmse = 2, np.inf
    for P in ploidies:
        cn = np.rint(m / med * P)
        rmse = np.sqrt(np.sum(n * (m / med - cn / P) ** 2) / n.sum())
        if rmse < best_rmse - 1e-12:
            best, best_rmse = P, rmse
    return int(best)
