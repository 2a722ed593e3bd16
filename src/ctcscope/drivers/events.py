"""Driver events: catalogue genes altered in the direction their role makes oncogenic.

This is the offline equivalent of the Cancer Genome Interpreter's copy-number step that
the study used (Oulhen et al. 2021): a (gene, gain | loss) pair is looked up against a
catalogue of known or predicted drivers with their mode of action.

- ``activating`` genes: an event when the gene is gained or amplified (``state_major``:
  most of the gene body has the extra copies);
- ``loss_of_function`` genes: an event when the gene is lost or homozygously deleted
  (``state_min``: any part of the gene body is lost);
- ``ambiguous`` genes, by the ``ambiguous`` rule: ``"high_level"`` (default) — only an
  amplification or a homozygous deletion counts, since a high-level change of a gene with
  no agreed direction is the one a tumour board would still want to see; ``"any"`` — any
  gain or loss counts; ``"none"`` — never.

Genes of tier ``pathway_member`` (in a pathway or gene set but on no driver list) follow the
``members`` rule: ``"high_level"`` (default) — they count only when amplified (activating)
or homozygously deleted (loss of function); ``"any"`` — as drivers.

Each event carries the extent of the altered region behind it and the ``focal`` flag of
:func:`ctcscope.drivers.gene_copy_number` (region < half of the chromosome arm, as GISTIC
2.0 separates focal from broad events).  A loss event of a gene that is mostly gained and
only partly lost (it spans a breakpoint; the gene table's extent describes the gain) has no
extent and ``focal`` False.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from .catalogue import Catalogue
from .genes import NORMAL_TYPES, TUMOUR_TYPES

AMBIGUOUS_RULES = ("high_level", "any", "none")
MEMBER_RULES = ("high_level", "any")

DRIVERS_COLUMNS = ["sample_id", "patient", "sample_type", "phenotype", "treatment_group", "gene", "chrom", "start",
                   "end", "state", "copy_number", "ploidy", "relative_cn", "role", "pathways", "confidence", "source",
                   # beyond the contract's fixed columns (documented in docs/data-model.md)
                   "alteration", "pathway", "tier", "catalogue_gene", "low_confidence_reason", "qc_pass",
                   "normal_like", "evidence", "segment_start", "segment_end", "segment_mb", "arm_fraction", "focal"]
EXTENT_COLUMNS = ["segment_start", "segment_end", "segment_mb", "arm_fraction", "focal"]


def as_bool(s: pd.Series) -> np.ndarray:
    """Booleans from a column that may have been read from text ("true", "False", 1, NA)."""
    if s.dtype == bool:
        return s.to_numpy()
    return s.astype(str).str.strip().str.lower().isin(["true", "1", "yes", "t", "1.0"]).to_numpy()


def sample_info(obs: pd.DataFrame | None, samples) -> pd.DataFrame:
    """Per-sample columns the driver tables carry, with the data model's defaults."""
    idx = pd.Index(pd.unique(pd.Series(samples, dtype=str)))
    o = obs.copy() if obs is not None else pd.DataFrame(index=idx)
    o.index = o.index.astype(str)
    o = o.reindex(idx)
    out = pd.DataFrame(index=idx)
    for col, default in (("patient", ""), ("sample_type", "ctc"), ("phenotype", ""), ("treatment_group", "")):
        out[col] = o[col].astype(object).where(o[col].notna(), default).astype(str) if col in o else default
    out["qc_pass"] = o["qc_pass"].astype(object).where(o["qc_pass"].notna(), True).astype(bool) if "qc_pass" in o else True
    out["normal_like"] = (o["normal_like"].astype(object).where(o["normal_like"].notna(), False).astype(bool)
                          if "normal_like" in o else False)
    out["sample_type"] = out["sample_type"].str.lower()
    return out


def analysable(info: pd.DataFrame) -> pd.Series:
    """Samples entering cohort summaries: tumour samples (CTC, CTC pool, biopsy) that passed
    QC and are not normal-like (the study's 38 CTC samples and 1 biopsy)."""
    return info["sample_type"].isin(TUMOUR_TYPES) & info["qc_pass"] & ~info["normal_like"]


