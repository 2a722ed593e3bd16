"""Figures of the phenotype step: gating plots per file and the phenotype mix per patient.

Plotting only: everything shown is computed in :mod:`.gating` / :mod:`.classify`.  Axes
use the gating file's display scales (logicle for fluorescence) with ticks labelled in
data units; each panel shows the gate's parent population with the gate drawn, events
coloured by their final phenotype (colours as in the study's Fig. 1: ALK−/CK+ red,
ALK+/CK+ orange, ALK+/CK− green) and index-sorted events ringed.  Files are PNG; use
:func:`png_data_uri` to embed one in HTML.
"""
from __future__ import annotations

import base64
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import atomic_path
from ..plotting import palette
from .classify import CTC_PHENOTYPES
from .gating import OUTSIDE, GatingResult

#: Phenotype colours of every figure (the shared palette: the study's hues, colour-blind safe).
COLORS = {**palette.PHENOTYPE, OUTSIDE: palette.PHENOTYPE["outside"]}
_DENSE = 5000  # above this many events a panel shows density instead of points


def _color(label: str) -> str:
    return COLORS.get(label) or palette.categorical("phenotype", [label])[label]


def _ticks(scale, lo: float, hi: float):
    if scale.kind == "linear":
        return None
    cand = [-1e3, 0, 1e2, 1e3, 1e4, 1e5]
    pos = scale.forward(np.array(cand))
    keep = [(p, c) for p, c in zip(pos, cand) if lo - 1e-9 <= p <= hi + 1e-9]
    lab = {0: "0", 1e2: "10²", 1e3: "10³", 1e4: "10⁴", 1e5: "10⁵", -1e3: "−10³"}
    return [p for p, _ in keep], [lab[c] for _, c in keep]


