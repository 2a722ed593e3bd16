"""Compact per-sample copy-number profiles that the page draws on demand.

A report of 10,000 cells cannot hold 10,000 plotly figures.  Instead, for the samples
chosen by :func:`~ctcscope.report.summaries.choose_profiles`, each profile is reduced to
(i) its bins in copy units (``ratio / scale``) on a display grid of at most
``max_display_bins`` bins, quantised to 0.01 copies and packed as base64 ``uint16``
(about 4 kB a cell at 3,000 bins), (ii) its segments as runs of display bins with their
integer copy number and segment mean, (iii) its ploidy posterior and (iv) the driver
genes to label.  The page's own script decodes one profile when the user picks it.
"""
from __future__ import annotations

import base64

import numpy as np
import pandas as pd

from .collect import RunOutputs

NAN_CODE = 65535
#: Genes labelled on profiles when the drivers step did not run (genes the study names).
DEFAULT_LABEL_GENES = ("ALK", "MYCN", "MYC", "MET", "EGFR", "ERBB2", "KRAS", "CCND3", "CDK4", "CDK6",
                       "MDM2", "CDKN2A", "RB1", "TP53", "FGFR1", "AKT1")


def display_grid(var: pd.DataFrame, max_display_bins: int = 3000) -> tuple[pd.DataFrame, np.ndarray]:
    """Merge runs of ``k`` consecutive bins of one chromosome so at most about
    ``max_display_bins`` remain.  Returns the display bins (``chrom, start, end``) and,
    for every input bin, the index of its display bin."""
    n = len(var)
    chrom = var["chrom"].astype(str).to_numpy()
    k = max(1, int(np.ceil(n / max_display_bins)))
    change = np.r_[True, chrom[1:] != chrom[:-1]]
    chrom_id = np.cumsum(change) - 1
    first = np.flatnonzero(change)
    local = np.arange(n) - first[chrom_id]
    key = chrom_id.astype(np.int64) * (n + 1) + local // k
    _, group = np.unique(key, return_inverse=True)
    g = pd.DataFrame({"chrom": chrom, "start": var["start"].to_numpy(), "end": var["end"].to_numpy(), "g": group})
    disp = g.groupby("g", sort=True).agg(chrom=("chrom", "first"), start=("start", "min"), end=("end", "max"))
    return disp.reset_index(drop=True), group


