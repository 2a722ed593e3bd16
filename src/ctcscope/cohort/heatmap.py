"""The clustering heatmap (plotting only), drawn like Fig. 3 of Oulhen et al. 2021
(npj Precis Oncol 5:71): dendrogram, annotation tracks, log2 relative copy number in red
(gain) and blue (loss) clipped to [-2, 2], chromosome boundaries and labels.

The body is an image (rasterised in SVG too), so a figure of 10,000 cells stays small and
quick; above ``max_rows`` samples every k-th sample in tree order is drawn, and the figure
says so.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from .._atomic import atomic_path, write_json
from ..plotting import palette
from .cluster import Clustering

#: Annotation tracks drawn when present in ``obs`` (in this order); ``clone`` comes from
#: the clustering.
DEFAULT_TRACKS = ("patient", "phenotype", "sample_type", "ploidy", "wgd", "treatment_group", "clone")
TRACK_LABELS = {"patient": "Patient", "phenotype": "Phenotype", "sample_type": "Sample type", "ploidy": "Ploidy",
                "wgd": "WGD", "treatment_group": "Treatment", "clone": "Clone"}
#: Each track's colour kind in :func:`ctcscope.plotting.palette.categorical`; every kind has
#: its own palette, so adjacent tracks never share colours.
TRACK_KINDS = {"patient": "patient", "phenotype": "phenotype", "sample_type": "sample_type", "wgd": "wgd",
               "treatment_group": "treatment_group", "clone": "clone"}
MISSING_COLOUR = palette.MISSING


def track_table(matrix: ad.AnnData, clustering: Clustering | None, tracks: Sequence[str] | None = None,
                cohort_obs: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """Values (as text) and colours of the annotation tracks, rows in ``matrix`` order.

    Returns the table and ``{track: {value: hex colour}}`` from the shared palette
    (:mod:`ctcscope.plotting.palette`).  ``cohort_obs``: the whole cohort's ``obs`` (the
    matrix may hold a subset), so a patient keeps the colour it has in every other figure.
    Tracks missing from ``obs`` (or empty everywhere) are skipped.
    """
    import matplotlib as mpl

    obs = matrix.obs.copy()
    if clustering is not None:
        obs["clone"] = clustering.clones
    tracks = DEFAULT_TRACKS if tracks is None else tracks
    out, colours = {}, {}
    for t in tracks:
        if t not in obs:
            continue
        col = obs[t]
        if t == "ploidy" or (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)):
            num = pd.to_numeric(col, errors="coerce")
            if num.notna().sum() == 0:
                continue
            txt = num.map(lambda v: "" if pd.isna(v) else (f"{int(v)}" if float(v).is_integer() else f"{v:.2g}"))
            levels = sorted({v for v in txt if v}, key=lambda v: float(v))
            if t == "ploidy":  # the same colour per ploidy as the report's ploidy charts
                colours[t] = {v: palette.ploidy_colour(float(v)) for v in levels}
            else:
                cmap = mpl.colors.ListedColormap(palette.TOL_YLORBR[1:])
                lo, hi = float(min(map(float, levels))), float(max(map(float, levels)))
                colours[t] = {v: mpl.colors.to_hex(cmap((float(v) - lo) / (hi - lo) if hi > lo else 0.5))
                              for v in levels}
            out[t] = txt.to_numpy()
        elif pd.api.types.is_bool_dtype(col) or set(col.dropna().astype(str).unique()) <= {"True", "False"}:
            txt = col.map(lambda v: "" if pd.isna(v) else ("yes" if bool(v) and str(v) != "False" else "no"))
            if not (txt != "").any():
                continue
            colours[t] = {"yes": palette.WGD["yes"], "no": palette.WGD["no"]}
            if t == "wgd" and "ploidy_status" in obs:
                # read depth could not tell k from 2k (ploidy_status "ambiguous"): neither yes nor no
                amb = (obs["ploidy_status"].astype(str) == "ambiguous").to_numpy() & (txt != "").to_numpy()
                if amb.any():
                    txt = txt.where(~amb, "ambiguous")
                    colours[t]["ambiguous"] = palette.WGD["ambiguous"]
            out[t] = txt.to_numpy()
        else:
            txt = col.astype(str).replace({"nan": "", "None": ""}).to_numpy()
            if not any(txt):
                continue
            universe = cohort_obs[t].astype(str) if cohort_obs is not None and t in cohort_obs else None
            found = palette.categorical(TRACK_KINDS.get(t, t), txt, universe=universe)
            colours[t] = dict(sorted(found.items(), key=lambda kv: palette.natural_key(kv[0])))  # legend order
            out[t] = txt
    return pd.DataFrame(out, index=matrix.obs_names), colours


def bin_columns(X: np.ndarray, chrom: np.ndarray, max_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of runs of ``k`` adjacent columns within each chromosome (NaN ignored), with
    ``k`` the smallest keeping at most about ``max_cols`` columns; returns the new matrix
    and the chromosome of each new column."""
    n = X.shape[1]
    k = int(np.ceil(n / max_cols)) if max_cols and n > max_cols else 1
    if k == 1:
        return X, chrom
    first = np.r_[True, chrom[1:] != chrom[:-1]]
    start = np.flatnonzero(first)
    within = np.arange(n) - np.repeat(start, np.diff(np.r_[start, n]))
    group = np.cumsum(first | (within % k == 0)) - 1
    edges = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    ok = np.isfinite(X)
    with np.errstate(invalid="ignore"):
        out = np.add.reduceat(np.where(ok, X, 0.0), edges, axis=1) / np.add.reduceat(ok, edges, axis=1)
    return out.astype(np.float32), chrom[edges]


