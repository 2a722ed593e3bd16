"""Shape ``resistance.json`` (schema: ``docs/resistance.md``) into what the resistance pages show.

The page for each patient opens with the reading's summary paragraph (``summary``:
headline, then on-target findings, actionable off-target findings, lineage flags, context
and evidence), then: treatment timeline, the cells read, ALK mutations and
where they were found, mechanisms with per-cell prevalence and co-occurrence, the TKI ×
expected-activity matrix (one row per ALK variant unit, with the evidence behind each
call), options with evidence and levels, what is not proposed and why, conflicts and
caveats.  The reader is tolerant: a field it does not know is still shown (under "other
details"), so nothing the engine writes is lost if the schema grows.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..plotting import palette

#: The ALK inhibitors in the order the matrix shows them (approval order).
TKI_ORDER = ["crizotinib", "ceritinib", "alectinib", "brigatinib", "ensartinib", "lorlatinib"]
#: The same drug colours as the heatmap's treatment track and the driver figures.
DRUG_COLOURS = palette.DRUG
CALL_CLASSES = {"sensitive": "sensitive", "resistant": "resistant", "conflicting": "conflicting",
                "reduced": "reduced", "intermediate": "reduced", "unknown": "unknown"}
_KNOWN = {"patient", "id", "summary", "fusion", "fusion_variant", "variant", "histology", "treatments", "drug_at_resistance",
          "failed_alk_tkis", "cells", "alk_mutations", "mutations", "other_alterations", "mechanisms",
          "co_occurrence", "tki_activity", "activity", "options", "not_proposed", "notes", "caveats", "conflicts"}
_KIND = {"clinical_trial": "clinical trial", "patient_samples": "patient samples", "case_report": "case report",
         "in_vitro": "in vitro", "in_vivo": "in vivo", "preclinical": "preclinical", "review": "review",
         "in_silico": "in silico"}


def _s(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return str(v)


def statement_view(e: Any) -> dict:
    """One evidence statement → ``{level, source, ids, kind, text, effect, drug, variant, via}``."""
    if not isinstance(e, dict):
        return {"level": "", "source": _s(e), "ids": "", "kind": "", "text": "", "effect": "", "drug": "",
                "variant": "", "via": ""}
    ids = []
    if e.get("pmid"):
        ids.append(f"PMID {e['pmid']}")
    if e.get("doi"):
        ids.append(f"doi:{e['doi']}")
    if str(e.get("id", "")).startswith("civic-"):
        ids.append(str(e["id"]).replace("civic-", "CIViC "))
    text = _s(e.get("text") or e.get("statement") or e.get("note"))
    if e.get("printed") and not e.get("text"):
        text = f"printed \"{e['printed']}\"" + (f"; {e['note']}" if e.get("note") else "")
    return {"level": _s(e.get("level")), "source": _s(e.get("source") or e.get("citation") or e.get("reference")),
            "ids": "; ".join(ids), "kind": _KIND.get(_s(e.get("kind")), _s(e.get("kind")).replace("_", " ")),
            "text": text, "effect": _s(e.get("effect")), "drug": _s(e.get("drug")),
            "variant": _s(e.get("variant")), "via": _s(e.get("via"))}


def _statements(v: Any) -> list[dict]:
    if not v:
        return []
    return [statement_view(e) for e in (v if isinstance(v, list) else [v])]


def _best_level(sts: list[dict]) -> str:
    lv = sorted(s["level"] for s in sts if s["level"])
    return lv[0] if lv else ""


def timeline(treatments: list | None) -> list[dict]:
    """Treatment lines with a width proportional to months (the mean when unknown)."""
    rows = []
    for t in treatments or []:
        if isinstance(t, str):
            t = {"drug": t}
        try:
            m = float(t.get("months"))
        except (TypeError, ValueError):
            m = None
        drug = _s(t.get("drug") or t.get("name"))
        resp = _s(t.get("best_response") or t.get("response"))
        rows.append({"drug": drug, "months": m, "response": resp, "progressed": bool(t.get("progressed")),
                     "colour": palette.categorical("drug", [drug]).get(drug, "#486581")})
    known = [r["months"] for r in rows if r["months"]]
    default = (sum(known) / len(known)) if known else 1.0
    for r in rows:
        r["width"] = round(max(r["months"] or default, 0.5), 2)
    return rows


def _matrix(p: dict) -> dict | None:
    """TKI × expected activity: one row per ALK variant unit, plus the patient-level summary."""
    ta = p.get("tki_activity")
    failed = {d.lower() for d in (p.get("failed_alk_tkis") or [])}
    failed |= {t["drug"].lower() for t in timeline(p.get("treatments")) if t["progressed"]}
    cells: dict[tuple[str, str], dict] = {}
    rows: list[str] = []
    drugs: list[str] = []

    def put(row: str, drug: str, call: str, **kw) -> None:
        if row not in rows:
            rows.append(row)
        if drug not in drugs:
            drugs.append(drug)
        cells[(row, drug)] = {"call": call, "cls": CALL_CLASSES.get(call.lower(), "unknown"), **kw}

    if isinstance(ta, dict) and not ta.get("calls"):
        vals = {str(v) for v in (ta.get("summary") or {}).values()}
        if len(vals) == 1 and next(iter(vals)).lower() not in CALL_CLASSES:
            # e.g. "no ALK mutation reported": one sentence, not a matrix of the same words
            return {"message": next(iter(vals)), "drugs": [], "rows": [], "units": [], "has_statements": False}
    if isinstance(ta, dict):
        for c in ta.get("calls") or []:
            sts = _statements(c.get("statements"))
            n_s, n_r = c.get("n_sensitive") or 0, c.get("n_resistant") or 0
            put(_s(c.get("unit")), _s(c.get("drug")), _s(c.get("call")), level=_s(c.get("best_level")),
                basis=_s(c.get("basis")), n_sensitive=n_s, n_resistant=n_r, statements=sts,
                conflict=_s(c.get("call")) == "conflicting" or (n_s > 0 and n_r > 0),
                resensitization=bool(c.get("resensitization")))
        summary = ta.get("summary") or {}
        if summary:
            label = "patient (all variants)" if ta.get("units") else "patient"
            for drug, call in summary.items():
                put(label, drug, _s(call), level="", basis="summary over the patient's ALK variants",
                    n_sensitive=0, n_resistant=0, statements=[], conflict=_s(call) == "conflicting",
                    resensitization=False)
    elif isinstance(p.get("activity"), list):  # a flat list of {drug, activity, level, evidence}
        for r in p["activity"]:
            sts = _statements(r.get("evidence"))
            put(_s(r.get("alteration") or r.get("unit") or "patient"), _s(r.get("drug")),
                _s(r.get("activity") or r.get("call")), level=_s(r.get("level")), basis=_s(r.get("basis")),
                n_sensitive=0, n_resistant=0, statements=sts, conflict=bool(r.get("conflict")), resensitization=False)
    if not cells:
        return None
    order = {d: i for i, d in enumerate(TKI_ORDER)}
    drugs.sort(key=lambda d: (order.get(d.lower(), 99), d))
    empty = {"call": "", "cls": "unknown", "level": "", "basis": "", "n_sensitive": 0, "n_resistant": 0,
             "statements": [], "conflict": False, "resensitization": False}
    table = [{"row": r, "cells": [dict(cells.get((r, d), empty), drug=d, failed=d.lower() in failed) for d in drugs]}
             for r in rows]
    return {"drugs": drugs, "rows": table, "units": (ta or {}).get("units", []) if isinstance(ta, dict) else [],
            "message": "", "has_statements": any(c["statements"] for r in table for c in r["cells"])}


def _mechanisms(p: dict) -> list[dict]:
    out = []
    for m in p.get("mechanisms") or []:
        if not isinstance(m, dict):
            out.append({"name": _s(m), "statements": [], "cells": [], "caveats": []})
            continue
        n, tot = m.get("n_cells"), m.get("n_total", m.get("n_evaluable"))
        frac = m.get("fraction", m.get("prevalence"))
        try:
            frac = float(frac) if frac is not None else (float(n) / float(tot) if n is not None and tot else None)
        except (TypeError, ValueError, ZeroDivisionError):
            frac = None
        cells = m.get("cells") or {}
        if isinstance(cells, dict):  # sample -> the events that place the mechanism in it
            cell_list = [f"{k} ({', '.join(map(str, v))})" if v else str(k) for k, v in cells.items()]
        else:
            cell_list = [_s(c) for c in cells]
        sts = _statements(m.get("statements") or m.get("evidence"))
        out.append({
            "id": _s(m.get("id")), "name": _s(m.get("name") or m.get("id")),
            # the heading names what was found (resistance.json ``finding``; older files: the name)
            "finding": _s(m.get("finding") or m.get("name") or m.get("id")),
            "category": _s(m.get("category")).replace("_", "-"), "summary": _s(m.get("summary")),
            "role": _s(m.get("role")).replace("_", "-"), "detail": _s(m.get("detail")),
            "n_cells": n, "n_total": tot, "fraction": frac,
            # a context carried by no cell (e.g. the fusion variant): no prevalence bar
            "pct": None if frac is None or not tot or (m.get("category") == "context" and not n)
            else round(100 * frac),
            "cells": cell_list, "by_phenotype": m.get("by_phenotype") or {}, "biopsies": m.get("biopsies") or {},
            "from_sheet": [_s(x) for x in (m.get("from_sheet") or [])], "affects": [_s(x) for x in (m.get("affects") or [])],
            "statements": sts, "level": _best_level(sts),
            "caveats": [_s(c) for c in (m.get("caveats") or [])],
        })
    return out


def _options(p: dict) -> list[dict]:
    out = []
    for o in p.get("options") or []:
        if not isinstance(o, dict):
            out.append({"therapy": _s(o), "statements": [], "caveats": []})
            continue
        therapy = o.get("therapy") or o.get("name") or " + ".join(map(str, o.get("drugs") or []))
        out.append({"rank": o.get("rank"), "therapy": _s(therapy), "group": _s(o.get("group")),
                    "type": _s(o.get("type")).replace("_", " "), "level": _s(o.get("level")),
                    "rationale": _s(o.get("rationale")), "caveats": [_s(c) for c in (o.get("caveats") or [])],
                    "statements": _statements(o.get("evidence")), "failed": bool(o.get("already_failed"))})
    return out


def _conflicts(p: dict, matrix: dict | None) -> list[dict]:
    """Conflicting evidence, never resolved: explicit ``conflicts`` and every conflicting call."""
    out = []
    for c in p.get("conflicts") or []:
        if isinstance(c, dict):
            out.append({"statement": _s(c.get("statement") or c.get("topic") or c.get("name")),
                        "statements": _statements(c.get("sources") or c.get("evidence"))})
        else:
            out.append({"statement": _s(c), "statements": []})
    for r in (matrix or {}).get("rows", []):
        for c in r["cells"]:
            if c["conflict"] and c["statements"]:
                sens = [s for s in c["statements"] if s["effect"] in ("sensitive", "resensitizing")]
                res = [s for s in c["statements"] if s["effect"] == "resistant"]
                out.append({"statement": f"{c['drug']} against ALK {r['row']}: {len(sens)} statement(s) say "
                                         f"sensitive, {len(res)} say resistant", "statements": sens + res})
    return out


def summary_view(summary: Any) -> dict | None:
    """The summary paragraph → ``{headline, rest, sections}`` (``None`` when absent)."""
    if isinstance(summary, str) and summary.strip():
        return {"headline": "", "rest": summary.strip(), "sections": {}}
    if not isinstance(summary, dict) or not (summary.get("text") or summary.get("headline")):
        return None
    head, text = _s(summary.get("headline")).strip(), _s(summary.get("text")).strip()
    rest = text[len(head):].lstrip(" .") if head and text.startswith(head) else text
    sections = {k: [_s(x) for x in v] for k, v in summary.items() if isinstance(v, list) and v}
    return {"headline": head, "rest": rest, "sections": sections}


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
        muts = []
        for m in p.get("alk_mutations") or p.get("mutations") or []:
            if isinstance(m, dict):
                fi = m.get("found_in") or []
                muts.append({"name": _s(m.get("canonical") or m.get("name") or m.get("input")),
                             "input": _s(m.get("input")), "hgvs": _s(m.get("hgvs")),
                             "compound": bool(m.get("compound")),
                             "found_in": ", ".join(map(str, fi)) if isinstance(fi, list) else _s(fi),
                             "ctcs": ", ".join(map(str, m.get("ctcs") or [])), "note": _s(m.get("note"))})
            else:
                muts.append({"name": _s(m), "input": "", "hgvs": "", "compound": "+" in _s(m), "found_in": "",
                             "ctcs": "", "note": ""})
        others = []
        for a in p.get("other_alterations") or []:
            if isinstance(a, dict):
                fi = a.get("found_in") or []
                others.append({"text": _s(a.get("text")), "gene": _s(a.get("gene")), "event": _s(a.get("event")),
                               "found_in": ", ".join(map(str, fi)) if isinstance(fi, list) else _s(fi)})
            else:
                others.append({"text": _s(a), "gene": "", "event": "", "found_in": ""})
        matrix = _matrix(p)
        cells = p.get("cells") if isinstance(p.get("cells"), dict) else {}
        mechanisms = _mechanisms(p)
        # an "actionable" finding that no option addresses must not read as if it had one
        addressed = {mid for o in (p.get("options") or []) if isinstance(o, dict) for mid in (o.get("mechanisms") or [])}
        for mm in mechanisms:
            mm["role_label"] = ("context: no option" if mm.get("role") == "context"
                                else "actionable finding: no option in the knowledge base"
                                if mm.get("role") == "actionable" and mm.get("id") not in addressed
                                else mm.get("role", ""))
        views.append({
            "patient": _s(p.get("patient") or p.get("id")), "fusion": _s(p.get("fusion")),
            "summary": summary_view(p.get("summary")),
            "variant": _s(p.get("fusion_variant") or p.get("variant")), "histology": _s(p.get("histology")),
            "drug_at_resistance": _s(p.get("drug_at_resistance")),
            "failed": [_s(d) for d in (p.get("failed_alk_tkis") or [])],
            "cells": cells, "timeline": timeline(p.get("treatments")), "mutations": muts, "others": others,
            "mechanisms": mechanisms, "co_occurrence": [c for c in (p.get("co_occurrence") or []) if isinstance(c, dict)],
            "matrix": matrix, "options": _options(p),
            "not_proposed": [{"therapy": _s(o.get("therapy")), "activity": _s(o.get("activity")),
                              "reason": _s(o.get("reason")), "failed": bool(o.get("previously_failed"))}
                             for o in (p.get("not_proposed") or []) if isinstance(o, dict)],
            "conflicts": _conflicts(p, matrix),
            "notes": [_s(n) for n in (p.get("notes") or [])] if isinstance(p.get("notes"), list) else
                     ([_s(p.get("notes"))] if p.get("notes") else []),
            "caveats": [_s(c.get("text") if isinstance(c, dict) else c) for c in (p.get("caveats") or [])],
            "extra": {k: v for k, v in p.items() if k not in _KNOWN},
        })
    return views


def flat_tables(views: list[dict]) -> dict[str, pd.DataFrame]:
    """The resistance pages as flat tables (mechanisms, activity, options) for CSV."""
    mech, act, opt = [], [], []
    for v in views:
        for m in v["mechanisms"]:
            mech.append({"patient": v["patient"], "mechanism": m["name"], "finding": m.get("finding", m["name"]), "category": m.get("category", ""),
                         "role": m.get("role", ""),
                         "summary": m.get("summary", ""), "n_cells": m.get("n_cells"), "n_total": m.get("n_total"),
                         "fraction": m.get("fraction"), "best_level": m.get("level", ""),
                         "cells": ";".join(m["cells"]),
                         "sources": " | ".join(dict.fromkeys(f"{s['source']} {s['ids']}".strip() for s in m["statements"]))})
        if v["matrix"] and v["matrix"]["rows"]:
            for r in v["matrix"]["rows"]:
                for c in r["cells"]:
                    act.append({"patient": v["patient"], "variant": r["row"], "drug": c["drug"], "call": c["call"],
                                "best_level": c["level"], "basis": c["basis"], "n_sensitive": c["n_sensitive"],
                                "n_resistant": c["n_resistant"], "conflict": c["conflict"],
                                "progressed_on_it": c["failed"]})
        for o in v["options"]:
            opt.append({"patient": v["patient"], "rank": o.get("rank"), "option": o["therapy"],
                        "group": o.get("group", ""), "level": o.get("level", ""), "rationale": o.get("rationale", ""),
                        "sources": " | ".join(dict.fromkeys(f"{s['source']} {s['ids']}".strip() for s in o["statements"]))})
    return {"resistance_mechanisms": pd.DataFrame(mech), "resistance_activity": pd.DataFrame(act),
            "resistance_options": pd.DataFrame(opt)}
