"""Options to discuss for one patient, each with its evidence and level.

Copy-number mechanisms count only when **actionable** (an amplification, a homozygous
deletion or a focal event in some CTC, a biopsy finding, or a sheet report; see
:attr:`ctcscope.resistance.engine.Detected.actionable`).  Broad low-level gains of aneuploid
CTCs are reported as context with their prevalence and give no option.  Options of one
therapeutic idea (``idea`` in mechanisms.yaml, e.g. three EGFR-inhibitor combinations
studied in different models) are merged into one option carrying all their evidence and
the regimens studied.

Groups, in the order they are ranked:

0. ``supported`` - an ALK TKI with direct evidence of activity against every ALK variant
   the patient carries (a drug the patient progressed on only with re-sensitisation
   evidence, e.g. crizotinib for C1156Y+L1198F);
   With no ALK mutation known and progression on crizotinib only, a next-generation TKI
   with trial evidence after crizotinib also counts here (resistance after crizotinib
   usually leaves the tumour ALK-dependent; Tabbò et al. 2020);
1. ``bypass`` - a combination addressing an ALK-independent mechanism found at a high
   level (amplification or homozygous deletion in CTCs or a biopsy) or reported in the
   sheet, or
   (no ALK mutation known, after next-generation TKIs) an ALK TKI with trial evidence in
   the patient's setting when no such mechanism is detected;
2. ``discuss`` - an ALK TKI whose activity is inferred from the components of a compound,
   conflicting, reduced, or weakened by an actionable ALK-independent mechanism;
   combinations for mechanisms actionable only through focal low-level gains or losses,
   for phenotype flags (EMT-like CTCs) or for context mechanisms (TP53);
3. ``other`` - investigational routes, chemotherapy, re-biopsy, clinical trial.

Within a group options are ordered by their best evidence level (A first), then prevalence
(CTCs carrying the mechanisms they address), then whether they include a drug the patient
progressed on, approval and name.  When no targeted option (supported or bypass) exists,
the "re-biopsy, clinical trial or chemotherapy" entry is ranked first.  A drug the patient
progressed on is listed under ``not_proposed`` unless evidence of re-sensitisation
supports it.
"""
from __future__ import annotations

from .knowledge import ALK_TKIS, KnowledgeBase, Statement, level_rank

GROUPS = ("supported", "bypass", "discuss", "other")
LOW_LEVEL_CAVEAT = "the finding is a focal low-level gain or loss, not an amplification or homozygous deletion"
MAX_EVIDENCE = 8


def applicable_settings(kb: KnowledgeBase, patient, drug: str, has_mutation: bool):
    """Setting evidence (sequencing.tsv) that fits the patient's treatment history."""
    failed = patient.failed_tkis
    gens = {kb.generation(d) for d in failed}
    ok = {"any"}
    if not patient.treatments:
        ok.add("first_line")
    if not failed and patient.treatments:
        ok.add("after_chemotherapy")
    if "crizotinib" in failed and not (gens - {1}):
        ok.add("after_crizotinib")
    if 2 in gens and "lorlatinib" not in failed:
        ok.add("after_second_generation")
        if has_mutation:
            ok.add("after_second_generation_with_alk_mutation")
    if "alectinib" in failed:
        ok.add("after_alectinib")
    if "lorlatinib" in failed:
        ok.add("after_lorlatinib")
    return [s for s in kb.settings_for(drug) if s.setting in ok]


def gives_options(det) -> bool:
    """Whether a detected mechanism may name options: on-target mechanisms, findings from the
    sheet, the fusion variant or a phenotype, and actionable copy-number findings; not broad
    copy changes alone (context)."""
    if det.mechanism.category == "on_target" or det.sheet or det.actionable:
        return True
    if det.mechanism.detect.get("phenotype") and det.cells:
        return True
    if (det.mechanism.detect.get("copy_number") or {}).get("all_of") and det.cells:
        return True   # a same-cell co-loss (TP53 + RB1) is a lineage flag: its option is a re-biopsy
    return not (det.cells or det.biopsies)   # detected without cells: the fusion variant


def _best(statements: list[Statement]) -> str:
    return min((s.level for s in statements), key=level_rank) if statements else ""


def _ev(statements: list[Statement]) -> list[dict]:
    seen, out = set(), []
    for s in sorted(statements, key=lambda s: (level_rank(s.level), s.id)):
        if s.id in seen:
            continue
        seen.add(s.id)
        out.append(s.to_dict())
    return out


