"""Per-patient views of the cohort driver tables (the page's patient filter), on a hand-made cohort."""
from __future__ import annotations

import pandas as pd

from ctcscope.report import patient_split as PS

OBS = pd.DataFrame({
    "patient": ["A", "A", "A", "A", "B"],
    "sample_type": ["ctc", "ctc", "ctc", "wbc", "ctc"],
    "qc_pass": [True, True, False, True, True],
    "normal_like": [False, False, False, True, False],
}, index=["a1", "a2", "a3_fail", "a_wbc", "b1"])


def _ev(sample, patient, gene, state, pathway="P"):
    alt = "gain" if state in ("gain", "amp") else "loss"
    return {"sample_id": sample, "patient": patient, "gene": gene, "state": state, "alteration": alt,
            "chrom": "1", "start": 1, "end": 2, "role": "r", "pathway": pathway}


DRIVERS = pd.DataFrame([
    _ev("a1", "A", "MET", "amp"), _ev("a2", "A", "MET", "gain"),
    _ev("a1", "A", "TP53", "loss", "Q"),
    _ev("a3_fail", "A", "TP53", "loss", "Q"),      # QC-failed: not counted
    _ev("b1", "B", "MET", "gain"), _ev("b1", "B", "RB1", "homdel", "Q"),
])


def test_frequencies_count_only_the_patients_analysable_samples():
    f = PS.driver_frequencies(DRIVERS, OBS, "A").set_index("gene")
    assert list(f.columns) == PS.FREQ_COLUMNS[1:]
    # A's analysable samples: a1, a2 (a3 failed QC, the WBC is a normal control)
    assert f.loc["MET", ["n_samples", "n_gain", "n_amp", "n_loss"]].tolist() == [2, 2, 1, 0]
    assert f.loc["TP53", ["n_gain", "n_loss"]].tolist() == [0, 1]
    assert f.loc["TP53", "freq_loss"] == 0.5
    assert "RB1" not in f.index  # B's gene
    b = PS.driver_frequencies(DRIVERS, OBS, "B").set_index("gene")
    assert b.loc["RB1", ["n_loss", "n_homdel", "n_samples"]].tolist() == [1, 1, 1]
    assert PS.driver_frequencies(DRIVERS, OBS, "nobody").empty


def test_pathways_and_group_rows_of_one_patient():
    p = PS.pathways(DRIVERS, OBS, "B").set_index("pathway")
    assert p.loc["P", "patients"] == "B" and p.loc["Q", "genes"] == "RB1"
    groups = pd.DataFrame({"gene": ["MET", "TP53", "RB1", "MET"], "alteration": ["gain", "loss", "loss", "loss"],
                           "n_x": [3, 1, 1, 1]})
    rows = PS.carried_group_drivers(groups, DRIVERS, OBS, "A")
    assert list(zip(rows.gene, rows.alteration)) == [("MET", "gain"), ("TP53", "loss")]
    # the report's own fallback names the direction ``direction``
    fb = groups.rename(columns={"alteration": "direction"})
    assert list(PS.carried_group_drivers(fb, DRIVERS, OBS, "B").gene) == ["MET", "RB1"]
    assert PS.patients_of(DRIVERS, OBS) == ["A", "B"]
