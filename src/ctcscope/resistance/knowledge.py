"""The ALK-resistance knowledge base: loading, schema validation and look-ups.

The knowledge base is a folder of versioned data files (``data/kb`` in the package; see
``docs/resistance.md`` for the schema):

- ``manifest.yaml``   version and the files it contains
- ``sources.yaml``    every cited paper (authors, journal, year, PMID and/or DOI)
- ``drugs.yaml``      the six ALK TKIs and the names a patient sheet may use
- ``statements.tsv``  ALK kinase-domain mutation (single or compound) x drug statements
- ``mechanisms.yaml`` ALK copy gain, bypass tracks, phenotypic changes, context
- ``sequencing.tsv``  evidence for a drug in a treatment setting (after crizotinib, ...)
- ``civic_alk.tsv``   the CIViC ALK evidence items (CC0), mapped to ctcscope variants

Every statement carries one evidence **level** on the CIViC A-E scale, derived from its
**kind** of evidence (``LEVEL_OF_KIND``) unless the data give another level with a note.
Loading validates everything (unknown source keys, missing identifiers, variants whose
reference residue does not match ALK, unknown drugs, kinds, effects, levels) and raises
:class:`~ctcscope.errors.InputError` naming the file, row and problem.
"""
from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

import yaml

from ..errors import InputError

#: Evidence levels, CIViC scale (https://civic.readthedocs.io, "Evidence Levels").
LEVELS = ("A", "B", "C", "D", "E")
LEVEL_NAMES = {
    "A": "validated (phase 3 trial, approval or guideline)",
    "B": "clinical (clinical trial or series of patient samples)",
    "C": "case study (individual case reports)",
    "D": "preclinical (in vitro or in vivo models)",
    "E": "inferential (review statement without primary reference, in silico, or indirect)",
}
#: Default level of each kind of evidence.
LEVEL_OF_KIND = {
    "clinical_trial": "B", "patient_samples": "B", "case_report": "C", "in_vivo": "D", "in_vitro": "D",
    "preclinical": "D", "in_silico": "E", "review": "E", "inferential": "E",
}
KINDS = tuple(LEVEL_OF_KIND)
#: Effects and the direction they count for in the TKI matrix.
EFFECT_DIRECTION = {
    "sensitive": "S", "increased_sensitivity": "S", "not_resistant": "S",
    "resistant": "R", "not_sensitive": "R",
    "partially_sensitive": "reduced", "reduced_sensitivity": "reduced",
    "context": "context", "poor_outcome": "context",
}
ALK_TKIS = ("crizotinib", "ceritinib", "alectinib", "brigatinib", "ensartinib", "lorlatinib")
NSCLC_DISEASES = {"NSCLC", "Lung Non-small Cell Carcinoma", "Lung Adenocarcinoma", "Lung Acinar Adenocarcinoma"}
CIVIC_KIND = {"A": "clinical_trial", "B": "clinical_trial", "C": "case_report", "D": "preclinical", "E": "inferential"}

_LOADING = False


def level_rank(level: str) -> int:
    """0 for A (strongest) ... 4 for E."""
    return LEVELS.index(level)


@dataclass(frozen=True)
class Source:
    """One publication."""

    key: str
    authors: str
    title: str
    journal: str
    year: int
    volume_pages: str = ""
    doi: str = ""
    pmid: str = ""
    kind: str = ""
    cited_as: tuple[str, ...] = ()
    note: str = ""

    @property
    def first_author(self) -> str:
        return self.authors.split(",")[0].split()[0] if self.authors else ""

    @property
    def short(self) -> str:
        """``Katayama et al., Sci Transl Med 2012``."""
        many = "," in self.authors or "et al" in self.authors
        return f"{self.first_author}{' et al.' if many else ''}, {self.journal} {self.year}"

    @property
    def identifiers(self) -> str:
        ids = []
        if self.pmid:
            ids.append(f"PMID {self.pmid}")
        if self.doi:
            ids.append(f"doi:{self.doi}")
        return "; ".join(ids)

    @property
    def citation(self) -> str:
        vp = f";{self.volume_pages}" if self.volume_pages else ""
        return f"{self.authors}. {self.title}. {self.journal} {self.year}{vp}. {self.identifiers}".strip()

    def to_dict(self) -> dict:
        return {"key": self.key, "authors": self.authors, "title": self.title, "journal": self.journal,
                "year": self.year, "pmid": self.pmid or None, "doi": self.doi or None, "short": self.short,
                "citation": self.citation}


