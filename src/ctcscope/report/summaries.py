"""The numbers behind the report's figures and tables (computing only; no plotting).

Each function takes the tables of :class:`~ctcscope.report.collect.RunOutputs` and returns
a tidy :class:`pandas.DataFrame` (or a small dict); :mod:`ctcscope.report.figures` draws
them and the report offers them as CSV.  Denominators follow the study (Oulhen et al.
2021, npj Precis Oncol 5:71, doi:10.1038/s41698-021-00203-1): frequencies of gain and loss
are over QC-passed tumour samples.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .collect import NORMAL_TYPES, TUMOUR_TYPES, RunOutputs

#: Columns of the QC table, in display order (those present are shown).
QC_COLUMNS = ["patient", "sample_type", "phenotype", "pool_size", "reads", "mapd", "usable_bins",
              "overdispersion", "n_segments", "ploidy", "ploidy_confidence", "ploidy_basis", "qc_pass", "qc_reason",
              "normal_like"]
PLOIDY_COLUMNS = ["patient", "sample_type", "phenotype", "ploidy", "mean_cn", "ploidy_confidence", "ploidy_basis",
                  "ploidy_status", "ploidy_runner_up", "ploidy_runner_up_prob", "ploidy_read_depth",
                  "dna_index", "dna_conflict", "cycle_phase", "s_phase", "wgd", "wgd_probability", "fga",
                  "breakpoints", "wgii", "n_cn_states", "max_amplification", "clone"]


def _tumour(obs: pd.DataFrame) -> pd.Series:
    return obs["sample_type"].astype(str).isin(TUMOUR_TYPES)


def _passed(obs: pd.DataFrame) -> pd.Series:
    if "qc_pass" not in obs:
        return pd.Series(True, index=obs.index)
    return obs["qc_pass"].fillna(False).astype(bool)


def _tumour_cells(obs: pd.DataFrame) -> pd.Series:
    """QC-passed tumour samples without a normal-like (flat) profile: the samples the clustering,
    drivers and resistance steps read, so the ploidy and instability counts agree with theirs
    (the study left its normal-like "CTCs" out of the tumour analyses)."""
    ok = _tumour(obs) & _passed(obs)
    if "normal_like" in obs:
        ok &= ~obs["normal_like"].fillna(False).astype(bool)
    return ok


def run_summary(res: RunOutputs) -> dict:
    """Headline counts for the first screen."""
    s: dict = {"n_samples": res.n_samples, "genome": res.genome}
    obs = res.obs
    if obs is None:
        pats = sorted({str(p.get("patient", "")) for p in (res.resistance or {}).get("patients", [])} - {""})
        s.update(n_patients=len(pats), patients=pats)
        return s
    pats = sorted(set(obs["patient"]) - {""})
    s["patients"] = pats
    s["n_patients"] = len(pats)
    s["by_type"] = obs["sample_type"].astype(str).value_counts().to_dict()
    tum = _tumour(obs)
    s["n_tumour"] = int(tum.sum())
    if "qc_pass" in obs:
        s["n_qc_pass"] = int(_passed(obs).sum())
        s["n_tumour_pass"] = int((_passed(obs) & tum).sum())
    if "normal_like" in obs:
        s["n_normal_like_tumour"] = int((obs["normal_like"].fillna(False).astype(bool) & tum).sum())
    if "ploidy" in obs:
        ok = _tumour_cells(obs)
        s["ploidy_counts"] = obs.loc[ok, "ploidy"].dropna().astype(int).value_counts().sort_index().to_dict()
        if "wgd" in obs:
            s["n_wgd"] = int((obs.loc[ok, "wgd"].fillna(False).astype(bool)).sum())
            s["n_ploidy_called"] = int(ok.sum())
        if "ploidy_status" in obs:
            # read depth could not tell the ploidy from its runner-up (often k from 2k): the
            # WGD count includes these calls, so the report says how many there are
            amb = ok & (obs["ploidy_status"].astype(str) == "ambiguous")
            s["n_ploidy_ambiguous"] = int(amb.sum())
            if "wgd" in obs:
                s["n_wgd_ambiguous"] = int((amb & obs["wgd"].fillna(False).astype(bool)).sum())
            if "wgd_probability" in obs:
                # expected number of doubled samples: the resolved calls as called, each
                # ambiguous one by its probability of WGD
                pw = pd.to_numeric(obs["wgd_probability"], errors="coerce")
                wgd = obs["wgd"].fillna(False).astype(bool).astype(float) if "wgd" in obs else pw
                s["wgd_expected"] = round(float(np.where(amb & pw.notna(), pw, wgd)[ok.to_numpy()].sum()), 1)
    return s


def qc_table(obs: pd.DataFrame) -> pd.DataFrame:
    """One row per sample: the QC figures and the pass/fail reason."""
    cols = [c for c in QC_COLUMNS if c in obs]
    t = obs[cols].copy()
    if "qc_pass" in t:
        t["qc_pass"] = t["qc_pass"].map({True: "pass", False: "fail"}).fillna("")
    if "mapd" in t:
        t["mapd"] = t["mapd"].astype(float).round(3)
    for c in ("overdispersion", "ploidy_confidence"):
        if c in t:
            t[c] = t[c].astype(float).round(3)
    return t.reset_index()


def qc_reasons(obs: pd.DataFrame) -> pd.DataFrame:
    """How many samples failed for each reason (reasons are ``;``-joined in ``qc_reason``)."""
    if "qc_reason" not in obs:
        return pd.DataFrame(columns=["reason", "n_samples"])
    r = obs["qc_reason"].fillna("").astype(str).str.split(";").explode().str.strip()
    r = r[(r != "") & (r != "nan")]
    # "reads 12371 < 50000" and "reads 0 < 50000" are one reason: drop the sample's own value
    r = r.str.replace(r"^(\D+?)\s+-?[\d.]+(?:e[-+]?\d+)?\s*(?=[<>≤≥])", r"\1 ", regex=True)
    r = r.str.replace(r"^\d+ segments \(", "segments (", regex=True)
    return r.value_counts().rename_axis("reason").reset_index(name="n_samples")


CTC_PHENOTYPES = ("ALK+/CK-", "ALK-/CK+", "ALK+/CK+")
PHENOTYPE_LEVELS = {"events": "all gated events of the sort files", "sorted": "sorted wells",
                    "sequenced": "sequenced samples"}


def _sheet_phenotypes(obs: pd.DataFrame | None) -> pd.DataFrame:
    """Phenotype counts of the sequenced samples, from the sample sheet's ``phenotype`` column."""
    if obs is None or "phenotype" not in obs or not (obs["phenotype"].fillna("").astype(str) != "").any():
        return pd.DataFrame(columns=["patient", "phenotype", "n", "level"])
    ph = obs[obs["phenotype"].fillna("").astype(str) != ""].reset_index()
    c = ph.groupby(["patient", "phenotype"], sort=True).size().rename("n").reset_index()
    c["level"] = "sequenced samples, from the sample sheet"
    return c


