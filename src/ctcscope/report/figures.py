"""Figures of the report: plotly specs (interactive) and their static PNG fallbacks.

Every ``fig_*`` function takes a table from :mod:`ctcscope.report.summaries` (or the sample
table) and returns a plain plotly figure dict ``{"data": [...], "layout": {...}}``; the
page's own script draws it with the inlined plotly.js.  Traces carry ``meta.patient`` (one
patient per trace) or ``meta.patients`` (one patient per point) so the page can filter
every figure by patient.  :func:`static_png` draws the same dict with matplotlib for the
``<noscript>`` fallback, so each figure is defined once.

Colours come from :mod:`ctcscope.plotting.palette` (red for gain, blue for loss as in the
study; one colour per patient, phenotype, ploidy across the report and the PNGs).
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from ..plotting import palette
from ..plotting.palette import natural_key  # noqa: F401  (re-exported: build.py sorts patients with it)

GAIN = palette.CN_STATE["gain"]
AMP = palette.CN_STATE["amp"]
LOSS = palette.CN_STATE["loss"]
HOMDEL = palette.CN_STATE["homdel"]
NEUTRAL = "#9e9e9e"
BASE_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "font": {"family": "sans-serif", "size": 12},
               "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff", "hovermode": "closest",
               "legend": {"orientation": "h", "y": -0.2}}


def patients_of(values) -> list[str]:
    return sorted(pd.unique(pd.Series(list(values), dtype=object).astype(str)), key=natural_key)


def patient_colours(patients) -> dict[str, str]:
    """Each patient's colour, numbered over every patient given (pass the whole cohort's)."""
    return palette.categorical("patient", pd.Series(list(patients), dtype=object).astype(str))


def _layout(**kw) -> dict:
    lay = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE_LAYOUT.items()}
    for k, v in kw.items():
        lay[k] = v
    if isinstance(lay.get("title"), dict):  # left-aligned and small, clear of the mode bar
        lay["title"] = {"x": 0.0, "xanchor": "left", "font": {"size": 13}, **lay["title"]}
    return lay


def _list(a) -> list:
    """Array → JSON-ready list (NaN → None)."""
    out = []
    for v in (a.tolist() if hasattr(a, "tolist") else list(a)):
        if isinstance(v, float) and not np.isfinite(v):
            out.append(None)
        else:
            out.append(v)
    return out


def fig_qc_scatter(qc: pd.DataFrame) -> dict | None:
    """Reads vs MAPD per sample, one trace per patient; failed samples drawn as crosses."""
    if not {"reads", "mapd"} <= set(qc.columns) or qc["mapd"].isna().all():
        return None
    data = []
    colour = patient_colours(qc["patient"])
    for p in patients_of(qc["patient"]):
        g = qc[qc["patient"].astype(str) == p]
        passed = g["qc_pass"].eq("pass") if "qc_pass" in g else pd.Series(True, index=g.index)
        reason = g["qc_reason"].fillna("") if "qc_reason" in g else pd.Series("", index=g.index)
        data.append({
            "type": "scatter", "mode": "markers", "name": _h(p or "(no patient)"), "meta": {"patient": p},
            "x": _list(g["reads"].astype(float)), "y": _list(g["mapd"].astype(float)),
            "customdata": [[_h(s), _h(r or "passed")] for s, r in zip(g["sample_id"], reason)],
            "hovertemplate": "%{customdata[0]}<br>reads %{x:,.0f}<br>MAPD %{y:.3f}<br>%{customdata[1]}<extra></extra>",
            "marker": {"color": colour.get(p, palette.NAN), "size": 7, "opacity": 0.8,
                       "symbol": ["circle" if ok else "x" for ok in passed]},
        })
    return {"data": data, "layout": _layout(
        title={"text": "Sequencing QC: reads and MAPD (x = failed)"},
        xaxis={"title": {"text": "reads in bins"}, "type": "log"},
        yaxis={"title": {"text": "MAPD"}}, height=380)}


def fig_phenotypes(counts: pd.DataFrame) -> dict | None:
    """The three CTC phenotypes per patient as stacked percentages (Fig. 1c of the study)."""
    c = counts[counts["percent"].notna()] if len(counts) else counts
    if c.empty:
        return None
    pats = patients_of(c["patient"])
    data = []
    ph_colour = palette.categorical("phenotype", c["phenotype"])
    for j, ph in enumerate([p for p in ("ALK+/CK-", "ALK-/CK+", "ALK+/CK+") if p in set(c["phenotype"])] +
                           sorted(set(c["phenotype"]) - {"ALK+/CK-", "ALK-/CK+", "ALK+/CK+"})):
        g = c[c["phenotype"] == ph].set_index("patient").reindex(pats)
        data.append({
            "type": "bar", "name": _h(ph), "x": [_h(p or "(no patient)") for p in pats], "y": _list(g["percent"]),
            "customdata": _list(g["n"].fillna(0).astype(int)), "meta": {"patients": pats},
            "hovertemplate": f"{_h(ph)}<br>%{{x}}: %{{y:.1f}} % (n=%{{customdata}})<extra></extra>",
            "marker": {"color": ph_colour[ph]},
        })
    return {"data": data, "layout": _layout(
        barmode="stack", title={"text": "CTC phenotypes per patient (" + _h("; ".join(
            f"{lv}: {', '.join(sorted(set(counts.loc[counts['level'] == lv, 'patient'].astype(str))))}"
            if counts["level"].nunique() > 1 else lv for lv in dict.fromkeys(counts["level"]))) + ")"},
        yaxis={"title": {"text": "% of CTCs"}, "range": [0, 100]}, xaxis={"title": {"text": "patient"}},
        height=360)}


def fig_ploidy_bars(pc: pd.DataFrame) -> dict | None:
    """Cells at each base ploidy per patient, WGD (≥ 4n) in warm colours (Fig. 2c)."""
    if pc.empty:
        return None
    pats = patients_of(pc["patient"])
    data = []
    for pl in sorted(pc["ploidy"].unique()):
        g = pc[pc["ploidy"] == pl].set_index("patient").reindex(pats)
        data.append({
            "type": "bar", "name": f"{pl}n" + (" (WGD)" if pl >= 4 else ""), "x": [_h(p or "(no patient)") for p in pats],
            "y": _list(g["n"].fillna(0).astype(int)), "meta": {"patients": pats},
            "customdata": _list(g["percent"].fillna(0)),
            "hovertemplate": f"%{{x}}: %{{y}} cells at {pl}n (%{{customdata:.0f}} %)<extra></extra>",
            "marker": {"color": palette.ploidy_colour(pl)},
        })
    return {"data": data, "layout": _layout(
        barmode="stack", title={"text": "Ploidy and WGD per patient"},
        yaxis={"title": {"text": "samples"}}, xaxis={"title": {"text": "patient"}}, height=380)}


def fig_ploidy_cells(obs: pd.DataFrame) -> dict | None:
    """Each sample's mean copy number by patient; WGD samples in red, normal controls grey."""
    if "mean_cn" not in obs or obs["mean_cn"].isna().all():
        return None
    o = obs.reset_index()
    pats = patients_of(o["patient"])
    rng = np.random.default_rng(0)
    data = []
    for i, p in enumerate(pats):
        g = o[o["patient"] == p]
        wgd = g["wgd"].fillna(False).astype(bool) if "wgd" in g else pd.Series(False, index=g.index)
        normal = g["sample_type"].astype(str).isin(("wbc", "germline", "normal"))
        col = np.where(normal, NEUTRAL, np.where(wgd, GAIN, LOSS))
        # ambiguous ploidy (read depth could not tell it from the runner-up): open markers
        status = g["ploidy_status"].astype(str) if "ploidy_status" in g else pd.Series("", index=g.index)
        symbol = np.where(status == "ambiguous", "circle-open", "circle")
        x = i + rng.uniform(-0.3, 0.3, len(g))
        cd = [[_h(s), _h(t), _fmt(pl), _fmt(c, 2), _fmt(w, 2), _h(st)] for s, t, pl, c, w, st in zip(
            g["sample_id"], g["sample_type"].astype(str), g.get("ploidy", [np.nan] * len(g)),
            g.get("ploidy_confidence", [np.nan] * len(g)), g.get("wgd_probability", [np.nan] * len(g)), status)]
        data.append({
            "type": "scatter", "mode": "markers", "name": _h(p or "(no patient)"), "meta": {"patient": p},
            "x": _list(np.round(x, 3)), "y": _list(g["mean_cn"].astype(float).round(3)), "customdata": cd,
            "hovertemplate": "%{customdata[0]} (%{customdata[1]})<br>mean CN %{y:.2f}, ploidy %{customdata[2]}n"
                             "<br>confidence %{customdata[3]} %{customdata[5]}, P(WGD) %{customdata[4]}<extra></extra>",
            "marker": {"color": list(col), "symbol": list(symbol), "size": 7, "line": {"width": 0.5, "color": "#333"}},
            "showlegend": False,
        })
    return {"data": data, "layout": _layout(
        title={"text": "Mean copy number per sample"},
        xaxis={"zeroline": False, "tickmode": "array", "tickvals": list(range(len(pats))), "ticktext": [_h(p or "(no patient)") for p in pats],
               "title": {"text": "patient"}},
        yaxis={"title": {"text": "mean copy number"}, "dtick": 1, "rangemode": "tozero"},
        shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 3.5, "y1": 3.5,
                 "line": {"dash": "dot", "color": "#888", "width": 1}}],
        height=380)}