def _draw_rows(n: int, order: np.ndarray, max_rows: int) -> tuple[np.ndarray, int]:
    step = max(1, int(np.ceil(n / max_rows)))
    return order[::step], step


def _dendrogram_segments(Z: np.ndarray, order: np.ndarray, scale: float) -> np.ndarray:
    """Line segments ``(m, 2, 2)`` of the dendrogram, leaves at x=0, rows on y (top = 0)."""
    n = Z.shape[0] + 1
    y = np.empty(2 * n - 1)
    h = np.zeros(2 * n - 1)
    pos = np.empty(n)
    pos[order] = np.arange(n)
    y[:n] = (pos + 0.5) * scale
    a = Z[:, 0].astype(np.int64)
    b = Z[:, 1].astype(np.int64)
    for k in range(n - 1):  # children always precede parents in a linkage matrix
        y[n + k] = 0.5 * (y[a[k]] + y[b[k]])
        h[n + k] = Z[k, 2]
    hk = h[n:]
    seg = np.empty((3 * (n - 1), 2, 2))
    seg[0::3, 0] = np.c_[h[a], y[a]]
    seg[0::3, 1] = np.c_[hk, y[a]]
    seg[1::3, 0] = np.c_[h[b], y[b]]
    seg[1::3, 1] = np.c_[hk, y[b]]
    seg[2::3, 0] = np.c_[hk, y[a]]
    seg[2::3, 1] = np.c_[hk, y[b]]
    return seg


