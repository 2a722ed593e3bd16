"""The copy-number step: counts → ratio → segments → ploidy and absolute copy number → QC.

:func:`call_copy_number` runs the whole step on an AnnData (docs/data-model.md).  Work that
concerns one sample runs through :func:`ctcscope.parallel.map_samples` (local processes or
Dask); the few cohort-level parts sit between the passes:

1. per sample: GC/mappability correction, a first segmentation, and a second GC fit with the
   copy-number signal divided out (so gained GC-rich chromosomes do not bend the curve);
2. run: a panel of normals — the median locus bias of the run's normal controls (or, with
   fewer than ``pon_min_samples`` controls, of all samples, each with its own copy-number
   segments divided out), since WGA locus bias is shared by every cell of a run;
3. per sample: panel correction, the noise model, segmentation, outlier bins;
4. run: long-range waviness, measured on the diploid controls (or on all samples); then the
   undulation the run's samples share (:func:`ctcscope.cna.correct.shared_wave`, from the
   residuals of a first call), divided out where it is reliable, and steps 3-4 again;
5. run: groups of cells with near-identical relative profiles (one clone) and the ploidy
   posterior of each group's consensus (median) profile, where one cell's own evidence
   is weak but the clone's is not;
6. per sample: the ploidy posterior, absolute copy number, instability measures; members of
   a group whose confident calls agree up to doubling are called again with the group's
   consensus as a prior (a group whose members confidently differ otherwise mixes ploidies
   and its consensus is not used); high-level focal amplifications a clone shares get the
   level measured on the clone in members whose own data agree (:func:`clone_focal_levels`);
   what each ploidy rests on (:func:`ploidy_basis`);
7. run: QC verdicts and normal-like (flat) profiles relative to the controls.
"""
from __future__ import annotations

import json
import warnings
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from ..errors import InputError
from ..genome.builtin import usable_bins
from ..genome.names import AUTOSOMES, canonical_chroms
from ..parallel import map_samples
from .cycle import CYCLE_DEFAULTS, flag_replicating, replication_signal
from .dna_content import DNA_DEFAULTS, DNA_LIKELIHOOD_KEYS, PHASES, flat_profile_posterior
from .correct import (CORRECT_DEFAULTS, apply_panel_of_normals, build_panel_of_normals, gc_correct, nan_median, outlier_bins,
                      shared_wave, smooth_by_chrom)
from .instability import instability
from .noise import NoiseModel, WaveModel, estimate_noise, estimate_waviness, mapd
from .ploidy import PLOIDY_DEFAULTS, call_ploidy, report_grid
from .qc import QC_DEFAULTS, flat_fraction, mapd_limit, normal_like, qc
from .segment import SEGMENT_DEFAULTS, merge_equal, merge_insignificant, segment

CONTROL_TYPES = ("wbc", "germline", "normal")
TUMOUR_TYPES = ("ctc", "ctc_pool", "biopsy")
SAMPLE_TYPES = TUMOUR_TYPES + CONTROL_TYPES

#: Pipeline-level parameters (besides those of each step).
PIPELINE_DEFAULTS = dict(
    phase_conf=0.8,  # cycle_phase is named where its posterior (DNA index + reads) reaches this
    pon_min_samples=3,  # fewer controls than this: build the panel from all samples
    pon_highpass_mb=2.0,  # the panel keeps only bin-level bias (residuals from a smooth of this bandwidth)
    bulk_levels=10,  # biopsies: copy-number levels per copy (a bulk is a mixture)
    drop_lone_bins=True,  # one-bin segments between two others are artefacts (set aside)
    group_prior=True,  # let cells of one clone inform each other's ploidy
    group_min_r=0.55,  # correlation of relative profiles to join a clone group
    group_member_r=0.7,  # correlation of a member with its group's consensus profile
    group_min_size=3,  # smallest group with a consensus
    group_conf=0.95,  # a member this confident on its own is "resolved": its clone may sharpen, never change its call
    group_wave_floor=0.5,  # waviness of a group consensus: at least this share of the members' (shared waves)
    group_min_own_resolved=1.0,  # the same where some members are resolved on their own (1: never moved)
    group_min_own=0.1,  # a clone may move an unresolved member only to a ploidy its own read depth gives >= this x its own best
    control_grid=(1.5, 2.6),  # controls are germline diploid: mean CN searched only here
    wave_beta=10.0,  # coarse segmentation penalty used only to measure each sample's waviness
    wave_sd=None,  # override the run's waviness (relative SD) ...
    wave_length_mb=None,  # ... and its correlation length
    wave_own_weight=0.7,  # a sample's own waviness estimate vs the typical one of its kind (log scale)
    shared_wave=True,  # measure and divide out the undulation the run's samples share
    shared_wave_min_samples=6,  # fewer samples (a clone counting once): no shared undulation is estimated
    shared_wave_bandwidth_mb=1.0,  # smoothing of the residuals along the genome
    shared_wave_grid_step=0.006,  # coarser scale grid of the first calls (speed)
    shared_wave_reliability="split-half",  # how much of the estimated shared wave is signal (or "sampling")
    shared_wave_max_loading=3.0,  # a sample's share of the run's undulation is at most this
    shared_wave_min_reliability=0.75,  # below this split-half reliability the run shares no clear undulation
    shared_wave_residual="segment",  # residuals from each sample's own segment means ("segment") or a first call ("call")
    clone_focal=True,  # clone-shared focal amplifications: level measured on the clone (clone_focal_levels)
    resolved_conf=0.95,  # a ploidy inferred with at least this posterior probability is "resolved"
    scan_merge_z=5.0,  # neighbouring segments closer than this (noise + waviness SEs) are one for the ploidy scan
)

DEFAULTS: dict[str, Any] = {**CORRECT_DEFAULTS, **SEGMENT_DEFAULTS, **PLOIDY_DEFAULTS, **QC_DEFAULTS, **CYCLE_DEFAULTS,
                            **DNA_DEFAULTS, **PIPELINE_DEFAULTS}

_BIN_COLS = ("chrom", "start", "end", "gc", "mappability", "use")


def _pick(params: dict, defaults: dict) -> dict:
    return {k: params[k] for k in defaults if k in params}


# ---------------------------------------------------------------- per-sample passes
def _pass_correct(counts: np.ndarray, bins: pd.DataFrame, params: dict) -> dict:
    """GC correction with a copy-number-aware second fit; residuals for the panel of normals."""
    cp = _pick(params, CORRECT_DEFAULTS)
    cp.pop("outlier_sd", None)
    sp = _pick(params, SEGMENT_DEFAULTS)
    chrom = bins["chrom"].to_numpy()
    r1 = gc_correct(counts, bins, **cp)
    if not np.isfinite(r1).any():
        return {"ratio": r1.astype(np.float32), "resid": r1.astype(np.float32)}
    _, sb1 = segment(r1, bins, noise=estimate_noise(counts, r1, chrom), **sp)
    r2 = gc_correct(counts, bins, level=sb1, **cp)
    if not np.isfinite(r2).any():
        r2 = r1
    _, sb2 = segment(r2, bins, noise=estimate_noise(counts, r2, chrom), **sp)
    with np.errstate(invalid="ignore", divide="ignore"):
        resid = np.where(sb2 > 0.1, r2 / sb2, np.nan)
        # the panel of normals is for the bin-level locus bias: the sample's own smooth
        # undulation is taken out, else every cell would inherit the controls' waves
        if params["pon_highpass_mb"]:
            pos = 0.5 * (bins["start"].to_numpy(np.float64) + bins["end"].to_numpy(np.float64))
            resid = resid / smooth_by_chrom(resid, chrom.astype(str), pos, params["pon_highpass_mb"] * 1e6)
    rep = None
    if params["s_phase"] and "rt" in bins and np.isfinite(bins["rt"].to_numpy()).sum() >= 200:
        rep = replication_signal(r2, bins, bins["rt"].to_numpy(np.float64), window_mb=params["s_phase_window_mb"],
                                 width=params["s_phase_width"])
    return {"ratio": r2.astype(np.float32), "resid": resid.astype(np.float32), "replication": rep}