def fig_dna_index(obs: pd.DataFrame) -> dict | None:
    """DNA index of each index-sorted cell against its called ploidy, per patient: the
    leukocytes of the same tubes are the 2n G1 reference (index 1); a cell in G1 lies on
    ploidy / 2, in G2/M on ploidy (dashed), in S between.  Open markers: ploidy ambiguous;
    ringed in black: DNA index and read depth disagree."""
    if "dna_index" not in obs:
        return None
    o = obs.reset_index()
    di = pd.to_numeric(o["dna_index"], errors="coerce")
    if di.notna().sum() == 0:
        return None
    colour = patient_colours(o["patient"]) if "patient" in o else {}
    o = o.assign(dna_index=di)
    o = o[o["dna_index"].notna()]
    st = o["sample_type"].astype(str)
    rng = np.random.default_rng(0)
    data = []
    ctrl = o[st.isin(("wbc", "germline", "normal"))]
    if len(ctrl):
        data.append({"type": "scatter", "mode": "markers", "name": "leukocyte controls (2n reference)",
                     "x": _list(np.round(2 + rng.uniform(-0.15, 0.15, len(ctrl)), 3)),
                     "y": _list(ctrl["dna_index"].round(3)), "text": [_h(s) for s in ctrl["sample_id"]],
                     "hovertemplate": "%{text}<br>DNA index %{y:.2f}<extra></extra>",
                     "marker": {"color": NEUTRAL, "size": 7, "symbol": "diamond"}})
    cells = o[~st.isin(("wbc", "germline", "normal")) & pd.to_numeric(o.get("ploidy"), errors="coerce").notna()]
    pats = patients_of(cells["patient"]) if len(cells) else []
    for p in pats:
        g = cells[cells["patient"].astype(str) == p]
        amb = g["ploidy_status"].astype(str).eq("ambiguous") if "ploidy_status" in g else pd.Series(False, index=g.index)
        conflict = g["dna_conflict"].fillna(False).astype(bool) if "dna_conflict" in g else pd.Series(False, index=g.index)
        phase = g["cycle_phase"].astype(str) if "cycle_phase" in g else pd.Series("", index=g.index)
        x = pd.to_numeric(g["ploidy"], errors="coerce").to_numpy(float) + rng.uniform(-0.2, 0.2, len(g))
        cd = [[_h(sid), _fmt(pl), _fmt(c, 2), _h(ph), "yes" if cf else "no"] for sid, pl, c, ph, cf in zip(
            g["sample_id"], g["ploidy"], g.get("ploidy_confidence", [np.nan] * len(g)), phase, conflict)]
        data.append({
            "type": "scatter", "mode": "markers", "name": _h(p or "(no patient)"), "meta": {"patient": p},
            "x": _list(np.round(x, 3)), "y": _list(g["dna_index"].round(3)), "customdata": cd,
            "hovertemplate": "%{customdata[0]}<br>ploidy %{customdata[1]}n (confidence %{customdata[2]}), "
                             "DNA index %{y:.2f}<br>cycle phase %{customdata[3]}; disagreement %{customdata[4]}<extra></extra>",
            "marker": {"color": colour.get(str(p), NEUTRAL), "size": 8,
                       "symbol": list(np.where(amb, "circle-open", "circle")),
                       "line": {"width": list(np.where(conflict, 2.5, 0.5)), "color": "#000"}},
        })
    top = float(max(5.0, np.nanmax(pd.to_numeric(cells["ploidy"], errors="coerce")) + 1) if len(cells) else 5.0)
    xs = [1.0, top]
    data += [{"type": "scatter", "mode": "lines", "name": "G1: ploidy / 2", "x": xs, "y": [v / 2 for v in xs],
              "line": {"color": "#555", "width": 1}, "hoverinfo": "skip"},
             {"type": "scatter", "mode": "lines", "name": "G2/M: ploidy", "x": xs, "y": xs,
              "line": {"color": "#555", "width": 1, "dash": "dash"}, "hoverinfo": "skip"}]
    return {"data": data, "layout": _layout(
        title={"text": "DNA index (index sort) against called ploidy"},
        xaxis={"title": {"text": "called ploidy (n)"}, "dtick": 1, "range": [0.5, top + 0.5]},
        yaxis={"title": {"text": "DNA index (Hoechst / leukocyte G1 peak)"}, "rangemode": "tozero"},
        height=400)}


