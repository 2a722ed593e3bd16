"""Cohort summaries of driver events: per sample, per patient, per pathway (Fig. 4), gene
gain/loss frequencies, recurrence within patients, and group comparison (Supp. Fig. 3).

Every summary counts only *analysable* samples (:func:`ctcscope.drivers.events.analysable`):
tumour samples (CTC, CTC pool, biopsy) that passed QC and are not normal-like — as the
study's frequencies were computed over its 38 CTC samples and 1 biopsy.

A *driver* (the study's unit, "121 CNA drivers") is a (gene, alteration) pair, alteration
``gain`` (gain/amp of an activating gene) or ``loss`` (loss/homdel of a suppressor).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import InputError
from .events import analysable, sample_info

#: Sample types counted as CTC samples in within-patient recurrence.
CTC_TYPES = ("ctc", "ctc_pool")


def _analysable_events(events: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    ok = analysable(info)
    return events[events["sample_id"].astype(str).map(ok).fillna(False).astype(bool)]


def events_per_sample(events: pd.DataFrame, obs: pd.DataFrame) -> pd.DataFrame:
    """Counts of driver events per sample (every sample of ``obs``; zeros included)."""
    info = sample_info(obs, obs.index.astype(str))
    e = events.assign(sample_id=events["sample_id"].astype(str))
    st = e["state"].astype(str)
    per = pd.DataFrame({
        "n_events": e.groupby("sample_id").size(),
        "n_gain": e[st == "gain"].groupby("sample_id").size(),
        "n_amp": e[st == "amp"].groupby("sample_id").size(),
        "n_loss": e[st == "loss"].groupby("sample_id").size(),
        "n_homdel": e[st == "homdel"].groupby("sample_id").size(),
        "n_pathways": e.groupby("sample_id")["pathway"].nunique(),
    }).reindex(info.index).fillna(0).astype(int)
    # a plain string aggregation: groupby.apply on no events at all returns an empty DataFrame
    labels = e["gene"].astype(str) + ":" + st
    genes = labels.groupby(e["sample_id"]).agg(";".join) if len(e) else pd.Series(dtype=object)
    out = info[["patient", "sample_type", "phenotype", "treatment_group", "qc_pass", "normal_like"]].join(per)
    out["analysable"] = analysable(info)
    out["events"] = genes.reindex(out.index).fillna("")
    return out.rename_axis("sample_id").reset_index()


REC_COLUMNS = ["patient", "gene", "alteration", "pathway", "role", "n_carriers", "n_samples", "fraction", "carriers",
               "other_carriers"]


def recurrence(events: pd.DataFrame, obs: pd.DataFrame) -> pd.DataFrame:
    """How many of each patient's CTC samples carry each driver (within-patient recurrence).

    ``n_carriers / n_samples`` count the patient's analysable CTC samples (single CTCs and
    CTC pools) — e.g. ALK gain in 10 of 11 epithelial CTCs of the study's P46;
    ``other_carriers`` names analysable non-CTC tumour samples (the biopsy) that carry it
    too — e.g. CDK4 gain in 5/7 CTCs of P45 *and* its biopsy.
    """
    info = sample_info(obs, obs.index.astype(str))
    ok = analysable(info)
    is_ctc = info["sample_type"].isin(CTC_TYPES)
    n_samples = info[ok & is_ctc].groupby("patient").size()
    e = _analysable_events(events, info)
    if e.empty:
        return pd.DataFrame(columns=REC_COLUMNS)
    e = e.assign(_ctc=e["sample_id"].astype(str).map(is_ctc).to_numpy())
    keys = ["patient", "gene", "alteration"]
    first = e.groupby(keys, observed=True).agg(pathway=("pathway", "first"), role=("role", "first"))
    ctc = e[e["_ctc"]].groupby(keys, observed=True)["sample_id"].agg(
        n_carriers="nunique", carriers=lambda s: ";".join(sorted(set(s))))
    other = e[~e["_ctc"]].groupby(keys, observed=True)["sample_id"].agg(lambda s: ";".join(sorted(set(s))))
    out = first.join(ctc).join(other.rename("other_carriers")).reset_index()
    out["n_carriers"] = out["n_carriers"].fillna(0).astype(int)
    out["carriers"] = out["carriers"].fillna("")
    out["other_carriers"] = out["other_carriers"].fillna("")
    out["n_samples"] = out["patient"].map(n_samples).fillna(0).astype(int)
    out["fraction"] = out["n_carriers"] / out["n_samples"].where(out["n_samples"] > 0)
    out = out.sort_values(["patient", "fraction", "gene"], ascending=[True, False, True], kind="stable")
    return out[REC_COLUMNS].reset_index(drop=True)


def events_per_patient(events: pd.DataFrame, obs: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Per patient: analysable samples, distinct drivers, events, and the most recurrent drivers."""
    info = sample_info(obs, obs.index.astype(str))
    ok = analysable(info)
    rec = recurrence(events, obs)
    e = _analysable_events(events, info)
    pts = pd.Index(sorted(set(info["patient"])))
    out = pd.DataFrame(index=pts)
    out["n_samples"] = info[ok].groupby("patient").size().reindex(pts).fillna(0).astype(int)
    out["n_ctc_samples"] = info[ok & info["sample_type"].isin(CTC_TYPES)].groupby("patient").size().reindex(
        pts).fillna(0).astype(int)
    out["treatment_group"] = info.groupby("patient")["treatment_group"].agg(
        lambda s: ";".join(sorted(set(x for x in s if x)))).reindex(pts).fillna("")
    out["n_drivers"] = rec.groupby("patient").size().reindex(pts).fillna(0).astype(int)
    out["n_events"] = e.groupby("patient").size().reindex(pts).fillna(0).astype(int)
    # built per patient with a plain dict: groupby.apply on an empty table returns a frame
    top_txt = {p: "; ".join(f"{r.gene} {r.alteration} {r.n_carriers}/{r.n_samples}" for r in d.head(top).itertuples())
               for p, d in rec.groupby("patient", sort=False)}
    out["most_recurrent"] = pd.Series(top_txt, dtype=object).reindex(pts).fillna("")
    return out.rename_axis("patient").reset_index()