def _segment_levels(seg: pd.DataFrame | None, n: int) -> np.ndarray:
    """Each bin's segment mean (NaN outside segments)."""
    out = np.full(n, np.nan)
    if seg is None:
        return out
    for a, b, m in zip(seg["first_bin"].to_numpy(), seg["end_bin"].to_numpy(), seg["seg_mean"].to_numpy()):
        out[a:b] = m
    return out


def _lone_bins(seg: pd.DataFrame, n: int) -> np.ndarray:
    """Bins forming a one-bin segment between two segments of the same chromosome."""
    mask = np.zeros(n, dtype=bool)
    if seg is None or len(seg) < 3:
        return mask
    nb = seg["n_bins"].to_numpy()
    c = seg["chrom"].astype(str).to_numpy()
    inner = np.zeros(len(seg), dtype=bool)
    inner[1:-1] = (nb[1:-1] == 1) & (c[1:-1] == c[:-2]) & (c[1:-1] == c[2:])
    mask[seg["first_bin"].to_numpy()[inner]] = True
    return mask


def _pass_segment(item: tuple, bins: pd.DataFrame, pon: np.ndarray | None, params: dict) -> dict:
    """Panel correction, noise model, segmentation, outlier bins and waviness of one sample."""
    counts, ratio, is_control, divisor = item
    sp = _pick(params, SEGMENT_DEFAULTS)
    chrom = bins["chrom"].to_numpy()
    r = apply_panel_of_normals(np.asarray(ratio, dtype=np.float64), pon)
    if divisor is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            r = r / divisor
            r = r / nan_median(r)
    if not np.isfinite(r).any():
        return {"ratio": r, "segments": None, "noise": NoiseModel(1.0, 0.05), "mapd": float("nan"), "wave": None}
    noise = estimate_noise(counts, r, chrom)
    seg, sb = segment(r, bins, noise=noise, **sp)
    noise = estimate_noise(counts, r, chrom, level=sb)
    # single bins far off their segment (read pile-ups, mis-mapped repeats) are dropped and
    # the segmentation redone without them, so real focal events keep their own segments
    out = outlier_bins(r, sb, noise.bin_sd(np.where(np.isfinite(sb), sb, 1.0)), params["outlier_sd"])
    # a segment of one bin standing apart from both neighbours is an artefact at this
    # resolution (a mappability hole, a read pile-up), not a copy-number state
    if params["drop_lone_bins"]:
        out |= _lone_bins(seg, len(r))
    if out.any():
        r = r.copy()
        r[out] = np.nan
        seg, sb = segment(r, bins, noise=noise, **sp)
        noise = estimate_noise(counts, r, chrom, level=sb)
    # waviness of this sample, measured within long segments of a coarse segmentation (a fine
    # one would cut the waves into pieces and hide them); controls: within chromosomes
    if is_control:
        lev = pd.Series(r).groupby(chrom).transform("median").to_numpy()
    else:
        _, lev = segment(r, bins, noise=noise, **{**sp, "beta": params["wave_beta"]})
    wave = estimate_waviness(r, lev, bins)
    return {"ratio": r, "segments": seg, "noise": noise, "mapd": mapd(r, chrom), "n_outliers": int(out.sum()),
            "wave": wave, "wave_level": lev.astype(np.float32)}


def _pass_call(item: dict, bins: pd.DataFrame, params: dict) -> dict:
    """Ploidy posterior, absolute copy number per segment and bin, instability."""
    seg: pd.DataFrame | None = item["segments"]
    n = len(bins)
    grid = report_grid(params["report_step"], params["grid_min"], params["grid_max"])
    empty = {"cn": np.full(n, np.nan, np.float32), "segment": np.full(n, np.nan, np.float32),
             "segments": pd.DataFrame(columns=["chrom", "start", "end", "first_bin", "end_bin", "n_bins", "seg_mean", "cn"]),
             "call": None, "posterior": np.full(grid.size, np.nan), "instability": instability(np.full(n, np.nan), bins, None)}
    if seg is None or seg.empty:
        return empty
    pp = _pick(params, PLOIDY_DEFAULTS)
    pp["report_range"] = (params["grid_min"], params["grid_max"])
    # the lattice is judged on the segments that stand out of noise and waviness (merged at
    # scan_merge_z); all segments are then called at the scale it picks
    scan = merge_insignificant(seg, item["ratio"], item["noise"], item["wave"], z=params["scan_merge_z"])
    kw = dict(ratio=item["ratio"], wave=item["wave"], pool_size=item["levels"], ploidy_prior=item.get("ploidy_prior"),
              scan_segments=scan)
    dna = item.get("dna")
    dkw = {}
    if dna is not None and not item["germline"]:
        # the DNA index of the index sort (ctcscope.cna.dna_content): a second, physical
        # measure of the scale; the phase prior follows the replication signal of the reads
        dkw = dict(dna_index=dna[0], dna_index_sd=dna[1],
                   cycle_prior=params["cycle_prior_s"] if item.get("s_phase") else params["cycle_prior"],
                   dna_params={k: params[k] for k in DNA_DEFAULTS})
    if item["germline"]:
        # controls (wbc, germline, normal) are diploid by what they are: called on the 2n
        # solution only
        pc = call_ploidy(seg, item["noise"], **kw, **{**pp, "grid_min": params["control_grid"][0],
                                                     "grid_max": params["control_grid"][1]})
    elif item["is_control"] and dkw:
        # a flat profile fits every base copy number; its DNA index tells them apart (all
        # but k in G2/M from 2k in G1): called at the base the index makes most probable
        probs, phase = flat_profile_posterior(dkw["dna_index"], dkw["dna_index_sd"], cycle_prior=dkw["cycle_prior"],
                                              **{k: dkw["dna_params"][k] for k in DNA_LIKELIHOOD_KEYS})
        base = max(probs, key=probs.get)
        lo, hi = (params["control_grid"] if base == 2 else (base * 0.85, base * 1.15))
        pc = call_ploidy(seg, item["noise"], **kw, **{**pp, "grid_min": lo, "grid_max": hi})
        if pc.ploidy is None:
            return empty
        pc.restate(probs)
        pc.dna_used, pc.phase_probs, pc.rd_ploidy = True, phase, None
    else:
        pc = call_ploidy(seg, item["noise"], **kw, **pp, **dkw)
    if pc.ploidy is None:
        return empty
    if item["is_control"] and not item["germline"] and not dkw and pc.ploidy != 2:
        # a flat profile fits any ploidy; normal-like cells are called as the diploid cells they
        # most probably are (the copy numbers of the 2n solution), while the posterior stays that
        # of the read-depth evidence alone (confidence, runner-up and P(WGD) are not reported
        # for them: see ploidy_basis and the assembly below)
        free = pc
        pc = call_ploidy(seg, item["noise"], **kw, **{**pp, "grid_min": params["control_grid"][0],
                                                     "grid_max": params["control_grid"][1]})
        if pc.ploidy is None:
            return empty
        pc.restate(free.ploidy_probs, free.wgd_probability)
        pc.posterior = free.posterior
        pc.p_flat = free.p_flat
    seg = seg.copy()
    seg["cn"] = pc.segment_cn
    merged = merge_equal(seg.dropna(subset=["cn"]), item["ratio"], key="cn")
    use = bins["use"].to_numpy(bool)
    cn = np.full(n, np.nan)
    sm = np.full(n, np.nan)
    for a, b, k, mval in zip(merged.first_bin, merged.end_bin, merged.cn, merged.seg_mean):
        cn[a:b] = k
        sm[a:b] = mval
    cn[~use] = np.nan
    sm[~use] = np.nan
    # pools and bulks: copy number per cell-equivalent may be fractional; instability is
    # measured on the nearest whole copies
    inst = instability(cn, bins, pc.ploidy)
    return {"cn": cn.astype(np.float32), "segment": sm.astype(np.float32), "segments": merged, "call": pc,
            "posterior": pc.posterior, "instability": inst}