@dataclass(frozen=True)
class Statement:
    """One piece of evidence: ``variant`` (or mechanism) x ``drug`` -> ``effect``."""

    id: str
    variant: str
    drug: str
    effect: str
    source: Source
    kind: str
    level: str
    review: Source | None = None
    review_item: str = ""
    printed: str = ""
    disease: str = "NSCLC"
    resensitizes: bool = False
    note: str = ""
    text: str = ""
    scope: str = "mutation"
    origin: str = "ctcscope"

    @property
    def direction(self) -> str:
        return EFFECT_DIRECTION[self.effect]

    @property
    def nsclc(self) -> bool:
        return self.disease in NSCLC_DISEASES

    def to_dict(self) -> dict:
        d = {
            "id": self.id, "variant": self.variant, "drug": self.drug or None, "effect": self.effect,
            "level": self.level, "kind": self.kind, "disease": self.disease,
            "source": self.source.short, "pmid": self.source.pmid or None, "doi": self.source.doi or None,
        }
        if self.review is not None and self.review.key != self.source.key:
            d["via"] = f"{self.review.short}, {self.review_item}".rstrip(", ")
        elif self.review_item:
            d["via"] = self.review_item
        if self.printed:
            d["printed"] = self.printed
        if self.text:
            d["text"] = self.text
        if self.resensitizes:
            d["resensitizes"] = True
        if self.note:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class OptionEvidence:
    """A therapy a mechanism's literature names, with the statement behind it."""

    therapy: str
    kind_of_option: str  # alk_tki | combination | other
    drugs: tuple[str, ...]
    statement: Statement
    idea: str = ""       # options sharing an idea are one option (``ideas`` in mechanisms.yaml)


@dataclass
class Mechanism:
    id: str
    name: str
    label: str
    category: str
    detect: dict
    affects: tuple[str, ...]
    statements: list[Statement] = field(default_factory=list)
    options: list[OptionEvidence] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)

    @property
    def copy_number_genes(self) -> list[str]:
        return list(self.detect.get("copy_number", {}).get("genes", []))


@dataclass(frozen=True)
class SettingEvidence:
    """Evidence for a drug in a treatment setting (e.g. alectinib after crizotinib)."""

    drug: str
    setting: str
    effect: str
    statement: Statement


@dataclass(frozen=True)
class Conflict:
    variant: str
    drug: str
    sensitive: tuple[Statement, ...]
    resistant: tuple[Statement, ...]

    def summary(self) -> str:
        s = "; ".join(f"{x.source.short} ({x.level})" for x in self.sensitive)
        r = "; ".join(f"{x.source.short} ({x.level})" for x in self.resistant)
        return f"{self.variant} with {self.drug}: sensitive per {s}; resistant per {r}"