def fig_instability(obs: pd.DataFrame) -> dict | None:
    """Fraction of genome altered relative to ploidy per patient (box with points)."""
    if "fga" not in obs or obs["fga"].isna().all():
        return None
    o = obs.reset_index()
    colour = patient_colours(o["patient"])  # numbered over the whole cohort, before the tumour subset
    o = o[o["sample_type"].astype(str).isin(("ctc", "ctc_pool", "biopsy"))]
    data = []
    for p in patients_of(o["patient"]):
        g = o[o["patient"].astype(str) == p]
        data.append({
            "type": "box", "name": _h(p or "(no patient)"), "y": _list(g["fga"].astype(float).round(4)),
            "meta": {"patient": p}, "boxpoints": "all", "jitter": 0.4, "pointpos": 0,
            "text": [_h(v) for v in g["sample_id"]], "hovertemplate": "%{text}: FGA %{y:.2f}<extra></extra>",
            "marker": {"color": colour.get(p, palette.NAN), "size": 5}, "line": {"color": colour.get(p, palette.NAN)},
        })
    return {"data": data, "layout": _layout(
        title={"text": "Fraction of genome altered relative to ploidy"},
        yaxis={"title": {"text": "FGA"}, "range": [0, 1]}, showlegend=False, height=360)}