def plot_heatmap(matrix: ad.AnnData, clustering: Clustering, *, tracks: Sequence[str] | None = None,
                 clip: tuple[float, float] = (-2.0, 2.0), max_rows: int = 1500, max_cols: int = 2400,
                 title: str | None = None,
                 value_label: str | None = None, width: float = 15.0, cohort_obs: pd.DataFrame | None = None):
    """Draw the clustered heatmap; returns the matplotlib Figure.

    ``matrix``: :func:`cohort_matrix` result; ``clustering``: :func:`cluster` of it.
    Rows beyond ``max_rows`` are thinned (every k-th in tree order, stated on the figure);
    columns beyond ``max_cols`` (more than the pixels of a printed figure) are averaged in
    runs of adjacent bins within each chromosome before drawing.
    """
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Patch

    n = matrix.n_obs
    order = clustering.order
    rows, step = _draw_rows(n, order, max_rows)
    chrom_all = matrix.var["chrom"].astype(str).to_numpy()
    X, chrom = bin_columns(np.asarray(matrix.X, dtype=np.float32)[rows], chrom_all, max_cols)
    tt, colours = track_table(matrix, clustering, tracks, cohort_obs)
    nt = tt.shape[1]
    names_shown = len(rows) <= 60
    # layout in inches: dendrogram | tracks | body | sample names | legends
    body_h = float(np.clip(0.12 * len(rows), 3.0, 9.0))
    top, under, foot = 0.45, 0.95, 0.55  # title; chromosome and track labels; colour bar and note
    n_leg = sum(min(len(c), 12) + (1 if len(c) > 12 else 0) + 2 for c in colours.values())
    height = max(top + body_h + under + foot, top + 0.15 * n_leg + 0.3)
    dw, tw, nw, lw = 1.5, 0.2 * nt, (1.1 if names_shown else 0.0), 1.8
    hw = width - 0.15 - dw - 0.05 - tw - 0.08 - nw - lw - 0.15
    fig = plt.figure(figsize=(width, height), dpi=100)

    def box(x, w, y_top, h):  # inches from the left and from the top → figure fraction
        return [x / width, 1 - (y_top + h) / height, w / width, h / height]

    x0 = 0.15
    ax_d = fig.add_axes(box(x0, dw, top, body_h))
    ax_t = fig.add_axes(box(x0 + dw + 0.05, max(tw, 0.01), top, body_h))
    hx = x0 + dw + 0.05 + tw + 0.08
    ax_h = fig.add_axes(box(hx, hw, top, body_h))
    ax_l = fig.add_axes(box(hx + hw + nw + 0.1, lw, top, height - top - 0.1))
    ax_c = fig.add_axes(box(hx + hw * 0.7, hw * 0.3, top + body_h + under + 0.05, 0.14))

    # body
    cmap = palette.diverging_cmap()
    interp = "nearest" if len(rows) <= 300 else "antialiased"
    ax_h.imshow(np.ma.masked_invalid(X), aspect="auto", cmap=cmap, vmin=clip[0], vmax=clip[1],
                interpolation=interp, rasterized=True, extent=(0, X.shape[1], len(rows), 0))
    change = np.flatnonzero(np.r_[True, chrom[1:] != chrom[:-1], True])
    for x in change[1:-1]:
        ax_h.axvline(x, color="black", lw=0.5)
    mids = 0.5 * (change[:-1] + change[1:])
    names = chrom[change[:-1]]
    ax_h.set_xticks([])
    ax_h.set_yticks([])
    narrow = np.diff(change) < 0.022 * X.shape[1]
    for k, (mx, name) in enumerate(zip(mids, names)):
        up = narrow[k] and (k % 2 == 1)
        ax_h.text(mx, -0.012 - (0.028 if up else 0.0), name, transform=ax_h.get_xaxis_transform(),
                  ha="center", va="bottom", fontsize=7)
    for s in ax_h.spines.values():
        s.set_linewidth(0.5)

    # dendrogram
    seg = _dendrogram_segments(clustering.linkage, order, len(rows) / n)
    lc = LineCollection(seg, colors="#333333", linewidths=0.4 if n < 500 else 0.25, rasterized=n > 2000)
    ax_d.add_collection(lc)
    hmax = float(clustering.linkage[:, 2].max()) if n > 1 else 1.0
    if not hmax > 0:  # identical profiles (e.g. two flat cells): a zero-height tree still needs an axis
        hmax = 1.0
    ax_d.set_xlim(hmax * 1.02, 0)
    ax_d.set_ylim(len(rows), 0)
    ax_d.axis("off")

    # tracks
    if nt:
        rgb = np.ones((len(rows), nt, 3))
        for j, t in enumerate(tt.columns):
            vals = tt[t].to_numpy()[rows]
            rgb[:, j] = [mpl.colors.to_rgb(colours[t].get(v, MISSING_COLOUR)) for v in vals]
        ax_t.imshow(rgb, aspect="auto", interpolation="nearest" if len(rows) <= 600 else "antialiased",
                    rasterized=True, extent=(0, nt, len(rows), 0))
        ax_t.set_xticks(np.arange(nt) + 0.5)
        ax_t.set_xticklabels([TRACK_LABELS.get(t, t) for t in tt.columns], rotation=90, fontsize=7)
        ax_t.set_yticks([])
        for x in range(1, nt):
            ax_t.axvline(x, color="white", lw=0.8)
    else:
        ax_t.axis("off")
    if names_shown:  # sample names when there is room
        ax_h.yaxis.tick_right()
        ax_h.set_yticks(np.arange(len(rows)) + 0.5)
        ax_h.set_yticklabels(np.asarray(matrix.obs_names)[rows], fontsize=max(4, min(7, 400 / len(rows))))

    # legends
    ax_l.axis("off")
    y = 1.0
    for t in tt.columns:
        items = list(colours[t].items())
        extra = len(items) - 12
        handles = [Patch(facecolor=c, edgecolor="#999999", lw=0.3, label=v) for v, c in items[:12]]
        if extra > 0:
            handles.append(Patch(facecolor="white", edgecolor="white", label=f"+{extra} more"))
        leg = ax_l.legend(handles=handles, title=TRACK_LABELS.get(t, t), loc="upper left", bbox_to_anchor=(0.05, y),
                          fontsize=6.5, title_fontsize=7, frameon=False, handlelength=1.0, handleheight=0.8,
                          labelspacing=0.2, borderaxespad=0.0, alignment="left")
        ax_l.add_artist(leg)
        y -= (len(handles) + 1.7) * 0.15 / (height - top - 0.1)
    # colour bar and note
    cb = fig.colorbar(mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(*clip), cmap=cmap), cax=ax_c,
                      orientation="horizontal")
    cb.set_label(value_label or _value_label(matrix), fontsize=7)
    cb.ax.tick_params(labelsize=6.5)
    note = f"{n:,} samples"
    if step > 1:
        note += f"; every {_ordinal(step)} sample in tree order drawn ({len(rows):,} rows)"
    grid = matrix.uns.get("cohort_matrix", {}).get("grid")
    note += f"\n{matrix.n_vars:,} bins" + (f" of {int(grid) // 1000} kb" if grid else "")
    note += "; Ward linkage, Euclidean distance"
    fig.text(hx / width, 1 - (top + body_h + under + 0.12) / height, note, fontsize=7, va="center", ha="left",
             linespacing=1.4)
    fig.text(0.15 / width, 1 - 0.22 / height, title or "Hierarchical clustering of copy-number profiles",
             fontsize=10, ha="left", va="center")
    return fig


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def _value_label(matrix: ad.AnnData) -> str:
    v = matrix.uns.get("cohort_matrix", {}).get("value", "log2_cn_over_ploidy")
    return {"log2_cn_over_ploidy": "log2(copy number / ploidy)", "log2_segment": "log2(segment ratio)",
            "log2_ratio": "log2(ratio)"}.get(v, v)