def _flat_and_groups(res2, obs, is_control, wave, fixed, bins, P):
    """Flat (normal-like) profiles by the segment test, tumour candidates, and clone groups
    (labels, ``""`` for none) of the candidates."""
    n = len(res2)
    fkw = dict(delta=P["flat_delta"], z=P["flat_z"], min_bins=P["flat_min_bins"])
    flat0 = np.array([flat_fraction(r["segments"], r["noise"], wave if fixed else r["wave"], **fkw)
                      if r["segments"] is not None else np.nan for r in res2])
    nl0 = normal_like(flat0, is_control, max_fraction=P["flat_max_fraction"], cap=P["flat_cap"]) & np.isfinite(flat0)
    cand = obs["sample_type"].isin(["ctc", "ctc_pool"]).to_numpy() & ~nl0 & np.array([r["segments"] is not None for r in res2])
    patients = obs["patient"].astype(str).fillna("").to_numpy() if "patient" in obs else np.full(n, "")
    groups = np.full(n, "", dtype=object)
    if P["group_prior"] and cand.sum() >= P["group_min_size"]:
        ratios = np.vstack([np.asarray(r["ratio"], dtype=np.float64) for r in res2])
        groups = ploidy_groups(window_profiles(ratios, bins), patients, cand, r_min=P["group_min_r"],
                               r_member=P["group_member_r"], min_size=P["group_min_size"])
    return nl0, cand, groups


def _wave_kind(sample_type: np.ndarray) -> np.ndarray:
    """Which samples' waviness to compare: single cells, pools, or bulk DNA and controls
    (a 200-cell leukocyte pool averages the private undulation of its cells away)."""
    st = np.asarray(sample_type).astype(str)
    return np.where(st == "ctc", "cell", np.where(st == "ctc_pool", "pool", "bulk"))


def _segment_all(rows, ratios, is_control, kind, pon, divisors, bins, P, mp):
    """Steps 3-4: per-sample segmentation, then the run's waviness and each sample's own.

    ``divisors``: optional per-sample factors the ratio is divided by first (the run's
    shared undulation).  Returns (per-sample results, run WaveModel, fixed-by-user flag).
    """
    n = len(rows)
    items = [(rows[i], ratios[i], bool(is_control[i]), None if divisors is None else divisors[i]) for i in range(n)]
    res2 = map_samples(_pass_segment, items, bins=bins, pon=pon, params=P, description="segmentation", **mp)
    wave = _run_wave(res2, is_control, WaveModel(sd=0.04, length_mb=20.0))
    fixed = P["wave_sd"] is not None or P["wave_length_mb"] is not None
    if fixed:
        wave = WaveModel(sd=float(P["wave_sd"] if P["wave_sd"] is not None else wave.sd),
                         length_mb=float(P["wave_length_mb"] if P["wave_length_mb"] is not None else wave.length_mb))
    else:
        # each sample's amplitude again, now with the run's correlation length held fixed,
        # then shrunk towards the typical amplitude of samples of its kind
        for r in res2:
            if r.get("wave") is not None:
                r["wave"] = estimate_waviness(r["ratio"], r["wave_level"], bins, length_mb=wave.length_mb)
        typical = {k: _kind_wave(res2, kind, k, wave) for k in set(kind)}
        for i, r in enumerate(res2):
            r["wave"] = _sample_wave(r.get("wave"), typical[kind[i]], P["wave_own_weight"])
    for r in res2:
        r.pop("wave_level", None)
    return res2, wave, fixed


def _kind_wave(results: list[dict], kind: np.ndarray, k: str, run: WaveModel) -> WaveModel:
    """Median waviness of the samples of kind ``k`` (at least 3), else the run's."""
    sds = [r["wave"].sd for r, kk in zip(results, kind) if kk == k and r.get("wave") is not None and r["wave"].sd > 0]
    if len(sds) < 3:
        return run
    return WaveModel(sd=float(np.median(sds)), length_mb=run.length_mb)


def _prepare_calls(res2, is_control, normal_like0, levels, wave, fixed) -> None:
    """What :func:`_pass_call` needs besides the segmentation, set on each sample's dict."""
    for i, r in enumerate(res2):
        # a flat profile says nothing about ploidy: controls and normal-like cells are called
        # as the diploid cells they most probably are (searched around 2 copies only)
        r["is_control"] = bool(is_control[i] or normal_like0[i])
        r["germline"] = bool(is_control[i])
        r["levels"] = int(levels[i])
        if fixed:
            r["wave"] = wave
        elif r.get("wave") is None:
            r["wave"] = wave
        r["ploidy_prior"] = None


# ---------------------------------------------------------------- cohort-level parts
#: What a sample's ploidy rests on (``obs['ploidy_basis']``), in the order they are checked.
PLOIDY_BASES = ("control: diploid by definition", "flat profile: DNA index", "flat profile: assumed 2n",
                "read depth + DNA index", "DNA index and read depth disagree", "clone consensus", "read depth",
                "no call")
#: Bases where the ploidy is inferred (it has a confidence, runner-up and P(WGD)).
INFERRED_BASES = ("flat profile: DNA index", "read depth + DNA index", "DNA index and read depth disagree",
                  "clone consensus", "read depth")


#: ``obs['ploidy_status']``: whether read depth (with the clone's help) fixes the ploidy.
PLOIDY_STATUSES = ("resolved", "ambiguous", "no call")


def ploidy_status(basis: np.ndarray, conf: np.ndarray, resolved_conf: float) -> np.ndarray:
    """``resolved`` where the ploidy is given (controls) or inferred with a posterior of at least
    ``resolved_conf``; ``ambiguous`` where read depth leaves it open — a flat profile (any
    ploidy fits it), or a posterior split between candidates (typically k and 2k: a doubled
    genome with few changes since the doubling); ``no call`` where nothing could be called."""
    basis = np.asarray(basis, dtype=object)
    conf = np.asarray(conf, dtype=np.float64)
    out = np.full(basis.size, "ambiguous", dtype=object)
    out[basis == "control: diploid by definition"] = "resolved"
    inferred = np.isin(basis, INFERRED_BASES) & (basis != "DNA index and read depth disagree")
    out[inferred & (conf >= resolved_conf)] = "resolved"
    out[basis == "no call"] = "no call"
    return out


