"""The DNA index as evidence on ploidy: its likelihood over mean copy number and cycle phase.

A sorted cell's DNA index (its Hoechst intensity over the 2n G1 peak of the leukocytes of
the same tube, :mod:`ctcscope.phenotype.dna_index`) measures total DNA content:

    DNA index = mean copy number / 2 × cycle factor × staining factor × error

with the cycle factor 1 in G1, 1-2 in S (the share of the genome already copied) and 2 in
G2/M; the staining factor 1, except in a minority of cells whose drug-efflux pumps (ABCG2,
ABCB1, up in TKI-resistant cells) pump Hoechst 33342 out (Goodell et al., J Exp Med
1996;183:1797, PMID 8666936) — a downward tail down to half the intensity; the error
log-normal with the leukocytes' CV plus a floor for tumour-cell staining (live-cell
Hoechst CV 3-8 %); and a small share of gross outliers (debris, doublets, a wrong well)
scored the same at every ploidy.

Read depth cannot tell k copies from 2k where nothing changed after a doubling; the DNA
index can tell 2n G1 (index 1) from 4n G1 (2), but not 4n G1 from 2n G2/M (both 2).  The
read-depth posterior and this likelihood multiply (:func:`ctcscope.cna.ploidy.call_ploidy`);
the phase prior — mostly G1 for circulating tumour cells, S for cells whose reads carry a
replication-timing signal (:mod:`ctcscope.cna.cycle`) — decides the rest, and where it is
all that decides, the call stays ambiguous.

One more prior enters with the index: a base above 6n gets ``dna_above_6n_prior``.  With a
DNA index, the only rival of a 4n cell in G2/M is an 8n cell in G1 of the same relative
profile, and the phase prior alone (G1 0.85 vs G2/M 0.10) would prefer the second doubling;
CTC ploidies above 6n are rare (the study's were 2n-6n: Oulhen et al. 2021, Fig. 2c).
"""
from __future__ import annotations

import numpy as np

#: Phases in the order of ``cycle_prior`` and of the phase probabilities.
PHASES = ("G1", "S", "G2/M")

DNA_DEFAULTS = dict(
    cycle_prior=(0.85, 0.05, 0.10),    # G1, S, G2/M of a cell without a replication signal
    cycle_prior_s=(0.05, 0.90, 0.05),  # … of a cell whose reads show S phase
    dna_cv_floor=0.04,                 # tumour-cell staining spread beyond the leukocytes' CV
    dna_dim_prob=0.05,                 # share of efflux-dimmed cells
    dna_dim_min=0.5,                   # dimmest staining factor of those
    dna_outlier=0.01,                  # share of gross outliers (flat over 1/4-8 x)
    dna_conflict_nats=4.6,             # log(100): DNA fits another content 100x better
    dna_above_6n_prior=0.1,            # prior weight of a base above 6n when the DNA index is used
    dna_rd_doubt=0.05,                 # in a disagreement: chance that read depth's posterior is wrong
)

#: The settings :func:`dna_log_likelihood` takes (the others are used by the caller).
DNA_LIKELIHOOD_KEYS = ("dna_cv_floor", "dna_dim_prob", "dna_dim_min", "dna_outlier")

_S_POINTS = 1.0 + (np.arange(9) + 0.5) / 9.0  # S phase: copied share uniform on (0, 1)
_DIM_POINTS = 6
_OUTLIER_SPAN = np.log(32.0)                  # outliers: log index uniform over [1/4, 8]


