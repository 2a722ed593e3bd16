"""Worked cases of the interpretation engine (the issue's "Must show")."""
from __future__ import annotations

import pandas as pd
import pytest

from ctcscope.resistance.engine import activity, interpret, tki_matrix
from ctcscope.resistance import load_knowledge_base, parse_mutation
from ctcscope.resistance.patients import patients_from_records


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


def read(rec, **kw):
    return interpret(patients_from_records([rec]), **kw)[0]


def proposed(r, group=None):
    return [o["therapy"] for o in r.options if group is None or o["group"] == group]


def test_g1202r_after_alectinib_lorlatinib_first():
    r = read({"id": "A", "treatments": [{"drug": "crizotinib"}, {"drug": "alectinib", "best_response": "PR"}],
              "mutations": [{"name": "G1202R", "found_in": ["ctDNA"]}]})
    assert r.matrix["summary"]["lorlatinib"] == "sensitive"
    for d in ("crizotinib", "ceritinib", "alectinib", "ensartinib"):
        assert r.matrix["summary"][d] == "resistant"
    assert r.matrix["summary"]["brigatinib"] == "conflicting"  # J-ALTA (S) vs case report and CIViC (R): shown
    top = r.options[0]
    assert top["therapy"] == "lorlatinib" and top["group"] == "supported" and top["rank"] == 1
    assert any(e["source"].startswith("Shaw et al., J Clin Oncol 2019") for e in top["evidence"]) or \
        any(s["source"].startswith("Shaw et al., J Clin Oncol 2019") for s in top["settings"])
    assert {"crizotinib", "alectinib"} <= {o["therapy"] for o in r.not_proposed}
    assert any("Conflicting evidence for brigatinib against ALK G1202R" in c for c in r.caveats)


def test_c1156y_l1198f_after_lorlatinib_crizotinib_rechallenge():
    r = read({"id": "B", "treatments": [{"drug": "crizotinib"}, {"drug": "ceritinib"}, {"drug": "lorlatinib"}],
              "mutations": ["C1156Y+L1198F"]})
    call = next(c for c in r.matrix["calls"] if c.drug == "crizotinib")
    assert call.call == "sensitive" and call.basis == "compound evidence" and call.resensitization
    # not a union of singles: C1156Y alone is crizotinib-resistant
    assert activity(load_knowledge_base(), "C1156Y", "crizotinib").call == "resistant"
    top = r.options[0]
    assert top["therapy"] == "crizotinib" and top["previously_failed"] and top["resensitization"]
    assert "re-sensitisation" in top["rationale"]
    assert {e["pmid"] for e in top["evidence"]} >= {"26698910"}  # Shaw et al. NEJM 2016
    assert r.matrix["summary"]["lorlatinib"] == "resistant"
    assert "lorlatinib" in {o["therapy"] for o in r.not_proposed}


def test_i1171s_g1269a_ceritinib_and_brigatinib():
    r = read({"id": "C", "treatments": [{"drug": "crizotinib"}, {"drug": "alectinib"}, {"drug": "lorlatinib"}],
              "mutations": ["I1171S+G1269A"]})
    assert r.matrix["summary"]["ceritinib"] == "sensitive" and r.matrix["summary"]["brigatinib"] == "sensitive"
    assert set(proposed(r, "supported")) == {"ceritinib", "brigatinib"}
    assert r.matrix["summary"]["lorlatinib"] == "resistant"
    ctk = next(c for c in r.matrix["calls"] if c.drug == "ceritinib")
    assert ctk.basis == "compound evidence" and "takahashi2020" in {s.source.key for s in ctk.statements}


def test_g1202r_l1196m_escapes_every_approved_tki_other_routes_named():
    r = read({"id": "D", "treatments": [{"drug": "crizotinib"}, {"drug": "brigatinib"}],
              "mutations": ["G1202R/L1196M"]})
    assert set(r.matrix["summary"].values()) == {"resistant"}
    assert all(c.basis == "compound evidence" for c in r.matrix["calls"])
    assert not proposed(r, "supported") and not proposed(r, "bypass")
    therapies = proposed(r)
    assert "re-biopsy, clinical trial or chemotherapy" in therapies
    assert "chemotherapy (pemetrexed-based)" in therapies
    assert any("No targeted option has supporting evidence" in n for n in r.notes)


def test_f1174l_after_crizotinib_second_generation_tkis():
    r = read({"id": "E", "treatments": [{"drug": "crizotinib", "months": 8}], "mutations": ["F1174L"]})
    sup = proposed(r, "supported")
    assert {"alectinib", "brigatinib"} <= set(sup)
    kb = load_knowledge_base()
    assert kb.generation(r.options[0]["therapy"]) == 2          # a second-generation TKI first
    assert r.options[0]["therapy"] == "alectinib" and r.options[0]["level"] == "A"  # ALUR, phase 3 after crizotinib
    assert r.matrix["summary"]["ceritinib"] == "conflicting"
    assert "crizotinib" in {o["therapy"] for o in r.not_proposed}