def phenotype_counts(res: RunOutputs) -> pd.DataFrame:
    """Phenotype mix per patient (Fig. 1c): ``patient, phenotype, n, percent, level``.

    From ``phenotype_summary.tsv`` when the phenotype step ran (level ``events``, i.e. every
    gated event, else ``sorted`` wells, else ``sequenced`` samples; files of one patient are
    summed); otherwise, and for a patient with no CTC in the sort files, from the phenotypes
    of the sequenced samples in the sample sheet (``level`` says which).  ``percent`` is the share among the three CTC phenotypes (empty for CD45+ and outside).
    """
    cols = ["patient", "phenotype", "n", "percent", "level"]
    if res.phenotype_summary is not None and len(res.phenotype_summary):
        ps = res.phenotype_summary.copy()
        level = next((lv for lv in PHENOTYPE_LEVELS if (ps["level"] == lv).any()), ps["level"].iloc[0])
        ps = ps[ps["level"] == level]
        c = ps.groupby(["patient", "phenotype"], sort=True)["count"].sum().rename("n").reset_index()
        c["level"] = PHENOTYPE_LEVELS.get(level, level)
        # a patient whose CTCs were not in the sort files (e.g. pools picked by hand) would read
        # "no CTC" here while the resistance section counts its CTC samples: use the sheet's
        # phenotypes of that patient's sequenced samples instead, and say so
        sheet = _sheet_phenotypes(res.obs)
        if len(sheet):
            has_ctc = c[c["phenotype"].isin(CTC_PHENOTYPES)].groupby("patient")["n"].sum()
            fill = [p for p in sheet["patient"].unique() if has_ctc.get(p, 0) == 0
                    and sheet[(sheet["patient"] == p) & sheet["phenotype"].isin(CTC_PHENOTYPES)]["n"].sum() > 0]
            if fill:
                c = pd.concat([c[~c["patient"].isin(fill)], sheet[sheet["patient"].isin(fill)]], ignore_index=True)
                c = c.sort_values(["patient", "phenotype"], kind="stable").reset_index(drop=True)
    elif len(_sheet_phenotypes(res.obs)):
        c = _sheet_phenotypes(res.obs)
    else:
        return pd.DataFrame(columns=cols)
    c["patient"] = c["patient"].astype(object).where(c["patient"].notna(), "").astype(str)
    ctc = c["phenotype"].isin(CTC_PHENOTYPES)
    tot = c[ctc].groupby("patient")["n"].sum()
    c["percent"] = np.where(ctc, (100 * c["n"] / c["patient"].map(tot).replace(0, np.nan)).round(1), np.nan)
    return c[cols]


