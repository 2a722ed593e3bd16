"""Patient sheet (YAML/TSV), stage outputs, CLI and the opt-in OncoKB look-up."""
from __future__ import annotations

import json
import urllib.request

import pandas as pd
import pytest
from typer.testing import CliRunner

from ctcscope.cli import app
from ctcscope.errors import InputError
from ctcscope.resistance.oncokb import annotate_variants, build_request, resolve_token
from ctcscope.resistance.patients import drug_at_resistance, parse_alteration, read_patients
from ctcscope.resistance.stage import run_resistance_stage

YAML = """\
patients:
  - id: P45
    fusion: EML4-ALK
    variant: v3
    treatments:
      - {drug: crizotinib, months: 9.5, best_response: PR}
      - {drug: ceritinib, months: 1.5, best_response: PD}
      - {drug: brigatinib, months: 3.5, best_response: SD}
      - {drug: lorlatinib, months: 3.6, best_response: PR, progressed: true}
    mutations:
      - {name: G1202R+F1174C, found_in: [P45_CTC3, biopsy]}
      - {name: G1202R/T1151M, found_in: [P45_CTC5]}
    notes: free text
  - id: P46
    treatments:
      - {drug: Xalkori, months: 13.7, best_response: PR}
"""
TSV = ("patient\tfusion\tvariant\ttreatments\tmutations\tnotes\n"
       "P45\tEML4-ALK\tv3\tcrizotinib:9.5:PR | ceritinib:1.5:PD | brigatinib:3.5:SD | lorlatinib:3.6:PR:progressed\t"
       "G1202R+F1174C@P45_CTC3,biopsy | G1202R/T1151M@P45_CTC5\tfree text\n"
       "P46\t\t\tXalkori:13.7:PR\t\t\n")


def test_yaml_and_tsv_forms_read_the_same(tmp_path):
    (tmp_path / "p.yaml").write_text(YAML)
    (tmp_path / "p.tsv").write_text(TSV)
    a, b = read_patients(tmp_path / "p.yaml"), read_patients(tmp_path / "p.tsv")
    assert [p.id for p in a] == ["P45", "P46"]
    for x, y in zip(a, b):
        assert x == y
    p45 = a[0]
    assert [t.tki for t in p45.treatments] == ["crizotinib", "ceritinib", "brigatinib", "lorlatinib"]
    assert p45.failed_tkis == ["crizotinib", "ceritinib", "brigatinib", "lorlatinib"]
    assert [m.variant.canonical for m in p45.mutations] == ["F1174C+G1202R", "T1151M+G1202R"]
    assert p45.mutations[0].found_in == ("P45_CTC3", "biopsy")
    assert a[1].treatments[0].tki == "crizotinib"  # brand name alias
    assert drug_at_resistance(a) == {"P45": "lorlatinib", "P46": "crizotinib"}
    assert drug_at_resistance(tmp_path / "p.tsv") == {"P45": "lorlatinib", "P46": "crizotinib"}


def test_stopped_line_is_not_failed(tmp_path):
    (tmp_path / "p.yaml").write_text("patients:\n  - id: X\n    treatments:\n      - {drug: alectinib, progressed: false}\n"
                                     "      - {drug: brigatinib}\n")
    assert read_patients(tmp_path / "p.yaml")[0].failed_tkis == ["brigatinib"]


@pytest.mark.parametrize("body, message", [
    ("patients:\n  - id: A\n    treatments: [{drug: lorlatnib}]\n", "did you mean lorlatinib"),
    ("patients:\n  - id: A\n    treatments: [{drug: crizotinib, best_response: great}]\n", "best_response 'GREAT'"),
    ("patients:\n  - id: A\n    treatments: [{drug: crizotinib, months: soon}]\n", "months of crizotinib must be a number"),
    ("patients:\n  - id: A\n    mutations: [A1202R]\n", r"patient A: 'A1202R': ALK residue 1202 is Gly"),
    ("patients:\n  - id: A\n  - id: A\n", "lists patient A twice"),
    ("patients:\n  - fusion: EML4-ALK\n", "has no 'id'"),
    ("patients:\n  - id: A\n    colour: blue\n", "unknown field"),
    ("patients:\n  - id: A\n   treatments: []\n", "not valid YAML"),
    ("patients:\n  - id: A\n    alterations: [MET]\n", "names no event"),
])
def test_bad_sheets_get_one_sentence(tmp_path, body, message):
    p = tmp_path / "p.yaml"
    p.write_text(body)
    with pytest.raises(InputError, match=message):
        read_patients(p)


def test_alteration_parsing():
    a = parse_alteration("HER2 amplification", ["biopsy"])
    assert (a.gene, a.event, a.found_in) == ("ERBB2", "amplification", ("biopsy",))
    b = parse_alteration("BRAF V600E")
    assert (b.gene, b.event, b.detail) == ("BRAF", "mutation", "V600E")
    assert parse_alteration("small-cell transformation").is_term
    with pytest.raises(InputError, match="does not start with a gene symbol"):
        parse_alteration("3 copies of MET")


