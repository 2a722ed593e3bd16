"""Fig. 2-style profile grids: the genome-wide copy number of each tumour sample of a
patient, one row per sample, as the study showed its single CTCs.

Written by the report step into ``figures/``: ``profiles_<patient>.png`` per patient and
``profiles.pdf`` with one page per patient (vector, for print and slides).  Each row shows
the bins (read depth in copies: ratio / ``obs['scale']``, grey points) and the integer copy
number of the segments, red above the sample's ploidy and blue below (the shared palette's
gain/loss), with the ploidy as a dotted line.  Samples are QC-passed tumour samples (CTCs,
pools, biopsy) in clustering order when the cohort step ran.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import atomic_path
from ..plotting import palette
from .collect import RunOutputs

#: At most this many samples per patient are drawn (the first in tree order; the figure says so).
MAX_ROWS = 24
TUMOUR_TYPES = ("ctc", "ctc_pool", "biopsy")
EVEN = "#222222"  # integer copy number equal to the ploidy


def _samples_by_patient(obs: pd.DataFrame) -> dict[str, list[str]]:
    o = obs[obs["sample_type"].astype(str).isin(TUMOUR_TYPES)]
    if "qc_pass" in o:
        o = o[o["qc_pass"].fillna(False).astype(bool)]
    if "ploidy" in o:
        o = o[pd.to_numeric(o["ploidy"], errors="coerce").notna()]
    order = pd.to_numeric(o["cluster_order"], errors="coerce") if "cluster_order" in o else pd.Series(np.nan, index=o.index)
    o = o.assign(_order=order.where(order >= 0), _id=o.index.astype(str))
    o = o.sort_values(["_order", "_id"], na_position="last", key=lambda s: s if s.name == "_order" else
                      s.map(palette.natural_key))
    patients = o["patient"].astype(str) if "patient" in o else pd.Series("", index=o.index)
    return {p: o.index[patients == p].astype(str).tolist()
            for p in sorted(set(patients), key=palette.natural_key)}


def _file_stem(patient: str, taken: set[str]) -> str:
    """A file-name-safe, unique stem for a patient id (ids are user text)."""
    base = "profiles_" + (re.sub(r"[^A-Za-z0-9._-]+", "_", patient).strip("._") or "no_patient")
    stem, k = base, 2
    while stem in taken:
        stem, k = f"{base}_{k}", k + 1
    taken.add(stem)
    return stem


def plot_patient_grid(patient: str, ids: list[str], cn: np.ndarray, copies: np.ndarray, ploidy: np.ndarray,
                      chrom: np.ndarray, n_total: int):
    """The grid of one patient: ``cn``/``copies`` are samples × bins (NaN = no call)."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    n = len(ids)
    fig = Figure(figsize=(11, 0.9 + 1.05 * n))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    x = np.arange(cn.shape[1])
    bounds = np.flatnonzero(np.r_[True, chrom[1:] != chrom[:-1]])
    for ax, sid, c, y, pl in zip(axes, ids, cn, copies, ploidy):
        ok = np.isfinite(y)
        top = float(np.clip(np.nanmax(np.r_[c[np.isfinite(c)], pl + 2]), pl + 2, 12))
        ax.scatter(x[ok], np.clip(y[ok], 0, top + 0.5), s=0.6, c="#9E9E9E", linewidths=0, rasterized=True)
        # runs of equal integer copy number become horizontal segments, coloured against ploidy
        fin = np.isfinite(c)
        edge = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (fin[1:] != fin[:-1]) | (chrom[1:] != chrom[:-1])])
        ends = np.r_[edge[1:], len(c)]
        keep = fin[edge]
        a, b, k = edge[keep], ends[keep], c[edge][keep]
        colours = np.where(k > pl, palette.CN_STATE["gain"], np.where(k < pl, palette.CN_STATE["loss"], EVEN))
        ax.add_collection(LineCollection([[(s, v), (e - 1, v)] for s, e, v in zip(a, b, np.minimum(k, top + 0.5))],
                                         colors=list(colours), linewidths=2.2))
        ax.axhline(pl, color="#777777", lw=0.6, ls=":")
        for s in bounds[1:]:
            ax.axvline(s - 0.5, color="#CCCCCC", lw=0.5)
        ax.set_ylim(-0.3, top + 1.6)   # headroom: the sample's label sits above the profile
        ax.set_yticks(np.arange(0, top + 1, 2 if top > 6 else 1))
        ax.tick_params(labelsize=6, length=2)
        ax.set_ylabel("CN", fontsize=6)
        ax.text(0.005, 0.97, f"{sid}  ·  {int(pl)}n", transform=ax.transAxes, fontsize=7, va="top",
                bbox=dict(fc="white", ec="none", alpha=0.8, pad=0.5))
    mids = (bounds + np.r_[bounds[1:], len(chrom)]) / 2
    axes[-1].set_xticks(mids)
    axes[-1].set_xticklabels([str(chrom[s]) for s in bounds], fontsize=6)
    axes[-1].set_xlim(-0.5, len(chrom) - 0.5)
    more = f" (first {n} of {n_total} in tree order)" if n_total > n else ""
    fig.suptitle(f"Patient {patient or '(none)'}: copy-number profiles of {n_total} tumour samples{more}",
                 fontsize=9, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.985), h_pad=0.2)
    return fig


def write_profile_grids(res: RunOutputs, figures_dir: str | Path, *, max_rows: int = MAX_ROWS,
                        dpi: int = 110) -> list[Path]:
    """Write ``profiles_<patient>.png`` for every patient with a called tumour sample, and
    ``profiles.pdf`` (a page per patient); returns the paths (none when there is no
    copy number).  Files are written atomically."""
    from matplotlib.backends.backend_pdf import PdfPages

    store, obs = res.store, res.obs
    if store is None or obs is None or "cn" not in store.layers or "sample_type" not in obs:
        return []
    groups = {p: ids for p, ids in _samples_by_patient(obs).items() if ids}
    if not groups:
        return []
    out_dir = Path(figures_dir)
    var = store.var
    chrom = var["chrom"].astype(str).to_numpy()
    use = var["use"].to_numpy(bool) if "use" in var else np.ones(len(var), bool)
    keep = use & ~np.isin(chrom, ["Y", "MT"])   # chrY is absent in most cells; MT is not binned for CN
    chrom = chrom[keep]
    written, taken, figs = [], set(), []
    for patient, ids in groups.items():
        shown = ids[:max_rows]
        pos = pd.Index(store.obs_names).get_indexer(shown)
        cn = store.rows("cn", pos)[:, keep]
        ratio = store.rows("ratio", pos)[:, keep] if "ratio" in store.layers else np.full_like(cn, np.nan)
        scale = pd.to_numeric(obs.loc[shown, "scale"], errors="coerce").to_numpy() if "scale" in obs else \
            np.full(len(shown), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            copies = ratio / scale[:, None]
        ploidy = pd.to_numeric(obs.loc[shown, "ploidy"], errors="coerce").fillna(2).to_numpy(float)
        fig = plot_patient_grid(patient, shown, cn, copies, ploidy, chrom, len(ids))
        p = out_dir / f"{_file_stem(patient, taken)}.png"
        with atomic_path(p) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
        written.append(p)
        figs.append(fig)
    pdf = out_dir / "profiles.pdf"
    with atomic_path(pdf) as tmp:
        with PdfPages(tmp, metadata={"Creator": "ctcscope", "CreationDate": None}) as book:
            for fig in figs:
                book.savefig(fig)
    written.append(pdf)
    return written
