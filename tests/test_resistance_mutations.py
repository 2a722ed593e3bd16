"""ALK mutation parser: notations, round trip, reference-residue checks, helpful errors."""
from __future__ import annotations

import pytest

from ctcscope.errors import InputError
from ctcscope.resistance import alk_sequence, load_knowledge_base, parse_mutation
from ctcscope.resistance.mutations import ALK_LENGTH


def test_reference_sequence_is_alk_q9um73():
    seq = alk_sequence()
    assert len(seq) == ALK_LENGTH == 1620
    assert seq.startswith("MGAIGLLWLLPLLLSTAAVG")
    # kinase-domain residues named by the literature's variants (gatekeeper L1196, solvent front G1202...)
    for name in ["G1123", "G1128", "T1151", "L1152", "C1156", "I1171", "F1174", "N1178", "V1180", "L1196",
                 "L1198", "G1202", "D1203", "S1206", "E1210", "F1245", "L1256", "G1269", "R1275", "E1407"]:
        assert seq[int(name[1:]) - 1] == name[0], name
    # Y1278 phosphosite window as in the PhosphoSitePlus/Ochoa data (kinase-library package)
    assert seq[1270:1285] == "FGMARDIYRASYYRK"


@pytest.mark.parametrize("text", ["G1202R", "p.G1202R", "p.Gly1202Arg", "ALK G1202R", "ALK:p.G1202R",
                                  "p.(Gly1202Arg)", "g1202r", "ALK p.GLY1202ARG"])
def test_substitution_notations(text):
    v = parse_mutation(text)
    assert v.canonical == "G1202R" and v.hgvs == "p.Gly1202Arg" and not v.is_compound


@pytest.mark.parametrize("text, canonical, hgvs", [
    ("I1151Tins", "T1151dup", "p.Thr1151dup"),        # literature spelling (Pan 2021, Tabbò 2020)
    ("T1151dup", "T1151dup", "p.Thr1151dup"),
    ("p.Thr1151dup", "T1151dup", "p.Thr1151dup"),
    ("T1151Tins", "T1151dup", "p.Thr1151dup"),
    ("1151Tins", "T1151dup", "p.Thr1151dup"),
    ("T1151_L1152insT", "T1151dup", "p.Thr1151dup"),
    ("T1151_L1152insK", "T1151_L1152insK", "p.Thr1151_Leu1152insLys"),
    ("G1202del", "G1202del", "p.Gly1202del"),
    ("p.Gly1202del", "G1202del", "p.Gly1202del"),
    ("L1198_G1202del", "L1198_G1202del", "p.Leu1198_Gly1202del"),
])
def test_indel_notations(text, canonical, hgvs):
    v = parse_mutation(text)
    assert v.canonical == canonical and v.hgvs == hgvs


@pytest.mark.parametrize("text", ["G1202R+L1196M", "G1202R/L1196M", "C1156Y;L1198F", "ALK G1202R + L1196M",
                                  "p.Gly1202Arg/p.Leu1196Met", "L1196M+G1202R"])
def test_compounds(text):
    v = parse_mutation(text)
    assert v.is_compound and len(v.mutations) == 2
    assert v.canonical in ("L1196M+G1202R", "C1156Y+L1198F")  # ordered by position


ALL_NOTATIONS = ["G1202R", "p.G1202R", "p.Gly1202Arg", "ALK G1202R", "ALK:p.G1202R", "I1151Tins", "T1151dup",
                 "G1202del", "G1202R+L1196M", "G1202R/L1196M", "C1156Y;L1198F", "E1210K+D1203N+G1269A",
                 "T1151_L1152insK", "L1198_G1202del"]


@pytest.mark.parametrize("text", ALL_NOTATIONS)
def test_round_trip(text):
    v = parse_mutation(text)
    assert parse_mutation(v.canonical) == v
    assert parse_mutation(v.canonical).canonical == v.canonical
    assert parse_mutation(v.hgvs) == v


def test_every_knowledge_base_variant_round_trips():
    kb = load_knowledge_base()
    assert len(kb.known_variants) > 40
    for v in kb.known_variants:
        assert parse_mutation(v).canonical == v


@pytest.mark.parametrize("text, message", [
    ("A1202R", r"ALK residue 1202 is Gly \(G\), not Ala \(A\).*known at 1202: G1202R, G1202del"),
    ("p.Ala1196Met", r"residue 1196 is Leu \(L\)"),
    ("L1196M+A1202R", r"residue 1202 is Gly"),
    ("G2000R", r"ALK has 1620 residues; position 2000 does not exist"),
    ("G1202G", r"same residue"),
    ("G1202=", r"synonymous"),
    ("C1156Y/T", r"alternative alleles"),
    ("G1202R/del", r"alternative alleles"),
    ("G1202R+G1202del", r"same residue twice"),
    ("fusion", r"not a protein change"),
    ("p.Gly1202Xyz", r"'Xyz' is not an amino-acid code"),
    ("", r"empty"),
])
def test_impossible_or_malformed_variants_are_rejected(text, message):
    with pytest.raises(InputError, match=message):
        parse_mutation(text)


def test_unknown_but_possible_variants_name_the_closest_known():
    kb = load_knowledge_base()
    assert kb.describe_unknown(parse_mutation("G1202R")) is None
    assert kb.describe_unknown(parse_mutation("G1202K")) == "ALK G1202K is not in the knowledge base; known at 1202: G1202R, G1202del"
    far = kb.describe_unknown(parse_mutation("R1192P"))
    assert far.startswith("ALK R1192P is not in the knowledge base; nearest known: ") and "L1196M" in far
    comp = kb.describe_unknown(parse_mutation("G1202R+L1198F"))
    assert comp.startswith("the compound ALK L1198F+G1202R is not in the knowledge base; its components with evidence: L1198F, G1202R")
    assert "L1196M+G1202R" in comp