def _cells(pid, n, phenotype="ALK-/CK+", extra=()):
    rows = [{"sample_id": f"{pid}_CTC{i + 1}", "patient": pid, "sample_type": "ctc", "qc_pass": True,
             "normal_like": False, "phenotype": phenotype} for i in range(n)]
    return pd.DataFrame(rows + list(extra))


def test_met_amplification_in_ctcs_after_lorlatinib_alk_plus_met():
    cells = _cells("M", 11, extra=[
        {"sample_id": "M_WBC", "patient": "M", "sample_type": "wbc", "qc_pass": True, "normal_like": True, "phenotype": "CD45+"},
        {"sample_id": "M_CTC12", "patient": "M", "sample_type": "ctc", "qc_pass": False, "normal_like": False, "phenotype": "ALK-/CK+"},
    ])
    drivers = pd.DataFrame({"sample_id": ["M_CTC1", "M_CTC2", "M_CTC3", "M_CTC12", "M_WBC"],
                            "patient": "M", "gene": "MET", "state": "amp", "confidence": "high"})
    r = read({"id": "M", "treatments": [{"drug": "crizotinib"}, {"drug": "alectinib"}, {"drug": "lorlatinib"}]},
             cells=cells, drivers=drivers)
    met = next(d for d in r.detected if d.mechanism.id == "met_amplification")
    assert met.summary() == "MET amplification in 3 of 11 CTCs"       # QC-failed and WBC not counted
    assert met.mechanism.category == "off_target"
    top = r.options[0]
    assert top["group"] == "bypass" and "MET inhibitor" in top["therapy"]
    assert top["addresses"] == "MET amplification in 3 of 11 CTCs"
    assert top["evidence"][0]["doi"] == "10.1158/1078-0432.Ccr-19-3906"  # Dagogo-Jack et al. 2020
    assert r.cells_info["n_tumour_ctcs"] == 11 and r.cells_info["excluded_qc_fail"] == 1


def test_tp53_rb1_loss_flags_transformation_only_when_in_the_same_cell():
    cells = _cells("T", 6)
    drivers = pd.DataFrame({"sample_id": ["T_CTC1", "T_CTC1", "T_CTC2", "T_CTC3", "T_CTC4", "T_CTC4"],
                            "gene": ["TP53", "RB1", "TP53", "RB1", "TP53", "RB1"],
                            "state": ["loss", "homdel", "loss", "loss", "loss", "loss"]})
    r = read({"id": "T", "treatments": [{"drug": "crizotinib"}]}, cells=cells, drivers=drivers)
    sclc = next(d for d in r.detected if d.mechanism.id == "sclc_transformation")
    assert sorted(sclc.cells) == ["T_CTC1", "T_CTC4"]
    assert sclc.summary() == "TP53 + RB1 co-loss (SCLC-transformation risk) in 2 of 6 CTCs"
    assert sclc.mechanism.category == "phenotypic"
    assert "re-biopsy to confirm histology; SCLC-directed management" in proposed(r)
    assert any("not biallelic inactivation" in c for c in r.caveats)
    tp53 = next(d for d in r.detected if d.mechanism.id == "tp53_coalteration")
    assert tp53.n_cells == 3


def test_p46_alk_copy_gain_in_most_epithelial_ctcs_after_crizotinib():
    # Oulhen et al. 2021: gain of ALK in 10/11 ALK-/CK+ CTCs of P46 (CTC1 a pool of 2), relapse on crizotinib
    cells = _cells("P46", 11)
    cells.loc[0, "sample_type"] = "ctc_pool"
    cells = pd.concat([cells, pd.DataFrame([
        {"sample_id": "P46_CTC12", "patient": "P46", "sample_type": "ctc", "qc_pass": True, "normal_like": True,
         "phenotype": "ALK-/CK+"},  # flat profile: a normal epithelial cell, not counted
        {"sample_id": "P46_WBC", "patient": "P46", "sample_type": "wbc", "qc_pass": True, "normal_like": True,
         "phenotype": "CD45+"}])], ignore_index=True)
    gained = [f"P46_CTC{i}" for i in range(1, 11)]
    drivers = pd.DataFrame({"sample_id": gained + gained, "patient": "P46",
                            "gene": ["ALK"] * 10 + ["MYCN"] * 10, "state": "gain", "confidence": "high"})
    r = read({"id": "P46", "fusion": "EML4-ALK", "treatments": [{"drug": "crizotinib", "months": 13.7, "best_response": "PR"}]},
             cells=cells, drivers=drivers)
    alk = next(d for d in r.detected if d.mechanism.id == "alk_copy_gain")
    assert alk.mechanism.category == "on_target"
    assert alk.summary() == "ALK copy gain in 10 of 11 CTCs"
    assert alk.by_phenotype == {"ALK-/CK+": "10 of 11"}
    assert r.cells_info["excluded_normal_like"] == 1
    assert any(s.source.key == "oulhen2021" for s in alk.mechanism.statements)
    sup = [o for o in r.options if o["type"] == "alk_tki" and o["group"] in ("supported", "bypass")]
    assert sup and all(o["therapy"] != "crizotinib" for o in sup)
    assert any("ALK copy gain: next-generation ALK TKI" in o["rationale"] for o in sup)
    assert any("2p) polysomy" in c for c in r.caveats)


