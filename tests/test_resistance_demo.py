"""The demo cohort (simulated, modelled on Oulhen et al. 2021) gets a reading per patient.

Uses the simulator's ground-truth gene states as the per-cell events, so the test checks
the resistance step on the study's design independently of copy-number calling.
"""
from __future__ import annotations

import pandas as pd
import pytest

from ctcscope.resistance.patients import read_patients
from ctcscope.resistance.stage import run_resistance_stage

demo = pytest.importorskip("ctcscope.simulate.demo", reason="the demo cohort (simulate.demo) is not merged yet")


def test_demo_cohort_gets_a_reading_per_patient(tmp_path):
    files = demo.make_demo(tmp_path / "demo")
    patients = read_patients(files.patients)
    sim = files.sim
    obs = sim.adata.obs
    truth = sim.truth.samples.set_index("sample_id")
    cells = pd.DataFrame({
        "sample_id": [str(x) for x in obs.index], "patient": obs["patient"].astype(str).to_numpy(),
        "sample_type": obs["sample_type"].astype(str).to_numpy(),
        "phenotype": obs["phenotype"].astype(str).to_numpy() if "phenotype" in obs else "",
        "qc_pass": True, "normal_like": truth.loc[obs.index, "normal_like"].astype(bool).to_numpy(),
    })
    res = run_resistance_stage(patients, tmp_path / "out", genes=sim.truth.genes, cells=cells)
    doc = res["document"]
    assert len(patients) == 6 and [p["patient"] for p in doc["patients"]] == [p.id for p in patients]
    by = {p["patient"]: p for p in doc["patients"]}
    for p in doc["patients"]:
        assert p["options"] and p["cells"]["n_tumour_ctcs"] > 0
        assert any("Research use only" in c for c in p["caveats"])
    p46 = next(v for k, v in by.items() if k.endswith("P46"))
    alk = next(m for m in p46["mechanisms"] if m["id"] == "alk_copy_gain")
    assert alk["n_cells"] / alk["n_total"] > 0.5                       # ALK gain in most epithelial CTCs
    p49 = next(v for k, v in by.items() if k.endswith("P49"))
    assert any(m["id"] == "sclc_transformation" for m in p49["mechanisms"])  # TP53 + RB1 co-loss flagged
    p45 = next(v for k, v in by.items() if k.endswith("P45"))
    assert "F1174C+G1202R" in {m["canonical"] for m in p45["alk_mutations"]}
    assert p45["tki_activity"]["summary"]["lorlatinib"] == "resistant"
