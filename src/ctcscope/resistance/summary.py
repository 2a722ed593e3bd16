"""The reading's opening paragraph: what a clinician needs in 20 seconds.

:func:`summarise` condenses one :class:`~ctcscope.resistance.engine.PatientReading` into

- ``headline``: the bottom line (which ALK inhibitor is expected to work, that none covers
  the patient's ALK mutations, or the best-supported option for an actionable bypass);
- ``on_target``: ALK mutations and their coverage by the ALK TKIs, ALK copy gain with its
  prevalence and extent;
- ``actionable``: off-target findings that carry options (amplification, homozygous
  deletion or focal event in CTCs, a biopsy or the sheet), with the option and its level;
- ``lineage``: TP53 + RB1 co-loss (cells carrying both, focal/homozygous or arm-level, and
  that copy loss is not inactivation), EMT-like ALK+/CK- CTCs, ALK-/CK+ epithelial CTCs,
  a transformation named in the sheet;
- ``context``: broad copy changes reported without options, with their prevalence;
- ``evidence``: the options with evidence and their levels, and what has none;
- ``text``: all of it as one paragraph (headline first).

Everything is derived from the reading (no new inference), so the paragraph never says more
than the sections below it.
"""
from __future__ import annotations

from .knowledge import ALK_TKIS

MAX_ITEMS = 3


def _join(items: list[str], word: str = "and") -> str:
    items = [x for x in items if x]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _lvl(o: dict) -> str:
    return f"level {o['level']}" if o.get("level") else "no graded evidence"


def _mutations(r) -> str:
    out = []
    for m in r.mutations:
        where = ", ".join(m["found_in"])
        out.append(f"{m['canonical']}" + (f" ({where})" if where else ""))
    return _join(out)


def _coverage(r, kb) -> tuple[list[dict], str]:
    """Supported ALK-TKI options and a phrase with every TKI's call when none is supported."""
    failed = set(r.patient.failed_tkis)
    sup = [o for o in r.options if o.get("type") == "alk_tki" and o["group"] == "supported"]
    calls: dict[str, list[str]] = {}
    for d in ALK_TKIS:
        c = r.matrix["summary"].get(d, "unknown")
        calls.setdefault(c, []).append(d)
    order = ("conflicting", "reduced", "unknown", "sensitive")
    parts = [", ".join(f"{d} {c}" + (" (already failed)" if d in failed else "") for d in calls[c])
             for c in order if c in calls]
    res = calls.get("resistant", [])
    if res:
        parts.append("resistant to every ALK TKI" if len(res) == len(ALK_TKIS) else
                     "every other ALK TKI resistant" if len(res) >= 3 else f"{', '.join(res)} resistant")
    return sup, "; ".join(parts)