def build_options(kb: KnowledgeBase, patient, matrix: dict, detected: list) -> tuple[list, list, list, list]:
    """``(options, not_proposed, notes, caveats)`` for one patient."""
    failed = patient.failed_tkis
    units = matrix["units"]
    has_mut = bool(units)
    options, not_proposed, notes, caveats = [], [], [], []
    alk_independent = [d for d in detected if d.mechanism.category in ("off_target", "phenotypic")
                       and d.mechanism.affects]
    strong_independent = [d for d in alk_independent if d.actionable]
    # mechanism-level rationales for ALK TKIs (ALK copy gain -> next-generation TKI, ...); a
    # broad copy change (context) names none
    tki_rationales: dict[str, list] = {}
    for det in detected:
        if not gives_options(det):
            continue
        for op in det.mechanism.options:
            if op.kind_of_option == "alk_tki":
                for d in op.drugs:
                    tki_rationales.setdefault(d, []).append((det, op))

    for d in ALK_TKIS:
        calls = [c for c in matrix["calls"] if c.drug == d]
        call = matrix["summary"][d]
        settings = [s for s in applicable_settings(kb, patient, d, has_mut) if s.effect == "active"]
        resens = bool(calls) and all(c.call == "sensitive" for c in calls) and any(c.resensitization for c in calls)
        affecting = [det for det in strong_independent if d in det.mechanism.affects]
        sup = [s for c in calls for s in c.supporting]
        base = {"therapy": d, "type": "alk_tki", "drugs": [d], "activity": call,
                "basis": sorted({c.basis for c in calls}) or ["no ALK mutation reported"],
                "previously_failed": d in failed}
        if d in failed and not resens:
            not_proposed.append({**base, "reason": f"the patient progressed on {d}" +
                                 (f"; expected activity against the ALK variant(s): {call}" if calls else "")})
            continue
        if call == "resistant":
            why = "; ".join(f"{c.unit}: {c.call} ({c.basis})" for c in calls)
            not_proposed.append({**base, "reason": f"resistant: {why}", "evidence": _ev(sup)[:MAX_EVIDENCE]})
            continue
        if call == "unknown":
            not_proposed.append({**base, "reason": "no evidence on " + ", ".join(c.unit for c in calls if c.call == "unknown")})
            continue
        opt_caveats = []
        rationale = []
        if calls:
            direct = all(c.basis in ("compound evidence", "mutation evidence") for c in calls)
            if call == "sensitive" and direct:
                group = "supported"
                rationale.append(f"expected to be active against ALK {', '.join(units)}")
            else:
                group = "discuss"
                if call == "sensitive":
                    rationale.append(f"activity against {', '.join(units)} inferred from the single mutations "
                                     "(the compound itself has no evidence)")
                else:
                    rationale.append(f"{call} evidence against ALK {', '.join(units)}")
            if resens:
                rationale.append(f"re-sensitisation evidence supports re-challenge with {d} although the patient "
                                 "progressed on it earlier")
            if sup and all(s.level in ("D", "E") for s in sup):
                opt_caveats.append(f"the evidence for {d} against these ALK variant(s) is preclinical or inferential only")
        else:
            if not settings:
                not_proposed.append({**base, "reason": "no ALK mutation reported and no trial evidence in this treatment setting"})
                continue
            rationale.append("no ALK resistance mutation reported; trial evidence in this treatment setting")
            if failed and set(failed) == {"crizotinib"}:
                # after crizotinib, tumours with ALK-independent mechanisms usually stay ALK-dependent
                group = "supported"
                rationale.append("after crizotinib, resistance mechanisms usually leave the tumour sensitive to more "
                                 "potent ALK inhibition (Tabbò et al. 2020)")
            else:
                group = "bypass" if not strong_independent else "discuss"
        if affecting and not calls and group == "bypass":
            group = "discuss"
            for det in affecting:
                opt_caveats.append(f"{det.summary()}: reported to reduce the activity of {d}")
        if not has_mut and strong_independent and any(kb.generation(x) >= 2 for x in failed):
            opt_caveats.append("after next-generation ALK TKIs, tumours driven by ALK-independent mechanisms seldom respond "
                               "to further ALK inhibition alone (Tabbò et al. 2020; Shaw et al. 2019)")
        extra = tki_rationales.get(d, [])
        ev = sup + [s.statement for s in settings] + [op.statement for _, op in extra]
        for det, op in extra:
            rationale.append(f"{det.mechanism.label}: {op.therapy}")
        options.append({**base, "group": group, "level": _best(ev) or None, "approved": kb.approved(d),
                        "resensitization": resens, "rationale": "; ".join(rationale),
                        "settings": [{"setting": s.setting, "level": s.statement.level, "text": s.statement.text,
                                      "source": s.statement.source.short} for s in settings],
                        "evidence": _ev(ev)[:MAX_EVIDENCE], "n_evidence": len({s.id for s in ev}),
                        "caveats": opt_caveats})

    # combinations and other therapies named for detected mechanisms, one per idea
    partner = [o["therapy"] for o in options if o["group"] in ("supported", "bypass")]
    ideas: dict[str, dict] = {}
    for det in detected:
        if not gives_options(det):
            continue
        for op in det.mechanism.options:
            if op.kind_of_option == "alk_tki":
                continue
            key = op.idea or op.therapy
            low_level = False
            if op.kind_of_option == "other":
                group = "other"
            elif det.high_level and det.mechanism.category in ("off_target", "phenotypic"):
                group = "bypass"
            else:
                # phenotype flags (EMT-like CTCs), context mechanisms, and findings that are
                # focal but low-level (one or two extra copies, not an amplification)
                group = "discuss"
                low_level = det.actionable and not det.high_level
            o = ideas.setdefault(key, {"therapy": kb.ideas.get(op.idea, op.therapy), "idea": op.idea or None,
                                       "type": op.kind_of_option, "drugs": [], "group": group, "statements": [],
                                       "regimens": [], "addressed": [], "caveats": []})
            if low_level and LOW_LEVEL_CAVEAT not in o["caveats"]:
                o["caveats"].append(LOW_LEVEL_CAVEAT)
            if GROUPS.index(group) < GROUPS.index(o["group"]):
                o["group"] = group
            o["drugs"] += [x for x in op.drugs if x not in o["drugs"]]
            o["statements"].append(op.statement)
            if op.therapy not in [r["therapy"] for r in o["regimens"]]:
                o["regimens"].append({"therapy": op.therapy, "level": op.statement.level, "kind": op.statement.kind,
                                      "source": op.statement.source.short})
            if det not in o["addressed"]:
                o["addressed"].append(det)
    for key, o in ideas.items():
        dets = o.pop("addressed")
        sts = o.pop("statements")
        level = _best(sts)
        cells = set().union(*[set(d.actionable_cells) if d.actionable_cells else set(d.cells) for d in dets])
        caveat = [c for c in o.pop("caveats") if not (c == LOW_LEVEL_CAVEAT and o["group"] == "bypass")]
        if o["group"] == "discuss" and any(d.mechanism.detect.get("phenotype") and not d.sheet for d in dets):
            caveat.append("a CTC phenotype (marker profile) is a flag, not a molecular target")
        if all(s.level in ("D", "E") for s in sts):
            caveat.append("preclinical or inferential evidence only")
        if o["type"] == "combination" and any(x in failed for x in o["drugs"]):
            caveat.append("includes a TKI the patient progressed on, as part of a combination")
        addresses = "; ".join(d.summary() for d in dets)
        opt = {**o, "level": level, "addresses": addresses, "rationale": f"addresses {addresses}",
               "mechanisms": [d.mechanism.id for d in dets], "n_cells": len(cells),
               "evidence": _ev(sts), "n_evidence": len({s.id for s in sts}), "caveats": caveat,
               "previously_failed": any(x in failed for x in o["drugs"])}
        if len(o["regimens"]) == 1:
            opt.pop("regimens")
        if o["type"] == "combination" and partner:
            opt["partner_alk_tki"] = partner[0]
        options.append(opt)

    # investigational, chemotherapy, immunotherapy: from the setting evidence
    for label, typ in (("HSP90 inhibitor", "investigational"), ("chemotherapy (pemetrexed-based)", "chemotherapy")):
        sts = [s.statement for s in applicable_settings(kb, patient, label, has_mut) if s.effect == "active"]
        if sts:
            options.append({"therapy": label, "type": typ, "drugs": [], "group": "other", "level": _best(sts),
                            "rationale": ("HSP90 inhibition acts on ALK fusion proteins independently of kinase-domain "
                                          "mutations (clinical trials)") if typ == "investigational" else
                            "ALK-positive NSCLC responds to pemetrexed-based chemotherapy",
                            "evidence": _ev(sts), "n_evidence": len(sts),
                            "caveats": (["investigational: no approved HSP90 inhibitor"] if typ == "investigational" else [])})
    io = [s.statement for s in kb.settings_for("immunotherapy (PD-1/PD-L1)")]
    if io:
        caveats.append("Immune-checkpoint blockade has low response rates in ALK-positive NSCLC (Gainor et al. 2016); "
                       "one case after ALK G1202R responded to pembrolizumab (Shimada et al. 2018).")

    targeted = [o for o in options if o["group"] in ("supported", "bypass")]
    if not targeted:
        notes.append("No targeted option has supporting evidence for this patient: consider a tissue re-biopsy to "
                     "characterise resistance (including histology), enrolment in a clinical trial of next-generation "
                     "ALK inhibitors or combinations, or pemetrexed-based chemotherapy.")
        options.append({"therapy": "re-biopsy, clinical trial or chemotherapy", "type": "procedure", "drugs": [],
                        "group": "other", "level": "E", "rationale": notes[-1], "first": True,
                        "evidence": _ev([x.statement for x in kb.sequencing if x.drug.startswith("chemotherapy")]),
                        "n_evidence": sum(x.drug.startswith("chemotherapy") for x in kb.sequencing),
                        "caveats": []})
    if not any(d.mechanism.category in ("on_target", "off_target", "phenotypic") for d in detected) and not has_mut:
        notes.append("No resistance mechanism was identified in the cells or the sheet; a re-biopsy (tissue or "
                     "plasma) is recommended to characterise resistance (Pan et al. 2021; Tabbò et al. 2020).")

    def key(o):
        return (not o.get("first", False), GROUPS.index(o["group"]), level_rank(o["level"]) if o.get("level") else 9,
                -o.get("n_cells", 0), bool(o.get("previously_failed")), not o.get("approved", False), o["therapy"])

    options.sort(key=key)
    for i, o in enumerate(options, start=1):
        o.pop("first", None)
        o["rank"] = i
    return options, not_proposed, notes, caveats
