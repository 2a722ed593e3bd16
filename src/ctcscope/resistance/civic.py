"""CIViC ALK evidence items: extraction from a CIViC export and mapping to ctcscope variants.

ctcscope ships ``data/kb/civic_alk.tsv``: the ALK rows of the CIViC clinical-evidence
export (nightly ``ClinicalEvidenceSummaries.tsv`` of 2021-02-25; CIViC content is CC0),
reduced to the columns the engine uses, plus the ctcscope reading of each CIViC variant
name.  :func:`extract_civic_alk` rebuilds that table from any newer export, so a user can
refresh the knowledge base without waiting for a release::

    from ctcscope.resistance.civic import extract_civic_alk
    extract_civic_alk("nightly-ClinicalEvidenceSummaries.tsv").to_csv("civic_alk.tsv", sep="\\t", index=False)
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from ..errors import InputError

#: Columns of the packaged table, in order.
COLUMNS = [
    "eid", "civic_variant", "variant", "scope", "fusion_variant", "disease", "drugs", "drug_interaction_type",
    "evidence_type", "evidence_direction", "evidence_level", "clinical_significance", "pmid", "citation",
    "source_type", "rating", "evidence_status", "statement",
]

# EML4-ALK exon junctions (EML4 exon; ALK exon 20) and their common variant names
# (Pan et al. 2021: v1 E13;A20, v2 E20;A20, v3 E6;A20, v4 E15;A20, v5 E2;A20).
EXON_VARIANT = {"e13-e20": "v1", "e20-e20": "v2", "e6-e20": "v3", "e15-e20": "v4", "e2-e20": "v5"}


def civic_variant_to_ctcscope(name: str) -> tuple[str, str, str]:
    """Map a CIViC ALK variant name to ``(variant, scope, fusion_variant)``.

    ``scope`` is ``mutation`` (one protein change), ``compound``, ``position`` (any change
    at one residue, e.g. CIViC "ALK FUSION I1171"), ``amplification``, ``fusion`` (the
    rearrangement itself, any or a named partner/variant), ``any_mutation`` or ``other``.
    """
    from .mutations import parse_mutation

    raw = " ".join(str(name).split())
    up = raw.upper()
    if "AMPLIFICATION" in up:
        return "ALK amplification", "amplification", ""
    m = re.fullmatch(r"EML4-ALK (E\d+-E\d+)", up)
    if m:
        ex = m.group(1).lower()
        return "EML4-ALK", "fusion", EXON_VARIANT.get(ex, ex)
    if up in {"ALK FUSIONS", "EML4-ALK"} or re.fullmatch(r"[A-Z0-9]+-ALK", up):
        return raw, "fusion", ""
    if up == "MUTATION":
        return "ALK mutation", "any_mutation", ""
    body = re.sub(r"^(?:[A-Z0-9]+-ALK|ALK FUSION)\s+", "", up)
    if re.fullmatch(r"[A-Z]\d+", body):
        return body, "position", ""
    if body.endswith("INST") and re.fullmatch(r"[A-Z]\d+INST", body):  # CIViC "T1151INST"
        body = body[:-4] + "dup"
    body = body.replace("-", "+") if re.fullmatch(r"[A-Z]\d+[A-Z]-[A-Z]\d+[A-Z]", body) else body
    try:
        v = parse_mutation(body)
    except InputError:
        return raw, "other", ""
    return v.canonical, "compound" if v.is_compound else "mutation", ""


def extract_civic_alk(evidence_tsv: str | Path) -> pd.DataFrame:
    """ALK rows of a CIViC ``ClinicalEvidenceSummaries.tsv`` as the packaged table."""
    path = Path(evidence_tsv)
    if not path.exists():
        raise InputError(f"CIViC export {path} does not exist; download ClinicalEvidenceSummaries.tsv from CIViC")
    df = pd.read_csv(path, sep="\t", dtype=str, quoting=csv.QUOTE_NONE, keep_default_na=False)
    need = {"gene", "variant", "evidence_id", "evidence_level", "citation_id", "evidence_statement"}
    if missing := need - set(df.columns):
        raise InputError(f"{path.name} is not a CIViC evidence export (missing columns {sorted(missing)})")
    df = df[df["gene"] == "ALK"].copy()
    mapped = df["variant"].map(civic_variant_to_ctcscope)
    out = pd.DataFrame({
        "eid": df["evidence_id"].astype(int),
        "civic_variant": df["variant"].map(lambda s: " ".join(s.split())),
        "variant": [m[0] for m in mapped],
        "scope": [m[1] for m in mapped],
        "fusion_variant": [m[2] for m in mapped],
        "disease": df["disease"],
        "drugs": df["drugs"].str.lower(),
        "drug_interaction_type": df["drug_interaction_type"].str.lower(),
        "evidence_type": df["evidence_type"],
        "evidence_direction": df["evidence_direction"],
        "evidence_level": df["evidence_level"],
        "clinical_significance": df["clinical_significance"],
        "pmid": df["citation_id"],
        "citation": df["citation"],
        "source_type": df["source_type"],
        "rating": df["rating"],
        "evidence_status": df["evidence_status"],
        "statement": df["evidence_statement"].map(lambda s: " ".join(s.split())),
    })
    return out.sort_values("eid").reset_index(drop=True)[COLUMNS]