class KnowledgeBase:
    """Validated, indexed knowledge base (use :func:`load_knowledge_base`)."""

    def __init__(self, root: Path, manifest: dict, sources: dict[str, Source], drugs: dict,
                 statements: list[Statement], mechanisms: list[Mechanism], sequencing: list[SettingEvidence],
                 civic_rows: list[dict]):
        self.root = root
        self.manifest = manifest
        self.version = str(manifest.get("version", ""))
        self.sources = sources
        self.drugs = drugs
        self.statements = statements
        self.mechanisms = mechanisms
        self.sequencing = sequencing
        self.civic_rows = civic_rows
        self.ideas: dict[str, str] = {}   # therapeutic idea -> display name (mechanisms.yaml)
        self._by_variant: dict[str, list[Statement]] = defaultdict(list)
        for s in statements:
            self._by_variant[s.variant].append(s)
        self._mech = {m.id: m for m in mechanisms}
        self._alias = {}
        for name, d in drugs["alk_tkis"].items():
            self._alias[name.lower()] = name
            for a in d.get("aliases", []):
                self._alias[str(a).lower()] = name

    # ---- drugs -------------------------------------------------------------------------
    def drug_name(self, name: str) -> str | None:
        """Canonical ALK-TKI name of ``name`` (aliases accepted), or None for other drugs."""
        return self._alias.get(str(name).strip().lower())

    def generation(self, drug: str) -> int:
        return int(self.drugs["alk_tkis"][drug]["generation"])

    def approved(self, drug: str) -> bool:
        return bool(self.drugs["alk_tkis"][drug]["approved"])

    # ---- variants ----------------------------------------------------------------------
    @property
    def known_variants(self) -> set[str]:
        return {v for v, sts in self._by_variant.items() if sts[0].scope in ("mutation", "compound")}

    def variants_at(self, position: int) -> list[str]:
        """Known single variants at ``position`` (from singles and compound components)."""
        out = set()
        for v in self.known_variants:
            for part in v.split("+"):
                m = re.match(r"[A-Z](\d+)", part)
                if m and int(m.group(1)) == position:
                    out.add(part)
        return sorted(out)

    def statements_for(self, variant, drug: str | None = None, *, position_level: bool = True) -> list[Statement]:
        """Statements about exactly this variant (compounds: about the compound itself)."""
        key = getattr(variant, "canonical", variant)
        out = list(self._by_variant.get(key, []))
        if position_level and "+" not in key:
            m = re.match(r"([A-Z]\d+)", key)
            if m and m.group(1) != key:
                out += self._by_variant.get(m.group(1), [])
        if drug is not None:
            out = [s for s in out if s.drug == drug]
        return out

    def compounds_containing(self, single: str) -> list[str]:
        return sorted(v for v in self.known_variants if "+" in v and single in v.split("+"))

    def describe_unknown(self, variant) -> str | None:
        """None if the knowledge base has statements on ``variant``; else one sentence
        naming the closest known variants."""
        key = getattr(variant, "canonical", variant)
        if key in self.known_variants:
            return None
        parts = key.split("+")
        if len(parts) == 1:
            m = re.match(r"[A-Z](\d+)", key)
            pos = int(m.group(1)) if m else 0
            same = [v for v in self.variants_at(pos) if v != key]
            if same:
                return f"ALK {key} is not in the knowledge base; known at {pos}: {', '.join(same)}"
            near = sorted({p for v in self.known_variants for p in v.split("+")
                           if (mm := re.match(r"[A-Z](\d+)", p)) and abs(int(mm.group(1)) - pos) <= 10},
                          key=lambda p: (abs(int(re.search(r"\d+", p).group()) - pos), p))
            hint = f"; nearest known: {', '.join(near[:5])}" if near else "; no variant within 10 residues is known"
            return f"ALK {key} is not in the knowledge base{hint}"
        known = [p for p in parts if p in self.known_variants]
        other = sorted({c for p in parts for c in self.compounds_containing(p)} - {key})
        s = f"the compound ALK {key} is not in the knowledge base"
        s += f"; its components with evidence: {', '.join(known)}" if known else "; none of its components has evidence"
        if other:
            s += f"; known compounds sharing a component: {', '.join(other[:10])}"
        return s

    # ---- conflicts ---------------------------------------------------------------------
    def conflicts(self, *, nsclc_only: bool = True) -> list[Conflict]:
        """Variant x drug pairs with both sensitive and resistant statements (kept, not resolved)."""
        out = []
        for v, sts in sorted(self._by_variant.items()):
            by_drug = defaultdict(list)
            for s in sts:
                if s.drug and (s.nsclc or not nsclc_only):
                    by_drug[s.drug].append(s)
            for d, ss in sorted(by_drug.items()):
                sens = tuple(x for x in ss if x.direction == "S")
                res = tuple(x for x in ss if x.direction == "R")
                if sens and res:
                    out.append(Conflict(v, d, sens, res))
        return out

    # ---- mechanisms & settings ---------------------------------------------------------
    def mechanism(self, mid: str) -> Mechanism:
        return self._mech[mid]

    def settings_for(self, drug: str) -> list[SettingEvidence]:
        return [s for s in self.sequencing if s.drug == drug]

    def summary(self) -> dict:
        return {
            "version": self.version,
            "sources": len(self.sources),
            "statements": len(self.statements),
            "statements_from_civic": sum(s.origin == "civic" for s in self.statements),
            "mechanisms": len(self.mechanisms),
            "known_variants": len(self.known_variants),
            "conflicts": len(self.conflicts()),
        }


# ---- loading ---------------------------------------------------------------------------
def _err(where: str, what: str) -> InputError:
    return InputError(f"knowledge base {where}: {what}")