def ploidy_counts(obs: pd.DataFrame) -> pd.DataFrame:
    """Number of QC-passed tumour samples (normal-like excluded) at each base ploidy per patient,
    with WGD (Fig. 2c)."""
    ok = _tumour_cells(obs) & obs.get("ploidy", pd.Series(np.nan, index=obs.index)).notna()
    t = obs.loc[ok, ["patient", "ploidy"]].copy()
    t["ploidy"] = t["ploidy"].astype(int)
    t["ambiguous"] = (obs.loc[ok, "ploidy_status"].astype(str) == "ambiguous") if "ploidy_status" in obs else False
    c = t.groupby(["patient", "ploidy"]).agg(n=("ploidy", "size"), n_ambiguous=("ambiguous", "sum")).reset_index()
    c["n_ambiguous"] = c["n_ambiguous"].astype(int)
    c["wgd"] = c["ploidy"] >= 4
    c["percent"] = (100 * c["n"] / c.groupby("patient")["n"].transform("sum")).round(1)
    return c


def ploidy_table(obs: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in PLOIDY_COLUMNS if c in obs]
    t = obs[cols].copy()
    for c in ("mean_cn", "ploidy_confidence", "ploidy_runner_up_prob", "wgd_probability", "fga", "wgii"):
        if c in t:
            t[c] = t[c].astype(float).round(3)
    return t.reset_index()


def instability_by_patient(obs: pd.DataFrame) -> pd.DataFrame:
    """Median instability metrics of QC-passed tumour samples per patient (normal-like excluded)."""
    ok = _tumour_cells(obs)
    cols = [c for c in ("fga", "breakpoints", "wgii", "n_cn_states", "max_amplification") if c in obs]
    if not cols:
        return pd.DataFrame(columns=["patient", "n"])
    t = obs.loc[ok, ["patient", *cols]]
    g = t.groupby("patient")
    out = g[cols].median().round(3)
    out.insert(0, "n", g.size())
    if "wgd" in obs:
        out["wgd_fraction"] = obs.loc[ok].groupby("patient")["wgd"].apply(lambda s: s.fillna(False).astype(bool).mean()).round(3)
    return out.reset_index()


def driver_frequencies(drivers: pd.DataFrame, obs: pd.DataFrame | None) -> pd.DataFrame:
    """Per gene: samples with a gain (gain/amp) or loss (loss/homdel) driver event, and the
    frequency among QC-passed tumour samples (the study's denominator)."""
    d = drivers.copy()
    d["direction"] = np.where(d["state"].isin(["gain", "amp"]), "gain",
                              np.where(d["state"].isin(["loss", "homdel"]), "loss", "other"))
    if obs is not None:
        ok = obs.index[_tumour(obs) & _passed(obs)]
        d = d[d["sample_id"].isin(ok)]
        denom = len(ok)
    else:
        denom = d["sample_id"].nunique()
    n = d.groupby(["gene", "direction"])["sample_id"].nunique().unstack(fill_value=0)
    for c in ("gain", "loss"):
        if c not in n:
            n[c] = 0
    out = pd.DataFrame({"n_gain": n["gain"], "n_loss": n["loss"]})
    out["gain_percent"] = (100 * out["n_gain"] / max(denom, 1)).round(1)
    out["loss_percent"] = (100 * out["n_loss"] / max(denom, 1)).round(1)
    meta = d.groupby("gene").agg(role=("role", "first") if "role" in d else ("gene", "size"),
                                 pathways=("pathways", "first") if "pathways" in d else ("gene", "size"),
                                 n_patients=("patient", "nunique") if "patient" in d else ("gene", "size"))
    out = out.join(meta)
    out["denominator"] = denom
    out = out.sort_values(["n_gain", "n_loss"], ascending=False)
    return out.reset_index()


