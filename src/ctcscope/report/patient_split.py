"""Per-patient versions of the report's cohort-wide driver tables and figures.

The page's patient filter hides rows of tables that carry a ``patient`` column and
traces of figures that carry ``meta.patient``.  Cohort aggregates (gene frequencies,
pathways, drug-group comparison) have neither: a row is a gene or a pathway counted
over every patient.  Filtering their rows would leave cohort counts under a patient's
name, so the same aggregate is computed again from that patient's own samples and
embedded beside the cohort one; the page swaps it in when the patient is chosen.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..drivers.events import analysable, sample_info
from ..drivers.summaries import pathway_summary

#: Columns of the drivers step's ``driver_frequencies.tsv`` that a patient's version fills.
FREQ_COLUMNS = ["gene", "chrom", "start", "end", "n_samples", "n_gain", "n_amp", "n_loss", "n_homdel",
                "freq_gain", "freq_loss", "role", "pathway"]


def patients_of(drivers: pd.DataFrame, obs: pd.DataFrame | None) -> list[str]:
    """Patients of the run (obs first: a patient without driver events still gets an empty view)."""
    src = obs["patient"] if obs is not None and "patient" in obs else drivers.get("patient", pd.Series(dtype=str))
    return sorted({str(p) for p in src.dropna() if str(p)})


def _analysable_samples(drivers: pd.DataFrame, obs: pd.DataFrame | None, patient: str) -> pd.Index:
    samples = obs.index.astype(str) if obs is not None else drivers["sample_id"].astype(str).unique()
    info = sample_info(obs, samples)
    ok = analysable(info) & (info["patient"] == patient)
    return info.index[ok]


def driver_frequencies(drivers: pd.DataFrame, obs: pd.DataFrame | None, patient: str) -> pd.DataFrame:
    """Gain and loss frequency of each driver gene among one patient's analysable samples
    (QC-passed tumour samples, normal-like excluded — the drivers step's denominator).

    Counted from the driver events (``drivers.tsv``): a gene appears when one of the
    patient's samples has a driver event in it.
    """
    ok = _analysable_samples(drivers, obs, patient)
    d = drivers[drivers["sample_id"].astype(str).isin(ok)]
    if d.empty:
        return pd.DataFrame(columns=FREQ_COLUMNS)
    st = d["state"].astype(str)
    flags = pd.DataFrame({"gene": d["gene"].astype(str), "sample_id": d["sample_id"].astype(str),
                          "gain": st.isin(["gain", "amp"]), "amp": st.eq("amp"),
                          "loss": st.isin(["loss", "homdel"]), "homdel": st.eq("homdel")})
    # one sample counts once per gene and direction, whatever the number of its events
    per = flags.groupby(["gene", "sample_id"]).any().groupby("gene").sum()
    first = d.assign(gene=d["gene"].astype(str)).drop_duplicates("gene").set_index("gene")
    out = pd.DataFrame({
        "chrom": first["chrom"].astype(str), "start": first["start"], "end": first["end"],
        "n_samples": len(ok), "n_gain": per["gain"], "n_amp": per["amp"],
        "n_loss": per["loss"], "n_homdel": per["homdel"],
    })
    for c in ("n_gain", "n_amp", "n_loss", "n_homdel"):
        out[c] = out[c].astype(int)
    out["freq_gain"] = out["n_gain"] / len(ok)
    out["freq_loss"] = out["n_loss"] / len(ok)
    out["role"] = first.get("role", pd.Series("", index=first.index)).astype(str)
    out["pathway"] = first.get("pathway", pd.Series("", index=first.index)).astype(str)
    out = out.rename_axis("gene").reset_index()
    out = out.sort_values(["n_gain", "n_loss", "gene"], ascending=[False, False, True], kind="stable")
    return out[FREQ_COLUMNS].reset_index(drop=True)


def pathways(drivers: pd.DataFrame, obs: pd.DataFrame | None, patient: str) -> pd.DataFrame:
    """The drivers step's pathway table over one patient's samples."""
    if obs is None:
        return pd.DataFrame()
    o = obs[obs["patient"].astype(str) == patient] if "patient" in obs else obs.iloc[:0]
    d = drivers[drivers["sample_id"].astype(str).isin(o.index.astype(str))]
    return pathway_summary(d, o)


def carried_group_drivers(groups: pd.DataFrame, drivers: pd.DataFrame, obs: pd.DataFrame | None,
                          patient: str) -> pd.DataFrame:
    """Rows of the drug-group comparison (``driver_groups.tsv``) whose driver (gene and
    alteration) the patient carries in an analysable sample.  The group counts stay the
    groups' own: a patient belongs to one group and cannot be compared with itself."""
    ok = _analysable_samples(drivers, obs, patient)
    d = drivers[drivers["sample_id"].astype(str).isin(ok)]
    # the drivers step names the direction ``alteration``; the report's own fallback ``direction``
    col = "alteration" if "alteration" in groups.columns else "direction"
    if d.empty or not {"gene", col} <= set(groups.columns):
        return groups.iloc[:0]
    st = d["state"].astype(str)
    direction = np.where(st.isin(["gain", "amp"]), "gain", np.where(st.isin(["loss", "homdel"]), "loss", "other"))
    have = set(zip(d["gene"].astype(str), direction))
    keep = np.array([(g, a) in have for g, a in zip(groups["gene"].astype(str), groups[col].astype(str))],
                    dtype=bool)
    return groups[keep].reset_index(drop=True)