def _read_tsv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _load_sources(path: Path) -> dict[str, Source]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = {}
    for key, d in (data.get("sources") or {}).items():
        for f in ("authors", "title", "journal", "year"):
            if not d.get(f):
                raise _err(f"{path.name} [{key}]", f"field '{f}' is missing")
        if not (d.get("doi") or d.get("pmid")):
            raise _err(f"{path.name} [{key}]", "a source needs a PMID or a DOI")
        if d.get("pmid") and not re.fullmatch(r"\d{6,9}", str(d["pmid"])):
            raise _err(f"{path.name} [{key}]", f"PMID '{d['pmid']}' is not a number")
        if d.get("doi") and not str(d["doi"]).startswith("10."):
            raise _err(f"{path.name} [{key}]", f"DOI '{d['doi']}' does not start with '10.'")
        kind = d.get("kind", "")
        if kind and kind not in KINDS:
            raise _err(f"{path.name} [{key}]", f"kind '{kind}' is not one of {', '.join(KINDS)}")
        out[key] = Source(key, d["authors"], d["title"], d["journal"], int(d["year"]), str(d.get("volume_pages", "")),
                          str(d.get("doi", "")), str(d.get("pmid", "")), kind, tuple(d.get("cited_as", []) or ()),
                          d.get("note", ""))
    return out


def _check_level(where: str, kind: str, level: str, note: str) -> None:
    if kind not in KINDS:
        raise _err(where, f"kind '{kind}' is not one of {', '.join(KINDS)}")
    if level not in LEVELS:
        raise _err(where, f"level '{level}' is not one of A-E")
    if level != LEVEL_OF_KIND[kind] and not note:
        raise _err(where, f"level {level} differs from the level of '{kind}' ({LEVEL_OF_KIND[kind]}); add a note saying why")


def _variant(where: str, text: str) -> tuple[str, str]:
    from .mutations import parse_mutation

    try:
        v = parse_mutation(text)
    except InputError as e:
        raise _err(where, str(e)) from None
    if v.canonical != text:
        raise _err(where, f"variant '{text}' is not in canonical form (write {v.canonical})")
    return v.canonical, "compound" if v.is_compound else "mutation"


def _source(sources, where, key) -> Source:
    if key not in sources:
        raise _err(where, f"source '{key}' is not in sources.yaml")
    return sources[key]


def _load_statements(path: Path, sources, tkis) -> list[Statement]:
    out, seen = [], set()
    for i, r in enumerate(_read_tsv(path), start=2):
        where = f"{path.name} line {i}"
        if r["id"] in seen:
            raise _err(where, f"duplicate id {r['id']}")
        seen.add(r["id"])
        variant, scope = _variant(where, r["variant"])
        if r["drug"] not in tkis:
            raise _err(where, f"drug '{r['drug']}' is not an ALK TKI of drugs.yaml")
        if r["effect"] not in EFFECT_DIRECTION:
            raise _err(where, f"effect '{r['effect']}' is not one of {', '.join(EFFECT_DIRECTION)}")
        _check_level(where, r["kind"], r["level"], r["note"])
        if r["resensitizes"] not in ("yes", "no"):
            raise _err(where, "resensitizes must be yes or no")
        out.append(Statement(
            r["id"], variant, r["drug"], r["effect"], _source(sources, where, r["source"]), r["kind"], r["level"],
            _source(sources, where, r["review"]) if r["review"] else None, r["review_item"], r["printed"],
            r["disease"] or "NSCLC", r["resensitizes"] == "yes", r["note"], scope=scope,
        ))
    return out


def _civic_source(row: dict, sources: dict[str, Source]) -> Source:
    for s in sources.values():
        if s.pmid == row["pmid"]:
            return s
    m = re.match(r"(.+?),\s*(\d{4}),\s*(.+)", row["citation"])
    authors, year, journal = (m.group(1), int(m.group(2)), m.group(3).rstrip(".")) if m else (row["citation"], 0, "")
    return Source(f"pmid{row['pmid']}", authors, f"(CIViC EID{row['eid']})", journal, year, pmid=row["pmid"])


