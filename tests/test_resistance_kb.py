"""The knowledge base holds every row of the seed tables with its original source.

The truth is an independent copy of the printed tables (``tests/data/resistance``: Pan et
al. 2021 Tables 2-3 and reference list, Tabbò et al. 2020 Table 1, as printed) parsed here
with its own code, not with the generator of the knowledge base.
"""
from __future__ import annotations

import csv
import itertools
import re

import pandas as pd
import pytest

from ctcscope.errors import InputError
from ctcscope.resistance import load_knowledge_base, parse_mutation
from ctcscope.resistance.civic import extract_civic_alk
from ctcscope.resistance.knowledge import LEVEL_OF_KIND, LEVELS


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base()


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh, delimiter="\t"))


def _refs(data_path):
    return {int(r[0]): r[1] for r in _rows(data_path("resistance/pan2021_references.tsv"))[1:]}


def _cell_calls(cell: str):
    """'S (45),R (37)' -> [('S', 45), ('R', 37)]; 'S,R (33)' -> [('S', 33), ('R', 33)]."""
    out, pending = [], []
    for tok in re.findall(r"[SR]|\(\d+\)", cell):
        if tok in "SR":
            pending.append(tok)
        else:
            out += [(c, int(tok[1:-1])) for c in pending]
            pending = []
    return out + [(c, None) for c in pending]


def _has(kb, variant, drug, direction, *, review=None, source_doi=None, source_key=None, item=None):
    canon = parse_mutation(variant).canonical
    for s in kb.statements_for(canon, drug, position_level=False):
        if s.direction != direction:
            continue
        if review and (s.review is None or s.review.key != review):
            continue
        if item and s.review_item != item:
            continue
        if source_doi and s.source.doi.lower() != source_doi.lower():
            continue
        if source_key and s.source.key != source_key:
            continue
        return s
    return None


def test_pan2021_table2_every_cell_with_its_source(kb, data_path):
    rows = _rows(data_path("resistance/pan2021_table2.tsv"))
    header, body = rows[0], rows[1:]
    assert header == ["Variant", "Crizotinib", "Ceritinib", "Ensartinib", "Alectinib", "Brigatinib", "Lorlatinib"]
    assert len(body) == 27
    refs = _refs(data_path)
    checked = 0
    for row in body:
        variant = "T1151dup" if row[0] == "I1151Tins" else row[0]
        for drug, cell in zip([h.lower() for h in header[1:]], row[1:]):
            for call, ref in _cell_calls(cell):
                doi = refs[ref] if ref else "10.3389/fonc.2021.713530"  # no reference: the review itself
                s = _has(kb, variant, drug, call, review="pan2021", source_doi=doi, item="Table 2")
                assert s is not None, f"Pan 2021 Table 2 {row[0]} x {drug}: {call} ({ref}) missing"
                assert s.source.pmid or s.source.doi
                checked += 1
    assert checked == 151


def test_pan2021_table3_rows(kb, data_path):
    body = _rows(data_path("resistance/pan2021_table3.tsv"))[1:]
    assert len(body) == 4
    expect = {  # compound -> (drug, direction) read from the Note column
        "I1171S+G1269A": [("ceritinib", "S"), ("brigatinib", "S")],
        "C1156Y+L1198F": [("crizotinib", "S")],
        "I1171N+L1256F": [("alectinib", "S")],
        "I1171N+L1198F": [("crizotinib", "S")],
    }
    for team, _prev, compound, note in body:
        for drug, direction in expect[compound]:
            assert drug in note.lower()
            s = _has(kb, compound, drug, direction, review="pan2021", item="Table 3")
            assert s is not None, f"Pan 2021 Table 3 {compound} x {drug} missing"
            assert s.source.doi or s.source.pmid
    # the printed attribution of row 1 (Shaw, ref 45) differs from the case report cited in the
    # text (Takahashi et al. 2020): the KB cites the case and says so in a note
    s = _has(kb, "I1171S+G1269A", "ceritinib", "S", review="pan2021", item="Table 3")
    assert s.source.key == "takahashi2020" and "Shaw" in s.note
    assert _has(kb, "C1156Y+L1198F", "crizotinib", "S", item="Table 3").resensitizes
    assert _has(kb, "I1171N+L1256F", "alectinib", "S", item="Table 3").resensitizes


def _expand(token: str) -> list[str]:
    token = token.strip()
    if token == "I1151Tins":
        return ["T1151dup"]
    m = re.fullmatch(r"([A-Z])(\d+)([A-Za-z/]+)", token)
    return [f"{m.group(1)}{m.group(2)}{alt}" for alt in m.group(3).split("/")]


def test_tabbo2020_table1_every_item(kb, data_path):
    rows = _rows(data_path("resistance/tabbo2020_table1.tsv"))
    assert rows[0][0] == "ALK TKI" and len(rows) == 7
    n = 0
    for drug, resistant, sensitive in rows[1:]:
        for text, direction in ((resistant, "R"), (sensitive, "S")):
            for item in text.split(", "):
                if "+/-" in item:
                    base, extra = item.split("+/-")
                    variants = _expand(base) + [f"{v}+{extra.strip()}" for v in _expand(base)]
                else:
                    parts = [p.strip() for p in item.split("+")]
                    variants = ["+".join(c) for c in itertools.product(*[_expand(p) for p in parts])]
                for v in variants:
                    s = _has(kb, v, drug.lower(), direction, review="tabbo2020", item="Table 1")
                    assert s is not None, f"Tabbò 2020 Table 1 {drug}: {item} ({v}) {direction} missing"
                    assert s.source.doi == "10.21037/tlcr-20-372" and s.level == "E"
                    n += 1
    assert n == 103


