"""Gene-level copy number from segments: one copy number and state per sample and gene.

Rules (stated once, used everywhere):

**Genes spanning breakpoints.**  Each gene body is overlapped with the sample's segments.
``cn_major`` is the copy number of the segment covering the largest part of the gene,
``cn_min``/``cn_max`` the lowest/highest copy number over the gene body.  A gene counts
as *gained* only when most of it is gained (``cn_major``: a partial gain does not make an
extra working copy), and as *lost* as soon as any part of it is lost (``cn_min``: a
partial deletion disrupts the gene, as for tumour suppressors).  The reported ``state``
is that of ``cn_major``, except that a gene partly lost and not mostly gained is reported
lost (``homdel`` if ``cn_min`` is 0); ``copy_number`` is the value that gave the state.
Genes over a breakpoint are flagged ``spans_breakpoint``.

**States**, relative to the expected copy number E (the sample's base ploidy P; P/2 for X
and Y in male samples) and absolute, on the copy number rounded to the nearest integer
(so pools and biopsies with fractional values are read as the nearest whole state):

====================  ==============================================================
``homdel``            0 copies (absolute; the gene is absent)
``loss``              1 ≤ CN < E
``neutral``           CN = E
``gain``              E < CN < max(2·E, E + 3)
``amp``               CN ≥ max(2·E, E + 3)  (relative: doubled; absolute: ≥ 3 extra
                      copies, so a diploid cell needs 5 copies, a tetraploid 8)
``unknown``           no usable bins cover or flank the gene consistently
====================  ==============================================================

The amplification threshold joins a relative rule (PCGR, CNVkit: copies relative to
ploidy) and an absolute one (GISTIC-like high-level gains need several extra copies);
``amp_ratio`` and ``amp_extra`` change it.

**Extent and focal flag** (GISTIC's focal vs arm-level distinction).  Each call carries
the extent of the altered region behind it: starting from the segment that gave the call
(the main segment for a gain, the lowest one for a loss), adjacent segments of the same
sample and chromosome are joined while their copy number stays at or beyond the call's
(``>=`` for gains and amplifications, ``<=`` for losses and deletions, ``==`` for neutral
genes).  So a focal MET amplicon on top of a chromosome-7 gain is measured as the amplicon,
and a partial-arm gain next to a higher gain of the rest of the arm as the whole gained
arm.  ``segment_start``/``segment_end`` (0-based half-open, from the first to the last
usable bin), ``segment_mb``, and ``arm_fraction`` = the share of the gene's chromosome arm
(its span of usable bins) the region covers.  ``focal`` is True for a gain, amplification,
loss or homozygous deletion whose region covers less than half of the arm (and of the
other arm, when it reaches across the centromere; ``focal_arm_fraction`` = 0.5) and whose copy number lies beyond the arm's typical level
(the length-weighted median copy number of the arm in that sample; so the two stretches of
an arm-level loss cut by an amplicon are not focal losses): GISTIC 2.0 tests each region for "broad events (longer
than half a chromosome arm)" vs focal events (GenePattern GISTIC 2.0 documentation; Mermel
et al., Genome Biol 2011;12:R41, doi:10.1186/gb-2011-12-4-r41, where arm-level events span
> 98 % of an arm).  Without bin coordinates or arm annotation ``arm_fraction`` is NaN and
``focal`` False.

**Low confidence** (``confidence = "low"``, reasons ``;``-joined):

- ``few_bins`` — the segment giving the copy number has fewer than ``min_bins`` usable
  bins (at 500 kb, a 1-2 bin segment in one noisy cell is weak evidence);
- ``near_breakpoint`` — the gene lies in the edge bin of its segment next to a copy-number
  change (within one bin width of the segment end): a segmenter places a breakpoint to
  within a bin, and next to a run of unusable bins the breakpoint may lie anywhere in the
  run, so the edge bin may belong to the neighbouring segment;
- ``spans_breakpoint`` — the gene body covers segments of different copy number;
- ``in_unusable_bins`` — no usable bin overlaps the gene (heterochromatin, assembly gaps,
  blacklisted or low-mappability bins): its copy number is that of the segment bridging
  the gap, or of the flanking segments when both agree (otherwise ``unknown``), but it was
  not measured;
- ``low_qc_sample`` — the sample failed QC (``obs.qc_pass`` False);
- ``uncertain_ploidy`` — the sample's ploidy is ``ambiguous`` (``obs.ploidy_status``: read
  depth could not tell it from its runner-up, typically k from 2k) or ``obs.ploidy_confidence``
  < 0.5, so relative states may shift;
- ``sex_unknown`` — an X/Y gene in a sample whose sex could not be inferred (female
  assumed).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..genome.names import CHROMS, canonical_chroms

STATES = ("homdel", "loss", "neutral", "gain", "amp")
#: Integer codes of the states (``unknown`` = -9); used in the cells × genes AnnData.
STATE_CODES = {"homdel": -2, "loss": -1, "neutral": 0, "gain": 1, "amp": 2, "unknown": -9}
_CODE_STATES = {v: k for k, v in STATE_CODES.items()}
NORMAL_TYPES = ("wbc", "germline", "normal")
TUMOUR_TYPES = ("ctc", "ctc_pool", "biopsy")

GENES_COLUMNS = ["sample_id", "patient", "gene", "chrom", "start", "end", "copy_number", "relative_cn", "state",
                 "n_bins", "confidence", "low_confidence_reason",
                 # beyond the contract's fixed columns (documented in docs/data-model.md)
                 "cn_major", "cn_min", "cn_max", "state_major", "state_min", "ploidy", "expected_cn",
                 "segment_start", "segment_end", "segment_mb", "arm_fraction", "focal"]

_CHROM_SHIFT = np.int64(1) << np.int64(28)     # > longest human chromosome (249 Mb)
_SAMPLE_SHIFT = np.int64(1) << np.int64(34)    # > 25 chromosomes × 2^28


@dataclass(frozen=True)
class CallThresholds:
    """Parameters of the gene-level state calls (see the module docstring)."""

    amp_ratio: float = 2.0
    amp_extra: float = 3.0
    min_bins: int = 3
    breakpoint_margin: float | None = None  # bp; default one (median) bin width
    min_ploidy_confidence: float = 0.5
    focal_arm_fraction: float = 0.5  # focal: the altered region covers less than this share of the arm (GISTIC 2.0)


def classify_cn(cn, expected, amp_ratio: float = 2.0, amp_extra: float = 3.0) -> np.ndarray:
    """State code per value (see :data:`STATE_CODES`) from copy number and expected copy number."""
    cn = np.asarray(cn, dtype=float)
    e = np.broadcast_to(np.asarray(expected, dtype=float), cn.shape)
    r = np.floor(cn + 0.5)
    amp_at = np.maximum(amp_ratio * e, e + amp_extra)
    code = np.zeros(cn.shape, dtype=np.int8)
    code[r < e] = -1
    code[r > e] = 1
    code[(r >= amp_at) & (r > e)] = 2
    code[(r <= 0) & (e > 0)] = -2
    code[~np.isfinite(cn) | ~np.isfinite(e) | (e <= 0)] = -9
    return code


def state_names(codes) -> np.ndarray:
    """State names for integer state codes."""
    codes = np.asarray(codes)
    out = np.full(codes.shape, "unknown", dtype=object)
    for c, s in _CODE_STATES.items():
        out[codes == c] = s
    return out


# ---------------------------------------------------------------------------------------
# inputs


def segments_from_layer(adata, layer: str = "cn") -> pd.DataFrame:
    """Segments (runs of equal copy number over consecutive usable bins of a chromosome)
    from a bins layer, for AnnData objects without ``uns['segments']``."""
    if layer not in adata.layers:
        raise InputError(f"the AnnData has neither uns['segments'] nor a '{layer}' layer; run the copy-number step first")
    var = adata.var
    X = np.asarray(adata.layers[layer], dtype=float)
    chrom = canonical_chroms(var["chrom"].astype(str)).to_numpy()
    start = var["start"].to_numpy(np.int64)
    end = var["end"].to_numpy(np.int64)
    rows = []
    for i, sid in enumerate(adata.obs_names):
        v = X[i]
        ok = np.isfinite(v)
        idx = np.flatnonzero(ok)
        if not len(idx):
            continue
        vv, cc = v[idx], chrom[idx]
        new = np.r_[True, (vv[1:] != vv[:-1]) | (cc[1:] != cc[:-1])]
        grp = np.cumsum(new) - 1
        first = idx[new]
        last = idx[np.r_[np.flatnonzero(new)[1:] - 1, len(idx) - 1]]
        rows.append(pd.DataFrame({"sample_id": sid, "chrom": chrom[first], "start": start[first], "end": end[last],
                                  "n_bins": np.bincount(grp), "seg_mean": np.nan, "cn": vv[new]}))
    if not rows:
        raise InputError(f"layer '{layer}' has no finite copy numbers; run the copy-number step first")
    return pd.concat(rows, ignore_index=True)


def get_segments(adata) -> pd.DataFrame:
    """``uns['segments']`` if present, else segments rebuilt from ``layers['cn']``."""
    seg = adata.uns.get("segments")
    if seg is None or (isinstance(seg, pd.DataFrame) and seg.empty):
        return segments_from_layer(adata)
    seg = pd.DataFrame(seg).copy()
    need = {"sample_id", "chrom", "start", "end", "cn"}
    if not need.issubset(seg.columns):
        raise InputError(f"uns['segments'] lacks columns {sorted(need - set(seg.columns))}; "
                         "it must hold sample_id, chrom, start, end, n_bins, seg_mean, cn")
    if "n_bins" not in seg:
        seg["n_bins"] = 0
    seg["chrom"] = canonical_chroms(seg["chrom"].astype(str)).to_numpy()
    seg["sample_id"] = seg["sample_id"].astype(str)
    return seg


def _obs_col(obs: pd.DataFrame, col: str, default):
    if col in obs:
        s = obs[col]
        if isinstance(default, bool):
            return s.fillna(default).astype(bool).to_numpy()
        return s.astype(object).where(s.notna(), default).to_numpy()
    return np.full(len(obs), default, dtype=object if not isinstance(default, bool) else bool)


def infer_sex(adata, segments: pd.DataFrame | None = None) -> pd.Series:
    """``"M"``/``"F"``/``""`` per sample: ``obs['sex']`` when given, otherwise inferred per
    patient from its normal controls (X copy number relative to ploidy below 0.75 → male),
    otherwise unknown (``""``)."""
    obs = adata.obs
    sex = pd.Series("", index=obs.index, dtype=object)
    if "sex" in obs:
        s = obs["sex"].astype(str).str.strip().str.upper().str[:1]
        sex[s.isin(["M", "F"])] = s[s.isin(["M", "F"])]
    if (sex != "").all() or "ploidy" not in obs:
        return sex
    seg = get_segments(adata) if segments is None else segments
    x = seg[seg.chrom == "X"].copy()
    if x.empty:
        return sex
    x["len"] = (x.end - x.start).astype(float)
    xcn = (x.cn * x.len).groupby(x.sample_id).sum() / x.len.groupby(x.sample_id).sum()
    stype = pd.Series(_obs_col(obs, "sample_type", "ctc"), index=obs.index).astype(str)
    patient = pd.Series(_obs_col(obs, "patient", ""), index=obs.index).astype(str)
    normals = obs.index[stype.isin(NORMAL_TYPES)]
    rel = (xcn.reindex(normals) / obs.loc[normals, "ploidy"].astype(float)).dropna()
    if rel.empty:
        return sex
    per_patient = pd.Series(np.where(rel < 0.75, "M", "F"), index=rel.index).groupby(patient[rel.index]).agg(
        lambda s: s.iloc[0] if s.nunique() == 1 else "")
    fill = (sex == "") & patient.isin(per_patient.index)
    sex[fill] = patient[fill].map(per_patient)
    return sex


# ---------------------------------------------------------------------------------------
# the interval join


def _usable_bins_per_gene(var: pd.DataFrame, g: pd.DataFrame, chrom_index: dict) -> np.ndarray:
    """Number of usable bins (``var.use``) overlapping each gene; all genes count as seen
    when the AnnData has no bin table."""
    if not {"chrom", "start", "end"}.issubset(var.columns):
        return np.ones(len(g), dtype=np.int64)
    use = var["use"].to_numpy(bool) if "use" in var else np.ones(len(var), bool)
    b = pd.DataFrame({"ci": canonical_chroms(var["chrom"].astype(str)).map(chrom_index).to_numpy(),
                      "start": var["start"].to_numpy(np.int64), "end": var["end"].to_numpy(np.int64), "use": use})
    b = b.dropna(subset=["ci"]).sort_values(["ci", "start"], kind="stable")
    ci = b["ci"].to_numpy(np.int64)
    B0 = _global(ci, b["start"].to_numpy())
    B1 = _global(ci, b["end"].to_numpy())
    cum = np.r_[0, np.cumsum(b["use"].to_numpy(np.int64))]
    left = np.searchsorted(B1, _global(g.ci.to_numpy(), g.start.to_numpy()), side="right")
    right = np.searchsorted(B0, _global(g.ci.to_numpy(), g.end.to_numpy()), side="left")
    return np.where(right > left, cum[np.maximum(right, left)] - cum[left], 0)


def _runs_at_or_beyond(rcn: np.ndarray, group: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """First and last index of the run of adjacent segments around each segment whose
    rounded copy number is ``>=`` (``"up"``), ``<=`` (``"down"``) or ``==`` (``"eq"``) its own.

    ``group`` identifies sample + chromosome (runs never cross it); segments are sorted by
    group and position.  One vectorised pass per distinct copy-number level, no loop over
    segments."""
    n = len(rcn)
    idx = np.arange(n)
    first_of = np.r_[True, group[1:] != group[:-1]] if n else np.zeros(0, bool)
    last_of = np.r_[group[1:] != group[:-1], True] if n else np.zeros(0, bool)
    gfirst = np.maximum.accumulate(np.where(first_of, idx, 0)) if n else idx
    glast = np.minimum.accumulate(np.where(last_of, idx, n)[::-1])[::-1] if n else idx
    finite = np.isfinite(rcn)
    out = {k: (idx.copy(), idx.copy()) for k in ("up", "down", "eq")}
    with np.errstate(invalid="ignore"):
        for v in np.unique(rcn[finite]):
            at = np.flatnonzero(rcn == v)
            for k, stop in (("up", rcn < v), ("down", rcn > v), ("eq", rcn != v)):
                stop = stop | ~finite
                prev = np.maximum.accumulate(np.where(stop, idx, -1))
                nxt = np.minimum.accumulate(np.where(stop, idx, n)[::-1])[::-1]
                out[k][0][at] = np.maximum(prev[at] + 1, gfirst[at])
                out[k][1][at] = np.minimum(nxt[at] - 1, glast[at])
    return out


def _gene_arms(var: pd.DataFrame, g: pd.DataFrame, chrom_index: dict):
    """Span ``[lo, hi)`` of each gene's chromosome arm, from the first to the last usable bin
    of the arm (the same convention as segment coordinates), the span of the other arm of
    its chromosome, whether the gene is on the q arm, and the centromere position per chromosome index (start of its first q bin); NaN
    spans (and no centromere) without bin arm annotation."""
    nan = np.full(len(g), np.nan)
    if not {"chrom", "start", "end", "arm"}.issubset(var.columns) or not len(g):
        return nan, nan.copy(), nan.copy(), nan.copy(), np.zeros(len(g), bool), None
    b = pd.DataFrame({"ci": canonical_chroms(var["chrom"].astype(str)).map(chrom_index).to_numpy(),
                      "start": var["start"].to_numpy(np.int64), "end": var["end"].to_numpy(np.int64),
                      "arm": var["arm"].astype(str).str.lower().str[-1].to_numpy(),
                      "use": var["use"].to_numpy(bool) if "use" in var else True}).dropna(subset=["ci"])
    nc = len(chrom_index)
    cen = np.full(nc, np.inf)
    q = b[b.arm == "q"].groupby("ci")["start"].min()
    cen[q.index.to_numpy(np.int64)] = q.to_numpy(float)
    span = {}
    for arm in ("p", "q"):
        u = b[(b.arm == arm) & b.use].groupby("ci").agg(lo=("start", "min"), hi=("end", "max"))
        lo, hi = np.full(nc, np.nan), np.full(nc, np.nan)
        lo[u.index.to_numpy(np.int64)] = u["lo"].to_numpy(float)
        hi[u.index.to_numpy(np.int64)] = u["hi"].to_numpy(float)
        span[arm] = (lo, hi)
    ci = g.ci.to_numpy(np.int64)
    on_q = (g.start.to_numpy() + g.end.to_numpy()) / 2 >= cen[ci]
    lo = np.where(on_q, span["q"][0][ci], span["p"][0][ci])
    hi = np.where(on_q, span["q"][1][ci], span["p"][1][ci])
    other_lo = np.where(on_q, span["p"][0][ci], span["q"][0][ci])
    other_hi = np.where(on_q, span["p"][1][ci], span["q"][1][ci])
    return lo, hi, other_lo, other_hi, on_q, cen


def _arm_levels(key_chrom: np.ndarray, ci: np.ndarray, start: np.ndarray, end: np.ndarray, cn: np.ndarray,
                cen: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Typical copy number of each sample's chromosome arms: the length-weighted median of
    its segments' rounded copy numbers.  Returns sorted keys (``key_chrom * 2 + is_q``) and
    their medians."""
    if cen is None or not len(cn):
        return np.zeros(0, np.int64), np.zeros(0)
    c = cen[ci]
    w_p = np.clip(np.minimum(end, c) - start, 0, None)
    w_q = np.clip(end - np.maximum(start, c), 0, None)
    key = np.r_[key_chrom * 2, key_chrom * 2 + 1]
    w = np.r_[w_p, w_q].astype(float)
    v = np.r_[cn, cn]
    ok = (w > 0) & np.isfinite(v)
    key, w, v = key[ok], w[ok], v[ok]
    order = np.lexsort((v, key))
    key, w, v = key[order], w[order], v[order]
    first = np.r_[True, key[1:] != key[:-1]]
    starts = np.flatnonzero(first)
    cum = np.cumsum(w)
    base = np.repeat(np.r_[0.0, cum[starts[1:] - 1]], np.diff(np.r_[starts, len(key)]))
    tot = np.repeat(np.add.reduceat(w, starts), np.diff(np.r_[starts, len(key)]))
    past = (cum - base) >= tot / 2
    # the first segment of each arm (in copy-number order) reaching half of the arm's length
    pick = np.flatnonzero(past & np.r_[True, ~past[:-1] | first[1:]])
    pick = pick[np.r_[True, key[pick][1:] != key[pick][:-1]]]
    return key[pick], v[pick]