def _load_civic(path: Path, sources, tkis) -> tuple[list[dict], list[Statement]]:
    rows = _read_tsv(path)
    from .civic import COLUMNS

    if rows and list(rows[0]) != COLUMNS:
        raise _err(path.name, f"columns must be {COLUMNS}")
    statements = []
    for r in rows:
        where = f"{path.name} EID{r['eid']}"
        if r["evidence_level"] not in LEVELS:
            raise _err(where, f"level '{r['evidence_level']}' is not A-E")
        if not re.fullmatch(r"\d+", r["pmid"]):
            raise _err(where, f"PMID '{r['pmid']}' is not a number")
        if r["evidence_type"] != "Predictive" or r["scope"] not in ("mutation", "compound", "position", "amplification", "fusion"):
            continue
        if r["drug_interaction_type"] in ("combination", "substitutes"):
            continue
        sig, direc = r["clinical_significance"], r["evidence_direction"]
        if sig == "Resistance":
            effect = "resistant" if direc == "Supports" else "not_resistant"
        elif sig == "Sensitivity/Response":
            effect = "sensitive" if direc == "Supports" else "not_sensitive"
        else:
            continue
        src = _civic_source(r, sources)
        disease = "NSCLC" if r["disease"] in NSCLC_DISEASES else r["disease"]
        variant = r["variant"]
        scope = r["scope"]
        if scope == "amplification":
            variant = "mechanism:alk_copy_gain"
        elif scope == "fusion":
            if not r["fusion_variant"]:
                continue
            variant = f"mechanism:eml4alk_{r['fusion_variant']}"
        for d in [x.strip() for x in r["drugs"].split(",") if x.strip()]:
            if d not in tkis:
                continue
            statements.append(Statement(
                f"civic-EID{r['eid']}" + (f"-{d}" if "," in r["drugs"] else ""), variant, d, effect, src,
                CIVIC_KIND[r["evidence_level"]], r["evidence_level"], None, f"CIViC EID{r['eid']}",
                r["civic_variant"], disease, False, "", r["statement"], scope, "civic"))
    return rows, statements


STATEMENT_KEYS = {"effect", "drugs", "source", "review", "item", "kind", "level", "note", "text", "disease"}
OPTION_KEYS = STATEMENT_KEYS | {"therapy", "kind_of_option", "idea"}


def _statement_from_yaml(where, d, sources, tkis, variant, drug, idx) -> Statement:
    kind = d.get("kind") or _source(sources, where, d["source"]).kind
    level = d.get("level") or LEVEL_OF_KIND.get(kind, "")
    _check_level(where, kind, level, d.get("note", ""))
    if drug and drug not in tkis:
        raise _err(where, f"drug '{drug}' is not an ALK TKI of drugs.yaml")
    effect = d.get("effect", "context")
    if effect not in EFFECT_DIRECTION:
        raise _err(where, f"effect '{effect}' is unknown")
    review = d.get("review")
    return Statement(idx, variant, drug, effect, _source(sources, where, d["source"]), kind, level,
                     _source(sources, where, review) if review else None, d.get("item", ""), "",
                     d.get("disease", "NSCLC"), False, d.get("note", ""), " ".join(str(d.get("text", "")).split()),
                     "mechanism")


def _load_ideas(path: Path, data: dict) -> dict[str, str]:
    """``{idea: display name}`` of mechanisms.yaml's ``ideas``."""
    ideas = (data or {}).get("ideas") or {}
    if not isinstance(ideas, dict) or not all(isinstance(v, str) and v.strip() for v in ideas.values()):
        raise _err(path.name, "ideas must map each idea key to a display name")
    return {str(k): str(v) for k, v in ideas.items()}