def test_cooccurrence_of_mutation_carrying_ctcs_and_cn_mechanisms():
    cells = _cells("Q", 4)
    drivers = pd.DataFrame({"sample_id": ["Q_CTC1", "Q_CTC2"], "gene": ["MET", "MET"], "state": ["amp", "amp"]})
    r = read({"id": "Q", "treatments": [{"drug": "crizotinib"}, {"drug": "alectinib"}],
              "mutations": [{"name": "G1202R", "found_in": ["Q_CTC2", "ctDNA"]}, {"name": "I1171N", "found_in": ["Q_CTC4"]}]},
             cells=cells, drivers=drivers)
    co = {(c["a"], c["b"]): c for c in r.co_occurrence}
    assert co[("MET amplification", "ALK G1202R")]["cells_both"] == ["Q_CTC2"]
    assert "sit in different cells" in co[("MET amplification", "ALK I1171N")]["summary"]
    # heterogeneous on-target mutations: a drug must cover both
    assert r.matrix["summary"]["lorlatinib"] in ("sensitive", "conflicting")
    assert r.matrix["summary"]["alectinib"] == "resistant"


def test_phenotypes_emt_like_and_alk_negative_epithelial():
    cells = pd.concat([_cells("F", 3, "ALK+/CK-"), _cells("G", 2, "ALK-/CK+")], ignore_index=True)
    cells["sample_id"] = [f"c{i}" for i in range(len(cells))]
    rs = interpret(patients_from_records([{"id": "F", "treatments": [{"drug": "crizotinib"}]},
                                          {"id": "G", "treatments": [{"drug": "lorlatinib"}]}]), cells=cells)
    f = {d.mechanism.id: d for d in rs[0].detected}
    g = {d.mechanism.id: d for d in rs[1].detected}
    assert f["emt"].summary() == "ALK+/CK- (EMT-like) CTCs in 3 of 3 CTCs" and "alk_negative_epithelial" not in f
    assert g["alk_negative_epithelial"].n_cells == 2 and "emt" not in g


def test_sheet_alterations_and_unknown_variant_caveat():
    r = read({"id": "S", "variant": "v3", "treatments": [{"drug": "alectinib"}],
              "mutations": ["G1202K", {"name": "BRAF V600E", "found_in": ["ctDNA"]}],
              "alterations": [{"name": "SCLC transformation", "found_in": ["biopsy"]}]})
    ids = {d.mechanism.id for d in r.detected}
    assert {"braf_v600e", "sclc_transformation", "eml4alk_v3"} <= ids
    assert any(c.startswith("ALK G1202K is not in the knowledge base; known at 1202: G1202R, G1202del") for c in r.caveats)
    assert set(r.matrix["summary"].values()) == {"unknown"}


def test_matrix_without_mutations_and_other_disease_fallback(kb):
    m = tki_matrix(kb, [])
    assert set(m["summary"].values()) == {"no ALK mutation reported"}
    # N1178H: only ALCL xenograft evidence (Redaelli 2018) -> used, flagged as other-disease
    c = activity(kb, parse_mutation("N1178H"), "lorlatinib")
    assert c.call == "resistant" and c.other_disease_only
    # G1269A x lorlatinib: NSCLC statements take precedence over the ALCL xenograft one
    c = activity(kb, "G1269A", "lorlatinib")
    assert c.call == "sensitive" and all(s.nsclc for s in c.statements)


def test_low_level_gain_is_labelled_as_gain_and_reported_as_context():
    # a low-level gain of unknown extent (a table without the drivers step's extent columns)
    # is not an amplification: context with its prevalence, no combination option
    cells = _cells("W", 5)
    drivers = pd.DataFrame({"sample_id": ["W_CTC1", "W_CTC2"], "gene": ["MET", "MET"], "state": ["gain", "gain"]})
    r = read({"id": "W", "treatments": [{"drug": "crizotinib"}]}, cells=cells, drivers=drivers)
    met = next(d for d in r.detected if d.mechanism.id == "met_amplification")
    assert met.summary() == "MET copy gain in 2 of 5 CTCs" and not met.actionable and met.role == "context"
    assert not [o for o in r.options if "MET inhibitor" in o["therapy"]]
    # after crizotinib with no ALK mutation, the next-generation TKIs with phase 3 evidence come first
    assert r.options[0]["type"] == "alk_tki" and r.options[0]["group"] == "supported" and r.options[0]["level"] == "A"
