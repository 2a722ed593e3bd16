"""Shape ``resistance.json`` (``docs/resistance.md``) into what the resistance pages show.

The page for each patient has: treatment timeline, mutations and where they were found,
mechanisms with per-cell prevalence, the TKI × expected-activity matrix, options with
evidence and levels, conflicts and caveats.  The reader is tolerant: a field it does not
know is still shown (under "other details"), so nothing the engine writes is lost if the
schema grows.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

#: The ALK inhibitors in the order the matrix shows them (approval order).
TKI_ORDER = ["crizotinib", "ceritinib", "alectinib", "brigatinib", "ensartinib", "lorlatinib"]
DRUG_COLOURS = {"crizotinib": "#1f78b4", "ceritinib": "#33a02c", "alectinib": "#6a3d9a", "brigatinib": "#b15928",
                "ensartinib": "#e31a1c", "lorlatinib": "#ff7f00", "chemotherapy": "#666666"}
_KNOWN = {"patient", "id", "patient_id", "fusion", "variant", "notes", "treatments", "drug_at_resistance",
          "mutations", "mechanisms", "activity", "activity_matrix", "matrix", "options", "conflicts", "caveats",
          "research_use_only"}


def _s(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v != v:
        return ""
    return str(v)


def evidence_text(e: Any) -> dict:
    """One evidence item → ``{"text", "level", "kind", "ids"}`` for display."""
    if isinstance(e, str):
        return {"text": e, "level": "", "kind": "", "ids": ""}
    if not isinstance(e, dict):
        return {"text": _s(e), "level": "", "kind": "", "ids": ""}
    text = _s(e.get("citation") or e.get("source") or e.get("reference") or e.get("title") or
              e.get("statement") or "")
    ids = []
    for k, lab in (("pmid", "PMID"), ("doi", "doi"), ("eid", "CIViC"), ("civic_eid", "CIViC"), ("nct", "NCT")):
        if e.get(k):
            ids.append(f"{lab} {e[k]}" if lab not in ("doi",) else f"doi:{e[k]}")
    return {"text": text, "level": _s(e.get("level")), "kind": _s(e.get("kind") or e.get("evidence_kind") or e.get("type")),
            "ids": "; ".join(ids), "statement": _s(e.get("statement")) if e.get("citation") or e.get("source") else ""}


def _evidence_list(v: Any) -> list[dict]:
    if v is None:
        return []
    if not isinstance(v, list):
        v = [v]
    return [evidence_text(e) for e in v]


def timeline(treatments: list | None) -> list[dict]:
    """Treatment lines with a width proportional to months (equal widths when unknown)."""
    rows = []
    for t in treatments or []:
        if isinstance(t, str):
            t = {"drug": t}
        months = t.get("months")
        try:
            m = float(months)
        except (TypeError, ValueError):
            m = None
        drug = _s(t.get("drug") or t.get("name"))
        resp = _s(t.get("best_response") or t.get("response"))
        rows.append({"drug": drug, "months": m, "response": resp,
                     "progressed": bool(t.get("progressed")) or resp.upper() == "PD",
                     "colour": DRUG_COLOURS.get(drug.lower(), "#486581")})
    known = [r["months"] for r in rows if r["months"]]
    default = (sum(known) / len(known)) if known else 1.0
    for r in rows:
        r["width"] = round(max(r["months"] or default, 0.5), 2)
    return rows


def _activity_matrix(p: dict) -> dict | None:
    """Normalise the engine's activity output to rows (alteration sets) × TKI columns."""
    act = p.get("activity", p.get("activity_matrix", p.get("matrix")))
    if not act:
        return None
    cells: dict[tuple[str, str], dict] = {}
    rows: list[str] = []
    drugs: list[str] = []

    def put(row: str, drug: str, v: Any) -> None:
        if isinstance(v, dict):
            d = v
            val = d.get("activity", d.get("call", d.get("expected", "")))
        else:
            d, val = {}, v
        if row not in rows:
            rows.append(row)
        if drug not in drugs:
            drugs.append(drug)
        cells[(row, drug)] = {
            "activity": _s(val), "level": _s(d.get("level")), "conflict": bool(d.get("conflict") or d.get("conflicts")),
            "failed": bool(d.get("already_failed") or d.get("failed")),
            "note": _s(d.get("note") or d.get("rationale") or d.get("reason")),
            "evidence": _evidence_list(d.get("evidence")),
        }

    default_row = " + ".join(_s(m.get("name") if isinstance(m, dict) else m) for m in p.get("mutations") or []) \
        or "patient"
    if isinstance(act, list):
        for r in act:
            if not isinstance(r, dict):
                continue
            drug = _s(r.get("drug") or r.get("tki"))
            row = _s(r.get("alteration") or r.get("mutation") or r.get("mutations") or default_row)
            put(row, drug, r)
    elif isinstance(act, dict):
        if "drugs" in act and "rows" in act:
            for r in act["rows"]:
                row = _s(r.get("alteration") or r.get("mutation") or r.get("name") or default_row)
                for drug, v in (r.get("activity") or r.get("cells") or {}).items():
                    put(row, drug, v)
        else:
            for k, v in act.items():
                if isinstance(v, dict) and all(isinstance(x, (dict, str)) for x in v.values()) and \
                        any(dr in (str(x).lower() for x in v) for dr in TKI_ORDER):
                    for drug, vv in v.items():
                        put(str(k), drug, vv)
                else:
                    put(default_row, str(k), v)
    order = {d: i for i, d in enumerate(TKI_ORDER)}
    drugs.sort(key=lambda d: (order.get(d.lower(), 99), d))
    failed = {t["drug"].lower() for t in timeline(p.get("treatments")) if t["progressed"]}
    table = []
    for r in rows:
        table.append({"row": r, "cells": [dict(cells.get((r, d), {"activity": "", "level": "", "conflict": False,
                                                                  "failed": False, "note": "", "evidence": []}),
                                               failed=cells.get((r, d), {}).get("failed", False) or d.lower() in failed)
                                          for d in drugs]})
    return {"drugs": drugs, "rows": table}