def _load_mechanisms(path: Path, sources, tkis) -> tuple[list[Mechanism], dict[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    ideas = _load_ideas(path, data)
    out = []
    cats = {"on_target", "off_target", "phenotypic", "context"}
    for m in data.get("mechanisms", []):
        where = f"{path.name} [{m.get('id')}]"
        for f in ("id", "name", "label", "category", "detect"):
            if not m.get(f):
                raise _err(where, f"field '{f}' is missing")
        if m["category"] not in cats:
            raise _err(where, f"category must be one of {sorted(cats)}")
        for d in m.get("affects", []):
            if d not in tkis:
                raise _err(where, f"affects lists '{d}', not an ALK TKI")
        mech = Mechanism(m["id"], m["name"], m["label"], m["category"], m["detect"], tuple(m.get("affects", [])),
                         caveats=list(m.get("caveats", []) or []))
        for item in (m.get("statements", []) or []) + (m.get("options", []) or []):
            allowed = OPTION_KEYS if "therapy" in item else STATEMENT_KEYS
            if extra := set(item) - allowed:
                raise _err(where, f"unknown key(s) {sorted(extra)} (quote values that contain commas)")
        for j, st in enumerate(m.get("statements", []) or [], start=1):
            drugs = st.get("drugs") or [""]
            for d in drugs:
                sid = f"mech-{m['id']}-{j:02d}" + (f"-{d}" if d and len(drugs) > 1 else "")
                mech.statements.append(_statement_from_yaml(where, st, sources, tkis, f"mechanism:{m['id']}", d, sid))
        for j, op in enumerate(m.get("options", []) or [], start=1):
            if op.get("kind_of_option") not in ("alk_tki", "combination", "other"):
                raise _err(where, "option kind_of_option must be alk_tki, combination or other")
            s = _statement_from_yaml(where, {**op, "effect": "context"}, sources, tkis, f"mechanism:{m['id']}", "",
                                     f"mech-{m['id']}-opt{j:02d}")
            for d in op.get("drugs", []) or []:
                if d not in tkis:
                    raise _err(where, f"option drug '{d}' is not an ALK TKI")
            idea = str(op.get("idea") or "")
            if idea and idea not in ideas:
                raise _err(where, f"option idea '{idea}' is not named under ideas")
            mech.options.append(OptionEvidence(op["therapy"], op["kind_of_option"], tuple(op.get("drugs", []) or ()), s,
                                               idea))
        out.append(mech)
    return out, ideas


def _load_sequencing(path: Path, sources) -> list[SettingEvidence]:
    out = []
    for i, r in enumerate(_read_tsv(path), start=2):
        where = f"{path.name} line {i}"
        _check_level(where, r["kind"], r["level"], r["note"])
        if r["effect"] not in ("active", "limited"):
            raise _err(where, "effect must be active or limited")
        st = Statement(r["id"], f"setting:{r['setting']}", r["drug"], "sensitive" if r["effect"] == "active" else "resistant",
                       _source(sources, where, r["source"]), r["kind"], r["level"],
                       _source(sources, where, r["review"]) if r["review"] else None, r["review_item"], "", "NSCLC",
                       False, r["note"], r["text"], "setting")
        out.append(SettingEvidence(r["drug"], r["setting"], r["effect"], st))
    return out


def load_knowledge_base(path: str | Path | None = None) -> KnowledgeBase:
    """Load and validate the knowledge base (the packaged one by default; cached)."""
    return _load(str(path) if path else "")


@lru_cache(maxsize=4)
def _load(path: str) -> KnowledgeBase:
    global _LOADING
    root = Path(path) if path else Path(str(resources.files("ctcscope.resistance").joinpath("data/kb")))
    if not root.is_dir():
        raise InputError(f"knowledge base folder {root} does not exist")
    _LOADING = True
    try:
        manifest = yaml.safe_load((root / "manifest.yaml").read_text(encoding="utf-8"))
        for f in manifest.get("files", []):
            if not (root / f).exists():
                raise _err(str(root), f"file {f} listed in manifest.yaml is missing")
        sources = _load_sources(root / "sources.yaml")
        drugs = yaml.safe_load((root / "drugs.yaml").read_text(encoding="utf-8"))
        tkis = set(drugs["alk_tkis"])
        if tkis != set(ALK_TKIS):
            raise _err("drugs.yaml", f"alk_tkis must be {', '.join(ALK_TKIS)}")
        statements = _load_statements(root / "statements.tsv", sources, tkis)
        civic_rows, civic_statements = _load_civic(root / "civic_alk.tsv", sources, tkis)
        mechanisms, ideas = _load_mechanisms(root / "mechanisms.yaml", sources, tkis)
        mech_by_id = {m.id: m for m in mechanisms}
        plain = []
        for s in civic_statements:
            if s.variant.startswith("mechanism:"):
                mid = s.variant.split(":", 1)[1]
                if mid in mech_by_id:
                    mech_by_id[mid].statements.append(s)
            else:
                plain.append(s)
        sequencing = _load_sequencing(root / "sequencing.tsv", sources)
    finally:
        _LOADING = False
    kb = KnowledgeBase(root, manifest, sources, drugs, statements + plain, mechanisms, sequencing, civic_rows)
    kb.ideas = ideas
    return kb


def loading() -> bool:
    """True while the knowledge base is being loaded (guards error hints against recursion)."""
    return _LOADING


def all_statements(kb: KnowledgeBase) -> Iterable[Statement]:
    """Variant statements and mechanism statements together."""
    yield from kb.statements
    for m in kb.mechanisms:
        yield from m.statements