def ploidy_basis(results: list[dict], is_control: np.ndarray, flat: np.ndarray,
                 by_clone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What each sample's ploidy rests on (``obs['ploidy_basis']``) and its ``ploidy_confidence``.

    ``ploidy_confidence`` means one thing: the posterior probability of the reported ploidy
    given the sample's read depth (and, for ``clone consensus``, its clone's consensus as a
    prior).  It exists only where the ploidy is inferred; where it is not, it is NaN and the
    basis says why — a flat profile fits any ploidy equally (a posterior of ~0.002 for 2n
    there says nothing is wrong, only that read depth cannot tell).

    * ``control: diploid by definition`` — leukocyte, germline and normal samples, called on
      the 2n solution (confidence NaN: given, not inferred);
    * ``flat profile: assumed 2n`` — nothing altered (segment test or an unaltered call):
      called as the diploid cell it most probably is (confidence NaN: assumed);
    * ``flat profile: DNA index`` — nothing altered, and the index sort's DNA index says
      which base copy number (confidence: its posterior from the DNA index alone);
    * ``read depth + DNA index`` — read depth and the DNA index together
      (:mod:`ctcscope.cna.dna_content`), with the clone's prior where one was used;
    * ``DNA index and read depth disagree`` — read depth resolved the ploidy on its own but
      the DNA index fits another DNA content far better: the read-depth call is kept, not
      forced, and the status is ambiguous;
    * ``clone consensus`` — called with the consensus of its clone as a prior;
    * ``read depth`` — called on its own read depth;
    * ``no call`` — nothing could be called.
    """
    n = len(results)
    basis = np.full(n, "read depth", dtype=object)
    conf = np.full(n, np.nan)
    for i, r in enumerate(results):
        c = r["call"]
        if c is None:
            basis[i] = "no call"
        elif is_control[i]:
            basis[i] = "control: diploid by definition"
        elif flat[i] and c.dna_used:
            basis[i] = "flat profile: DNA index"
            conf[i] = float(c.confidence)
        elif flat[i]:
            basis[i] = "flat profile: assumed 2n"
        elif c.dna_used:
            basis[i] = "DNA index and read depth disagree" if c.dna_conflict else "read depth + DNA index"
            conf[i] = float(c.confidence)
        else:
            basis[i] = "clone consensus" if by_clone[i] else "read depth"
            conf[i] = float(c.confidence)
    return basis, conf


def _dna_evidence(obs: pd.DataFrame, single: np.ndarray) -> list:
    """``(dna_index, dna_index_sd)`` of each single cell that has one (index sort), else None."""
    if "dna_index" not in obs:
        return [None] * len(obs)
    di = pd.to_numeric(obs["dna_index"], errors="coerce").to_numpy(np.float64)
    sd = (pd.to_numeric(obs["dna_index_sd"], errors="coerce").to_numpy(np.float64) if "dna_index_sd" in obs
          else np.full(di.size, np.nan))
    # without its own SD, a single measurement is taken as 5 % (live-cell Hoechst CV 3-8 %)
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 0.05 * di)
    return [(float(d), float(e)) if (single[i] and np.isfinite(d) and d > 0) else None
            for i, (d, e) in enumerate(zip(di, sd))]


#: ``obs['cycle_phase']``: the cell's phase from its DNA index and reads.
CYCLE_PHASES = ("G1", "S", "G2/M", "G1 or G2/M", "unknown")


def _dna_columns(o: pd.DataFrame, calls: list, s_flag: np.ndarray, P: dict) -> None:
    """The DNA-index columns of ``obs``: the read-depth-only call beside the joint one, the
    phase probabilities and ``cycle_phase``.

    Without a DNA index the reads tell S phase (replication signal) but not G1 from G2/M (a
    G2 cell's profile is its G1 profile doubled); with one, the phase posterior of the joint
    call decides where it reaches ``phase_conf`` — a DNA index of 2 with a profile that fits
    2n and 4n alike stays ``G1 or G2/M`` (4n in G1, or 2n in G2/M)."""
    n = len(calls)
    probs = np.full((n, 3), np.nan)
    for i, c in enumerate(calls):
        if c is not None and c.phase_probs is not None:
            probs[i] = c.phase_probs
    used = np.array([c is not None and c.dna_used for c in calls])
    o["ploidy_read_depth"] = pd.array([c.rd_ploidy if (c is not None and c.dna_used) else None for c in calls],
                                      dtype="Int64")
    o["ploidy_read_depth_confidence"] = [c.rd_confidence if (c is not None and c.dna_used) else np.nan for c in calls]
    o["dna_conflict"] = [bool(c is not None and c.dna_conflict) for c in calls]
    for j, name in enumerate(("p_g1", "p_s", "p_g2m")):
        o[name] = probs[:, j]
    phase = np.where(s_flag, "S", "G1 or G2/M").astype(object)
    conf = float(P["phase_conf"])
    for i in np.flatnonzero(used & np.isfinite(probs[:, 0])):
        k = int(np.argmax(probs[i]))
        if probs[i, k] >= conf:
            phase[i] = PHASES[k]
        elif probs[i, 0] + probs[i, 2] >= conf:
            phase[i] = "G1 or G2/M"
        else:
            phase[i] = "unknown"
    phase[np.array([c is None for c in calls])] = "unknown"
    o["cycle_phase"] = pd.Categorical(phase, categories=list(CYCLE_PHASES))
    if "dna_index" not in o:
        o["dna_index"] = np.nan
        o["dna_index_sd"] = np.nan


def _focal_runs(mask: np.ndarray, chrom: np.ndarray, use: np.ndarray, max_bins: int) -> list[tuple[int, int]]:
    """Runs ``[a, b)`` of consecutive usable bins of one chromosome where ``mask`` holds
    (unusable bins inside a run are bridged), with at most ``max_bins`` usable bins."""
    u = np.flatnonzero(use)
    m = mask[u]
    out = []
    i = 0
    while i < u.size:
        if not m[i]:
            i += 1
            continue
        j = i + 1
        while j < u.size and m[j] and chrom[u[j]] == chrom[u[i]]:
            j += 1
        if j - i <= max_bins:
            out.append((int(u[i]), int(u[j - 1]) + 1))
        i = j
    return out


def _set_focal(r: dict, ratio: np.ndarray, a: int, b: int, k: float, bins: pd.DataFrame, max_bins: int) -> None:
    """Give bins ``[a, b)`` of one sample's call the copy number ``k`` as a segment of their own.

    A short gain the sample already called there (at most ``max_bins``) is the same amplicon
    with its own edges: it takes ``k`` whole, rather than leaving slivers at its ends."""
    use = bins["use"].to_numpy(bool)
    seg0 = r["segments"]
    own = seg0[(seg0.end_bin > a) & (seg0.first_bin < b) & (seg0.n_bins <= max_bins) & (seg0.cn > r["call"].ploidy)]
    if len(own):
        a, b = min(a, int(own.first_bin.min())), max(b, int(own.end_bin.max()))
    starts, ends = bins["start"].to_numpy(np.int64), bins["end"].to_numpy(np.int64)
    rows = []
    for row in r["segments"].itertuples(index=False):
        d = row._asdict()
        lo, hi = int(d["first_bin"]), int(d["end_bin"])
        if hi <= a or lo >= b:
            rows.append(d)
            continue
        for plo, phi, cn in ((lo, a, d["cn"]), (max(lo, a), min(hi, b), k), (b, hi, d["cn"])):
            ok = np.flatnonzero(use[plo:phi] & np.isfinite(ratio[plo:phi])) + plo if phi > plo else np.empty(0, int)
            if ok.size == 0:
                continue
            rows.append({**d, "first_bin": int(ok[0]), "end_bin": int(ok[-1]) + 1, "start": int(starts[ok[0]]),
                         "end": int(ends[ok[-1]]), "n_bins": int(ok.size), "seg_mean": float(ratio[ok].mean()), "cn": cn})
    seg = pd.DataFrame(rows, columns=r["segments"].columns).astype(r["segments"].dtypes.to_dict())
    r["segments"] = merge_equal(seg, np.where(use, ratio, np.nan), key="cn")
    sel = np.arange(a, b)[use[a:b]]
    r["cn"][sel] = k
    fin = sel[np.isfinite(ratio[sel])]
    if fin.size:
        r["segment"][sel] = float(ratio[fin].mean())
    r["instability"] = instability(r["cn"].astype(np.float64), bins, r["call"].ploidy)


def clone_focal_levels(results: list[dict], ratios: list, groups: np.ndarray, noise_sd: np.ndarray,
                       bins: pd.DataFrame, *, max_mb: float = 3.0, extra: float = 3.0, z: float = 2.0,
                       min_z: float = 5.5, min_bins: int = 3) -> int:
    """High-level focal amplifications shared by a clone, measured on the clone and given to
    each member whose own data agree with it.

    A 1-3 Mb amplicon is 2-6 bins at 500 kb: in one cell at MAPD 0.15-0.3 its mean is known
    to 9-17 % (a copy or more at 10 copies), and a short event at that noise may not pass the
    genome-wide focal scan at all.  Cells of one clone (``groups``, same called ploidy) share
    their amplicons: the per-bin median of the members' copy-number-scaled ratios locates
    each amplicon (>= ``extra`` copies over the ploidy, at most ``max_mb``) and measures its
    level ``k`` far better.  A member takes ``k`` on that interval only when its own mean
    there is consistent with it (within ``z`` standard errors on the log scale, from its own
    per-bin noise ``noise_sd``) — a cell that really lacks the amplicon, or carries a
    different level, keeps its own call.  Returns the number of intervals changed.
    """
    use = bins["use"].to_numpy(bool) & bins["chrom"].astype(str).isin(AUTOSOMES).to_numpy()
    chrom = bins["chrom"].astype(str).to_numpy()
    width = float(np.median((bins["end"] - bins["start"]).to_numpy()))
    max_bins = max(1, int(round(max_mb * 1e6 / width)))
    changed = 0
    for g in pd.unique(groups[groups != ""]):
        mem = [i for i in np.flatnonzero(groups == g) if results[i]["call"] is not None]
        if not mem:
            continue
        pl = pd.Series([results[i]["call"].ploidy for i in mem]).mode().iloc[0]
        mem = [i for i in mem if results[i]["call"].ploidy == pl]
        if len(mem) < 3:
            continue
        X = np.vstack([np.asarray(ratios[i], np.float64) / results[i]["call"].scale for i in mem])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # bins unusable in every member
            C = np.nanmedian(X, axis=0)
        high = np.isfinite(C) & (C >= pl + extra)
        # noise of the consensus itself (bin-to-bin, within chromosomes): an amplicon must
        # stand out of it like a focal event of one cell (>= min_z standard errors), and span
        # >= min_bins usable bins: the run's residual locus bias is shared by every member and
        # does not average out in the consensus, and on 1-2 bins it misplaced the level by
        # 1-2 copies (tuning cohorts)
        ok = use & np.isfinite(C)
        cu, chu = C[ok], chrom[ok]
        d = np.diff(cu)[chu[1:] == chu[:-1]]
        s_c = 1.4826 * float(np.median(np.abs(d - np.median(d)))) / np.sqrt(2.0) if d.size > 10 else np.inf
        for a, b in _focal_runs(high, chrom, use, max_bins):
            sel = np.arange(a, b)[use[a:b]]
            if sel.size < min_bins or not (np.nanmean(C[sel]) - pl) / (s_c / np.sqrt(sel.size)) >= min_z:
                continue
            k = float(np.rint(np.nanmean(C[sel])))
            for j, i in enumerate(mem):
                x = X[j, sel]
                x = x[np.isfinite(x) & (x > 0)]
                own = results[i]["cn"][sel]
                if x.size == 0 or np.all(own == k):
                    continue
                se = noise_sd[i] / np.sqrt(x.size)
                if abs(np.log(x.mean()) - np.log(k)) <= z * se:
                    _set_focal(results[i], np.asarray(ratios[i], np.float64), a, b, k, bins, max_bins)
                    changed += 1
    return changed


def _run_wave(results: list[dict], is_control: np.ndarray, default: WaveModel) -> WaveModel:
    """Waviness of the run: the median over its diploid controls (flat, so measured over whole
    chromosomes), or over all samples when there are no controls."""
    pick = [r["wave"] for r, c in zip(results, is_control) if c and r.get("wave") is not None]
    if not pick:
        pick = [r["wave"] for r in results if r.get("wave") is not None]
    if not pick:
        return default
    return WaveModel(sd=float(np.median([w.sd for w in pick])), length_mb=float(np.median([w.length_mb for w in pick])))


def _sample_wave(own: WaveModel | None, run: WaveModel, weight: float = 0.7) -> WaveModel:
    """A sample's waviness: its own estimate (measured with the run's correlation length)
    shrunk on the log scale towards ``run`` (the typical value of its kind), ``weight`` being
    the share of its own."""
    if own is None or not own.sd > 0:
        return run
    return WaveModel(sd=float(np.exp(weight * np.log(own.sd) + (1 - weight) * np.log(run.sd))), length_mb=run.length_mb)


def window_profiles(ratios: np.ndarray, bins: pd.DataFrame, window_mb: float = 5.0) -> np.ndarray:
    """log2 relative profiles of samples on windows of ~``window_mb`` within autosomes
    (samples × windows; NaN where a window has too few usable bins)."""
    chrom = bins["chrom"].astype(str).to_numpy()
    width = float(np.median(bins["end"] - bins["start"]))
    W = max(1, int(round(window_mb * 1e6 / max(width, 1.0))))
    auto = np.isin(chrom, AUTOSOMES)
    idx = np.flatnonzero(auto)
    c = chrom[idx]
    # window id: running index within each chromosome // W, made unique across chromosomes
    new = np.r_[True, c[1:] != c[:-1]]
    start_of = np.maximum.accumulate(np.where(new, np.arange(idx.size), 0))
    wid = np.cumsum(np.r_[True, (c[1:] != c[:-1]) | (((np.arange(1, idx.size) - start_of[1:]) % W) == 0)]) - 1
    R = np.asarray(ratios, dtype=np.float64)[:, idx]
    ok = np.isfinite(R)
    nw = wid.max() + 1
    sums = np.zeros((R.shape[0], nw))
    cnt = np.zeros((R.shape[0], nw))
    for j in range(R.shape[0]):
        sums[j] = np.bincount(wid, weights=np.where(ok[j], R[j], 0.0), minlength=nw)
        cnt[j] = np.bincount(wid, weights=ok[j].astype(float), minlength=nw)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt >= max(1, W // 2), sums / np.maximum(cnt, 1), np.nan)
        med = nan_median(mean, axis=1, keepdims=True)
        return np.log2(np.maximum(mean / med, 0.05))


def ploidy_groups(profiles: np.ndarray, patients: np.ndarray, candidates: np.ndarray, *, r_min: float = 0.55,
                  r_member: float = 0.7, min_size: int = 3) -> np.ndarray:
    """Groups of samples of one patient with near-identical relative profiles (a clone).

    Average-linkage clustering on 1 - Pearson correlation of :func:`window_profiles`, cut at
    ``1 - r_min``, within each patient; members correlating with their group's median
    profile at less than ``r_member`` are removed, and groups smaller than ``min_size`` are
    dropped.  On simulated cohorts (tuning seeds) cells of one clone correlate at a median
    r ≈ 0.85 and cells of different clones of a patient at r < 0.55; these settings left 1
    of 44 groups mixed.  Returns a label per sample (``""`` = none).
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    labels = np.full(profiles.shape[0], "", dtype=object)
    cols = np.isfinite(profiles[candidates]).all(axis=0) if candidates.any() else np.zeros(profiles.shape[1], bool)
    for pat in pd.unique(patients[candidates]):
        idx = np.flatnonzero(candidates & (patients == pat))
        if idx.size < min_size or cols.sum() < 10:
            continue
        X = profiles[np.ix_(idx, np.flatnonzero(cols))]
        X = X - X.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(X, axis=1)
        good = norm > 0
        if good.sum() < min_size:
            continue
        idx, X, norm = idx[good], X[good], norm[good]
        C = (X @ X.T) / np.outer(norm, norm)
        D = np.clip(1.0 - C, 0.0, 2.0)
        np.fill_diagonal(D, 0.0)
        Z = linkage(squareform(D, checks=False), method="average")
        cl = fcluster(Z, t=1.0 - r_min, criterion="distance")
        for k in np.unique(cl):
            members = np.flatnonzero(cl == k)
            # keep only members that resemble the group's consensus (median) profile: average
            # linkage can chain two similar clones together
            for _ in range(3):
                if members.size < min_size:
                    break
                cons = np.median(X[members], axis=0)
                cons = cons - cons.mean()
                cn = np.linalg.norm(cons)
                r = (X[members] @ cons) / (norm[members] * cn) if cn > 0 else np.zeros(members.size)
                keep = r >= r_member
                if keep.all():
                    break
                members = members[keep]
            if members.size >= min_size:
                labels[idx[members]] = f"{pat}:{k}" if pat != "" else f"g{k}"
    return labels