def driver_events(gene_cn: pd.DataFrame, catalogue: Catalogue, *, obs: pd.DataFrame | None = None,
                  ambiguous: str = "high_level", members: str = "high_level", min_confidence: str = "low",
                  include_normals: bool = False) -> pd.DataFrame:
    """One row per driver event (the ``drivers.tsv`` table).

    Parameters
    ----------
    gene_cn : the table of :func:`ctcscope.drivers.gene_copy_number`.
    catalogue : :class:`Catalogue` (see :func:`load_catalogue`).
    obs : the AnnData ``obs`` (patient, sample type, phenotype, treatment group, QC).
    ambiguous : rule for ``ambiguous`` genes, one of :data:`AMBIGUOUS_RULES`.
    members : rule for ``pathway_member`` genes, one of :data:`MEMBER_RULES`.
    min_confidence : ``"low"`` keeps every event (low-confidence ones flagged); ``"high"``
        keeps only high-confidence events.
    include_normals : also report events in normal controls (leukocytes, germline), which
        are normally left out: a "driver" in a control is an artefact to look at in QC.
    """
    if ambiguous not in AMBIGUOUS_RULES:
        raise InputError(f"ambiguous-gene rule {ambiguous!r} is not known; use one of {', '.join(AMBIGUOUS_RULES)}")
    if members not in MEMBER_RULES:
        raise InputError(f"pathway-member rule {members!r} is not known; use one of {', '.join(MEMBER_RULES)}")
    if min_confidence not in ("low", "high"):
        raise InputError(f"minimum confidence {min_confidence!r} is not known; use 'low' or 'high'")
    need = {"sample_id", "gene", "state_major", "state_min", "cn_major", "cn_min"}
    if not need.issubset(gene_cn.columns):
        raise InputError(f"the gene copy-number table lacks {sorted(need - set(gene_cn.columns))}; "
                         "make it with ctcscope.drivers.gene_copy_number")
    hit = catalogue.resolve(gene_cn["gene"].astype(str)).to_numpy()
    in_cat = pd.notna(hit)
    gc = gene_cn.loc[in_cat].copy()
    gc["catalogue_gene"] = hit[in_cat]
    tab = catalogue.table
    role = tab["role"].reindex(gc["catalogue_gene"]).to_numpy()
    smaj = gc["state_major"].astype(str).to_numpy()
    smin = gc["state_min"].astype(str).to_numpy()
    up = np.isin(smaj, ["gain", "amp"])
    down = np.isin(smin, ["loss", "homdel"])
    tier = (tab["tier"].reindex(gc["catalogue_gene"]).fillna("driver").to_numpy() if "tier" in tab
            else np.full(len(gc), "driver"))
    if members == "high_level":
        member = tier == "pathway_member"
        up = up & (~member | (smaj == "amp"))
        down = down & (~member | (smin == "homdel"))
    act = (role == "activating") & up
    lof = (role == "loss_of_function") & down
    amb = role == "ambiguous"
    if ambiguous == "high_level":
        amb_up, amb_down = amb & (smaj == "amp"), amb & (smin == "homdel")
    elif ambiguous == "any":
        amb_up, amb_down = amb & up, amb & down
    else:
        amb_up = amb_down = np.zeros(len(gc), bool)
    is_up = act | amb_up
    is_down = lof | amb_down
    ev = gc.loc[is_up | is_down].copy()
    is_up = is_up[is_up | is_down]
    ev["alteration"] = np.where(is_up, "gain", "loss")
    ev["state"] = np.where(is_up, ev["state_major"].astype(str), ev["state_min"].astype(str))
    ev["copy_number"] = np.where(is_up, ev["cn_major"], ev["cn_min"])
    ev["relative_cn"] = ev["copy_number"] / ev["ploidy"]
    if set(EXTENT_COLUMNS) <= set(ev.columns):
        # the gene table's extent belongs to its reported state; a loss event of a mostly
        # gained gene has none
        other = (~is_up) & np.isin(ev["state_major"].astype(str).to_numpy(), ["gain", "amp"])
        if other.any():
            ev["segment_start"] = ev["segment_start"].astype("Int64").mask(other)
            ev["segment_end"] = ev["segment_end"].astype("Int64").mask(other)
            ev.loc[other, ["segment_mb", "arm_fraction"]] = np.nan
            ev.loc[other, "focal"] = False
        ev["focal"] = as_bool(ev["focal"])
    else:
        for c in EXTENT_COLUMNS:
            ev[c] = False if c == "focal" else np.nan
    info = sample_info(obs, gene_cn["sample_id"].astype(str).unique())
    si = info.reindex(ev["sample_id"].astype(str))
    for c in ("sample_type", "phenotype", "treatment_group", "qc_pass", "normal_like"):
        ev[c] = si[c].to_numpy()
    if "patient" not in ev or (ev["patient"].astype(str) == "").all():
        ev["patient"] = si["patient"].to_numpy()
    if not include_normals:
        ev = ev[~ev["sample_type"].isin(NORMAL_TYPES)]
    if min_confidence == "high":
        ev = ev[ev["confidence"].astype(str) == "high"]
    cg = ev["catalogue_gene"]
    ev["role"] = tab["role"].reindex(cg).to_numpy()
    ev["pathway"] = tab["pathway"].reindex(cg).to_numpy()
    ev["tier"] = tab["tier"].reindex(cg).fillna("driver").to_numpy() if "tier" in tab else "driver"
    ev["pathways"] = tab["pathways"].reindex(cg).to_numpy()
    ev["source"] = tab["sources"].reindex(cg).to_numpy()
    ev["evidence"] = tab["evidence"].reindex(cg).fillna("").to_numpy()
    for c in ("sample_id", "patient", "gene", "chrom", "confidence", "low_confidence_reason"):
        ev[c] = ev[c].astype(str)
    ev = ev[DRIVERS_COLUMNS].reset_index(drop=True)
    # stable, readable order: by sample (as in obs), then genome position
    order = {s: i for i, s in enumerate(info.index)}
    chrom_rank = {c: i for i, c in enumerate([str(i) for i in range(1, 23)] + ["X", "Y", "MT"])}
    ev = ev.assign(_s=ev["sample_id"].map(order), _c=ev["chrom"].map(chrom_rank).fillna(99))
    return ev.sort_values(["_s", "_c", "start", "gene"], kind="stable").drop(columns=["_s", "_c"]).reset_index(drop=True)
