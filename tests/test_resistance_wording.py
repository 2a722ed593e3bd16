"""Words that match the evidence: a mechanism's heading names what was found (level and
extent from the finding itself), and the headline, the rows and the options count the
same cells, naming any cell left out and why."""
from __future__ import annotations

import json
import re

import pandas as pd

from ctcscope.resistance.engine import interpret, reason_words
from ctcscope.resistance.patients import patients_from_records


def _cells(n):
    return pd.DataFrame([{"sample_id": f"X_CTC{i + 1}", "patient": "X", "sample_type": "ctc", "qc_pass": True,
                          "normal_like": False, "phenotype": "ALK+/CK+"} for i in range(n)])


def _ev(sid, gene, state, focal, arm_fraction, mb, confidence="high", reason=""):
    return {"sample_id": sid, "patient": "X", "gene": gene, "state": state, "focal": focal,
            "arm_fraction": arm_fraction, "segment_mb": mb, "confidence": confidence,
            "low_confidence_reason": reason}


def _read(events):
    rec = {"id": "X", "treatments": [{"drug": "alectinib", "progressed": True}]}
    r = interpret(patients_from_records([rec]), drivers=pd.DataFrame(events), cells=_cells(7))[0]
    return r, {d.mechanism.id: d for d in r.detected}


def test_a_broad_gain_is_not_headed_amplification():
    r, det = _read([_ev("X_CTC1", "MET", "gain", False, 1.0, 60.0)])
    met = det["met_amplification"]
    assert "amplification" in met.mechanism.name.lower()      # the knowledge base's mechanism…
    assert met.heading() == "MET broad gain"                   # …but the heading says what was found
    assert "amplification" not in met.summary()


def test_a_focal_amplification_is_headed_so():
    r, det = _read([_ev("X_CTC1", "MET", "amp", True, 0.05, 2.5), _ev("X_CTC2", "MET", "gain", False, 1.0, 60.0)])
    assert det["met_amplification"].heading() == "MET focal amplification, broad gain"


def test_headline_rows_and_options_count_the_same_cells_and_name_the_one_left_out():
    # ERBB3 focal gain in two CTCs, one of them a low-confidence call (near a breakpoint)
    r, det = _read([_ev("X_CTC1", "ERBB3", "gain", True, 0.1, 5.5),
                    _ev("X_CTC2", "ERBB3", "gain", True, 0.1, 4.5, "low", "near_breakpoint;uncertain_ploidy"),
                    _ev("X_CTC3", "ERBB2", "gain", False, 1.0, 40.0)])
    her = det["egfr_her_activation"]
    assert her.classes == {"focal gain": 1, "low-confidence focal gain": 1, "broad gain": 1}
    assert "focal gain in 1" in her.summary()
    act = her.actionable_summary()
    assert act.startswith("ERBB3 focal gain in 1 of 7 CTCs")
    assert ("1 more cell left out: ERBB3 focal gain of low confidence "
            "(at or across a breakpoint, ploidy uncertain)") in act
    assert her.heading() == "ERBB3 focal gain, low-confidence focal gain; ERBB2 broad gain"
    text = " ".join(r.summary["actionable"])
    assert "ERBB3 focal gain in 1 of 7 CTCs" in text and "left out" in text


def test_reason_words():
    assert reason_words("low_qc_sample") == "sample failed QC"
    assert reason_words("") == ""


def test_demo_headlines_agree_with_their_rows(demo_run):
    """On the demo's resistance.json: every count the summary gives for a gene and class
    ("ERBB3 focal gain in 1 of 7 CTCs") is the number of the mechanism's rows cells of that
    class; no heading says amplification over a gain; every left-out cell is explained."""
    doc = json.loads((demo_run / "resistance.json").read_text())
    checked = 0
    for p in doc["patients"]:
        mechs = p["mechanisms"]
        for m in mechs:
            ext = m.get("extent") or {}
            if "amplification" in m["finding"].lower():
                assert ext.get("amplification") or m["from_sheet"] or any(
                    ":amp" in x for v in m["biopsies"].values() for x in v), (p["patient"], m["finding"])
            # the row's summary gives the same per-class counts as the extent
            for cls, n in ext.items():
                word = "focal amplification" if cls == "amplification" else cls
                if len(ext) > 1:
                    assert f"{word} in {n}" in m["summary"], (m["summary"], ext)
        sentences = [p["summary"]["headline"]] + p["summary"]["actionable"] + p["summary"]["on_target"]
        for s in sentences:
            for gene, cls, n, tot in re.findall(r"(\b[A-Z][A-Z0-9]+) (focal amplification|focal gain|focal loss|"
                                                r"homozygous deletion) in (\d+)(?: of (\d+) CTCs)?", s):
                owners = [m for m in mechs if any(x.startswith(gene + ":") for v in m["cells"].values() for x in v)]
                assert owners, (gene, s)
                state = {"focal amplification": ":amp", "focal gain": ":gain", "focal loss": ":loss",
                         "homozygous deletion": ":homdel"}[cls]

                def of_class(x, low):
                    hit = x.startswith(gene + state) and ("focal" in x or state == ":homdel")
                    # amplifications and homozygous deletions count whatever their confidence
                    return hit and (("(low)" in x) == low or state in (":amp", ":homdel") and not low)
                counted = {sid for m in owners for sid, v in m["cells"].items() if any(of_class(x, False) for x in v)}
                assert int(n) == len(counted), (p["patient"], s, sorted(counted))
                low = {sid for m in owners for sid, v in m["cells"].items()
                       if any(of_class(x, True) for x in v) and state in (":gain", ":loss")} - counted
                if low:
                    assert f"{len(low)} more cell" in s and "low confidence" in s, s
                checked += 1
    assert checked >= 2