def fig_gene_frequency(freq: pd.DataFrame, top: int = 40) -> dict | None:
    """Gain (right, red) and loss (left, blue) frequency of the most altered driver genes."""
    if freq.empty:
        return None
    f = freq.assign(_tot=freq["n_gain"] + freq["n_loss"]).sort_values("_tot", ascending=False).head(top)
    f = f.iloc[::-1]
    genes = [_h(v) for v in f["gene"].astype(str)]
    return {"data": [
        {"type": "bar", "orientation": "h", "name": "gain", "y": genes, "x": _list(f["gain_percent"]),
         "marker": {"color": GAIN}, "customdata": _list(f["n_gain"]),
         "hovertemplate": "%{y}: gain in %{x:.1f} % (n=%{customdata})<extra></extra>"},
        {"type": "bar", "orientation": "h", "name": "loss", "y": genes, "x": _list(-f["loss_percent"]),
         "marker": {"color": LOSS}, "customdata": _list(f["n_loss"]),
         "hovertemplate": "%{y}: loss in %{customdata} samples<extra></extra>"},
    ], "layout": _layout(
        barmode="relative", title={"text": "Driver gain/loss frequency among QC-passed tumour samples"},
        xaxis={"title": {"text": "% of samples (loss ← | → gain)"}}, yaxis={"automargin": True, "dtick": 1},
        height=max(300, 16 * len(genes) + 120))}