def _group_consensus(item: tuple, bins: pd.DataFrame, params: dict) -> dict:
    """Ploidy posterior of a group's consensus: the per-bin median of its members' ratios
    (events present in a minority of cells vanish; waviness, independent between cells,
    averages down), called like one cell."""
    ratios, counts, wave = item
    chrom = bins["chrom"].to_numpy()
    with warnings.catch_warnings():  # bins no member covers stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        cons = np.nanmedian(ratios, axis=0)
    cons[np.isfinite(ratios).sum(axis=0) < max(2, ratios.shape[0] // 2 + 1)] = np.nan
    if np.isfinite(cons).sum() < 50:
        return {}
    sp = _pick(params, SEGMENT_DEFAULTS)
    pseudo = counts.sum(axis=0)
    noise = estimate_noise(pseudo, cons, chrom)
    seg, sb = segment(cons, bins, noise=noise, **sp)
    noise = estimate_noise(pseudo, cons, chrom, level=sb)
    pp = _pick(params, PLOIDY_DEFAULTS)
    scan = merge_insignificant(seg, cons, noise, wave, z=params["scan_merge_z"])
    pc = call_ploidy(seg, noise, ratio=cons, wave=wave, scan_segments=scan, **pp)
    return pc.ploidy_probs if pc.ploidy is not None else {}


def _sanitise(obj):
    """Parameters as plain values h5ad can store (``None`` becomes ``"none"``)."""
    def fix(o):
        if o is None:
            return "none"
        if isinstance(o, dict):
            return {str(k): fix(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [fix(v) for v in o]
        return o
    return fix(json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))))


def _check_input(adata: ad.AnnData) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    if not isinstance(adata, ad.AnnData):
        raise InputError("call_copy_number needs an AnnData with read counts in layers['counts']")
    counts = adata.layers["counts"] if "counts" in adata.layers else None
    if counts is None:
        raise InputError("the AnnData has no layers['counts']; count reads per bin first (ctcscope run / count)")
    counts = counts.toarray() if hasattr(counts, "toarray") else np.asarray(counts)
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise InputError("the AnnData holds no samples or no bins; nothing to call")
    if not np.issubdtype(counts.dtype, np.number) or np.any(~np.isfinite(counts)) or np.any(counts < 0):
        raise InputError("layers['counts'] must hold finite, non-negative read counts")
    var = adata.var
    missing = [c for c in ("chrom", "start", "end", "gc") if c not in var]
    if missing:
        raise InputError(f"var lacks {', '.join(missing)}; build var with ctcscope.genome.load_genome(...).to_var()")
    bins = pd.DataFrame({"chrom": canonical_chroms(var["chrom"].astype(str)), "start": var["start"].to_numpy(np.int64),
                         "end": var["end"].to_numpy(np.int64), "gc": var["gc"].to_numpy(np.float64)})
    bins["mappability"] = var["mappability"].to_numpy(np.float64) if "mappability" in var else np.nan
    if "use" in var:
        bins["use"] = var["use"].to_numpy(bool)
    else:
        bins["use"] = usable_bins(bins)
    if "arm" in var:
        bins["arm"] = var["arm"].astype(str).to_numpy()
    if "replication_timing" in var:
        bins["rt"] = pd.to_numeric(var["replication_timing"], errors="coerce").to_numpy(np.float64)
    bins["use"] &= np.isfinite(bins["gc"].to_numpy())
    if not bins["use"].any():
        raise InputError("no bin is usable (var.use is False everywhere or GC is missing); check the genome bins")
    obs = adata.obs.copy()
    st = obs["sample_type"].astype(str).str.strip().str.lower() if "sample_type" in obs else pd.Series("ctc", index=obs.index)
    st = st.replace({"": "ctc", "nan": "ctc"})
    bad = sorted(set(st) - set(SAMPLE_TYPES))
    if bad:
        raise InputError(f"unknown sample_type {', '.join(map(repr, bad))}; use one of {', '.join(SAMPLE_TYPES)}")
    obs["sample_type"] = st
    ps = pd.to_numeric(obs["pool_size"], errors="coerce") if "pool_size" in obs else pd.Series(1, index=obs.index)
    if ps.isna().any() or (ps < 1).any() or (ps != np.round(ps)).any():
        raise InputError("pool_size must be a whole number >= 1 for every sample (1 for single cells)")
    obs["pool_size"] = ps.astype(int)
    return counts, bins, obs


def call_copy_number(adata: ad.AnnData, *, workers: int | None = None, scheduler=None,
                     params: dict | None = None, quiet: bool = False, **more_params) -> ad.AnnData:
    """Absolute copy number, ploidy, QC and instability of every sample.

    Parameters
    ----------
    adata : samples × bins with ``layers['counts']``; ``obs`` with ``sample_type`` and
        ``pool_size`` (defaults ``ctc`` and 1); ``var`` from ``Genome.to_var()`` (``chrom,
        start, end, gc``; ``mappability``, ``use`` and ``arm`` if available).
    workers, scheduler : where per-sample work runs (:func:`ctcscope.parallel.map_samples`).
    params : overrides of :data:`DEFAULTS` (correction, segmentation, ploidy, QC and pipeline
        parameters, one flat namespace); they may also be given as keyword arguments.
    quiet : no progress bars.

    Returns
    -------
    A new AnnData with layers ``ratio``, ``segment``, ``cn``, the obs columns of
    docs/data-model.md, ``obsm['ploidy_posterior']``, ``uns['ploidy_grid']``,
    ``uns['segments']`` and ``uns['cna']`` (parameters, waviness, panel of normals).
    """
    params = {**dict(params or {}), **more_params}
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise InputError(f"unknown copy-number parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(DEFAULTS))}")
    P = {**DEFAULTS, **params}
    if P["method"] not in ("pelt", "binseg"):
        raise InputError(f"segmentation method {P['method']!r} is not known; use 'pelt' or 'binseg'")
    counts, bins, obs = _check_input(adata)
    n, nb = counts.shape
    is_control = obs["sample_type"].isin(CONTROL_TYPES).to_numpy()
    levels = np.where(obs["sample_type"].eq("biopsy"), int(P["bulk_levels"]),
                      np.where(obs["sample_type"].eq("ctc_pool"), obs["pool_size"].to_numpy(), 1)).astype(int)
    mp = dict(workers=workers, scheduler=scheduler, quiet=quiet)

    # 1. per-sample correction
    rows = [counts[i].astype(np.float64) for i in range(n)]
    res1 = map_samples(_pass_correct, rows, bins=bins, params=P, description="GC correction", **mp)

    # 1b. cells caught replicating: the replication-timing pattern is divided out of single
    # cells that carry it clearly (ctcscope.cna.cycle); they stay out of a panel of normals
    single = (obs["pool_size"].to_numpy() == 1) & ~is_control
    dna_of = _dna_evidence(obs, single)
    rep_fits = [r.get("replication") for r in res1]
    s_score = np.array([f.score if f is not None else np.nan for f in rep_fits])
    s_flag = flag_replicating(s_score, min_score=P["s_phase_min_score"], min_z=P["s_phase_min_z"]) & single
    for i in np.flatnonzero(s_flag):
        with np.errstate(invalid="ignore", divide="ignore"):
            res1[i]["ratio"] = (np.asarray(res1[i]["ratio"], np.float64) / rep_fits[i].factor).astype(np.float32)
        res1[i]["resid"] = np.full_like(res1[i]["resid"], np.nan)

    # 2. panel of normals from the run's controls (or all samples)
    resid = np.vstack([r["resid"] for r in res1]).astype(np.float64)
    n_ctrl_ok = int(sum(np.isfinite(resid[i]).mean() > 0.5 for i in np.flatnonzero(is_control)))
    if n_ctrl_ok >= P["pon_min_samples"]:
        pon, pon_source = build_panel_of_normals(resid[is_control], min_samples=P["pon_min_samples"]), "controls"
    else:
        pon, pon_source = build_panel_of_normals(resid, min_samples=P["pon_min_samples"]), "all samples"
    if pon is None:
        pon_source = "none"
    del resid

    # 3-4. per-sample panel correction, noise, segmentation; waviness of the run
    kind = _wave_kind(obs["sample_type"].to_numpy())
    res2, wave, fixed = _segment_all(rows, [r["ratio"] for r in res1], is_control, kind, pon, None, bins, P, mp)

    # 4b. the undulation the run's samples share: measured on residuals from a first call,
    # divided out, and the samples segmented again
    shared = None
    if P["shared_wave"] and n >= P["shared_wave_min_samples"]:
        if P["shared_wave_residual"] == "call":
            _prepare_calls(res2, is_control, np.zeros(n, bool), levels, wave, fixed)
            pre = map_samples(_pass_call, res2, bins=bins, params={**P, "grid_step": P["shared_wave_grid_step"]},
                              description="first calls", **mp)
            lev = np.vstack([np.asarray(q["cn"], np.float64) * (q["call"].scale if q["call"] is not None else np.nan)
                             for q in pre])
            del pre
        else:
            # residuals from each sample's own segment means: nothing a call decides (a doubled
            # genome called at half its ploidy leaves half-copy residuals in every cell of a
            # clone, which a shared profile would then learn and divide out, confirming the
            # wrong call); the undulation shared at the scale of whole segments is not seen
            lev = np.vstack([_segment_levels(r["segments"], nb) for r in res2])
        ratios = np.vstack([np.asarray(r["ratio"], np.float64) for r in res2])
        # a clone votes once: its cells' first calls may share one error (a doubled genome
        # called at half its ploidy leaves the same half-copy residuals in every cell), which a
        # median over cells would take for run-level bias and divide out
        _, _, votes = _flat_and_groups(res2, obs, is_control, wave, fixed, bins, {**P, "group_prior": True})
        w, load = shared_wave(ratios, lev, bins, bandwidth_mb=P["shared_wave_bandwidth_mb"],
                              min_samples=P["shared_wave_min_samples"], groups=votes,
                              reliability=P["shared_wave_reliability"], max_loading=P["shared_wave_max_loading"],
                              min_reliability=P["shared_wave_min_reliability"])
        del lev, ratios
        if w is not None:
            shared = (w, load)
            div = [np.exp(load[i] * w) for i in range(n)]
            res2, wave, fixed = _segment_all(rows, [r["ratio"] for r in res1], is_control, kind, pon, div, bins, P, mp)
    del res1

    # 5. groups of cells sharing a clone: their consensus informs each member's ploidy
    nl0, cand, groups = _flat_and_groups(res2, obs, is_control, wave, fixed, bins, P)
    if P["group_prior"] and cand.sum() >= P["group_min_size"]:
        ratios = np.vstack([np.asarray(r["ratio"], dtype=np.float64) for r in res2])
        names = [g for g in pd.unique(groups) if g]
        gitems = []
        for gname in names:
            mem = np.flatnonzero(groups == gname)
            # the members' independent waviness averages down, what they share does not
            gw = WaveModel(sd=wave.sd * max(1.25 / np.sqrt(mem.size), P["group_wave_floor"]), length_mb=wave.length_mb)
            gitems.append((ratios[mem], counts[mem].astype(np.float64), gw))
        gres = map_samples(_group_consensus, gitems, bins=bins, params=P, description="clone consensus", **mp)
        gprior = dict(zip(names, gres))
        del ratios
    else:
        gprior = {}

    # 6. per-sample ploidy and copy number
    _prepare_calls(res2, is_control, nl0, levels, wave, fixed)
    for i, r in enumerate(res2):
        r["dna"], r["s_phase"] = dna_of[i], bool(s_flag[i])
    res3 = map_samples(_pass_call, res2, bins=bins, params=P, description="ploidy and copy number", **mp)

    # a clone's consensus as a prior for its members, within limits: cells of one lineage at
    # 2n and 4n (or 3n and 6n) share trunk events and hence relative profiles, so a group is
    # used only when its resolved members (own confidence >= group_conf) all have one ploidy;
    # the prior may sharpen a member's own call, and may move an unresolved member only to a
    # ploidy its own read depth leaves plausible (>= group_min_own) - never a resolved one
    used = []
    by_clone = np.zeros(n, dtype=bool)
    for gname, gp in gprior.items():
        if not gp:
            continue
        mem = [i for i in np.flatnonzero(groups == gname) if not res2[i]["is_control"] and res3[i]["call"] is not None]
        resolved = {int(res3[i]["call"].ploidy) for i in mem if res3[i]["call"].confidence >= P["group_conf"]}
        if len(resolved) > 1:
            continue
        for i in mem:
            res2[i]["ploidy_prior"] = gp
        new = map_samples(_pass_call, [res2[i] for i in mem], bins=bins, params=P, quiet=True,
                          workers=workers, scheduler=scheduler, description="clone prior")
        changed = False
        for i, r in zip(mem, new):
            res2[i]["ploidy_prior"] = None
            own, c = res3[i]["call"], r["call"]
            if c is None:
                continue
            if c.ploidy != own.ploidy:
                # where some members are resolved on their own, an unresolved one that disagrees
                # with them is as likely of another lineage (a 2n site grouped with a 4n one by
                # their shared trunk) as a noisier cell of the same: it is not moved
                min_own = P["group_min_own"] if not resolved else P["group_min_own_resolved"]
                if (own.confidence >= P["group_conf"]
                        or own.ploidy_probs.get(int(c.ploidy), 0.0) < min_own * own.confidence):
                    continue
            r["own_call"] = own
            res3[i] = r
            by_clone[i] = True
            changed = True
        if changed:
            used.append(gname)
    groups_all = groups.copy()
    groups = np.array([g if g in used else "" for g in groups], dtype=object)

    # focal amplifications shared by a clone: measured on the clone, given to members that agree
    if P["clone_focal"]:
        ratios_all = [np.asarray(r["ratio"], np.float64) for r in res2]
        # per-bin noise SD on the natural-log scale, from MAPD (log2 neighbour differences)
        sd = np.array([r["mapd"] / (0.6744897501960817 * np.sqrt(2.0)) * np.log(2.0) if np.isfinite(r["mapd"]) else np.inf for r in res2])
        n_focal = clone_focal_levels(res3, ratios_all, np.where(cand, groups_all, ""), sd, bins, max_mb=P["focal_mb"])
    else:
        n_focal = 0

    # profiles whose calls show nothing altered are normal-like too: the posterior puts most of
    # its mass on solutions with every segment at the base, or the call is 2n and (almost) flat;
    # those not yet called as 2n are called again like controls
    late = np.zeros(n, dtype=bool)
    for i, r in enumerate(res3):
        c = r["call"]
        if c is None or is_control[i] or nl0[i]:
            continue
        # at a ploidy other than 2n, a call that leaves (almost) the whole genome at its base
        # carries no ploidy information either: a flat profile fits every lattice, and a few
        # short noise segments can make a finer one (5n) fit better than 2n
        max_fga = P["flat_max_fga"] if c.ploidy == 2 else P["flat_max_fga_other"]
        # p_flat is judged on the merged scan segments, where weak steps (±1 copy at 4n) can
        # vanish; the final call on all segments must agree that (almost) nothing is altered
        fga = r["instability"]["fga"]
        late[i] = (c.p_flat >= P["flat_min_posterior"] and fga <= P["flat_max_fga_other"]) or (fga <= max_fga)
    redo = np.flatnonzero(late & np.array([r["call"] is not None and r["call"].ploidy != 2 for r in res3]))
    for i in redo:
        res2[i]["is_control"] = True
        res3[i] = _pass_call(res2[i], bins, P)
    nl_final = nl0 | late
    basis, conf = ploidy_basis(res3, is_control, nl_final, by_clone)

    # 7. assemble
    out = ad.AnnData(X=None, obs=adata.obs.copy(), var=adata.var.copy())
    out.X = None
    out.layers["counts"] = counts.astype(np.int32)
    out.layers["ratio"] = np.vstack([np.asarray(r["ratio"], dtype=np.float32) for r in res2])
    out.layers["segment"] = np.vstack([r["segment"] for r in res3])
    out.layers["cn"] = np.vstack([r["cn"] for r in res3])
    for k in ("obsm", "uns"):
        for key, val in getattr(adata, k).items():
            getattr(out, k)[key] = val
    o = out.obs
    o["sample_type"] = pd.Categorical(obs["sample_type"].to_numpy(), categories=list(SAMPLE_TYPES))
    o["pool_size"] = obs["pool_size"].to_numpy()
    if "reads" not in o or o["reads"].isna().all():
        o["reads"] = counts.sum(axis=1).astype(np.int64)
    use = bins["use"].to_numpy(bool)
    usable_mb = float((bins["end"] - bins["start"])[use].sum() / 1e6)
    calls = [r["call"] for r in res3]
    o["mapd"] = [r["mapd"] for r in res2]
    o["usable_bins"] = np.isfinite(out.layers["ratio"]).sum(axis=1).astype(np.int64)
    o["overdispersion"] = [r["noise"].alpha for r in res2]
    o["n_segments"] = [len(r["segments"]) for r in res3]
    o["ploidy"] = pd.array([c.ploidy if c else None for c in calls], dtype="Int64")
    o["mean_cn"] = [c.mean_cn if c else np.nan for c in calls]
    o["scale"] = [c.scale if c else np.nan for c in calls]
    o["ploidy_confidence"] = conf
    o["ploidy_basis"] = pd.Categorical(basis, categories=list(PLOIDY_BASES))
    o["s_phase_score"] = s_score
    o["s_phase"] = s_flag
    o["s_phase_progress"] = [float(np.nanmean(1.0 / (1.0 + np.exp(-(bins["rt"].to_numpy() - f.theta) / P["s_phase_width"]))))
                             if (f is not None and s_flag[i] and "rt" in bins) else np.nan for i, f in enumerate(rep_fits)]
    o["ploidy_status"] = pd.Categorical(ploidy_status(basis, conf, P["resolved_conf"]), categories=list(PLOIDY_STATUSES))
    _dna_columns(o, calls, s_flag, P)
    # like ploidy_confidence, the runner-up and P(WGD) exist only where the ploidy is inferred:
    # for a flat profile read depth cannot tell 2n from 5n (it may put P(WGD) = 0.99 on a
    # cell reported 2n without WGD), and a control's is given
    inferred = np.isin(basis, INFERRED_BASES)
    o["ploidy_runner_up"] = pd.array([c.runner_up if c and inf else None for c, inf in zip(calls, inferred)],
                                     dtype="Int64")
    o["ploidy_runner_up_prob"] = [c.runner_up_prob if c and inf else np.nan for c, inf in zip(calls, inferred)]
    o["wgd"] = [bool(c.wgd) if c else False for c in calls]
    o["wgd_probability"] = [c.wgd_probability if c and inf else np.nan for c, inf in zip(calls, inferred)]
    qc_kw = {k: P[k] for k in ("min_reads", "min_usable_fraction", "max_segments_per_100mb")}
    # the MAPD limit holds at mapd_bin_size and follows the run's bin size (docs in qc.py)
    bin_width = float(np.median((bins["end"] - bins["start"]).to_numpy()[use]))
    qc_kw["max_mapd"] = round(mapd_limit(bin_width, max_mapd=P["max_mapd"], mapd_bin_size=P["mapd_bin_size"]), 3)
    verdicts = [qc(reads=float(o["reads"].iloc[i]), mapd=o["mapd"].iloc[i], usable_bins=int(o["usable_bins"].iloc[i]),
                   genome_usable_bins=int(use.sum()), n_segments=int(o["n_segments"].iloc[i]), usable_mb=usable_mb,
                   ploidy_called=calls[i] is not None, **qc_kw)
                for i in range(n)]
    o["qc_pass"] = [v[0] for v in verdicts]
    o["qc_reason"] = [v[1] for v in verdicts]
    for key in ("fga", "breakpoints", "wgii", "n_cn_states", "max_amplification"):
        o[key] = [r["instability"][key] for r in res3]
    # flat by the segment test, or called 2n with (almost) nothing altered
    o["normal_like"] = nl_final
    o["ploidy_group"] = [str(gname) for gname in groups]
    grid = report_grid(P["report_step"], P["grid_min"], P["grid_max"])
    out.obsm["ploidy_posterior"] = np.vstack([r["posterior"] for r in res3]).astype(np.float32)
    # probability of each integer ploidy 1..grid_max (the read-depth posterior, with the
    # clone's prior where the basis is clone consensus); NaN where nothing was called
    kmax = int(np.ceil(P["grid_max"]))
    probs = np.full((n, kmax), np.nan, dtype=np.float32)
    for i, c in enumerate(calls):
        if c is not None and c.ploidy_probs:
            probs[i] = 0.0
            for k, q in c.ploidy_probs.items():
                if 1 <= int(k) <= kmax:
                    probs[i, int(k) - 1] = q
    out.obsm["ploidy_probabilities"] = probs
    out.uns["ploidy_labels"] = np.arange(1, kmax + 1)
    out.uns["ploidy_grid"] = grid
    segs = []
    for sid, r in zip(out.obs_names, res3):
        s = r["segments"]
        if s is None or len(s) == 0:
            continue
        segs.append(pd.DataFrame({"sample_id": sid, "chrom": s["chrom"].astype(str).to_numpy(),
                                  "start": s["start"].to_numpy(np.int64), "end": s["end"].to_numpy(np.int64),
                                  "n_bins": s["n_bins"].to_numpy(np.int64), "seg_mean": s["seg_mean"].to_numpy(np.float64),
                                  "cn": s["cn"].to_numpy(np.float64)}))
    out.uns["segments"] = (pd.concat(segs, ignore_index=True) if segs else
                           pd.DataFrame(columns=["sample_id", "chrom", "start", "end", "n_bins", "seg_mean", "cn"]))
    out.uns["cna"] = _sanitise({"parameters": P, "wave": wave.as_dict(), "panel_of_normals": pon_source,
                                "shared_wave_sd": float(np.std(shared[0][bins["use"].to_numpy(bool)])) if shared else 0.0,
                                "n_controls": int(is_control.sum()), "n_groups": int(len(gprior)),
                                "mapd_limit": float(qc_kw["max_mapd"]),
                                "clone_focal_changes": int(n_focal)})
    return out
