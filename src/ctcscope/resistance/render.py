"""Readings as JSON (schema in docs/resistance.md) and as one long table."""
from __future__ import annotations

import pandas as pd

from .engine import PatientReading
from .knowledge import LEVEL_NAMES, KnowledgeBase

SCHEMA_VERSION = "1.1"
TABLE_COLUMNS = ["patient", "section", "name", "category", "value", "n_cells", "n_total", "cells", "level",
                 "sources", "detail"]


def reading_to_dict(r: PatientReading) -> dict:
    p = r.patient
    return {
        "patient": p.id,
        "fusion": p.fusion or None,
        "fusion_variant": p.variant or None,
        "histology": p.histology or None,
        "treatments": [{"drug": t.drug, "alk_tki": t.tki, "months": t.months, "best_response": t.best_response or None,
                        "progressed": t.progressed} for t in p.treatments],
        "drug_at_resistance": p.drug_at_resistance or None,
        "failed_alk_tkis": p.failed_tkis,
        "summary": r.summary,
        "cells": r.cells_info,
        "alk_mutations": r.mutations,
        "other_alterations": [{"text": a.text, "gene": a.gene or None, "event": a.event or None,
                               "found_in": list(a.found_in)} for a in p.alterations],
        "mechanisms": [{
            "id": d.mechanism.id, "name": d.mechanism.name, "finding": d.heading(), "category": d.mechanism.category,
            "role": d.role, "actionable": d.actionable,
            "summary": d.summary(), "n_cells": d.n_cells, "n_total": d.n_total,
            "fraction": round(d.n_cells / d.n_total, 4) if d.n_total else None,
            "n_actionable": len(d.actionable_cells), "extent": dict(sorted(d.classes.items())),
            **({"detail": d.co_loss_detail()} if d.co_loss_detail() else {}),
            "cells": d.cell_labels(),
            "by_phenotype": d.by_phenotype,
            "biopsies": {k: [e.label() if hasattr(e, "label") else str(e) for e in v] for k, v in d.biopsies.items()},
            "from_sheet": [a.text for a in d.sheet],
            "affects": list(d.mechanism.affects),
            "statements": [s.to_dict() for s in d.mechanism.statements],
            "caveats": d.mechanism.caveats,
        } for d in r.detected],
        "co_occurrence": r.co_occurrence,
        "tki_activity": {
            "units": r.matrix["units"],
            "summary": r.matrix["summary"],
            "calls": [c.to_dict() for c in r.matrix["calls"]],
        },
        "options": r.options,
        "not_proposed": r.not_proposed,
        "notes": r.notes,
        "caveats": r.caveats,
    }


def readings_to_json(readings: list[PatientReading], kb: KnowledgeBase, run: dict | None = None) -> dict:
    """The whole ``resistance.json`` document."""
    return {
        "schema_version": SCHEMA_VERSION,
        "research_use_only": True,
        "knowledge_base": {**kb.summary(), "levels": LEVEL_NAMES},
        "run": run or {},
        "patients": [reading_to_dict(r) for r in readings],
    }


def _src(statements: list[dict]) -> str:
    return "; ".join(dict.fromkeys(s["source"] + (f" PMID {s['pmid']}" if s.get("pmid") else "") for s in statements))


def readings_to_table(readings: list[PatientReading]) -> pd.DataFrame:
    """Long table: one row per patient x item (mechanism, co-occurrence, TKI, option, caveat)."""
    rows = []
    for r in readings:
        d = reading_to_dict(r)
        pid = d["patient"]
        if d.get("summary"):
            rows.append({"patient": pid, "section": "summary", "name": "headline", "value": d["summary"]["headline"],
                         "detail": d["summary"]["text"]})
        for m in d["alk_mutations"]:
            rows.append({"patient": pid, "section": "alk_mutation", "name": m["canonical"], "category": "on_target",
                         "value": "compound" if m["compound"] else "single", "cells": ",".join(m["ctcs"]),
                         "n_cells": len(m["ctcs"]) or None, "detail": "; ".join([", ".join(m["found_in"])] +
                                                                            ([m["note"]] if m.get("note") else []))})
        for m in d["mechanisms"]:
            best = min((s["level"] for s in m["statements"]), default="")
            rows.append({"patient": pid, "section": "mechanism", "name": m["name"], "category": m["category"] +
                         (f" ({m['role']})" if m.get("role") and m["role"] != m["category"] else ""),
                         "value": m["summary"], "n_cells": m["n_cells"], "n_total": m["n_total"],
                         "cells": ",".join(m["cells"]), "level": best, "sources": _src(m["statements"]),
                         "detail": "; ".join(f"{k}: {v}" for k, v in m["by_phenotype"].items())})
        for c in d["co_occurrence"]:
            rows.append({"patient": pid, "section": "co_occurrence", "name": f"{c['a']} | {c['b']}",
                         "value": "same cell" if c["n_both"] else "different cells", "n_cells": c["n_both"],
                         "cells": ",".join(c["cells_both"]), "detail": c["summary"]})
        for c in d["tki_activity"]["calls"]:
            rows.append({"patient": pid, "section": "tki_activity", "name": c["drug"], "category": c["unit"],
                         "value": c["call"], "level": c["best_level"], "sources": _src(c["statements"]),
                         "detail": c["basis"]})
        if not d["tki_activity"]["units"]:
            for drug, v in d["tki_activity"]["summary"].items():
                rows.append({"patient": pid, "section": "tki_activity", "name": drug, "value": v})
        for o in d["options"]:
            rows.append({"patient": pid, "section": "option", "name": o["therapy"], "category": o["group"],
                         "value": f"rank {o['rank']}", "level": o.get("level"), "sources": _src(o.get("evidence", [])),
                         "detail": "; ".join([o.get("rationale", "")] + o.get("caveats", []))})
        for o in d["not_proposed"]:
            rows.append({"patient": pid, "section": "not_proposed", "name": o["therapy"], "value": o["activity"],
                         "detail": o["reason"]})
        for n in d["notes"]:
            rows.append({"patient": pid, "section": "note", "detail": n})
        for c in d["caveats"]:
            rows.append({"patient": pid, "section": "caveat", "detail": c})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