def frequencies_from_step(freq: pd.DataFrame) -> pd.DataFrame:
    """The drivers step's ``driver_frequencies.tsv`` (``freq_gain``/``freq_loss`` as
    fractions) in the columns :func:`driver_frequencies` gives, for the same figure."""
    f = freq.copy()
    for c in ("n_gain", "n_loss"):
        if c not in f:
            f[c] = 0
    f["gain_percent"] = (100 * f.get("freq_gain", pd.Series(np.nan, index=f.index)).astype(float)).round(1)
    f["loss_percent"] = (100 * f.get("freq_loss", pd.Series(np.nan, index=f.index)).astype(float)).round(1)
    f = f[(f["n_gain"] > 0) | (f["n_loss"] > 0)]
    return f.sort_values(["n_gain", "n_loss"], ascending=False).reset_index(drop=True)


def group_counts_from_step(per_driver: pd.DataFrame) -> pd.DataFrame:
    """Category × direction counts from the drivers step's ``driver_groups.tsv`` (one row per
    driver; ``category`` is the group name when exclusive, ``shared`` otherwise)."""
    d = per_driver.copy()
    d["category"] = np.where(d["category"].astype(str) == "shared", "shared", d["category"].astype(str) + " only")
    d["direction"] = d["alteration"].astype(str) if "alteration" in d else "driver"
    return d.groupby(["category", "direction"]).size().rename("n_genes").reset_index()


def group_comparison(drivers: pd.DataFrame, group_col: str = "treatment_group") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drivers found only in one group or shared (Supplementary Fig. 3).

    Returns ``(per_gene, counts)``: ``per_gene`` has one row per gene × direction with the
    groups it was found in, the number of samples per group and its category
    (``"<group> only"`` or ``"shared"``); ``counts`` tallies genes per category.
    """
    if group_col not in drivers or drivers[group_col].isna().all():
        return pd.DataFrame(), pd.DataFrame()
    d = drivers.dropna(subset=[group_col]).copy()
    d[group_col] = d[group_col].astype(str)
    d["direction"] = np.where(d["state"].isin(["gain", "amp"]), "gain", "loss")
    n = d.groupby(["gene", "direction", group_col])["sample_id"].nunique().unstack(fill_value=0)
    groups = list(n.columns)
    present = n > 0
    cat = np.where(present.sum(axis=1) > 1, "shared",
                   pd.Series(present.idxmax(axis=1).astype(str) + " only", index=n.index))
    per_gene = n.add_prefix("n_").copy()
    per_gene["groups"] = present.apply(lambda r: ";".join(g for g in groups if r[g]), axis=1)
    per_gene["category"] = cat
    per_gene = per_gene.reset_index().sort_values(["category", "gene"])
    counts = per_gene.groupby(["category", "direction"]).size().rename("n_genes").reset_index()
    return per_gene, counts


def choose_profiles(obs: pd.DataFrame, max_profiles: int) -> list[str]:
    """Samples whose genome-wide profiles are embedded.

    All of them when there are at most ``max_profiles``; otherwise every normal control
    up to a tenth of the budget and a stratified draw (patient × clone, fixed seed) of the
    others, QC-passed first, so each patient and clone is represented.
    """
    if len(obs) <= max_profiles:
        return list(obs.index)
    st = obs["sample_type"].astype(str)
    normals = list(obs.index[st.isin(NORMAL_TYPES)][: max(1, max_profiles // 10)])
    rest = obs.loc[~st.isin(NORMAL_TYPES)].copy()
    rest["_pass"] = _passed(rest).astype(int)
    rest["_stratum"] = rest["patient"].astype(str) + "|" + rest.get("clone", pd.Series("", index=rest.index)).astype(str)
    rng = np.random.default_rng(0)
    rest["_r"] = rng.random(len(rest))
    # rank inside each stratum, then take the lowest ranks across strata (round robin)
    rest = rest.sort_values(["_stratum", "_pass", "_r"], ascending=[True, False, True])
    rest["_rank"] = rest.groupby("_stratum").cumcount()
    rest = rest.sort_values(["_rank", "_pass", "_stratum"], ascending=[True, False, True])
    chosen = set(normals) | set(rest.index[: max_profiles - len(normals)])
    return [s for s in obs.index if s in chosen]