def _mechanisms(p: dict) -> list[dict]:
    out = []
    for m in p.get("mechanisms") or []:
        if not isinstance(m, dict):
            out.append({"name": _s(m)})
            continue
        n, tot = m.get("n_cells"), m.get("n_evaluable", m.get("n_total"))
        prev = m.get("prevalence")
        try:
            prev = float(prev) if prev is not None else (float(n) / float(tot) if n is not None and tot else None)
        except (TypeError, ValueError, ZeroDivisionError):
            prev = None
        cells = m.get("cells") or m.get("samples") or []
        out.append({
            "name": _s(m.get("name") or m.get("mechanism") or m.get("id")),
            "category": _s(m.get("category") or m.get("class") or m.get("kind")),
            "gene": _s(m.get("gene")), "alteration": _s(m.get("alteration")),
            "n_cells": n, "n_evaluable": tot, "prevalence": prev,
            "pct": None if prev is None else round(100 * prev),
            "cells": [_s(c) for c in cells] if isinstance(cells, list) else [_s(cells)],
            "co_occurrence": _s(m.get("co_occurrence") or m.get("cooccurrence")),
            "sources": [_s(x) for x in (m.get("found_in") or m.get("sources_of_detection") or [])],
            "interpretation": _s(m.get("interpretation") or m.get("summary") or m.get("note")),
            "evidence": _evidence_list(m.get("evidence")),
            "level": _s(m.get("level")),
        })
    return out