def summarise(r, kb) -> dict:
    """The summary of one reading (see the module docstring for the fields)."""
    dets = {d.mechanism.id: d for d in r.detected}
    targeted = [o for o in r.options if o["group"] in ("supported", "bypass")]
    on_target, actionable, lineage, context, evidence = [], [], [], [], []
    units = r.matrix["units"]

    # ---- on target ---------------------------------------------------------------------------
    headline = ""
    if units:
        sup, calls = _coverage(r, kb)
        approved = [o for o in sup if kb.approved(o["therapy"])]
        if approved:
            tkis = _join([f"{o['therapy']} ({_lvl(o)})" for o in approved], "or")
            on_target.append(f"ALK {_mutations(r)}: expected to respond to {tkis}"
                             + (" (re-challenge supported by re-sensitisation evidence)"
                                if any(o.get("resensitization") for o in approved) else "") + ".")
            top = approved[0]
            headline = (f"{top['therapy'][0].upper()}{top['therapy'][1:]} is expected to be active against ALK "
                        f"{_join(units)} ({_lvl(top)})")
        else:
            on_target.append(f"ALK {_mutations(r)}: {calls}.")
            headline = (f"No approved ALK TKI covers ALK {_join(units)}: consider re-biopsy, a clinical trial or "
                        "chemotherapy")
    else:
        on_target.append("No ALK resistance mutation reported.")
    if "alk_copy_gain" in dets:
        d = dets["alk_copy_gain"]
        on_target.append(f"{d.summary()}: an on-target mechanism of crizotinib resistance"
                         + ("; broad gains may reflect 2p polysomy" if d.classes.get("broad gain") else "") + ".")

    # ---- actionable off-target findings ----------------------------------------------------------
    act = sorted((d for d in r.detected if d.role == "actionable"),
                 key=lambda d: (-len(d.actionable_cells), -bool(d.sheet), d.mechanism.id))
    for d in act[:MAX_ITEMS]:
        opt = next((o for o in r.options if d.mechanism.id in o.get("mechanisms", ())), None)
        what = d.actionable_summary()
        label = d.mechanism.label.split(" ")[0]
        actionable.append((what if what.upper().startswith(label.upper()) else f"{d.label}: {what}")
                          + (f" → {opt['therapy']} ({_lvl(opt)}" + (", to discuss" if opt["group"] == "discuss" else "")
                             + ")" if opt else " (no option in the knowledge base)") + ".")

    # ---- lineage flags -------------------------------------------------------------------------------
    if "sclc_transformation" in dets:
        d = dets["sclc_transformation"]
        c = d.co_loss()
        if d.cells and c:
            kind = {"focal_or_homozygous": "including " + ", ".join(c["strong_events"]),
                    "arm_level": "arm-level single-copy losses", "broad": "broad single-copy losses",
                    "unknown": "single-copy losses of unknown extent"}[c["kind"]]
            each = ", ".join(f"{g} lost in {n}" for g, n in c["each"].items())
            lineage.append(f"TP53 + RB1 co-loss (SCLC-transformation risk) in the same cell in {len(c['cells_with_all'])} "
                           f"of {c['n_total']} CTCs ({each}), {kind}; copy loss is not inactivation (no "
                           "mutation data): confirm histology if transformation is suspected.")
        if d.sheet:
            lineage.append(f"Small-cell transformation {d.summary().split('reported', 1)[-1].strip()}.")
    for mid in ("squamous_transformation", "neuroendocrine_differentiation"):
        if mid in dets:
            lineage.append(f"{dets[mid].mechanism.name}: {dets[mid].summary()}.")
    if "emt" in dets:
        lineage.append(f"{dets['emt'].summary()}: an EMT-like marker profile.")
    if "alk_negative_epithelial" in dets:
        lineage.append(f"{dets['alk_negative_epithelial'].summary()}: possible ALK-independent growth.")

    # ---- context --------------------------------------------------------------------------------
    ctx = sorted((d for d in r.detected if d.role == "context" and d.cells),
                 key=lambda d: (-d.n_cells, d.mechanism.id))
    if ctx:
        items = [f"{d.label} ({d.n_cells}/{d.n_total} CTCs)" for d in ctx]
        broad = all(d.classes and not (set(d.classes) - {"broad gain", "broad loss", "broad high-level gain"})
                    for d in ctx)
        context.append(("Broad copy changes" if broad else "Low-level copy changes")
                       + " reported as context, without options: "
                       + _join(items[:4] + ([f"{len(items) - 4} more"] if len(items) > 4 else [])) + ".")

    # ---- evidence -------------------------------------------------------------------------------
    if targeted:
        evidence.append("Options with support: " + "; ".join(f"{o['therapy']} ({_lvl(o)})" for o in targeted[:4])
                        + (f"; {len(targeted) - 4} more" if len(targeted) > 4 else "") + ".")
        weak = [o for o in targeted if o.get("level") in ("D", "E")]
        if weak and len(weak) == len(targeted):
            evidence.append("All of them rest on preclinical or inferential evidence only.")
    else:
        evidence.append("No targeted option has supporting evidence.")
    discuss = [o for o in r.options if o["group"] == "discuss"]
    if discuss:
        evidence.append(f"{len(discuss)} more to discuss with weaker or indirect evidence.")

    # ---- headline ------------------------------------------------------------------------------
    lead_mechs: set[str] = set()
    if not headline:
        if targeted:
            top = targeted[0]
            if top.get("type") == "alk_tki":
                tkis = [o for o in targeted if o.get("type") == "alk_tki"]
                named = _join([f"{o['therapy']} ({o['level']})" for o in tkis[:3]]
                              + ([f"{len(tkis) - 3} more"] if len(tkis) > 3 else []))
                after = (f" after {_join(r.patient.failed_tkis)}" if r.patient.failed_tkis else "")
                headline = (f"No ALK resistance mutation reported{after}: "
                            + ("next-generation ALK TKIs have" if len(tkis) > 1 else f"{top['therapy']} has")
                            + f" trial evidence in this setting: {named}")
            else:
                lead = [d for d in r.detected if d.mechanism.id in top.get("mechanisms", ())]
                what = "; ".join(d.actionable_summary() for d in lead) or top["addresses"]
                headline = f"{what}: {top['therapy']} is the best-supported option ({_lvl(top)})"
                lead_mechs = set(top.get("mechanisms", ()))
        else:
            headline = "No targeted option has supporting evidence: consider re-biopsy, a clinical trial or chemotherapy"
    # the paragraph: headline first, then what it does not already say
    said = headline.lower()
    on = [x for x in on_target if not (x.startswith("No ALK resistance mutation") and said.startswith("no alk resistance"))]
    act_text = [x for d, x in zip(act, actionable) if d.mechanism.id not in lead_mechs]
    ev_text = [x for x in evidence if not (x.startswith("Options with support") and targeted
                                           and all(o["therapy"].lower() in said for o in targeted[:3]))
               # the headline already says so when no option has support
               and not (x.startswith("No targeted option") and said.startswith("no targeted option"))]
    sentences = [headline + "."] + on[:2] + act_text[:2] + lineage[:3] + context[:1] + ev_text[:2]
    return {"headline": headline, "text": " ".join(sentences), "on_target": on_target, "actionable": actionable,
            "lineage": lineage, "context": context, "evidence": evidence}