def pathway_summary(events: pd.DataFrame, obs: pd.DataFrame) -> pd.DataFrame:
    """The ``pathways.tsv`` table: per (primary) pathway, the altered genes and the samples
    and patients they hit, ordered from the most to the least altered as in Fig. 4."""
    info = sample_info(obs, obs.index.astype(str))
    e = _analysable_events(events, info)
    n_an = int(analysable(info).sum())
    cols = ["rank", "pathway", "n_altered_genes", "n_gain_genes", "n_loss_genes", "genes", "n_drivers", "n_events",
            "n_samples", "fraction_samples", "n_patients", "patients"]
    if e.empty:
        return pd.DataFrame(columns=cols)
    g = e.groupby("pathway")
    out = pd.DataFrame({
        "n_altered_genes": g["gene"].nunique(),
        "n_gain_genes": e[e.alteration == "gain"].groupby("pathway")["gene"].nunique(),
        "n_loss_genes": e[e.alteration == "loss"].groupby("pathway")["gene"].nunique(),
        "genes": g["gene"].agg(lambda s: ";".join(sorted(set(s)))),
        "n_drivers": e.drop_duplicates(["pathway", "gene", "alteration"]).groupby("pathway").size(),
        "n_events": g.size(),
        "n_samples": g["sample_id"].nunique(),
        "n_patients": g["patient"].nunique(),
        "patients": g["patient"].agg(lambda s: ";".join(sorted(set(s)))),
    }).fillna(0)
    out["fraction_samples"] = out["n_samples"] / n_an if n_an else np.nan
    out = out.rename_axis("pathway").reset_index()
    out = out.sort_values(["n_altered_genes", "n_events", "pathway"], ascending=[False, False, True], kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    for c in ("n_altered_genes", "n_gain_genes", "n_loss_genes", "n_drivers", "n_events", "n_samples", "n_patients"):
        out[c] = out[c].astype(int)
    return out[cols].reset_index(drop=True)


def gene_frequencies(gene_cn: pd.DataFrame, obs: pd.DataFrame, catalogue=None) -> pd.DataFrame:
    """Frequency of gain and of loss of each gene among analysable samples (Fig. 4's
    right-hand columns; the study: CCND3 gain 48.7 %, TP53 loss 41 %, RB1 loss 33.3 %).

    A gene is gained when most of it is (``state_major`` gain/amp) and lost when any part
    is (``state_min`` loss/homdel); samples where its state is unknown are left out of its
    denominator.
    """
    info = sample_info(obs, obs.index.astype(str))
    ok = analysable(info)
    gc = gene_cn[gene_cn["sample_id"].astype(str).map(ok).fillna(False).astype(bool)]
    smaj = gc["state_major"].astype(str)
    smin = gc["state_min"].astype(str)
    known = (smaj != "unknown")
    key = gc["gene"].astype(str)
    df = pd.DataFrame({"gene": key, "known": known, "gain": smaj.isin(["gain", "amp"]), "amp": smaj == "amp",
                       "loss": smin.isin(["loss", "homdel"]), "homdel": smin == "homdel"})
    g = df[df.known].groupby("gene")
    out = pd.DataFrame({"n_samples": g.size(), "n_gain": g["gain"].sum(), "n_amp": g["amp"].sum(),
                        "n_loss": g["loss"].sum(), "n_homdel": g["homdel"].sum()})
    out = out.reindex(pd.unique(key)).fillna(0).astype(int)
    den = out["n_samples"].where(out["n_samples"] > 0)
    out["freq_gain"] = out["n_gain"] / den
    out["freq_loss"] = out["n_loss"] / den
    coords = gc.drop_duplicates("gene").set_index(gc.drop_duplicates("gene")["gene"].astype(str))[["chrom", "start", "end"]]
    out = coords.astype({"chrom": str}).join(out, how="right")
    if catalogue is not None:
        hit = catalogue.resolve(out.index).to_numpy()
        for c in ("role", "pathway"):
            out[c] = [catalogue.table.at[h, c] if isinstance(h, str) else "" for h in hit]
    return out.rename_axis("gene").reset_index()


#: Genes drawn in the per-group frequency figures (PNG and report): the most often altered.
FREQUENCY_FIGURE_GENES = 20


def most_altered_genes(freqs: pd.DataFrame, n: int = FREQUENCY_FIGURE_GENES) -> list[str]:
    """The ``n`` genes of a :func:`gene_frequencies` table most often gained or lost (ties
    keep the table's order), for figures that show a readable subset."""
    if freqs is None or len(freqs) == 0:
        return []
    tot = freqs["n_gain"].astype(float).fillna(0) + freqs["n_loss"].astype(float).fillna(0)
    f = freqs.assign(_n=tot.to_numpy())
    return f[f["_n"] > 0].sort_values("_n", ascending=False, kind="stable")["gene"].astype(str).head(n).tolist()


def gene_frequencies_by_group(gene_cn: pd.DataFrame, obs: pd.DataFrame,
                              group_by: str | Mapping | pd.Series = "treatment_group", catalogue=None) -> pd.DataFrame:
    """:func:`gene_frequencies` within each group (the drug at resistance by default): one
    block of rows per group, with ``group`` first; the denominators are the group's
    analysable samples.  Empty (same columns) when no sample has a group."""
    groups = sample_groups(obs, group_by).reindex(obs.index.astype(str)).fillna("")
    frames = []
    for g in sorted(set(groups) - {""}):
        ids = groups.index[groups == g]
        sub = obs[obs.index.astype(str).isin(ids)]
        f = gene_frequencies(gene_cn[gene_cn["sample_id"].astype(str).isin(ids)], sub, catalogue)
        f.insert(0, "group", g)
        frames.append(f)
    if not frames:
        empty = gene_frequencies(gene_cn.iloc[:0], obs.iloc[:0], catalogue)
        return empty.assign(group=pd.Series(dtype=str))[["group", *empty.columns]]
    return pd.concat(frames, ignore_index=True)


def sample_groups(obs: pd.DataFrame, group_by: str | Mapping | pd.Series = "treatment_group") -> pd.Series:
    """Group label per sample from an ``obs`` column, or a mapping/Series keyed by sample id
    or by patient id.  Samples without a group get ``""``."""
    idx = obs.index.astype(str)
    if isinstance(group_by, str):
        if group_by not in obs:
            raise InputError(f"there is no obs column {group_by!r} to group samples by; choose one of "
                             f"{', '.join(map(str, obs.columns[:12]))} (or give a patient/sample → group mapping)")
        s = obs[group_by]
        return pd.Series(s.astype(object).where(s.notna(), "").astype(str).to_numpy(), index=idx)
    m = pd.Series(group_by) if not isinstance(group_by, pd.Series) else group_by
    m.index = m.index.astype(str)
    by_sample = pd.Series(idx, index=idx).map(m)
    if by_sample.notna().any():
        return by_sample.fillna("").astype(str)
    patient = sample_info(obs, idx)["patient"]
    by_patient = patient.map(m)
    if by_patient.notna().any():
        return by_patient.fillna("").astype(str)
    raise InputError("the group mapping names neither sample ids nor patient ids of this cohort; "
                     "key it by sample_id or patient")


def group_comparison(events: pd.DataFrame, obs: pd.DataFrame,
                     group_by: str | Mapping | pd.Series = "treatment_group") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drivers exclusive to each group or shared (Supp. Fig. 3: 37 crizotinib-only, 10
    lorlatinib-only and 74 shared of 121 drivers).

    Returns ``(per_driver, summary)``: one row per driver (gene, alteration) with the groups
    carrying it, ``n_<group>`` carrier counts and ``category`` (the group name when exclusive,
    ``"shared"`` otherwise, ``label`` like the study's C / L / C/L); and a summary with one row
    per category: number of drivers, their fraction, and a pathway breakdown.
    """
    info = sample_info(obs, obs.index.astype(str))
    grp = sample_groups(obs, group_by)
    info["group"] = grp.reindex(info.index).fillna("")
    ok = analysable(info) & (info["group"] != "")
    e = events[events["sample_id"].astype(str).map(ok).fillna(False).astype(bool)].copy()
    e["group"] = e["sample_id"].astype(str).map(info["group"])
    groups = sorted(set(info.loc[ok, "group"]))
    abbrev = _abbreviations(groups)
    if e.empty:
        cols = ["gene", "alteration", "pathway", "role", "groups", "category", "label"] + [f"n_{g}" for g in groups]
        return pd.DataFrame(columns=cols), pd.DataFrame(columns=["category", "n_drivers", "fraction", "pathways"])
    counts = e.groupby(["gene", "alteration", "group"], observed=True)["sample_id"].nunique().unstack("group", fill_value=0)
    counts = counts.reindex(columns=groups, fill_value=0)
    meta = e.groupby(["gene", "alteration"], observed=True)[["pathway", "role"]].first()
    per = meta.join(counts.rename(columns=lambda g: f"n_{g}"))
    present = counts.gt(0)
    per["groups"] = present.apply(lambda r: ";".join(g for g in groups if r[g]), axis=1)
    per["category"] = np.where(present.sum(axis=1) == 1, per["groups"], "shared")
    per["label"] = present.apply(lambda r: "/".join(abbrev[g] for g in groups if r[g]), axis=1)
    per = per.reset_index()
    order = {g: i for i, g in enumerate(groups + ["shared"])}
    per = per.sort_values(["category", "pathway", "gene"], key=lambda s: s.map(order) if s.name == "category" else s,
                          kind="stable").reset_index(drop=True)
    total = len(per)
    rows = []
    for cat in groups + ["shared"]:
        d = per[per["category"] == cat]
        pw = d["pathway"].value_counts()
        rows.append({"category": cat, "label": abbrev.get(cat, "/".join(abbrev[g] for g in groups)),
                     "n_drivers": len(d), "fraction": len(d) / total if total else np.nan,
                     "pathways": "; ".join(f"{p} {n}/{len(d)}" for p, n in pw.items())})
    summary = pd.DataFrame(rows)
    return per[["gene", "alteration", "pathway", "role", "groups", "category", "label"]
               + [f"n_{g}" for g in groups]], summary


def _abbreviations(groups: list[str]) -> dict[str, str]:
    """Short labels (first letter, upper case: crizotinib → C) when they are unique."""
    first = {g: (g[:1].upper() or "?") for g in groups}
    if len(set(first.values())) == len(groups):
        return first
    return {g: g for g in groups}


_STATE_VALUE = {"homdel": -2, "loss": -1, "gain": 1, "amp": 2}


def driver_matrix(events: pd.DataFrame, obs: pd.DataFrame, *, gene_freq: pd.DataFrame | None = None,
                  group_by: str | Mapping | pd.Series | None = "treatment_group", max_rows: int = 150) -> dict:
    """The data behind the Fig. 4-style heatmap, plain enough to embed as JSON.

    Rows are drivers (gene, alteration) grouped by primary pathway (pathways from the most
    to the least altered, genes by number of carriers); columns are analysable samples
    grouped by group and patient.  ``z`` holds -2 homdel, -1 loss, 0 none, 1 gain, 2 amp;
    ``low`` marks low-confidence events.  At most ``max_rows`` drivers are kept (the most
    recurrent; ``n_drivers_total`` says how many there were — all are in ``drivers.tsv``).
    """
    info = sample_info(obs, obs.index.astype(str))
    ok = analysable(info)
    if group_by is not None:
        try:
            info["group"] = sample_groups(obs, group_by).reindex(info.index).fillna("")
        except InputError:
            info["group"] = ""
    else:
        info["group"] = ""
    cols = info[ok].copy()
    cols["_order"] = np.arange(len(cols))
    cols = cols.sort_values(["group", "patient", "_order"], kind="stable")
    e = events[events["sample_id"].astype(str).isin(cols.index)].copy()
    pw = pathway_summary(events, obs)
    pw_rank = dict(zip(pw["pathway"], pw["rank"]))
    n_total = 0
    if e.empty:
        rows = pd.DataFrame(columns=["gene", "alteration", "pathway", "role", "n_carriers"])
    else:
        rows = (e.groupby(["gene", "alteration"], observed=True)
                .agg(pathway=("pathway", "first"), role=("role", "first"), n_carriers=("sample_id", "nunique"))
                .reset_index())
        n_total = len(rows)
        if max_rows and len(rows) > max_rows:
            rows = rows.sort_values(["n_carriers", "gene"], ascending=[False, True], kind="stable").head(max_rows)
        rows["_p"] = rows["pathway"].map(pw_rank)
        rows = rows.sort_values(["_p", "n_carriers", "gene"], ascending=[True, False, True], kind="stable").drop(columns="_p")
        rows = rows.reset_index(drop=True)
    both = rows["gene"].duplicated(keep=False) if len(rows) else pd.Series(dtype=bool)
    rows["label"] = np.where(both, rows["gene"] + " (" + rows["alteration"] + ")", rows["gene"]) if len(rows) else []
    if group_by is not None and len(rows):
        per, _ = group_comparison(events, obs, group_by) if (info["group"] != "").any() else (None, None)
        if per is not None and len(per):
            rows = rows.merge(per[["gene", "alteration", "label"]].rename(columns={"label": "groups"}),
                              on=["gene", "alteration"], how="left")
    if "groups" not in rows:
        rows["groups"] = ""
    rows["groups"] = rows["groups"].fillna("")
    if gene_freq is not None and len(rows):
        f = gene_freq.set_index("gene")
        rows["freq_gain"] = rows["gene"].map(f["freq_gain"])
        rows["freq_loss"] = rows["gene"].map(f["freq_loss"])
    else:
        rows["freq_gain"] = np.nan
        rows["freq_loss"] = np.nan
    z = np.zeros((len(rows), len(cols)), dtype=np.int8)
    low = np.zeros_like(z, dtype=bool)
    if len(rows) and len(e):
        ri = pd.MultiIndex.from_frame(rows[["gene", "alteration"]]).get_indexer(
            pd.MultiIndex.from_frame(e[["gene", "alteration"]].astype(str)))
        ci = cols.index.get_indexer(e["sample_id"].astype(str))
        z[ri, ci] = e["state"].astype(str).map(_STATE_VALUE).to_numpy(np.int8)
        low[ri, ci] = (e["confidence"].astype(str) == "low").to_numpy()
    return {
        "rows": rows[["label", "gene", "alteration", "pathway", "role", "groups", "n_carriers", "freq_gain",
                      "freq_loss"]].to_dict("records"),
        "columns": [{"sample_id": s, "patient": r.patient, "group": r.group, "phenotype": r.phenotype,
                     "sample_type": r.sample_type} for s, r in cols.iterrows()],
        "pathways": [{"pathway": p, "n_altered_genes": int(n)} for p, n in zip(pw["pathway"], pw["n_altered_genes"])],
        "z": z.tolist(),
        "low_confidence": low.tolist(),
        "legend": {"-2": "homdel", "-1": "loss", "0": "none", "1": "gain", "2": "amp"},
        "n_drivers_total": int(n_total),
    }