def _global(chrom_idx: np.ndarray, pos: np.ndarray) -> np.ndarray:
    return chrom_idx.astype(np.int64) * _CHROM_SHIFT + pos.astype(np.int64)


def gene_copy_number(adata, genes: pd.DataFrame, *, thresholds: CallThresholds | None = None,
                     max_pairs: int = 1_000_000) -> pd.DataFrame:
    """Copy number and state of every gene in every sample (the ``genes.tsv`` table).

    Parameters
    ----------
    adata : AnnData of the data model (``uns['segments']`` or ``layers['cn']``; ``obs``
        with ``ploidy``; optional ``patient``, ``qc_pass``, ``ploidy_confidence``, ``sex``).
    genes : gene table with ``chrom, start, end, symbol`` (e.g. ``genome.genes`` or
        :meth:`Catalogue.select_genes` of it).
    thresholds : :class:`CallThresholds`.
    max_pairs : sample × gene pairs processed at once (bounds memory for large cohorts).

    Returns one row per sample × gene, columns :data:`GENES_COLUMNS`.  Vectorised: one
    sorted-interval search per chunk of samples; no Python loop over genes or samples.
    """
    t = thresholds or CallThresholds()
    obs = adata.obs
    if "ploidy" not in obs:
        raise InputError("the AnnData has no obs['ploidy']; run the copy-number step (ploidy calling) first")
    if not {"chrom", "start", "end", "symbol"}.issubset(genes.columns):
        raise InputError("the gene table needs columns chrom, start, end and symbol")
    seg = get_segments(adata)
    chrom_index = {c: i for i, c in enumerate(CHROMS + ["MT"])}

    g = genes[["chrom", "start", "end", "symbol"]].copy()
    g["chrom"] = canonical_chroms(g["chrom"].astype(str)).to_numpy()
    g = g[g.chrom.isin(chrom_index)].copy()
    g["ci"] = g.chrom.map(chrom_index).astype(np.int64)
    g = g.sort_values(["ci", "start"], kind="stable").reset_index(drop=True)
    n_genes = len(g)
    gs = _global(g.ci.to_numpy(), g.start.to_numpy())
    ge = _global(g.ci.to_numpy(), g.end.to_numpy())

    usable_bins = _usable_bins_per_gene(adata.var, g, chrom_index)
    arm_lo, arm_hi, other_lo, other_hi, gene_on_q, centromere = _gene_arms(adata.var, g, chrom_index)

    samples = pd.Index(obs.index.astype(str))
    sidx = pd.Series(np.arange(len(samples)), index=samples)
    seg = seg[seg.sample_id.isin(samples) & seg.chrom.isin(chrom_index)].copy()
    seg["si"] = sidx.reindex(seg.sample_id).to_numpy()
    seg["ci"] = seg.chrom.map(chrom_index).astype(np.int64)
    seg = seg.sort_values(["si", "ci", "start"], kind="stable").reset_index(drop=True)
    s_off = seg.si.to_numpy(np.int64) * _SAMPLE_SHIFT
    S0 = s_off + _global(seg.ci.to_numpy(), seg.start.to_numpy())
    S1 = s_off + _global(seg.ci.to_numpy(), seg.end.to_numpy())
    if len(S1) and np.any(np.diff(S1) < 0):
        raise InputError("segments of a sample overlap each other; uns['segments'] must hold disjoint segments")
    scn = seg.cn.to_numpy(float)
    snb = seg.n_bins.fillna(0).to_numpy(np.int64)
    skey = seg.si.to_numpy(np.int64) * 64 + seg.ci.to_numpy(np.int64)  # sample+chrom identity
    seg_start = seg.start.to_numpy(np.int64)
    seg_end = seg.end.to_numpy(np.int64)
    # the altered region behind a call: adjacent segments at or beyond its copy number
    rcn = np.floor(scn + 0.5)
    runs = _runs_at_or_beyond(rcn, skey)
    arm_key, arm_level = _arm_levels(skey, seg.ci.to_numpy(np.int64), seg_start, seg_end, rcn, centromere)
    arm_dense = np.full(len(samples) * 128, np.nan)          # (sample * 64 + chrom) * 2 + is_q
    arm_dense[arm_key] = arm_level

    # a boundary is a breakpoint when the neighbouring segment (same sample and chromosome)
    # has a different copy number
    same_prev = np.r_[False, skey[1:] == skey[:-1]]
    bp_left = same_prev & np.r_[False, scn[1:] != scn[:-1]]
    bp_right = np.r_[bp_left[1:], False]

    margin = t.breakpoint_margin
    if margin is None:
        w = (adata.var["end"].to_numpy() - adata.var["start"].to_numpy()) if {"start", "end"} <= set(adata.var) else []
        margin = float(np.median(w)) if len(w) else 0.0

    ploidy = obs["ploidy"].astype(float).to_numpy()
    sex = infer_sex(adata, seg).reindex(samples).to_numpy()
    qc = _obs_col(obs, "qc_pass", True)
    pconf = obs["ploidy_confidence"].astype(float).to_numpy() if "ploidy_confidence" in obs else np.ones(len(obs))
    ambiguous_ploidy = (obs["ploidy_status"].astype(str).to_numpy() == "ambiguous" if "ploidy_status" in obs
                        else np.zeros(len(obs), dtype=bool))
    patient = _obs_col(obs, "patient", "")

    out = []
    chunk = max(1, int(max_pairs // max(n_genes, 1)))
    for lo in range(0, len(samples), chunk):
        hi = min(len(samples), lo + chunk)
        ns = hi - lo
        P = np.repeat(np.arange(lo, hi, dtype=np.int64), n_genes)        # sample of each pair
        G = np.tile(np.arange(n_genes, dtype=np.int64), ns)             # gene of each pair
        qs = P * _SAMPLE_SHIFT + gs[G]
        qe = P * _SAMPLE_SHIFT + ge[G]
        left = np.searchsorted(S1, qs, side="right")    # first segment ending after the gene start
        right = np.searchsorted(S0, qe, side="left")    # segments starting before the gene end
        n = np.maximum(right - left, 0)
        npair = len(P)

        cn_min = np.full(npair, np.nan)
        cn_max = np.full(npair, np.nan)
        cn_major = np.full(npair, np.nan)
        nb = np.zeros(npair, dtype=np.int64)
        near = np.zeros(npair, dtype=bool)
        j_major = np.full(npair, -1, dtype=np.int64)   # segment behind cn_major / cn_min
        j_min = np.full(npair, -1, dtype=np.int64)
        has = n > 0
        if has.any():
            pid = np.repeat(np.flatnonzero(has), n[has])
            first = np.r_[0, np.cumsum(n[has])[:-1]]
            j = left[pid] + (np.arange(len(pid)) - np.repeat(first, n[has]))
            ov = np.minimum(S1[j], qe[pid]) - np.maximum(S0[j], qs[pid])
            v = scn[j]
            cn_min[has] = np.minimum.reduceat(v, first)
            cn_max[has] = np.maximum.reduceat(v, first)
            blocks = first
            jm = j[blocks].copy()                    # most genes lie in one segment
            jmin = jm.copy()
            multi = n[has] > 1
            if multi.any():
                # genes over several segments: the largest overlap (major) and the lowest copy
                # number (min) first; sorting only these pairs keeps the common case cheap
                sel = np.repeat(multi, n[has])
                jj, pp = j[sel], pid[sel]
                bm = np.r_[0, np.cumsum(n[has][multi])[:-1]]
                jm[multi] = jj[np.lexsort((-ov[sel], pp))][bm]
                jmin[multi] = jj[np.lexsort((v[sel], pp))][bm]
            j_major[has] = jm
            j_min[has] = jmin
            cn_major[has] = scn[jm]
            nb[has] = snb[jm]
            hp = np.flatnonzero(has)
            # distance from the gene to the breakpoints bounding its main segment
            d_left = qs[hp] - S0[jm]
            d_right = S1[jm] - qe[hp]
            near[hp] = (bp_left[jm] & (d_left < margin)) | (bp_right[jm] & (d_right < margin))
        # genes with no overlapping segment sit in unusable bins: take the flanking segments'
        # copy number when both (same sample and chromosome) agree
        gap = ~has
        if gap.any():
            k = np.flatnonzero(gap)
            a = left[k] - 1
            b = left[k]
            key_q = P[k] * 64 + g.ci.to_numpy()[G[k]]
            ok_a = (a >= 0) & (skey[np.clip(a, 0, None)] == key_q) if len(skey) else np.zeros(len(k), bool)
            ok_b = (b < len(skey)) & (skey[np.clip(b, 0, max(len(skey) - 1, 0))] == key_q) if len(skey) else np.zeros(len(k), bool)
            ca = np.where(ok_a, scn[np.clip(a, 0, None)] if len(scn) else np.nan, np.nan)
            cb = np.where(ok_b, scn[np.clip(b, 0, max(len(scn) - 1, 0))] if len(scn) else np.nan, np.nan)
            both = ok_a & ok_b & (ca == cb)
            one = ok_a ^ ok_b   # chromosome end: only one flank
            val = np.where(both, ca, np.where(one, np.where(ok_a, ca, cb), np.nan))
            cn_major[k] = cn_min[k] = cn_max[k] = val
            j_major[k] = j_min[k] = np.where(ok_a, a, np.where(ok_b, b, -1))
            nb[k] = np.where(both | (one & ok_a), snb[np.clip(a, 0, None)] if len(snb) else 0,
                             np.where(one & ok_b, snb[np.clip(b, 0, max(len(snb) - 1, 0))] if len(snb) else 0, 0))

        # expected copy number: the ploidy, half of it for X/Y in male samples, none for Y in females
        chrom_g = g.chrom.to_numpy()[G]
        sx = sex[P]
        E = ploidy[P].copy()
        on_x = chrom_g == "X"
        on_y = chrom_g == "Y"
        E[(on_x | on_y) & (sx == "M")] /= 2
        E[on_y & (sx != "M")] = np.nan
        st_major = classify_cn(cn_major, E, t.amp_ratio, t.amp_extra)
        st_min = classify_cn(cn_min, E, t.amp_ratio, t.amp_extra)
        lost = (st_min == -1) | (st_min == -2)
        gained = st_major >= 1
        use_min = lost & ~gained
        state = np.where(use_min, st_min, st_major)
        cn_rep = np.where(use_min, cn_min, cn_major)

        # extent of the altered region behind the reported state
        j_call = np.where(use_min, j_min, j_major)
        jc = np.clip(j_call, 0, None)
        direction = np.where(state >= 1, 0, np.where(state == 0, 2, 1))   # up | down | eq
        lo_i = np.select([direction == 0, direction == 1], [runs["up"][0][jc], runs["down"][0][jc]], runs["eq"][0][jc]) \
            if len(scn) else jc
        hi_i = np.select([direction == 0, direction == 1], [runs["up"][1][jc], runs["down"][1][jc]], runs["eq"][1][jc]) \
            if len(scn) else jc
        ok_ext = (j_call >= 0) & (state != STATE_CODES["unknown"])
        r0 = np.where(ok_ext, seg_start[lo_i] if len(scn) else 0, -1)
        r1 = np.where(ok_ext, seg_end[hi_i] if len(scn) else 0, -1)
        alo, ahi = arm_lo[G], arm_hi[G]
        with np.errstate(invalid="ignore", divide="ignore"):
            arm_frac = np.clip(np.minimum(r1, ahi) - np.maximum(r0, alo), 0, None) / (ahi - alo)
        arm_frac = np.where(ok_ext & (ahi > alo), np.minimum(arm_frac, 1.0), np.nan)
        # a region reaching across the centromere counts against the other arm as well (a
        # gained p arm whose breakpoint sits in the first q bin is not a focal q gain)
        olo, ohi = other_lo[G], other_hi[G]
        with np.errstate(invalid="ignore", divide="ignore"):
            other_frac = np.clip(np.minimum(r1, ohi) - np.maximum(r0, olo), 0, None) / (ohi - olo)
        other_frac = np.where(ohi > olo, other_frac, 0.0)
        # ... and beyond the arm's typical level: a stretch of an arm-level change cut in two by
        # an amplicon (or a deletion) of the other direction is not a focal event
        level = arm_dense[(P * 64 + g.ci.to_numpy()[G]) * 2 + gene_on_q[G]]
        r_call = np.floor(cn_rep + 0.5)
        beyond = np.where(state > 0, r_call > level, r_call < level) | ~np.isfinite(level)
        focal = (ok_ext & (state != 0) & np.isfinite(arm_frac) & (arm_frac < t.focal_arm_fraction)
                 & (other_frac < t.focal_arm_fraction) & beyond)

        spans = has & (cn_min != cn_max)
        # a segment may bridge a run of unusable bins (heterochromatin, gaps): a gene there
        # takes the segment's copy number but nothing measured it
        unseen = gap | (usable_bins[G] == 0)
        reasons = {
            "few_bins": has & (nb < t.min_bins) | (gap & (nb < t.min_bins)),
            "near_breakpoint": near & ~spans,
            "spans_breakpoint": spans,
            "in_unusable_bins": unseen,
            "low_qc_sample": ~qc[P].astype(bool),
            "uncertain_ploidy": (pconf[P] < t.min_ploidy_confidence) | ambiguous_ploidy[P],
            "sex_unknown": (on_x | on_y) & (sx == ""),
        }
        bits = np.zeros(npair, dtype=np.int16)
        for k, mask in enumerate(reasons.values()):
            bits |= (mask.astype(np.int16) << k)
        f4 = np.float32    # compact per-pair storage: copy numbers need no more precision
        out.append({
            "P": P.astype(np.int32), "G": G.astype(np.int32), "copy_number": cn_rep.astype(f4),
            "relative_cn": (cn_rep / ploidy[P]).astype(f4), "state": state, "n_bins": nb.astype(np.int32),
            "bits": bits, "cn_major": cn_major.astype(f4), "cn_min": cn_min.astype(f4), "cn_max": cn_max.astype(f4),
            "state_major": st_major, "state_min": st_min, "ploidy": ploidy[P].astype(f4), "expected_cn": E.astype(f4),
            "segment_start": r0.astype(np.int32), "segment_end": r1.astype(np.int32),   # < 2^31 bp
            "arm_fraction": arm_frac.astype(f4), "focal": focal,
        })
    if not out:
        return pd.DataFrame(columns=GENES_COLUMNS)
    col = {}
    for k in list(out[0]):   # concatenate column by column, freeing the chunks as we go
        col[k] = np.concatenate([o.pop(k) for o in out])
    # categorical columns straight from integer codes: no per-row Python strings
    P, G = col.pop("P"), col.pop("G")
    pat_cats, pat_codes = np.unique(np.asarray(patient, dtype=str), return_inverse=True)
    chrom_cats = pd.Index(pd.unique(g.chrom))
    state_cats = list(STATE_CODES)                      # homdel ... amp, unknown
    code_pos = {c: i for i, c in enumerate(STATE_CODES.values())}
    lut = np.zeros(256, dtype=np.int8)
    for c, i in code_pos.items():
        lut[c & 0xFF] = i

    def state_cat(codes):
        return pd.Categorical.from_codes(lut[codes.astype(np.int16) & 0xFF], state_cats)

    names = list(reasons)
    uniq, inv = np.unique(col.pop("bits"), return_inverse=True)
    reason_cats = [";".join(n for k, n in enumerate(names) if u >> k & 1) for u in uniq]
    no_ext = col["segment_end"] < 0          # no region behind the call (unknown state)
    res = pd.DataFrame({
        "sample_id": pd.Categorical.from_codes(P, samples),
        "patient": pd.Categorical.from_codes(pat_codes[P], pat_cats),
        "gene": pd.Categorical.from_codes(G, pd.Index(g.symbol)) if g.symbol.is_unique else g.symbol.to_numpy()[G],
        "chrom": pd.Categorical.from_codes(chrom_cats.get_indexer(g.chrom.to_numpy())[G], chrom_cats),
        "start": g.start.to_numpy(np.int64)[G],
        "end": g.end.to_numpy(np.int64)[G],
        "copy_number": col["copy_number"],
        "relative_cn": col["relative_cn"],
        "state": state_cat(col["state"]),
        "n_bins": col["n_bins"],
        "confidence": pd.Categorical.from_codes((uniq != 0).astype(np.int8)[inv], ["high", "low"]),
        "low_confidence_reason": pd.Categorical.from_codes(inv, reason_cats),
        "cn_major": col["cn_major"], "cn_min": col["cn_min"], "cn_max": col["cn_max"],
        "state_major": state_cat(col["state_major"]), "state_min": state_cat(col["state_min"]),
        "ploidy": col["ploidy"], "expected_cn": col["expected_cn"],
        "segment_start": pd.arrays.IntegerArray(col["segment_start"], no_ext),
        "segment_end": pd.arrays.IntegerArray(col["segment_end"], no_ext.copy()),
        "segment_mb": np.where(col["segment_end"] >= 0, (col["segment_end"] - col["segment_start"]) / 1e6,
                               np.nan).astype(np.float32),
        "arm_fraction": col["arm_fraction"],
        "focal": col["focal"],
    })

    return res[GENES_COLUMNS]


def gene_anndata(gene_cn: pd.DataFrame, obs: pd.DataFrame | None = None, catalogue=None):
    """The cells × genes AnnData: ``X`` = copy number, layers ``state`` (codes of
    :data:`STATE_CODES`), ``relative_cn``, ``cn_min``, ``cn_max``, ``low_confidence``; ``var``
    holds gene coordinates (and role/pathway when a catalogue is given)."""
    import anndata as ad

    samples = pd.Index(pd.unique(gene_cn["sample_id"].astype(str)))
    if obs is not None:
        samples = pd.Index([s for s in obs.index.astype(str) if s in set(samples)])
    genes = pd.Index(pd.unique(gene_cn["gene"].astype(str)))
    i = samples.get_indexer(gene_cn["sample_id"].astype(str))
    j = genes.get_indexer(gene_cn["gene"].astype(str))
    keep = (i >= 0) & (j >= 0)
    i, j = i[keep], j[keep]
    sub = gene_cn.loc[keep]

    def mat(values, dtype, fill):
        m = np.full((len(samples), len(genes)), fill, dtype=dtype)
        m[i, j] = values
        return m

    codes = sub["state"].astype(str).map(STATE_CODES).to_numpy(np.int8)
    var = (sub[["gene", "chrom", "start", "end"]].astype({"gene": str, "chrom": str})
           .drop_duplicates("gene").set_index("gene").reindex(genes))
    if catalogue is not None:
        hit = catalogue.resolve(genes).to_numpy()
        tab = catalogue.table
        for c in ("role", "pathway", "pathways"):
            var[c] = [tab.at[h, c] if isinstance(h, str) else "" for h in hit]
    a = ad.AnnData(
        X=mat(sub["copy_number"].to_numpy(np.float32), np.float32, np.nan),
        obs=(obs.loc[samples].copy() if obs is not None else pd.DataFrame(index=samples)),
        var=var,
        layers={
            "state": mat(codes, np.int8, STATE_CODES["unknown"]),
            "relative_cn": mat(sub["relative_cn"].to_numpy(np.float32), np.float32, np.nan),
            "cn_min": mat(sub["cn_min"].to_numpy(np.float32), np.float32, np.nan),
            "cn_max": mat(sub["cn_max"].to_numpy(np.float32), np.float32, np.nan),
            "low_confidence": mat((sub["confidence"].astype(str) == "low").to_numpy(), bool, False),
        },
    )
    a.uns["state_codes"] = dict(STATE_CODES)
    return a