def save_heatmap(fig, out_dir: str | Path, name: str = "heatmap", formats: Sequence[str] = ("png", "svg"),
                 dpi: int = 150) -> list[Path]:
    """Write the figure atomically as ``out_dir/name.<fmt>`` for each format."""
    out = []
    for fmt in formats:
        p = Path(out_dir) / f"{name}.{fmt}"
        with atomic_path(p) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
        out.append(p)
    return out


def heatmap_embed(fig, matrix: ad.AnnData, clustering: Clustering, *, tracks: Sequence[str] | None = None,
                  dpi: int = 110, max_rows: int = 1500, cohort_obs: pd.DataFrame | None = None) -> dict:
    """A compact form for the HTML report: the PNG as base64 plus the drawn row order,
    track values and colours, and chromosome boundaries (fractions of the body width)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    tt, colours = track_table(matrix, clustering, tracks, cohort_obs)
    rows, step = _draw_rows(matrix.n_obs, clustering.order, max_rows)
    chrom = matrix.var["chrom"].astype(str).to_numpy()
    change = np.flatnonzero(np.r_[True, chrom[1:] != chrom[:-1], True])
    return {
        "png_base64": base64.b64encode(buf.getvalue()).decode("ascii"),
        "mime": "image/png",
        "n_samples": int(matrix.n_obs),
        "rows_drawn": int(len(rows)),
        "row_step": int(step),
        "order": [str(s) for s in np.asarray(matrix.obs_names)[rows]],
        "tracks": {t: [str(v) for v in tt[t].to_numpy()[rows]] for t in tt.columns},
        "colours": colours,
        "chromosomes": [{"chrom": str(chrom[a]), "start": float(a / len(chrom)), "end": float(b / len(chrom))}
                        for a, b in zip(change[:-1], change[1:])],
        "value": matrix.uns.get("cohort_matrix", {}).get("value", ""),
    }


def write_embed(path: str | Path, embed: dict) -> Path:
    return write_json(path, embed, indent=None, separators=(",", ":"))


__all__ = ["plot_heatmap", "save_heatmap", "heatmap_embed", "write_embed", "track_table", "DEFAULT_TRACKS"]