def fig_gene_frequency_by_group(freq: pd.DataFrame | None, genes: list[str]) -> dict | None:
    """The drivers step's ``driver_frequencies_by_group.tsv`` as small multiples: one panel
    per drug group at resistance, the same genes, gain right (red) and loss left (blue) as
    in the all-samples figure; the group's name on its drug colour."""
    if freq is None or freq.empty or not genes:
        return None
    f = freq[freq["gene"].astype(str).isin(genes)]
    groups = sorted(f["group"].astype(str).unique(), key=natural_key)
    if not groups:
        return None
    colour = palette.categorical("treatment_group", groups)
    shown = [_h(g) for g in genes]
    data, annotations, layout_axes = [], [], {}
    gap, k = 0.04, len(groups)
    width = (1 - gap * (k - 1)) / k
    for i, grp in enumerate(groups):
        t = f[f["group"].astype(str) == grp].set_index("gene").reindex(genes)
        n = int(t["n_samples"].max()) if t["n_samples"].notna().any() else 0
        ax = "" if i == 0 else str(i + 1)
        for direction, sign, col in (("gain", 1, GAIN), ("loss", -1, LOSS)):
            pct = (100 * t[f"freq_{direction}"].astype(float).fillna(0)).round(1)
            data.append({
                "type": "bar", "orientation": "h", "name": direction, "legendgroup": direction, "showlegend": i == 0,
                "xaxis": f"x{ax}", "yaxis": "y", "y": shown, "x": _list(sign * pct),
                "customdata": _list(t[f"n_{direction}"].fillna(0).astype(int)), "meta": {"group": grp},
                "marker": {"color": col},
                "hovertemplate": f"{_h(grp)} · %{{y}}: {direction} in %{{customdata}} of {n} samples<extra></extra>",
            })
        x0 = i * (width + gap)
        layout_axes[f"xaxis{ax}"] = {"domain": [x0, x0 + width], "anchor": "y", "zeroline": True,
                                     "title": {"text": "% loss | % gain", "font": {"size": 10}}}
        annotations.append({"x": x0 + width / 2, "y": 1.0, "xref": "paper", "yref": "paper", "yanchor": "bottom",
                            "showarrow": False, "text": _h(f"{grp} (n = {n})"), "bgcolor": colour[grp],
                            "font": {"size": 11}})
    return {"data": data, "layout": _layout(
        barmode="relative", title={"text": "Driver gain/loss frequency per drug group at resistance"},
        yaxis={"automargin": True, "autorange": "reversed", "dtick": 1}, annotations=annotations,
        height=max(300, 16 * len(genes) + 140), **layout_axes)}


_STATE_Z = {"amp": 2, "gain": 1, "neutral": 0, "loss": -1, "homdel": -2}