def _options(p: dict) -> list[dict]:
    out = []
    for o in p.get("options") or []:
        if not isinstance(o, dict):
            out.append({"therapy": _s(o), "evidence": []})
            continue
        therapy = o.get("therapy") or o.get("drug") or o.get("drugs") or o.get("name")
        if isinstance(therapy, list):
            therapy = " + ".join(map(str, therapy))
        out.append({"therapy": _s(therapy), "rationale": _s(o.get("rationale") or o.get("reason")),
                    "level": _s(o.get("level")), "kind": _s(o.get("kind") or o.get("type")),
                    "failed": bool(o.get("already_failed")), "evidence": _evidence_list(o.get("evidence"))})
    return out


def _conflicts(p: dict) -> list[dict]:
    out = []
    for c in p.get("conflicts") or []:
        if isinstance(c, dict):
            out.append({"statement": _s(c.get("statement") or c.get("topic") or c.get("description") or c.get("name")),
                        "evidence": _evidence_list(c.get("sources") or c.get("evidence"))})
        else:
            out.append({"statement": _s(c), "evidence": []})
    return out


def patient_views(resistance: dict | None) -> list[dict]:
    """One display dict per patient of ``resistance.json``."""
    if not resistance:
        return []
    pats = resistance.get("patients", [])
    if isinstance(pats, dict):
        pats = [dict(v, patient=v.get("patient", k)) for k, v in pats.items()]
    views = []
    for p in pats:
        if not isinstance(p, dict):
            continue
        pid = _s(p.get("patient") or p.get("id") or p.get("patient_id"))
        muts = []
        for m in p.get("mutations") or []:
            if isinstance(m, dict):
                fi = m.get("found_in") or []
                muts.append({"name": _s(m.get("name") or m.get("mutation")),
                             "found_in": ", ".join(map(str, fi)) if isinstance(fi, list) else _s(fi)})
            else:
                muts.append({"name": _s(m), "found_in": ""})
        caveats = p.get("caveats") or []
        views.append({
            "patient": pid, "fusion": _s(p.get("fusion")), "variant": _s(p.get("variant")),
            "notes": _s(p.get("notes")), "drug_at_resistance": _s(p.get("drug_at_resistance")),
            "timeline": timeline(p.get("treatments")), "mutations": muts, "mechanisms": _mechanisms(p),
            "matrix": _activity_matrix(p), "options": _options(p), "conflicts": _conflicts(p),
            "caveats": [_s(c.get("text") if isinstance(c, dict) else c) for c in caveats],
            "extra": {k: v for k, v in p.items() if k not in _KNOWN},
        })
    return views


def flat_tables(views: list[dict]) -> dict[str, pd.DataFrame]:
    """The resistance pages as three flat tables (mechanisms, activity, options) for CSV."""
    mech, act, opt = [], [], []
    for v in views:
        for m in v["mechanisms"]:
            mech.append({"patient": v["patient"], "mechanism": m["name"], "category": m["category"],
                         "gene": m["gene"], "n_cells": m["n_cells"], "n_evaluable": m["n_evaluable"],
                         "prevalence": m["prevalence"], "cells": ";".join(m["cells"]),
                         "co_occurrence": m["co_occurrence"],
                         "evidence": " | ".join(f"{e['text']} {e['ids']}".strip() for e in m["evidence"])})
        if v["matrix"]:
            for r in v["matrix"]["rows"]:
                for d, c in zip(v["matrix"]["drugs"], r["cells"]):
                    act.append({"patient": v["patient"], "alterations": r["row"], "drug": d, "activity": c["activity"],
                                "level": c["level"], "conflict": c["conflict"], "already_failed": c["failed"]})
        for o in v["options"]:
            opt.append({"patient": v["patient"], "option": o["therapy"], "rationale": o.get("rationale", ""),
                        "level": o.get("level", ""), "already_failed": o.get("failed", False),
                        "evidence": " | ".join(f"{e['text']} {e['ids']}".strip() for e in o["evidence"])})
    return {"resistance_mechanisms": pd.DataFrame(mech), "resistance_activity": pd.DataFrame(act),
            "resistance_options": pd.DataFrame(opt)}
