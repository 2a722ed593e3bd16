"""The driver catalogue: coverage of the study's genes, provenance, user files."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ctcscope.drivers import builtin_catalogue, load_catalogue, read_catalogue_file
from ctcscope.drivers.catalogue import ROLES
from ctcscope.errors import InputError

ROOT = Path(__file__).resolve().parents[1]

#: Genes named in the Results of Oulhen et al. 2021 (npj Precis Oncol 5:71), transcribed
#: independently of the catalogue, with the direction the study reports.
STUDY_GENES = {
    "ALK": "activating", "MYCN": "activating", "CCND3": "activating", "SEPT9": "activating",
    "FGFR1": "activating", "MYC": "activating", "RB1": "loss_of_function", "CDK6": "activating",
    "CDK4": "activating", "CDKN2A": "loss_of_function", "CDKN2B": "loss_of_function", "MDM2": "activating",
    "MDM4": "activating", "TP53": "loss_of_function", "BAP1": "loss_of_function", "FANCD2": "loss_of_function",
    "MLH1": "loss_of_function", "ERBB2": "activating", "EGFR": "activating", "KRAS": "activating",
    "RAF1": "activating", "MAP2K4": "loss_of_function", "MAP4K1": None, "AKT1": "activating",
    "NTRK1": "activating", "HRAS": "activating", "ARID1A": "loss_of_function", "BRCA1": "loss_of_function",
    "BRCA2": "loss_of_function", "ATM": "loss_of_function", "CCND2": "activating", "ERCC1": "loss_of_function",
}
#: The pathway the study's Results put each named gene in.
STUDY_PATHWAYS = {
    "Cell cycle": ["CCND3", "SEPT9", "CDK6", "CDK4", "RB1", "CDKN2A", "CDKN2B"],
    "DNA repair": ["MDM2", "MDM4", "TP53", "BAP1", "FANCD2", "MLH1"],
    "RTK/RAS": ["ERBB2", "EGFR", "FGFR1", "KRAS", "RAF1", "MAP2K4", "MAP4K1"],
    "PI3K": ["AKT1"],
    "MYC": ["MYC", "MYCN"],
}
#: Genes of ALK-TKI resistance (bypass, downstream, efflux) the resistance step looks up.
RESISTANCE_GENES = ["MET", "KIT", "IGF1R", "SRC", "MAP2K1", "NRAS", "BRAF", "NF1", "NF2", "YAP1", "PIK3CA", "PTEN",
                    "ABCB1", "EGFR", "ERBB2", "KRAS", "ALK", "HGF", "ERBB3"]


@pytest.fixture(scope="module")
def cat():
    return builtin_catalogue()


def test_every_study_gene_has_role_pathway_and_source(cat):
    for g, role in STUDY_GENES.items():
        r = cat.lookup(g)
        assert r.role in ROLES, g
        if role is not None:
            assert r.role == role, (g, r.role)
        assert r.pathway and r.pathways, g
        assert r.sources and r.evidence, g
        assert r.study_gene, g


def test_study_pathway_attribution(cat):
    for pathway, genes in STUDY_PATHWAYS.items():
        for g in genes:
            assert cat.lookup(g).pathway == pathway, (g, cat.lookup(g).pathway)


def test_resistance_genes_present(cat):
    for g in RESISTANCE_GENES:
        r = cat.lookup(g)
        assert r.role in ("activating", "loss_of_function"), g
        assert r.resistance_gene, g
    assert cat.lookup("NF2").role == "loss_of_function" and cat.lookup("PTEN").role == "loss_of_function"
    assert cat.lookup("ABCB1").pathway == "Drug efflux"


def test_catalogue_provenance(cat):
    t = cat.table
    assert len(t) > 800 and t.index.is_unique
    assert set(t.role) <= set(ROLES)
    # every gene traces to at least one named source; no COSMIC
    known = {"sanchez_vega_2018", "bailey_2018", "intogen_2020", "pirlygenes", "civic", "curated"}
    for s in t.sources:
        assert set(s.split(";")) <= known
    assert not t.sources.str.contains("cosmic", case=False).any()
    assert not t.evidence.str.contains("cosmic", case=False).any()
    # PMIDs are numbers, DOIs look like DOIs
    for tok in ";".join(t.evidence).split(";"):
        if tok.startswith("PMID:"):
            assert re.fullmatch(r"PMID:\d{6,8}", tok), tok
        elif tok.startswith("doi:"):
            assert re.fullmatch(r"doi:10\.\d{4,5}/\S+", tok), tok
    assert cat.version and set(cat.sources) == known


def test_curated_rows_each_cite_a_reference():
    cur = pd.read_csv(ROOT / "src/ctcscope/drivers/data/curated_genes.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert (cur.reference.str.len() > 10).all()
    # a curated role needs a reference with a PMID or a DOI
    with_role = cur[cur.role != ""]
    assert ((with_role.pmid != "") | (with_role.doi != "")).all()


def test_notice_records_catalogue_sources():
    notice = (ROOT / "NOTICE").read_text()
    for s in ("catalogue.tsv", "Sanchez-Vega", "Bailey", "IntOGen", "pirlygenes", "Apache-2.0", "CIViC", "CC0"):
        assert s in notice, s


# ------------------------------------------------------------------------ user files


def test_user_catalogue_extends(tmp_path, cat):
    f = tmp_path / "mine.tsv"
    f.write_text("gene\trole\tpathways\nNOVEL1\toncogene\tMy pathway\nTP53\tambiguous\tDNA repair\nSEPTIN9\tLoF\t\n")
    c = load_catalogue(f, "extend")
    assert len(c) == len(cat) + 1
    assert c.lookup("NOVEL1").role == "activating" and c.lookup("NOVEL1").pathway == "My pathway"
    assert c.lookup("NOVEL1").sources == "user:mine.tsv"
    assert c.lookup("TP53").role == "ambiguous"          # the user's row wins
    # given under its hg38 name, the user's row replaces the built-in SEPT9 row
    assert "SEPT9" not in c.table.index and c.lookup("SEPT9").role == "loss_of_function"
    assert c.lookup("SEPTIN9").pathway == "Other"


def test_user_catalogue_replaces(tmp_path):
    f = tmp_path / "only.csv"
    f.write_text("gene,role,pathway\nMET,activating,RTK/RAS\nRB1,tumour suppressor,Cell cycle\n")
    c = load_catalogue(f, "replace")
    assert c.genes == ["MET", "RB1"]
    assert c.lookup("RB1").role == "loss_of_function"
    assert "TP53" not in c


@pytest.mark.parametrize("content,match", [
    ("symbol\trole\nMET\tactivating\n", r"no 'gene' column"),
    ("gene\tfunction\nMET\tactivating\n", r"no 'role' column"),
    ("gene\trole\n", r"no rows"),
    ("gene\trole\nMET\tactivator-ish\nKRAS\tup\n", r"2 row\(s\) with an unknown role, e.g. MET \('activator-ish'\)"),
    ("gene\trole\nMET\tactivating\nMET\tloss_of_function\n", r"gives gene MET two different roles"),
    ("gene\trole\n\tactivating\n", r"empty gene name on line 2"),
])
def test_malformed_user_catalogue_is_refused(tmp_path, content, match):
    f = tmp_path / "bad.tsv"
    f.write_text(content)
    with pytest.raises(InputError, match=match):
        load_catalogue(f, "extend")


def test_catalogue_mode_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_catalogue(tmp_path / "nope.tsv", "extend")
    with pytest.raises(InputError, match="needs a catalogue file"):
        load_catalogue(None, "replace")
    with pytest.raises(InputError, match="not known"):
        load_catalogue(None, "merge")
    f = tmp_path / "ok.tsv"
    f.write_text("gene\trole\nMET\tactivating\n")
    with pytest.raises(InputError, match="mode 'builtin'"):
        load_catalogue(f, "builtin")


def test_binary_file_is_refused(tmp_path):
    f = tmp_path / "cat.tsv"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    with pytest.raises(InputError):
        read_catalogue_file(f)


def test_build_script_is_reproducible_from_its_inputs(tmp_path):
    """The shipped catalogue equals what the build script makes from the curated inputs
    (checked on the part that does not need the shared lists: curated rows)."""
    cur = pd.read_csv(ROOT / "src/ctcscope/drivers/data/curated_genes.tsv", sep="\t", dtype=str, keep_default_na=False)
    cat = builtin_catalogue()
    for r in cur.itertuples():
        row = cat.lookup(r.gene)
        assert row.pathways.split(";")[0] == r.pathways.split(";")[0], r.gene
        if r.role:
            assert row.role == r.role and row.role_source == "curated", r.gene
        if r.pmid:
            assert f"PMID:{r.pmid}" in row.evidence.split(";"), r.gene