def dna_log_likelihood(mean_cn: np.ndarray, dna_index: float, dna_index_sd: float, *,
                       cycle_prior=DNA_DEFAULTS["cycle_prior"], dna_cv_floor: float = DNA_DEFAULTS["dna_cv_floor"],
                       dna_dim_prob: float = DNA_DEFAULTS["dna_dim_prob"],
                       dna_dim_min: float = DNA_DEFAULTS["dna_dim_min"],
                       dna_outlier: float = DNA_DEFAULTS["dna_outlier"]) -> tuple[np.ndarray, np.ndarray]:
    """Log density of the observed DNA index at each mean copy number, and phase weights.

    Parameters
    ----------
    mean_cn : candidate mean copy numbers (any shape ``(G,)``).
    dna_index, dna_index_sd : the measured index and its measurement SD (index scale).
    cycle_prior : prior of G1, S, G2/M.

    Returns
    -------
    ``(ll, phase)``: ``ll`` (G,) the log density of ``log(dna_index)``; ``phase`` (G, 3) the
    posterior of each phase given the index at that mean copy number (rows sum to 1).
    """
    M = np.asarray(mean_cn, dtype=np.float64).reshape(-1)
    x = float(np.log(dna_index))
    rel = float(dna_index_sd) / float(dna_index) if np.isfinite(dna_index_sd) and dna_index > 0 else 0.05
    sd = float(np.hypot(rel, dna_cv_floor))
    # staining factors: 1, or log-uniform between dna_dim_min and 1
    dims = np.exp(np.log(dna_dim_min) * (np.arange(_DIM_POINTS) + 0.5) / _DIM_POINTS)
    ld = np.concatenate([[np.log(1.0 - dna_dim_prob)], np.full(_DIM_POINTS, np.log(dna_dim_prob / _DIM_POINTS))])
    logd = np.concatenate([[0.0], np.log(dims)])
    mu0 = np.log(M / 2.0)[:, None]

    def phase_ll(factors: np.ndarray) -> np.ndarray:
        # mean over the phase's factors, sum over staining factors
        mu = mu0[:, :, None] + np.log(factors)[None, :, None] + logd[None, None, :]
        z = (x - mu) / sd
        lp = -0.5 * z * z - np.log(sd * np.sqrt(2.0 * np.pi)) + ld[None, None, :]
        lp = lp.reshape(M.size, -1)
        m = lp.max(axis=1, keepdims=True)
        return (m[:, 0] + np.log(np.exp(lp - m).sum(axis=1))) - np.log(factors.size)

    ll_ph = np.column_stack([phase_ll(np.array([1.0])), phase_ll(_S_POINTS), phase_ll(np.array([2.0]))])
    lpri = np.log(np.clip(np.asarray(cycle_prior, dtype=np.float64), 1e-12, None))
    lpri -= np.log(np.exp(lpri).sum())
    joint = ll_ph + lpri[None, :]
    m = joint.max(axis=1, keepdims=True)
    tot = m[:, 0] + np.log(np.exp(joint - m).sum(axis=1))
    phase = np.exp(joint - tot[:, None])
    # gross outliers: the same density whatever the copy number
    ll = np.logaddexp(np.log(1.0 - dna_outlier) + tot, np.log(dna_outlier) - _OUTLIER_SPAN)
    return ll, phase


def flat_profile_posterior(dna_index: float, dna_index_sd: float, *, bases=range(1, 9), base_prior: dict | None = None,
                           **dna_params) -> tuple[dict, np.ndarray]:
    """Ploidy of a flat (unaltered) profile from its DNA index alone.

    Read depth of a flat profile fits every base copy number equally; the DNA index tells
    them apart except k in G2/M from 2k in G1.  ``base_prior`` (default: 2n 0.7, the rest
    equal — a flat circulating cell is most often a diploid epithelial or blood cell).

    Returns ``({ploidy: probability}, phase probabilities (3,))``.
    """
    b = np.asarray(list(bases), dtype=np.float64)
    if base_prior is None:
        pri = np.where(b == 2, 0.7, 0.3 / max(b.size - 1, 1))
    else:
        pri = np.array([float(base_prior.get(int(k), 0.0)) for k in b])
    ll, phase = dna_log_likelihood(b, dna_index, dna_index_sd, **dna_params)
    lp = ll + np.log(np.clip(pri, 1e-300, None))
    post = np.exp(lp - lp.max())
    post /= post.sum()
    return {int(k): float(p) for k, p in zip(b, post)}, post @ phase