def fig_driver_heatmap(drivers: pd.DataFrame, obs: pd.DataFrame | None, max_samples: int = 600) -> dict | None:
    """Genes (grouped by first pathway) × samples (grouped by treatment group, patient):
    +2 amplification, +1 gain, −1 loss, −2 homozygous deletion (Fig. 4)."""
    if drivers.empty:
        return None
    d = drivers.copy()
    # the drivers step's primary pathway when given, else the first of the ';'-joined list
    if "pathway" in d:
        d["pw"] = d["pathway"].astype(str)
    else:
        d["pw"] = d["pathways"].astype(str).str.split(";").str[0] if "pathways" in d else ""
    # count matrices without a sample sheet have no patient: name it as the profile picker does
    d["patient"] = d["patient"].astype("string").fillna("no patient").astype(str) if "patient" in d else "no patient"
    grp = "patient"
    if "treatment_group" in d:
        tg = d["treatment_group"].astype("string").str.strip().replace({"": pd.NA, "nan": pd.NA, "None": pd.NA})
        if tg.notna().any():  # no drug at resistance anywhere: group by patient, never under a "nan" title
            grp = "treatment_group"
            d["treatment_group"] = tg.fillna("no drug group").astype(str)
    keys = list(dict.fromkeys([grp, "patient", "sample_id"]))
    samples = d[keys].drop_duplicates("sample_id").sort_values(keys)
    if len(samples) > max_samples:
        return None
    genes = d[["gene", "pw"]].drop_duplicates("gene")
    order = genes.groupby("pw")["gene"].transform("size")
    genes = genes.assign(_n=order).sort_values(["_n", "pw", "gene"], ascending=[False, True, True])
    z = pd.DataFrame(0.0, index=genes["gene"], columns=samples["sample_id"])
    zz = d.assign(z=d["state"].map(_STATE_Z).fillna(0)).pivot_table(index="gene", columns="sample_id", values="z",
                                                                      aggfunc="first")
    z.update(zz)
    # separators and names of the column groups (treatment group or patient)
    shapes, annotations = [], []
    bounds = np.flatnonzero(samples[grp].astype(str).to_numpy()[1:] != samples[grp].astype(str).to_numpy()[:-1]) + 1
    for b in bounds:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": b - 0.5, "x1": b - 0.5, "y0": 0, "y1": 1,
                       "line": {"color": "#000", "width": 2}})
    edges = np.r_[0, bounds, len(samples)]
    for a, b in zip(edges[:-1], edges[1:]):
        annotations.append({"x": (a + b - 1) / 2, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
                            "showarrow": False, "text": _h(samples[grp].astype(str).iloc[a]), "font": {"size": 11}})
    ylab = [_h(f"{g} · {p}") for g, p in zip(genes["gene"], genes["pw"])]
    return {"data": [{
        "type": "heatmap", "z": z.to_numpy().tolist(), "x": [_h(v) for v in samples["sample_id"]], "y": ylab,
        "zmin": -2, "zmax": 2, "showscale": False, "xgap": 1, "ygap": 1,
        "colorscale": [[0, HOMDEL], [0.2, HOMDEL], [0.2, LOSS], [0.4, LOSS], [0.4, palette.CN_STATE["neutral"]], [0.6, palette.CN_STATE["neutral"]],
                       [0.6, GAIN], [0.8, GAIN], [0.8, AMP], [1, AMP]],
        "meta": {"patients_x": list(samples["patient"].astype(str))},
        "hovertemplate": "%{x}<br>%{y}<br>%{z}<extra>+2 amp, +1 gain, −1 loss, −2 homdel</extra>",
    }], "layout": _layout(
        title={"text": f"Driver CNAs by pathway (columns grouped by {grp.replace('_', ' ')})"},
        xaxis={"showticklabels": len(samples) <= 80, "tickangle": -90, "automargin": True},
        shapes=shapes, annotations=annotations,
        yaxis={"automargin": True, "autorange": "reversed", "dtick": 1},
        height=max(320, 14 * len(genes) + 160))}


def fig_cohort_heatmap(mat: dict, obs: pd.DataFrame) -> dict | None:
    """The clustering heatmap (samples in tree order × genome) with patient and clone in
    the hover, chromosome boundaries, red gain / blue loss relative to ploidy."""
    if not mat:
        return None
    ids = mat["ids"]
    o = obs.reindex(ids)
    pats = o["patient"].astype(str).tolist()
    clone = o["clone"].astype(str).tolist() if "clone" in o else [""] * len(ids)
    # category labels (unique per row and column) carry the hover text: no per-cell strings
    rows = [_h(f"{s} · {p}" + (f" · clone {k}" if k and k != "nan" else "")) for s, p, k in zip(ids, pats, clone)]
    ch_of_col = np.empty(mat["n_cols"], dtype=object)
    bounds = [a for _, a in mat["chroms"]] + [mat["n_cols"]]
    for (c, a), b in zip(mat["chroms"], bounds[1:]):
        ch_of_col[a:b] = c
    cols = [f"chr{_h(c)}:{x:g} Mb" for c, x in zip(ch_of_col, mat["mb"])]
    return {"data": [{
        "type": "heatmap", "z": _nested(mat["z"]), "zmin": -2, "zmax": 2, "x": cols, "y": rows,
        "colorscale": [[x, c] for x, c in palette.CN_DIVERGING],
        "meta": {"patients_y": pats}, "hoverongaps": False,
        "hovertemplate": "%{y}<br>%{x}<br>log2(CN/ploidy) %{z}<extra></extra>",
        "colorbar": {"title": {"text": "log2(CN/ploidy)"}, "thickness": 12, "len": 0.5},
    }], "layout": _layout(
        title={"text": "Clustering heatmap, hoverable (rows in tree order)"},
        xaxis={"tickmode": "array", "tickvals": [cols[a] for _, a in mat["chroms"]],
               "ticktext": [_h(c) for c, _ in mat["chroms"]], "showgrid": False, "zeroline": False,
               "tickangle": 0, "tickfont": {"size": 9}},
        yaxis={"autorange": "reversed", "showticklabels": len(ids) <= 60, "zeroline": False,
               "tickfont": {"size": 9}, "automargin": True},
        shapes=[{"type": "line", "xref": "x", "yref": "paper", "x0": a - 0.5, "x1": a - 0.5, "y0": 0, "y1": 1,
                 "line": {"color": "#555", "width": 0.6}} for _, a in mat["chroms"][1:]],
        height=max(360, min(900, 6 * len(ids) + 160)))}