def test_conflicts_between_sources_are_kept_and_reported(kb):
    conflicts = {(c.variant, c.drug): c for c in kb.conflicts()}
    for pair in [("L1196M", "alectinib"), ("L1196M", "ceritinib"), ("I1171T", "alectinib"), ("C1156Y", "lorlatinib"),
                 ("G1202R", "brigatinib")]:
        assert pair in conflicts, pair
        c = conflicts[pair]
        assert c.sensitive and c.resistant
        assert "sensitive per" in c.summary() and "resistant per" in c.summary()
    # C1156Y x lorlatinib: Shaw 2016 (S) against Dagogo-Jack 2019 (R), as Pan 2021 Table 2 prints
    c = conflicts[("C1156Y", "lorlatinib")]
    assert {s.source.key for s in c.sensitive} >= {"shaw2016"}
    assert {s.source.key for s in c.resistant} >= {"dagogojack2019"}


def test_every_statement_has_source_kind_and_level(kb):
    from ctcscope.resistance.knowledge import all_statements

    n = 0
    for s in all_statements(kb):
        assert s.level in LEVELS
        assert s.kind in LEVEL_OF_KIND
        assert s.source.pmid or s.source.doi, s.id
        assert s.source.authors and s.source.journal and s.source.year
        if s.origin != "civic" and s.level != LEVEL_OF_KIND[s.kind]:
            assert s.note, s.id  # a level off the kind's default is explained
        n += 1
    assert n > 400
    for m in kb.mechanisms:
        for op in m.options:
            assert op.statement.source.pmid or op.statement.source.doi


def test_mechanism_catalogue_covers_the_seed_mechanisms(kb):
    ids = {m.id for m in kb.mechanisms}
    for need in ["alk_copy_gain", "met_amplification", "egfr_her_activation", "kit_amplification", "igf1r_activation",
                 "src_activation", "mapk_activation", "braf_v600e", "nf1_loss", "nf2_loss", "yap_activation",
                 "pi3k_activation", "myc_amplification", "sclc_transformation", "squamous_transformation", "emt",
                 "abcb1_efflux", "eml4alk_v3", "eml4alk_v1", "tp53_coalteration"]:
        assert need in ids, need
    cats = {m.id: m.category for m in kb.mechanisms}
    assert cats["alk_copy_gain"] == "on_target" and cats["met_amplification"] == "off_target"
    assert cats["sclc_transformation"] == "phenotypic"
    # CIViC amplification items joined the ALK copy-gain mechanism
    assert {s.id for s in kb.mechanism("alk_copy_gain").statements} >= {"civic-EID440", "civic-EID766", "civic-EID767"}


def test_civic_table_is_the_extraction_of_the_export(data_path):
    packaged = pd.read_csv(load_knowledge_base().root / "civic_alk.tsv", sep="\t", dtype=str, keep_default_na=False)
    fresh = extract_civic_alk(data_path("civic/nightly-ClinicalEvidenceSummaries.ALK.tsv")).astype(str)
    pd.testing.assert_frame_equal(packaged.reset_index(drop=True), fresh.reset_index(drop=True), check_dtype=False)
    assert len(packaged) == 131 and packaged["eid"].is_unique
    row = packaged.set_index("eid").loc["844"]
    assert row["variant"] == "C1156Y+L1198F" and row["scope"] == "compound" and row["pmid"] == "26698910"
    assert row["evidence_level"] == "C" and row["clinical_significance"] == "Sensitivity/Response"
    assert packaged.set_index("eid").loc["444", "variant"] == "T1151dup"  # CIViC "T1151INST"
    assert packaged.set_index("eid").loc["1283", "scope"] == "position"   # "ALK FUSION I1171"


def test_civic_extraction_rejects_other_files(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("a\tb\n1\t2\n")
    with pytest.raises(InputError, match="not a CIViC evidence export"):
        extract_civic_alk(p)


def test_broken_knowledge_base_is_rejected_with_a_sentence(tmp_path):
    import shutil

    root = load_knowledge_base().root
    bad = tmp_path / "kb"
    shutil.copytree(root, bad)
    lines = (bad / "statements.tsv").read_text().splitlines()
    cols = lines[1].split("\t")
    cols[1] = "A1202R"  # wrong reference residue: ALK 1202 is Gly
    lines[1] = "\t".join(cols)
    (bad / "statements.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"statements.tsv line 2: .*residue 1202 is Gly"):
        load_knowledge_base(bad)
    shutil.copy(root / "statements.tsv", bad / "statements.tsv")
    txt = (bad / "sources.yaml").read_text().replace("    doi: 10.1126/scitranslmed.3003316\n    pmid: \"22277784\"\n", "")
    (bad / "sources.yaml").write_text(txt)
    with pytest.raises(InputError, match=r"katayama2012.*PMID or a DOI"):
        load_knowledge_base(bad)
