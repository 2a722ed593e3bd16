"""Build the driver catalogue packaged in ``ctcscope/drivers/data`` from open gene lists.

Run once by a developer, from the repository root::

    python scripts/build_driver_catalogue.py --shared ../shared/data

Inputs (licences in NOTICE; nothing from COSMIC is used):

- Sanchez-Vega F et al. Cell 2018;173:321-337 — TCGA oncogenic signalling pathways with
  OG/TSG roles (``maftools-extdata/oncogenic_sig_patwhays.tsv``, maftools, MIT).
- Bailey MH et al. Cell 2018;173:371-385 (PMID 29625053) — pan-cancer driver genes by
  biological process (``maftools-extdata/BP_SMGs.txt.gz``, maftools, MIT).
- Martinez-Jimenez F et al. Nat Rev Cancer 2020;20:555-572 (PMID 32778778) — IntOGen
  compendium of mutational drivers (``cnaqc-data/intogen_drivers.tsv.gz``, as packaged
  by CNAqc, GPL-3).
- pirlygenes gene sets (DNA repair, growth receptors, immune categories, oncogenes,
  tumour suppressors; ``pirlygenes-pypi/gene-sets.csv``, Apache-2.0).
- CIViC clinical evidence (nightly 2021-02-25, CC0): amplification / deletion / loss
  evidence items give a copy-number role, with their PMIDs, to genes the lists leave
  without one.
- GENCODE v19 and v36 gene tables (via scAbsolute, ``scabsolute-annotations``): genes
  whose Ensembl id carries different symbols in the two releases give the alias table
  (SEPT9 = SEPTIN9, ...).
- ``ctcscope/drivers/data/curated_genes.tsv`` (hand-curated, each row with its reference)
  and ``ctcscope/drivers/data/pathway_map.tsv`` (source categories -> ctcscope pathways).

Outputs: ``catalogue.tsv``, ``catalogue.json`` (version and sources) and
``gene_aliases.tsv`` in ``src/ctcscope/drivers/data``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

VERSION = "2024.1"
DATA = Path("src/ctcscope/drivers/data")

SOURCES = {
    "sanchez_vega_2018": {
        "citation": "Sanchez-Vega F et al. Oncogenic signaling pathways in The Cancer Genome Atlas. Cell 2018;173:321-337",
        "file": "maftools-extdata/oncogenic_sig_patwhays.tsv",
        "via": "PoisonAlien/maftools @ c8ff3283 (inst/extdata)",
        "licence": "MIT (maftools)",
    },
    "bailey_2018": {
        "citation": "Bailey MH et al. Comprehensive characterization of cancer driver genes and mutations. Cell 2018;173:371-385 (PMID 29625053)",
        "file": "maftools-extdata/BP_SMGs.txt.gz",
        "via": "PoisonAlien/maftools @ c8ff3283 (inst/extdata)",
        "licence": "MIT (maftools)",
    },
    "intogen_2020": {
        "citation": "Martinez-Jimenez F et al. A compendium of mutational cancer driver genes. Nat Rev Cancer 2020;20:555-572 (PMID 32778778)",
        "file": "cnaqc-data/intogen_drivers.tsv.gz",
        "via": "caravagn/CNAqc @ df27ccb7 (data/intogen_drivers.rda)",
        "licence": "GPL-3 (CNAqc); IntOGen's own data terms not restated there (gene symbols only are used)",
    },
    "pirlygenes": {
        "citation": "pirlygenes 6.0.18 gene sets (pirl-unc/pirlygenes)",
        "file": "pirlygenes-pypi/gene-sets.csv",
        "via": "PyPI wheel pirlygenes-6.0.18",
        "licence": "Apache-2.0",
    },
    "civic": {
        "citation": "Griffith M et al. CIViC. Nat Genet 2017;49:170-174; nightly export 2021-02-25",
        "file": "civic/nightly-ClinicalEvidenceSummaries.tsv",
        "via": "griffithlab/civic-server @ 3f50f4de (public/downloads/nightly)",
        "licence": "CC0 1.0",
    },
    "curated": {
        "citation": "ctcscope curation (curated_genes.tsv, one reference per row)",
        "file": "src/ctcscope/drivers/data/curated_genes.tsv",
        "via": "this repository",
        "licence": "MIT (ctcscope)",
    },
}

SV_ROLE = {"OG": "activating", "TSG": "loss_of_function", "OG_TSG": "ambiguous"}
PIRLY_ROLE = {"Oncogenes": "activating", "Tumor_suppressors": "loss_of_function"}
CIVIC_LOSS = {"LOSS", "DELETION", "LOSS-OF-FUNCTION", "NULL (COMPLETE DELETION)", "COPY NUMBER LOSS"}

#: Order in which pathways are listed for a gene (its first one is its primary pathway).
SOURCE_ORDER = ["curated", "sanchez_vega_2018", "pirlygenes", "bailey_2018", "intogen_2020"]


def _clean(s: pd.Series) -> pd.Series:
    return s.astype(str).str.strip()


def read_sources(shared: Path) -> dict[str, pd.DataFrame]:
    """Each list as ``gene, category[, role]`` rows."""
    sv = pd.read_csv(shared / SOURCES["sanchez_vega_2018"]["file"], sep="\t", dtype=str)
    sv = pd.DataFrame({"gene": _clean(sv.Gene), "category": _clean(sv.Pathway),
                       "role": sv.OG_TSG.map(SV_ROLE)})
    bp = pd.read_csv(shared / SOURCES["bailey_2018"]["file"], sep="\t", dtype=str)
    bp = pd.DataFrame({"gene": _clean(bp.Gene), "category": _clean(bp.Pathway), "role": None})
    it = pd.read_csv(shared / SOURCES["intogen_2020"]["file"], sep="\t", dtype=str)
    it = pd.DataFrame({"gene": _clean(it.SYMBOL).unique(), "category": "driver", "role": None})
    pg = pd.read_csv(shared / SOURCES["pirlygenes"]["file"], dtype=str)
    pg = pd.DataFrame({"gene": _clean(pg.Symbol), "category": _clean(pg.Category),
                       "role": pg.Category.map(PIRLY_ROLE)})
    return {"sanchez_vega_2018": sv, "bailey_2018": bp, "intogen_2020": it, "pirlygenes": pg}


def civic_roles(shared: Path) -> pd.DataFrame:
    """Copy-number role and PMIDs per gene from CIViC amplification / loss evidence."""
    e = pd.read_csv(shared / SOURCES["civic"]["file"], sep="\t", dtype=str, low_memory=False)
    e = e[e.evidence_status.str.lower() == "accepted"]
    v = e.variant.str.upper().str.strip()
    amp = e[v.str.contains("AMPLIFICATION", regex=False)]
    loss = e[v.isin(CIVIC_LOSS)]

    def pmids(df):
        return df.groupby("gene").citation_id.agg(lambda s: ";".join(sorted(set(s.dropna()), key=int)[:3]))

    a, l = pmids(amp), pmids(loss)
    genes = sorted(set(a.index) | set(l.index))
    role = ["ambiguous" if (g in a.index and g in l.index) else "activating" if g in a.index else "loss_of_function"
            for g in genes]
    return pd.DataFrame({"gene": genes, "role": role, "amp_pmids": [a.get(g, "") for g in genes],
                         "loss_pmids": [l.get(g, "") for g in genes]}).set_index("gene")


def alias_table(shared: Path, genome_data: Path) -> pd.DataFrame:
    """Symbol pairs naming the same Ensembl gene in GENCODE v19 and v36 (protein-coding genes
    of the packaged gene tables only)."""
    cols = ["chrom", "source", "start", "end", "gene_id", "symbol"]
    v19 = pd.read_csv(shared / "scabsolute-annotations/gencode.v19.tsv.gz", sep="\t", header=None, names=cols, dtype=str)
    v36 = pd.read_csv(shared / "scabsolute-annotations/gencode.v36.tsv.gz", sep="\t", header=None, names=cols, dtype=str)
    for t in (v19, v36):
        t["eid"] = t.gene_id.str.replace(r"\..*$", "", regex=True)
    m = v19[["eid", "symbol"]].merge(v36[["eid", "symbol"]], on="eid", suffixes=("_hg19", "_hg38"))
    m = m[m.symbol_hg19 != m.symbol_hg38].drop_duplicates(["symbol_hg19", "symbol_hg38"])
    pc19 = set(pd.read_csv(genome_data / "genes_hg19.tsv.gz", sep="\t", usecols=["symbol"]).symbol)
    pc38 = set(pd.read_csv(genome_data / "genes_hg38.tsv.gz", sep="\t", usecols=["symbol"]).symbol)
    m = m[m.symbol_hg19.isin(pc19) | m.symbol_hg38.isin(pc38)]
    # a symbol used for two different genes across releases would make the alias ambiguous
    m = m[~m.symbol_hg19.duplicated(keep=False) & ~m.symbol_hg38.duplicated(keep=False)]
    return m[["symbol_hg19", "symbol_hg38"]].sort_values("symbol_hg19").reset_index(drop=True)


def build(shared: Path, data: Path = DATA, genome_data: Path = Path("src/ctcscope/genome/data")) -> pd.DataFrame:
    lists = read_sources(shared)
    pmap = pd.read_csv(data / "pathway_map.tsv", sep="\t", dtype=str)
    pmap = {(r.source, r.category): r.pathway for r in pmap.itertuples()}
    cur = pd.read_csv(data / "curated_genes.tsv", sep="\t", dtype=str, keep_default_na=False)
    civic = civic_roles(shared)
    aliases = alias_table(shared, genome_data)
    to38 = dict(zip(aliases.symbol_hg19, aliases.symbol_hg38))
    to19 = dict(zip(aliases.symbol_hg38, aliases.symbol_hg19))

    # one name per gene: the lists use pre-2020 HGNC symbols (as the study and hg19 do);
    # a list spelling the hg38 name is folded onto the older one
    def key(g: str) -> str:
        return to19.get(g, g)

    rows: dict[str, dict] = {}

    def entry(g):
        return rows.setdefault(key(g), {"pathways": {s: [] for s in SOURCE_ORDER}, "roles": {}, "sources": [],
                                        "evidence": [], "study_gene": False, "resistance_gene": False, "notes": []})

    for src, df in lists.items():
        for r in df.itertuples():
            e = entry(r.gene)
            p = pmap.get((src, r.category))
            if p is None and src != "pirlygenes":
                raise SystemExit(f"no pathway mapping for {src}:{r.category}; add it to pathway_map.tsv")
            if p and p not in e["pathways"][src]:
                e["pathways"][src].append(p)
            if isinstance(r.role, str) and r.role:
                e["roles"].setdefault(src, set()).add(r.role)
            if src not in e["sources"]:
                e["sources"].append(src)
    for r in cur.itertuples():
        e = entry(r.gene)
        for p in filter(None, (x.strip() for x in r.pathways.split(";"))):
            if p not in e["pathways"]["curated"]:
                e["pathways"]["curated"].append(p)
        if r.role:
            e["roles"]["curated"] = {r.role}
        if "curated" not in e["sources"]:
            e["sources"].append("curated")
        e["evidence"] += [f"PMID:{r.pmid}"] if r.pmid else []
        e["evidence"] += [f"doi:{r.doi}"] if r.doi else []
        e["study_gene"] |= r.study_gene == "yes"
        e["resistance_gene"] |= r.resistance_gene == "yes"
        e["notes"].append(r.reference)

    out = []
    for g, e in rows.items():
        role, role_source = None, ""
        # the highest-priority source that gives a role decides it; a source that gives
        # both roles (Sanchez-Vega's OG_TSG, a gene in both pirlygenes sets) makes it ambiguous
        for src in ["curated", "sanchez_vega_2018", "pirlygenes"]:
            rs = e["roles"].get(src)
            if rs:
                role = rs.pop() if len(rs) == 1 else "ambiguous"
                role_source = src
                break
        if role is None and g in civic.index:
            role, role_source = civic.loc[g, "role"], "civic"
            e["sources"].append("civic")
        if g in civic.index:
            # cite CIViC items whose direction agrees with the role (amplification for an
            # activating gene, deletion/loss for a loss-of-function gene)
            col = {"activating": ["amp_pmids"], "loss_of_function": ["loss_pmids"]}.get(role, ["amp_pmids", "loss_pmids"])
            e["evidence"] += [f"PMID:{p}" for c in col for p in civic.loc[g, c].split(";") if p]
        if role is None:
            role, role_source = "ambiguous", "none"
        paths: list[str] = []
        for src in SOURCE_ORDER:
            for p in e["pathways"][src]:
                if p not in paths:
                    paths.append(p)
        # a gene known only as a generic driver keeps "Other"; drop it when a real pathway exists
        if len(paths) > 1 and "Other" in paths:
            paths.remove("Other")
        if not paths:
            paths = ["Other"]
        src_pmid = {"sanchez_vega_2018": "Sanchez-Vega 2018 Cell 173:321", "bailey_2018": "PMID:29625053",
                    "intogen_2020": "PMID:32778778"}
        ev = e["evidence"] + [src_pmid[s] for s in e["sources"] if s in src_pmid]
        alias = sorted({a for a in (to38.get(g), to19.get(g)) if a and a != g})
        # "driver": named by a driver list, CIViC copy-number evidence, the curated file or
        # pirlygenes' oncogene / tumour-suppressor sets; "pathway_member": only a member of a
        # signalling pathway (Sanchez-Vega) or of a DNA-repair / immune / receptor gene set
        is_driver = (bool({"bailey_2018", "intogen_2020", "curated"} & set(e["sources"])) or g in civic.index
                     or "pirlygenes" in e["roles"])
        e.setdefault("tier", "driver" if is_driver else "pathway_member")
        out.append({
            "gene": g, "aliases": ";".join(alias), "role": role, "role_source": role_source, "tier": e["tier"],
            "pathway": paths[0], "pathways": ";".join(paths), "sources": ";".join(e["sources"]),
            "evidence": ";".join(dict.fromkeys(ev)), "study_gene": e["study_gene"],
            "resistance_gene": e["resistance_gene"], "note": " | ".join(e["notes"]),
        })
    cat = pd.DataFrame(out).sort_values("gene").reset_index(drop=True)
    return cat, aliases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, required=True, help="path to the shared data collection")
    ap.add_argument("--out", type=Path, default=DATA)
    a = ap.parse_args()
    cat, aliases = build(a.shared, a.out)
    cat.to_csv(a.out / "catalogue.tsv", sep="\t", index=False)
    aliases.to_csv(a.out / "gene_aliases.tsv", sep="\t", index=False)
    meta = {
        "name": "ctcscope driver catalogue",
        "version": VERSION,
        "n_genes": int(len(cat)),
        "roles": cat.role.value_counts().to_dict(),
        "tiers": cat.tier.value_counts().to_dict(),
        "pathways": cat.pathway.value_counts().to_dict(),
        "sources": SOURCES,
        "built_by": "scripts/build_driver_catalogue.py",
    }
    (a.out / "catalogue.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{len(cat)} genes; roles {meta['roles']}; {len(aliases)} aliases")


if __name__ == "__main__":
    main()