def _nested(a: np.ndarray) -> list:
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in a]


def fig_group_comparison(counts: pd.DataFrame) -> dict | None:
    """Genes with driver events exclusive to each group or shared (Supplementary Fig. 3)."""
    if counts is None or counts.empty:
        return None
    cats = sorted(counts["category"].unique(), key=lambda c: (c == "shared", c))
    data = []
    for direction, col in (("gain", GAIN), ("loss", LOSS)):
        g = counts[counts["direction"] == direction].set_index("category").reindex(cats)
        data.append({"type": "bar", "name": direction, "x": [_h(c) for c in cats], "y": _list(g["n_genes"].fillna(0).astype(int)),
                     "marker": {"color": col}, "hovertemplate": "%{x}: %{y} genes<extra>" + direction + "</extra>"})
    return {"data": data, "layout": _layout(
        barmode="group", title={"text": "Driver genes by drug group at resistance"},
        yaxis={"title": {"text": "genes"}}, height=340)}


def _fmt(v, nd: int = 0) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(f):
        return ""
    return f"{f:.{nd}f}"


def _h(s: Any) -> str:
    """Text for plotly's own HTML-ish labels: plotly renders a subset of tags in titles and
    hover templates, so user strings placed there are entity-escaped."""
    return (str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("{", "&#123;").replace("}", "&#125;"))


# ---------------------------------------------------------------- static fallbacks

def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _text(t) -> str:
    import html

    if isinstance(t, dict):
        t = t.get("text", "")
    # matplotlib reads $...$ as mathematics: a user's "$" must stay a dollar sign
    return html.unescape(str(t or "")).replace("$", r"\$")