def _group_mean(m: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Column-group NaN-mean of a (samples × bins) block, vectorised with bincount."""
    if n_groups == m.shape[1]:
        return m
    ok = np.isfinite(m)
    vals = np.where(ok, m, 0.0)
    s = np.zeros((m.shape[0], n_groups))
    c = np.zeros((m.shape[0], n_groups))
    for r in range(m.shape[0]):  # one bincount per sample; bins are vectorised
        s[r] = np.bincount(group, weights=vals[r], minlength=n_groups)
        c[r] = np.bincount(group, weights=ok[r], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / c, np.nan)


def pack_uint16(values: np.ndarray, scale: float = 100.0) -> str:
    """Values ≥ 0 → base64 of little-endian uint16 (``round(v * scale)``; NaN → 65535)."""
    v = np.asarray(values, dtype=float)
    q = np.where(np.isfinite(v), np.clip(np.round(v * scale), 0, NAN_CODE - 1), NAN_CODE).astype("<u2")
    return base64.b64encode(q.tobytes()).decode("ascii")


def unpack_uint16(text: str, scale: float = 100.0) -> np.ndarray:
    """Inverse of :func:`pack_uint16` (for tests; the page does this in JavaScript)."""
    q = np.frombuffer(base64.b64decode(text), dtype="<u2")
    return np.where(q == NAN_CODE, np.nan, q / scale)


def segment_runs(cn: np.ndarray, seg: np.ndarray, chrom_id: np.ndarray) -> list[list[float]]:
    """Runs of display bins with equal integer CN and segment mean, not crossing
    chromosomes nor NaN gaps: ``[[first_bin, last_bin, cn, seg_copies], ...]``."""
    ok = np.isfinite(cn) & np.isfinite(seg)
    if not ok.any():
        return []
    idx = np.flatnonzero(ok)
    c, s, ch = cn[idx], np.round(seg[idx], 2), chrom_id[idx]
    brk = np.r_[True, (c[1:] != c[:-1]) | (np.abs(s[1:] - s[:-1]) > 0.02) | (ch[1:] != ch[:-1]) |
                (np.diff(idx) > 1)]
    starts = np.flatnonzero(brk)
    ends = np.r_[starts[1:], len(idx)] - 1
    # the segment mean of a run is the median over its bins (display bins may mix segments)
    return [[int(idx[a]), int(idx[b]), int(round(c[a])), float(np.round(np.median(s[a:b + 1]), 2))]
            for a, b in zip(starts, ends)]


#: Grey level of each Giemsa stain for the ideogram (acen drawn apart, as centromeres).
STAIN_LEVEL = {"gneg": 0.0, "gpos25": 0.25, "gpos33": 0.33, "gpos50": 0.5, "gpos66": 0.66, "gpos75": 0.75,
               "gpos100": 1.0, "gvar": 0.4, "stalk": 0.2, "acen": -1.0}


def ideogram(cytobands: pd.DataFrame | None, offsets: dict, ends: pd.Series) -> dict | None:
    """Cytobands on the genome-wide axis: bin edges (Mb) and a stain level per band
    (one heatmap trace on the page; ``acen`` = -1 marks centromeres)."""
    if cytobands is None or cytobands.empty:
        return None
    cb = cytobands[cytobands["chrom"].astype(str).isin(offsets)].copy()
    if cb.empty:
        return None
    cb["chrom"] = cb["chrom"].astype(str)
    cb["end"] = np.minimum(cb["end"].to_numpy(), cb["chrom"].map(ends).to_numpy())
    cb = cb[cb["end"] > cb["start"]]
    order = {c: i for i, c in enumerate(offsets)}
    cb = cb.assign(_o=cb["chrom"].map(order)).sort_values(["_o", "start"])
    off = cb["chrom"].map(offsets).to_numpy(float)
    x0 = (cb["start"].to_numpy() + off) / 1e6
    x1 = (cb["end"].to_numpy() + off) / 1e6
    # heatmap cells need contiguous edges: insert an empty cell wherever bands leave a gap
    edges, z = [float(x0[0])], []
    for a, b, st in zip(x0, x1, cb["stain"].astype(str)):
        if a > edges[-1] + 1e-6:
            z.append(None)
            edges.append(float(a))
        z.append(STAIN_LEVEL.get(st, 0.0))
        edges.append(float(b))
    return {"edges": [round(e, 3) for e in edges], "z": z}


def profile_payload(res: RunOutputs, sample_ids: list[str], max_display_bins: int = 3000,
                    genes: pd.DataFrame | None = None, cytobands: pd.DataFrame | None = None) -> dict:
    """Everything the page needs to draw the chosen samples' profiles (JSON-ready)."""
    store = res.store
    obs = res.obs
    if store is None or obs is None or not sample_ids:
        return {}
    var = store.var
    disp, group = display_grid(var, max_display_bins)
    n_disp = len(disp)
    pos = pd.Index(store.obs_names).get_indexer(sample_ids)
    keep = pos >= 0
    sample_ids = [s for s, k in zip(sample_ids, keep) if k]
    pos = pos[keep]
    ratio = store.rows("ratio", pos)
    segm = store.rows("segment", pos)
    cn = store.rows("cn", pos)
    o = obs.loc[sample_ids]
    scale = o["scale"].astype(float).to_numpy() if "scale" in o else np.full(len(o), np.nan)
    # without a stored scale, 1 copy = median ratio / ploidy (ratio has median 1)
    ploidy = o["ploidy"].astype(float).to_numpy() if "ploidy" in o else np.full(len(o), 2.0)
    bad = ~np.isfinite(scale) | (scale <= 0)
    scale[bad] = 1.0 / np.where(np.isfinite(ploidy[bad]), ploidy[bad], 2.0)
    copies = _group_mean(ratio / scale[:, None], group, n_disp)
    seg_c = _group_mean(segm / scale[:, None], group, n_disp)
    cn_d = np.round(_group_mean(cn, group, n_disp))

    chrom = disp["chrom"].to_numpy(str)
    change = np.r_[True, chrom[1:] != chrom[:-1]]
    chrom_id = np.cumsum(change) - 1
    chroms = list(pd.unique(chrom))
    ends = disp.groupby("chrom", sort=False)["end"].max().reindex(chroms)
    offsets = (ends.cumsum() - ends).to_dict()
    off = disp["chrom"].map(offsets).to_numpy(float)
    x0 = (disp["start"].to_numpy() + off) / 1e6
    x1 = (disp["end"].to_numpy() + off) / 1e6

    labels = _driver_labels(res, sample_ids, disp, offsets, genes)
    post = None
    if res.ploidy_posterior is not None and res.ploidy_grid is not None:
        allpos = pd.Index(obs.index).get_indexer(sample_ids)
        post = res.ploidy_posterior[allpos]
    samples = []
    for r, sid in enumerate(sample_ids):
        row = o.iloc[r]
        entry = {
            "id": sid, "patient": str(row.get("patient", "")), "type": str(row.get("sample_type", "")),
            "phenotype": str(row.get("phenotype", "")),
            "ploidy": _num(row.get("ploidy")), "mean_cn": _num(row.get("mean_cn"), 2),
            "conf": _num(row.get("ploidy_confidence"), 3),
            "basis": str(row.get("ploidy_basis", "") or ""), "wgd": _flag(row.get("wgd")),
            "wgd_p": _num(row.get("wgd_probability"), 3), "qc": _flag(row.get("qc_pass")),
            "qc_reason": str(row.get("qc_reason", "") or ""), "clone": str(row.get("clone", "") or ""),
            "bins": pack_uint16(copies[r]),
            "segs": segment_runs(cn_d[r], seg_c[r], chrom_id),
            "labels": labels.get(sid, []),
            "status": str(row.get("ploidy_status", "") or ""),
            # the cell-cycle flag beside each profile (reads: S phase; DNA index: G1 / G2/M)
            "phase": _phase(row), "dna": _num(row.get("dna_index"), 2),
            "dna_conflict": bool(_flag(row.get("dna_conflict")) or False),
        }
        if post is not None:
            entry["post"] = [round(float(v), 4) for v in post[r]]
        samples.append(entry)
    return {
        "x0": np.round(x0, 3).tolist(), "x1": np.round(x1, 3).tolist(),
        "chroms": [{"chrom": c, "start": round(offsets[c] / 1e6, 3), "end": round((offsets[c] + ends[c]) / 1e6, 3)}
                   for c in chroms],
        "grid": None if res.ploidy_grid is None else [round(float(v), 3) for v in res.ploidy_grid],
        "ideogram": ideogram(cytobands, offsets, ends),
        "samples": samples, "labels_from": "drivers" if res.drivers is not None else "default",
        "cn_static": cn_d,  # for the static fallback only (dropped before embedding)
    }


def _num(v, nd: int = 0):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(f):
        return None
    return int(round(f)) if nd == 0 else round(f, nd)


def _phase(row) -> str:
    """The cycle phase shown beside a profile, only where the data say something: not the
    ``G1 or G2/M`` every cell without a DNA index and without a replication signal has."""
    ph = str(row.get("cycle_phase", "") or "")
    if ph in ("", "nan", "unknown") or (ph == "G1 or G2/M" and _num(row.get("dna_index"), 2) is None):
        return ""
    return ph


def _flag(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return bool(v)


def _driver_labels(res: RunOutputs, sample_ids: list[str], disp: pd.DataFrame, offsets: dict,
                   genes: pd.DataFrame | None) -> dict[str, list]:
    """Per sample: ``[gene, x (Mb), state]`` to label on its profile."""
    out: dict[str, list] = {}
    if res.drivers is not None and len(res.drivers):
        d = res.drivers[res.drivers["sample_id"].astype(str).isin(sample_ids)].copy()
        if {"chrom", "start", "end"} <= set(d.columns):
            d["chrom"] = d["chrom"].astype(str).str.replace(r"^chr", "", regex=True)
            d = d[d["chrom"].isin(offsets)]
            d["x"] = ((d["start"] + d["end"]) / 2 + d["chrom"].map(offsets)) / 1e6
            for sid, g in d.groupby(d["sample_id"].astype(str)):
                out[sid] = [[str(r.gene), round(float(r.x), 3), str(r.state)] for r in g.itertuples()]
        return out
    if genes is None or genes.empty or res.store is None:
        return out
    # no drivers step: label the study's key genes where the integer CN departs from ploidy
    gsel = genes[genes["symbol"].isin(DEFAULT_LABEL_GENES)].drop_duplicates("symbol")
    gsel = gsel[gsel["chrom"].astype(str).isin(offsets)]
    if gsel.empty:
        return out
    var = res.store.var
    mids = ((gsel["start"] + gsel["end"]) // 2).to_numpy()
    vchrom = var["chrom"].astype(str).to_numpy()
    bin_of = np.full(len(gsel), -1)
    for i, (c, m) in enumerate(zip(gsel["chrom"].astype(str), mids)):
        hit = np.flatnonzero((vchrom == c) & (var["start"].to_numpy() <= m) & (var["end"].to_numpy() > m))
        if len(hit):
            bin_of[i] = hit[0]
    ok = bin_of >= 0
    gsel, bin_of = gsel[ok], bin_of[ok]
    pos = pd.Index(res.store.obs_names).get_indexer(sample_ids)
    cn = res.store.rows("cn", pos)[:, bin_of]
    ploidy = res.obs.loc[sample_ids, "ploidy"].astype(float).to_numpy() if "ploidy" in res.obs else np.full(len(pos), 2.0)
    xs = ((gsel["start"] + gsel["end"]) / 2 + gsel["chrom"].astype(str).map(offsets)).to_numpy() / 1e6
    for r, sid in enumerate(sample_ids):
        lab = []
        for j, sym in enumerate(gsel["symbol"]):
            v, p = cn[r, j], ploidy[r]
            if not np.isfinite(v) or not np.isfinite(p) or v == p:
                continue
            state = "amp" if v >= 2 * p and v > p + 2 else "gain" if v > p else "homdel" if v == 0 else "loss"
            lab.append([str(sym), round(float(xs[j]), 3), state])
        out[sid] = lab
    return out


def cohort_matrix(res: RunOutputs, sample_ids: list[str], max_cols: int = 600,
                  sex_chromosomes: bool = False) -> dict | None:
    """log2(copy number / ploidy), clipped to [-2, 2], for the clustered samples in tree
    order on a display grid of at most ``max_cols`` columns (the study's Fig. 3 values;
    the cohort step's figure is the reference, this is its hoverable form).  Autosomes only
    by default, as the cohort step clusters: a male X at log2(1/2) would read as a loss."""
    store, obs = res.store, res.obs
    if store is None or obs is None or "cn" not in store.layers or not sample_ids:
        return None
    pos = pd.Index(store.obs_names).get_indexer(sample_ids)
    keep = pos >= 0
    ids = [s for s, k in zip(sample_ids, keep) if k]
    if len(ids) < 2:
        return None
    cn = store.rows("cn", pos[keep])
    ploidy = obs.loc[ids, "ploidy"].astype(float).to_numpy() if "ploidy" in obs else np.full(len(ids), 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.clip(np.log2(np.maximum(cn, 0.05) / ploidy[:, None]), -2, 2)
    v[~np.isfinite(cn)] = np.nan
    disp, group = display_grid(store.var, max_cols)
    m = _group_mean(v, group, len(disp))
    # columns without a value in any sample (e.g. chrY, unusable regions) are left out
    has = np.isfinite(m).any(axis=0)
    if not sex_chromosomes:
        has &= ~disp["chrom"].astype(str).isin(["X", "Y"]).to_numpy()
    m, disp = m[:, has], disp[has].reset_index(drop=True)
    chrom = disp["chrom"].to_numpy(str)
    starts = np.flatnonzero(np.r_[True, chrom[1:] != chrom[:-1]])
    return {"z": np.round(m, 1), "ids": ids, "chroms": [(chrom[a], int(a)) for a in starts],
            "n_cols": len(disp), "mb": ((disp["start"] + disp["end"]) / 2e6).round(1).to_numpy()}