def _inputs(tmp_path):
    (tmp_path / "p.yaml").write_text(YAML)
    cells = pd.DataFrame({"sample_id": [f"P45_CTC{i}" for i in range(1, 8)] + ["P45_biopsy"],
                          "patient": "P45", "sample_type": ["ctc"] * 7 + ["biopsy"],
                          "qc_pass": [True] * 6 + [False, True], "normal_like": False,
                          "phenotype": ["ALK-/CK+"] * 5 + ["ALK+/CK+"] * 2 + [""]})
    drivers = pd.DataFrame({"sample_id": ["P45_CTC2", "P45_CTC4", "P45_CTC6", "P45_biopsy"], "patient": "P45",
                            "gene": ["CDK4", "CDK4", "MET", "CDK4"], "state": ["gain", "gain", "amp", "gain"],
                            "confidence": ["high", "high", "low", "high"]})
    cells.to_csv(tmp_path / "cells.tsv", sep="\t", index=False)
    drivers.to_csv(tmp_path / "drivers.tsv", sep="\t", index=False)
    return tmp_path / "p.yaml", tmp_path / "cells.tsv", tmp_path / "drivers.tsv"


def test_stage_writes_json_and_table_deterministically(tmp_path):
    sheet, cells, drivers = _inputs(tmp_path)
    res = run_resistance_stage(sheet, tmp_path / "out", drivers=drivers, cells=cells)
    doc = json.loads(res["json"].read_text())
    assert doc["schema_version"] == "1.1" and doc["research_use_only"] is True
    assert [p["patient"] for p in doc["patients"]] == ["P45", "P46"]
    p45 = doc["patients"][0]
    for key in ("cells", "alk_mutations", "mechanisms", "co_occurrence", "tki_activity", "options", "not_proposed",
                "notes", "caveats", "drug_at_resistance", "failed_alk_tkis", "summary"):
        assert key in p45
    assert p45["cells"]["n_tumour_ctcs"] == 6 and p45["cells"]["excluded_qc_fail"] == 1
    met = next(m for m in p45["mechanisms"] if m["id"] == "met_amplification")
    assert met["summary"] == "MET amplification in 1 of 6 CTCs" and met["cells"] == {"P45_CTC6": ["MET:amp(low)"]}
    assert p45["tki_activity"]["summary"]["lorlatinib"] == "resistant"
    tsv = pd.read_csv(res["tsv"], sep="\t")
    assert set(tsv["section"]) >= {"alk_mutation", "mechanism", "tki_activity", "option", "caveat"}
    assert (tsv["patient"] == "P45").any() and (tsv["patient"] == "P46").any()
    first = res["json"].read_bytes()
    run_resistance_stage(sheet, tmp_path / "out", drivers=drivers, cells=cells)
    assert res["json"].read_bytes() == first  # same inputs, same bytes
    assert not list((tmp_path / "out").glob(".*tmp-*"))


def test_cli_resist_reads_a_run_folder(tmp_path):
    sheet, cells, drivers = _inputs(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / ".ctcscope").write_text("written by ctcscope\n")
    for f in (cells, drivers):
        (run / f.name).write_bytes(f.read_bytes())
    result = CliRunner().invoke(app, ["resist", str(sheet), "--out", str(run)])
    assert result.exit_code == 0, result.output
    assert "P45 (lorlatinib)" in result.output and (run / "resistance.json").exists()
    doc = json.loads((run / "resistance.json").read_text())
    assert doc["patients"][0]["cells"]["n_tumour_ctcs"] == 6  # picked up run/cells.tsv


def test_cli_refuses_a_folder_of_user_files_and_bad_input(tmp_path):
    sheet, _, _ = _inputs(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_text("x")
    r = CliRunner().invoke(app, ["resist", str(sheet), "--out", str(mine)])
    assert r.exit_code == 2 and "did not write" in r.output and not (mine / "resistance.json").exists()
    r = CliRunner().invoke(app, ["resist", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "does not exist" in r.output and "Traceback" not in r.output


def test_oncokb_absent_token_is_a_clear_message(monkeypatch, tmp_path):
    monkeypatch.delenv("ONCOKB_API_TOKEN", raising=False)
    with pytest.raises(InputError, match="needs your own OncoKB API token"):
        resolve_token(None)
    sheet, _, _ = _inputs(tmp_path)
    r = CliRunner().invoke(app, ["resist", str(sheet), "--out", str(tmp_path / "o"), "--oncokb"])
    assert r.exit_code == 2 and "ONCOKB_API_TOKEN" in r.output and not (tmp_path / "o" / "resistance.json").exists()


def test_oncokb_request_construction_without_network():
    req = build_request("G1202R", "tok123")
    assert req.full_url == ("https://www.oncokb.org/api/v1/annotate/mutations/byProteinChange?"
                            "hugoSymbol=ALK&alteration=G1202R&tumorType=NSCLC")
    assert req.get_header("Authorization") == "Bearer tok123" and req.get_method() == "GET"
    sent = []

    class Fake:
        def __init__(self, body):
            self.body = body

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return self.body

    def opener(r, timeout):
        assert isinstance(r, urllib.request.Request)
        sent.append(r.full_url.split("alteration=")[1].split("&")[0])
        if "T1151M" in r.full_url:
            raise OSError("offline")
        return Fake(b'{"oncogenic": "Resistance"}')

    out = annotate_variants(["T1151M+G1202R"], token="t", opener=opener)
    assert sent == ["T1151M", "G1202R"]
    comp = out["T1151M+G1202R"]["components"]
    assert comp["G1202R"] == {"oncogenic": "Resistance"} and "offline" in comp["T1151M"]["error"]