def static_png(spec: dict, width: float = 8.0, dpi: int = 72) -> bytes:
    """Draw a figure dict from this module with matplotlib (bars, scatter, box, heatmap)."""
    plt = _mpl()
    lay = spec.get("layout", {})
    height = float(lay.get("height", 360)) / 90
    fig, ax = plt.subplots(figsize=(width, min(max(height, 2.5), 12)), dpi=dpi)
    bottoms: dict = {}
    cats: list = []
    data = spec.get("data", [])
    n_bars = sum(t.get("type") == "bar" for t in data)
    k_bar = 0
    for t in data:
        typ = t.get("type")
        col = (t.get("marker") or {}).get("color", "#333")
        if typ == "bar":
            horiz = t.get("orientation") == "h"
            cat = list(t["y"] if horiz else t["x"])
            val = np.array([v if v is not None else 0 for v in (t["x"] if horiz else t["y"])], float)
            for c in cat:
                if c not in cats:
                    cats.append(c)
            pos = np.array([cats.index(c) for c in cat], float)
            if lay.get("barmode") == "group":
                w = 0.8 / max(n_bars, 1)
                pos = pos - 0.4 + w * (k_bar + 0.5)
                base = np.zeros_like(val)
            else:
                w = 0.8
                base = np.array([bottoms.get((c, v >= 0), 0.0) for c, v in zip(cat, val)])
                for c, v, b in zip(cat, val, base):
                    bottoms[(c, v >= 0)] = b + v
            k_bar += 1
            if horiz:
                ax.barh(pos, val, left=base, height=w, color=col, label=t.get("name"))
            else:
                ax.bar(pos, val, bottom=base, width=w, color=col, label=t.get("name"))
        elif typ == "scatter":
            x = np.array([np.nan if v is None else v for v in t.get("x", [])], float)
            y = np.array([np.nan if v is None else v for v in t.get("y", [])], float)
            if "lines" in t.get("mode", ""):
                ax.plot(x, y, color=col if isinstance(col, str) else "#333", lw=1)
            else:
                c = col if isinstance(col, (str, list)) else "#333"
                ax.scatter(x, y, s=12, c=c, label=t.get("name") if t.get("showlegend", True) else None)
        elif typ == "box":
            y = np.array([np.nan if v is None else v for v in t.get("y", [])], float)
            i = len(cats)
            cats.append(t.get("name"))
            y = y[np.isfinite(y)]
            if len(y):
                ax.boxplot([y], positions=[i], widths=0.6)
                ax.scatter(np.full(len(y), i), y, s=8, color=col)
        elif typ == "heatmap":
            z = np.array(t["z"], float)
            from matplotlib.colors import ListedColormap

            cmap = ListedColormap([HOMDEL, LOSS, palette.CN_STATE["neutral"], GAIN, AMP])
            ax.imshow(z + 2, aspect="auto", cmap=cmap, vmin=-0.5, vmax=4.5, interpolation="nearest")
            ax.set_yticks(range(len(t["y"])))
            ax.set_yticklabels([_text(v) for v in t["y"]], fontsize=6)
            ax.set_xticks([])
    if cats:
        horiz = any(t.get("orientation") == "h" for t in data)
        labels = [_text(c) for c in cats]
        if horiz:
            ax.set_yticks(range(len(cats)))
            ax.set_yticklabels(labels, fontsize=7)
        else:
            ax.set_xticks(range(len(cats)))
            ax.set_xticklabels(labels, rotation=45 if len(cats) > 6 else 0, ha="right" if len(cats) > 6 else "center")
    xa = lay.get("xaxis", {})
    if xa.get("tickmode") == "array":
        ax.set_xticks(xa["tickvals"])
        ax.set_xticklabels([_text(v) for v in xa["ticktext"]])
    if xa.get("type") == "log":
        ax.set_xscale("log")
    ax.set_xlabel(_text((xa.get("title") or {})))
    ax.set_ylabel(_text((lay.get("yaxis", {}).get("title") or {})))
    ax.set_title(_text(lay.get("title")), fontsize=10)
    if any(t.get("name") for t in data if t.get("type") in ("bar",)) or \
            any(t.get("showlegend", True) and t.get("type") == "scatter" for t in data):
        handles, labels = ax.get_legend_handles_labels()
        if handles and len(handles) <= 15:
            ax.legend(fontsize=7, frameon=False)
    # fixed margins: tight_layout costs more than the drawing itself
    left = 0.22 if any(t.get("orientation") == "h" or t.get("type") == "heatmap" for t in data) else 0.09
    fig.subplots_adjust(left=left, right=0.98, top=0.9, bottom=0.2)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def profiles_png(cn: np.ndarray, labels: list[str], chroms: list[dict], x0: list[float], dpi: int = 72) -> bytes:
    """Integer copy number of the embedded profiles as one raster (static fallback for the
    interactive profile viewer): rows = samples, columns = display bins, 0..8+ copies."""
    plt = _mpl()
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(["#08306b", "#4292c6", "#f0f0f0", "#fcbba1", "#fb6a4a", "#cb181d", "#a50f15",
                           "#67000d", "#3f007d"])
    n = cn.shape[0]
    fig, ax = plt.subplots(figsize=(10, min(2 + 0.12 * n, 14)), dpi=dpi)
    im = ax.imshow(np.clip(np.nan_to_num(cn, nan=2), 0, 8), aspect="auto", cmap=cmap, vmin=-0.5, vmax=8.5,
                   interpolation="nearest")
    xs = np.asarray(x0)
    ticks = [int(np.searchsorted(xs, (c["start"] + c["end"]) / 2)) for c in chroms]
    for c in chroms[1:]:
        ax.axvline(int(np.searchsorted(xs, c["start"])) - 0.5, color="#555", lw=0.4)
    ax.set_xticks(ticks)
    ax.set_xticklabels([c["chrom"] for c in chroms], fontsize=6)
    if n <= 60:
        ax.set_yticks(range(n))
        ax.set_yticklabels(labels, fontsize=6)
    else:
        ax.set_yticks([])
    cb = fig.colorbar(im, ax=ax, ticks=range(9), fraction=0.03)
    cb.ax.set_yticklabels([str(i) for i in range(8)] + ["8+"], fontsize=6)
    ax.set_title("Integer copy number of the embedded samples", fontsize=10)
    fig.subplots_adjust(left=0.12, right=0.95, top=0.92, bottom=0.08)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