def plot_gating(result: GatingResult, path: str | os.PathLike, *, sorted_events=None, title: str | None = None,
                dpi: int = 110) -> Path:
    """One panel per gate of ``result`` (its parent population, the gate drawn); saved as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon, Rectangle

    g = result.gating
    if g.gatingml is not None:
        raise ValueError("gating plots are drawn for YAML gating definitions; Gating-ML strategies are applied by FlowKit")
    gates = g.gates
    n = len(gates)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.9 * nrow), squeeze=False)
    inten = result.intensities
    cols = {a: result.intensities[a].to_numpy() if a in inten else None for a in result.channel_map}
    pheno = result.phenotype.to_numpy()
    sorted_mask = np.zeros(len(pheno), dtype=bool)
    if sorted_events is not None and len(sorted_events):
        sorted_mask[np.asarray(list(sorted_events), dtype=int)] = True
    yfallback = "FSC" if "FSC" in result.channel_map else None
    for k, gate in enumerate(gates):
        ax = axes[k // ncol][k % ncol]
        parent = result.membership[gate.parent].to_numpy() if gate.parent else np.ones(len(pheno), dtype=bool)
        s = gate.spec
        if gate.type in ("polygon", "quadrant"):
            xa, ya = s["x"], s["y"]
        elif gate.type == "rectangle" and len(s["dims"]) >= 2:
            xa, ya = list(s["dims"])[:2]
        else:
            xa = s["channel"] if gate.type == "threshold" else list(s["dims"])[0]
            ya = yfallback if yfallback and yfallback != xa else None
        sx = g.scale(xa)
        x = sx.forward(_col(result, xa))
        if ya is not None:
            sy = g.scale(ya)
            y = sy.forward(_col(result, ya))
        idx = np.flatnonzero(parent)
        # fixed display range (whole scale), so gates sit where the cytometer shows them
        ax.set_xlim(*_limits(sx, x))
        if ya is not None:
            ax.set_ylim(*_limits(sy, y))
        ax.set_autoscale_on(False)
        if ya is None:
            ax.hist(x[idx], bins=80, color="#777777")
        elif len(idx) > _DENSE:
            ax.hexbin(x[idx], y[idx], gridsize=90, bins="log", cmap="Greys", mincnt=1)
            # rare CTCs vanish in a density plot: draw them on top
            for lab in CTC_PHENOTYPES:
                m = idx[pheno[idx] == lab]
                if len(m):
                    ax.scatter(x[m], y[m], s=9, c=_color(lab), alpha=0.9, linewidths=0, label=f"{lab} ({len(m)})")
        else:
            for lab in pd.unique(pheno[idx]):
                m = idx[pheno[idx] == lab]
                ax.scatter(x[m], y[m], s=9, c=_color(lab), alpha=0.75, linewidths=0, label=f"{lab} ({len(m)})")
        ring = idx[sorted_mask[idx]]
        if ya is not None and len(ring) and len(ring) < 2000:
            ax.scatter(x[ring], y[ring], s=26, facecolors="none", edgecolors="black", linewidths=0.5)
        vals = result.values
        if gate.type == "threshold":
            side = "above" if "above" in s else "below"
            t = float(sx.forward(np.array([vals[f"{gate.id}.{side}"]["value"]]))[0])
            ax.axvline(t, color="black", lw=1.2)
            ax.annotate("→" if side == "above" else "←", (t, 0.95), xycoords=("data", "axes fraction"),
                        ha="left" if side == "above" else "right", fontsize=12)
        elif gate.type == "rectangle":
            keys = list(s["dims"])
            lims = []
            for ch in keys[:2]:
                lo, hi = s["dims"][ch]
                sc = g.scale(ch)
                lo_v = vals.get(f"{gate.id}.{ch}.min", {}).get("value") if lo is not None else None
                hi_v = vals.get(f"{gate.id}.{ch}.max", {}).get("value") if hi is not None else None
                lims.append((sc.forward(np.array([lo_v]))[0] if lo_v is not None else None,
                             sc.forward(np.array([hi_v]))[0] if hi_v is not None else None))
            xl, xh = ax.get_xlim()
            if ya is not None and len(lims) == 2:
                yl, yh = ax.get_ylim()
                (x0, x1), (y0, y1) = lims
                x0 = xl if x0 is None else x0
                x1 = xh if x1 is None else x1
                y0 = yl if y0 is None else y0
                y1 = yh if y1 is None else y1
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="black", lw=1.2))
            else:
                for v in lims[0]:
                    if v is not None:
                        ax.axvline(v, color="black", lw=1.2)
        elif gate.type == "polygon":
            vert = np.asarray(s["vertices"], dtype=float)
            pv = np.column_stack([sx.forward(vert[:, 0]), g.scale(ya).forward(vert[:, 1])])
            ax.add_patch(Polygon(pv, closed=True, fill=False, ec="black", lw=1.2))
        else:
            tx = float(sx.forward(np.array([vals[f"{gate.id}.x_split"]["value"]]))[0])
            ty = float(g.scale(ya).forward(np.array([vals[f"{gate.id}.y_split"]["value"]]))[0])
            ax.axvline(tx, color="black", lw=1.2)
            ax.axhline(ty, color="black", lw=1.2)
            for q, (sgx, sgy) in s["quadrants"].items():
                cnt = int(result.membership[f"{gate.id}/{q}"].sum())
                ax.annotate(f"{q}\n{cnt}", (0.97 if sgx == "+" else 0.03, 0.97 if sgy == "+" else 0.03),
                            xycoords="axes fraction", ha="right" if sgx == "+" else "left",
                            va="top" if sgy == "+" else "bottom", fontsize=8,
                            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=_color(q), alpha=0.85))
        for axis, sc, vals_ in (("x", sx, x), ("y", g.scale(ya) if ya else None, y if ya else None)):
            if sc is None or vals_ is None:
                continue
            lo, hi = (ax.get_xlim() if axis == "x" else ax.get_ylim())
            tk = _ticks(sc, lo, hi)
            if tk:
                (ax.set_xticks if axis == "x" else ax.set_yticks)(tk[0])
                (ax.set_xticklabels if axis == "x" else ax.set_yticklabels)(tk[1])
        ax.set_xlabel(f"{xa} ({result.channel_map.get(xa, xa)})")
        ax.set_ylabel(f"{ya} ({result.channel_map.get(ya, ya)})" if ya else "events")
        par = gate.parent or "all events"
        ax.set_title(f"{gate.label or gate.id}\nof {par}: {int(parent.sum())} events", fontsize=9)
        if ya is not None and ax.get_legend_handles_labels()[0] and (gate.type == "quadrant" or k == n - 1):
            ax.legend(fontsize=7, loc="center", framealpha=0.8, markerscale=1.5)
    for k in range(n, nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    ringed = "; ringed: index-sorted events" if sorted_mask.any() else ""
    fig.suptitle(title or f"Gating of {result.file} ({g.name}){ringed}", fontsize=10)
    fig.tight_layout()
    return _save(fig, path, dpi)


def _limits(scale, v: np.ndarray) -> tuple[float, float]:
    v = v[np.isfinite(v)]
    if scale.kind == "linear":
        hi = float(v.max()) if len(v) else 1.0
        lo = min(0.0, float(v.min())) if len(v) else 0.0
        return lo, hi * 1.05 if hi > 0 else 1.0
    lo = float(scale.forward(np.array([-300.0]))[0])
    hi = float(scale.forward(np.array([scale.t]))[0])
    if len(v):
        lo, hi = min(lo, float(np.percentile(v, 0.5))), max(hi, float(v.max()))
    return lo, hi + 0.02 * (hi - lo)


def _col(result: GatingResult, alias: str) -> np.ndarray:
    return result.intensities[alias].to_numpy()


def plot_phenotype_distribution(counts: pd.DataFrame, path: str | os.PathLike, *, level: str | None = None,
                                dpi: int = 110) -> Path:
    """Stacked bars of CTC phenotypes per patient (as the study's Fig. 1c)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .classify import ctc_distribution

    if level is None:
        have = set(counts["level"]) if len(counts) else set()
        level = next((lv for lv in ("sequenced", "sorted", "events") if lv in have), "events")
    wide = ctc_distribution(counts, level)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(wide) + 2.5), 3.6))
    bottom = np.zeros(len(wide))
    xs = np.arange(len(wide))
    for p in CTC_PHENOTYPES:
        v = wide[p].to_numpy() if p in wide else np.zeros(len(wide))
        ax.bar(xs, v, bottom=bottom, color=_color(p), label=p, width=0.7)
        for xi, (b, vi) in enumerate(zip(bottom, v)):
            if vi > 0:
                ax.text(xi, b + vi / 2, str(int(vi)), ha="center", va="center", fontsize=8, color=palette.text_colour(_color(p)))
        bottom += v
    ax.set_xticks(xs)
    ax.set_xticklabels([str(i) for i in wide.index])
    total = int(bottom.sum())
    word = {"sequenced": "sequenced CTCs", "sorted": "sorted CTCs", "events": "CTC events"}[level]
    ax.set_ylabel(f"{word} (n)")
    ax.set_title(f"CTC phenotypes per patient ({total} {word})", fontsize=10)
    ax.legend(fontsize=8, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
    for sp in ("top", "right"):
        ax.spines[sp].set_visible(False)
    fig.tight_layout()
    return _save(fig, path, dpi)


def _save(fig, path, dpi) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return path


def png_data_uri(path: str | os.PathLike) -> str:
    """``data:image/png;base64,…`` for embedding a PNG in a self-contained HTML report."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
