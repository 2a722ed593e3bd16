"""Figures of the drivers step (plotting only; the data come from ``summaries``).

- :func:`plot_driver_heatmap` — the study's Fig. 4: drivers × samples grouped by pathway
  (most altered first, gene count in brackets), role and group columns, gain/loss
  frequencies;
- :func:`plot_group_comparison` — Supp. Fig. 3: drivers exclusive to each group or shared,
  and the pathways of the exclusive ones.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state, no
backend switch), so they are safe to make in worker processes and notebooks alike.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Patch

from .._atomic import atomic_path
from ..plotting import palette

#: Colours for -2 homdel, -1 loss, 0 none, 1 gain, 2 amp (the shared palette's CN states).
STATE_COLOURS = [palette.CN_STATE[k] for k in ("homdel", "loss", "neutral", "gain", "amp")]
ROLE_ABBREV = {"activating": "Act", "loss_of_function": "LoF", "ambiguous": "Amb"}
#: What each column track of the driver heatmap is, for the shared palette.
_TRACK_KIND = {"patient": "patient", "group": "treatment_group"}


def plot_driver_heatmap(matrix: dict, *, title: str = "CNA driver events by signalling pathway",
                        max_label_columns: int = 120, cohort_obs: pd.DataFrame | None = None) -> Figure:
    """Fig. 4-style heatmap from :func:`ctcscope.drivers.summaries.driver_matrix`.

    ``cohort_obs``: the whole cohort's ``obs``, so each patient keeps its colour from the
    other figures although only analysable samples are drawn here."""
    rows = pd.DataFrame(matrix["rows"])
    cols = pd.DataFrame(matrix["columns"])
    z = np.asarray(matrix["z"], dtype=float)
    low = np.asarray(matrix["low_confidence"], dtype=bool)
    nr, nc = z.shape if z.ndim == 2 else (0, 0)
    if nr == 0 or nc == 0:
        fig = Figure(figsize=(6, 2))
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "No driver events in analysable tumour samples", ha="center", va="center")
        return fig
    cell_h = 0.16 if nr < 200 else max(0.03, 32 / nr)
    cell_w = 0.2 if nc <= 60 else max(0.01, 12 / nc)
    heat_w, heat_h = nc * cell_w, nr * cell_h
    left_w, right_w, top_h, bottom_h = 2.6, 2.0, 0.85, 1.1
    W, H = left_w + heat_w + right_w + 0.4, bottom_h + heat_h + top_h
    fig = Figure(figsize=(W, H))
    # axes in figure fractions
    x0, y0 = left_w / W, bottom_h / H
    ax = fig.add_axes([x0, y0, heat_w / W, heat_h / H])
    ax.imshow(z, cmap=ListedColormap(STATE_COLOURS), vmin=-2.5, vmax=2.5, aspect="auto", interpolation="none")
    if low.any() and nr * nc <= 20000:
        yy, xx = np.nonzero(low & (z != 0))
        ax.scatter(xx, yy, s=3, c="k", marker=".", linewidths=0)
    ax.set_yticks(np.arange(nr))
    ax.set_yticklabels(rows["label"], fontsize=6, fontstyle="italic")
    if nc <= max_label_columns:
        ax.set_xticks(np.arange(nc))
        ax.set_xticklabels(cols["sample_id"], rotation=90, fontsize=5)
    else:
        ax.set_xticks([])
    ax.tick_params(length=0)
    # pathway separators and labels, "Cell cycle (24)"
    pw = rows["pathway"].to_numpy()
    starts = np.flatnonzero(np.r_[True, pw[1:] != pw[:-1]])
    ends = np.r_[starts[1:], nr]
    n_genes = {p["pathway"]: p["n_altered_genes"] for p in matrix["pathways"]}
    for s, e in zip(starts, ends):
        ax.axhline(s - 0.5, color="k", lw=0.6)
        fig.text(0.05 / W, y0 + (nr - (s + e) / 2) / nr * heat_h / H, f"{pw[s]} ({n_genes.get(pw[s], e - s)})",
                 fontsize=7, va="center", ha="left", fontweight="bold")
    # patient and group tracks above the heatmap
    pts = cols["patient"].to_numpy()
    has_group = "group" in cols and cols["group"].fillna("").astype(str).ne("").any()
    tracks = (("patient", "Patient"), ("group", "Group")) if has_group else (("patient", "Patient"),)
    for k, (key, lab) in enumerate(tracks):  # no blank "Group" track when no sample has a group
        vals = cols[key].fillna("").astype(str).to_numpy()
        universe = cohort_obs[key] if cohort_obs is not None and key in cohort_obs else None
        cmap = palette.categorical(_TRACK_KIND[key], vals, universe=universe)
        tax = fig.add_axes([x0, (y0 * H + heat_h + 0.08 + k * 0.2) / H, heat_w / W, 0.16 / H])
        tax.imshow(np.arange(nc)[None, :], aspect="auto",
                   cmap=ListedColormap([cmap[v] if v else "#ffffff" for v in vals]), interpolation="none")
        tax.set_xticks([])
        tax.set_yticks([0])
        tax.set_yticklabels([lab], fontsize=6)
        tax.tick_params(length=0)
        bounds = np.flatnonzero(np.r_[True, vals[1:] != vals[:-1]])
        for b, b2 in zip(bounds, np.r_[bounds[1:], nc]):
            if vals[b] and (b2 - b) * cell_w > 0.25:
                tax.text((b + b2 - 1) / 2, 0, vals[b], ha="center", va="center", fontsize=5,
                         color=palette.text_colour(cmap[vals[b]]))
    for b in np.flatnonzero(pts[1:] != pts[:-1]) + 0.5:
        ax.axvline(b, color="k", lw=0.4)
    # role and group columns to the right of the heatmap, then gain/loss frequencies
    rx = (left_w + heat_w + 0.05) / W
    rax = fig.add_axes([rx, y0, 0.7 / W, heat_h / H])
    rax.set_xlim(0, 2)
    rax.set_ylim(nr - 0.5, -0.5)
    rax.axis("off")
    for i, r in rows.iterrows():
        rax.text(0.5, i, ROLE_ABBREV.get(r["role"], r["role"]), fontsize=5, ha="center", va="center")
        if has_group:
            rax.text(1.5, i, r.get("groups", ""), fontsize=5, ha="center", va="center")
    rax.text(0.5, -1.2, "Role", fontsize=6, ha="center", fontweight="bold")
    if has_group:
        rax.text(1.5, -1.2, "Groups", fontsize=6, ha="center", fontweight="bold")
    fax = fig.add_axes([rx + 0.8 / W, y0, 1.1 / W, heat_h / H])
    fg = rows["freq_gain"].astype(float).fillna(0).to_numpy() * 100
    fl = rows["freq_loss"].astype(float).fillna(0).to_numpy() * 100
    yy = np.arange(nr)
    fax.barh(yy, fg, height=0.8, color=STATE_COLOURS[3])
    fax.barh(yy, -fl, height=0.8, color=STATE_COLOURS[1])
    lim = max(10.0, float(np.nanmax(np.r_[fg, fl])) * 1.1)
    fax.set_xlim(-lim, lim)
    fax.set_ylim(nr - 0.5, -0.5)
    fax.axvline(0, color="k", lw=0.5)
    fax.set_yticks([])
    fax.tick_params(labelsize=5)
    fax.set_xticks([-lim * 0.8, 0, lim * 0.8])
    fax.set_xticklabels([f"{lim * 0.8:.0f}%", "0", f"{lim * 0.8:.0f}%"])
    fax.set_title("loss | gain\nfrequency", fontsize=6)
    handles = [Patch(color=c, label=l) for c, l in zip(STATE_COLOURS, ["homdel", "loss", "none", "gain", "amp"])]
    fig.legend(handles=handles, loc="lower left", ncol=5, fontsize=6, frameon=False, bbox_to_anchor=(x0, 0.0))
    n_total = matrix.get("n_drivers_total", nr)
    if n_total > nr:
        title += f" ({nr} most recurrent of {n_total} drivers)"
    fig.text(x0 + heat_w / W / 2, 1 - 0.08 / H, title, ha="center", va="top", fontsize=9, fontweight="bold")
    return fig


def plot_group_comparison(per_driver: pd.DataFrame, summary: pd.DataFrame, *,
                          title: str = "Drivers by treatment group") -> Figure:
    """Supp. Fig. 3: exclusive vs shared drivers (a two-set diagram for two groups, bars
    otherwise) and the pathway composition of each category."""
    fig = Figure(figsize=(10, 4.2))
    if summary is None or summary.empty or summary["n_drivers"].sum() == 0:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "No group comparison (no grouped analysable samples with driver events)", ha="center")
        return fig
    ax1 = fig.add_axes([0.04, 0.12, 0.38, 0.76])
    ax2 = fig.add_axes([0.58, 0.14, 0.38, 0.72])
    groups = [c for c in summary["category"] if c != "shared"]
    n = dict(zip(summary["category"], summary["n_drivers"]))
    total = max(1, int(summary["n_drivers"].sum()))
    col = {**palette.categorical("treatment_group", groups), "shared": palette.UNASSIGNED}
    if len(groups) == 2:
        ax1.set_xlim(0, 10)
        ax1.set_ylim(0, 6)
        ax1.set_aspect("equal")
        ax1.axis("off")
        for cx, g in zip((3.6, 6.4), groups):
            ax1.add_patch(Circle((cx, 3), 2.4, color=col[g], alpha=0.35, lw=1.5, ec=col[g]))
            ax1.text(cx, 5.7, g, ha="center", fontsize=9, fontweight="bold")
        for x, k in ((2.4, groups[0]), (5.0, "shared"), (7.6, groups[1])):
            ax1.text(x, 3, f"{n.get(k, 0)}\n({100 * n.get(k, 0) / total:.1f}%)", ha="center", va="center", fontsize=9)
    else:
        cats = groups + ["shared"]
        ax1.bar(range(len(cats)), [n.get(c, 0) for c in cats], color=[col[c] for c in cats])
        ax1.set_xticks(range(len(cats)))
        ax1.set_xticklabels([f"{c} only" if c != "shared" else "shared" for c in cats], rotation=30, ha="right", fontsize=7)
        ax1.set_ylabel("drivers")
    ax1.set_title(f"{total} drivers (gene, gain|loss)", fontsize=9)
    # pathway composition per category (stacked horizontal bars)
    cats = groups + ["shared"]
    comp = (per_driver.groupby(["category", "pathway"]).size().unstack(fill_value=0)
            .reindex(index=cats, fill_value=0))
    comp = comp[comp.sum().sort_values(ascending=False).index]
    pcol = palette.categorical("pathway", list(comp.columns))
    left = np.zeros(len(cats))
    for p in comp.columns:
        v = comp[p].to_numpy()
        ax2.barh(range(len(cats)), v, left=left, color=pcol[p], label=p, edgecolor="white", lw=0.3)
        left += v
    ax2.set_xlim(0, max(1.0, float(left.max())) * 1.05)
    ax2.set_yticks(range(len(cats)))
    ax2.set_yticklabels([f"{c} only" if c != "shared" else "shared" for c in cats], fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xlabel("drivers")
    ax2.set_title("pathways of the drivers", fontsize=9)
    ax2.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title, fontsize=10, fontweight="bold")
    return fig


def plot_frequency_by_group(freq_by_group: pd.DataFrame, genes: list[str], *,
                            title: str = "Driver gain and loss frequency per drug group at resistance") -> Figure:
    """The study's gene frequency columns (Fig. 4) within each drug group: one panel per
    group (its name on the group's drug colour), the same genes in the same order, gain to
    the right in red and loss to the left in blue as in the all-samples figure."""
    f = freq_by_group[freq_by_group["gene"].astype(str).isin(genes)] if len(freq_by_group) else freq_by_group
    groups = sorted(f["group"].astype(str).unique(), key=palette.natural_key) if len(f) else []
    fig = Figure(figsize=(2.2 + 2.6 * max(len(groups), 1), 1.2 + 0.2 * max(len(genes), 1)))
    if not groups or not genes:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "No drug groups with analysable samples", ha="center", va="center")
        return fig
    colour = palette.categorical("treatment_group", groups)
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
    y = np.arange(len(genes))
    lim = 10.0
    for ax, g in zip(axes, groups):
        t = f[f["group"].astype(str) == g].set_index("gene").reindex(genes)
        gain = 100 * t["freq_gain"].astype(float).fillna(0).to_numpy()
        loss = 100 * t["freq_loss"].astype(float).fillna(0).to_numpy()
        ax.barh(y, gain, height=0.8, color=STATE_COLOURS[3])
        ax.barh(y, -loss, height=0.8, color=STATE_COLOURS[1])
        ax.axvline(0, color="k", lw=0.5)
        n = int(t["n_samples"].max()) if t["n_samples"].notna().any() else 0
        ax.set_title(f"{g} (n = {n})", fontsize=8, backgroundcolor=colour[g])
        ax.set_xlabel("% loss | % gain", fontsize=7)
        ax.tick_params(labelsize=6)
        lim = max(lim, float(np.r_[gain, loss].max()) * 1.1)
    for ax in axes:
        ax.set_xlim(-lim, lim)
        ticks = ax.get_xticks()
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{abs(v):.0f}" for v in ticks])
        ax.set_xlim(-lim, lim)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(genes, fontsize=6, fontstyle="italic")
    axes[0].invert_yaxis()
    fig.suptitle(title, fontsize=9, fontweight="bold")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, base: str | Path, formats=("png", "svg"), dpi: int = 150) -> list[Path]:
    """Write ``base.png`` / ``base.svg`` atomically; returns the paths."""
    out = []
    base = Path(base)
    for fmt in formats:
        p = base.with_suffix(f".{fmt}")
        with atomic_path(p) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight", metadata={"Date": None} if fmt == "svg" else None)
        out.append(p)
    return out
