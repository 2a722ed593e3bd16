"""Patient sheet: treatment lines, ALK fusion, ALK mutations and other alterations.

Two forms are read (see ``docs/data-model.md`` and ``docs/resistance.md``):

YAML (canonical)::

    patients:
      - id: P45
        fusion: EML4-ALK
        variant: v3
        treatments:
          - {drug: crizotinib, months: 9.5, best_response: PR}
          - {drug: lorlatinib, months: 3.6, best_response: PR, progressed: true}
        mutations:
          - {name: G1202R+F1174C, found_in: [P45_CTC3, biopsy]}
        alterations:                     # optional, non-ALK findings
          - {name: MET amplification, found_in: [biopsy]}
        histology: adenocarcinoma        # optional
        notes: free text

TSV/CSV, one row per patient, columns ``patient`` (or ``id``), ``fusion``, ``variant``,
``treatments``, ``mutations``, ``alterations``, ``histology``, ``notes``; lists inside a cell
are separated by ``|``::

    treatments   crizotinib:9.5:PR | ceritinib:1.5:PD | lorlatinib:3.6:PR:progressed
    mutations    G1202R+F1174C@P45_CTC3,biopsy | G1202R/T1151M@P45_CTC5
    alterations  MET amplification@biopsy | BRAF V600E@ctDNA

A treatment is ``drug[:months[:best_response[:progressed|ongoing]]]``; a mutation or
alteration is ``name[@where,where,...]``.

Treatment lines are in order; the last one is the drug at resistance.  A line counts as
*failed* (the patient progressed on it) unless it says ``progressed: false`` (e.g. stopped
for toxicity); the last line counts as failed because the sheet describes resistance.
"""
from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml

from ..errors import InputError
from .mutations import AlkVariant, parse_mutation

RESPONSES = {"CR", "PR", "SD", "PD", "NE", "NA", ""}

#: Gene-name synonyms accepted in alteration names.
GENE_ALIASES = {"HER2": "ERBB2", "HER3": "ERBB3", "HER4": "ERBB4", "C-MET": "MET", "CMET": "MET", "MDR1": "ABCB1",
                "P-GP": "ABCB1", "PGP": "ABCB1", "YAP": "YAP1", "IGF-1R": "IGF1R", "MEK1": "MAP2K1", "C-KIT": "KIT",
                "P53": "TP53", "RB": "RB1", "MRP8": "ABCC11"}
#: Words naming an event, mapped to the event vocabulary of mechanisms.yaml.
EVENT_WORDS = {
    "amplification": "amplification", "amplified": "amplification", "amp": "amplification",
    "gain": "gain", "copy gain": "gain", "polysomy": "gain",
    "loss": "loss", "deletion": "deletion", "deleted": "deletion", "homozygous deletion": "deletion",
    "inactivation": "loss", "truncation": "truncation", "truncating": "truncation",
    "mutation": "mutation", "mutated": "mutation", "mutant": "mutation",
    "fusion": "fusion", "rearrangement": "fusion", "activation": "activation", "activated": "activation",
    "overexpression": "overexpression", "upregulation": "overexpression", "high expression": "overexpression",
}
PHENOTYPIC_TERMS = ("transformation", "squamous", "small cell", "small-cell", "sclc", "neuroendocrine", "emt",
                    "mesenchymal", "vimentin", "cns", "brain", "leptomeningeal")


@dataclass(frozen=True)
class Treatment:
    drug: str                 # as written
    tki: str | None           # canonical ALK-TKI name, None for other treatments
    months: float | None = None
    best_response: str = ""
    progressed: bool | None = None

    @property
    def name(self) -> str:
        return self.tki or self.drug.lower()


@dataclass(frozen=True)
class SheetMutation:
    variant: AlkVariant
    found_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class Alteration:
    """A non-ALK finding (``MET amplification``, ``BRAF V600E``) or a phenotypic term."""

    text: str
    gene: str = ""
    event: str = ""
    detail: str = ""
    found_in: tuple[str, ...] = ()

    @property
    def is_term(self) -> bool:
        return not self.gene


@dataclass
class Patient:
    id: str
    fusion: str = ""
    variant: str = ""
    treatments: list[Treatment] = field(default_factory=list)
    mutations: list[SheetMutation] = field(default_factory=list)
    alterations: list[Alteration] = field(default_factory=list)
    histology: str = ""
    notes: str = ""

    @property
    def drug_at_resistance(self) -> str:
        return self.treatments[-1].name if self.treatments else ""

    @property
    def failed_tkis(self) -> list[str]:
        """ALK TKIs the patient progressed on, in order (see the module docstring)."""
        out = []
        for t in self.treatments:
            failed = t.progressed if t.progressed is not None else True
            if t.tki and failed and t.tki not in out:
                out.append(t.tki)
        return out

    @property
    def tkis_received(self) -> list[str]:
        out = []
        for t in self.treatments:
            if t.tki and t.tki not in out:
                out.append(t.tki)
        return out


def parse_alteration(text: str, found_in: Iterable[str] = ()) -> Alteration:
    """Read a non-ALK finding: ``MET amplification``, ``BRAF V600E``, ``NF2 loss``,
    ``SCLC transformation``..."""
    t = " ".join(str(text).split())
    if not t:
        raise InputError("an alteration is empty; write e.g. 'MET amplification' or 'BRAF V600E'")
    low = t.lower()
    if any(w in low for w in PHENOTYPIC_TERMS) or low in ("sclc",):
        return Alteration(t, found_in=tuple(found_in))
    first, _, rest = t.partition(" ")
    gene = GENE_ALIASES.get(first.upper(), first.upper())
    if not re.fullmatch(r"[A-Z][A-Z0-9-]{1,9}", gene):
        raise InputError(f"alteration '{t}' does not start with a gene symbol; write e.g. 'MET amplification', "
                         "'BRAF V600E' or a finding such as 'SCLC transformation'")
    rest_low = rest.lower().strip()
    detail = ""
    event = ""
    if re.fullmatch(r"(?i)(p\.)?[a-z*]{1,3}\d+[a-z*]{1,3}|(p\.)?[a-z]\d+(del|dup|fs\*?\d*)", rest.strip()):
        detail = re.sub(r"^p\.", "", rest.strip()).upper()
        event = "mutation"
    else:
        for w in sorted(EVENT_WORDS, key=len, reverse=True):
            if w in rest_low:
                event = EVENT_WORDS[w]
                break
    if not event:
        raise InputError(f"alteration '{t}' names no event; add one of amplification, gain, loss, mutation, "
                         "fusion, activation, overexpression, or a protein change such as V600E")
    return Alteration(t, gene, event, detail, tuple(found_in))


def _kb():
    from .knowledge import load_knowledge_base

    return load_knowledge_base()


def _treatment(pid: str, d: dict, i: int) -> Treatment:
    if not isinstance(d, dict) or not d.get("drug"):
        raise InputError(f"patient {pid}: treatment line {i} has no drug; write e.g. {{drug: crizotinib, months: 9.5}}")
    drug = str(d["drug"]).strip()
    kb = _kb()
    tki = kb.drug_name(drug)
    if tki is None:
        close = difflib.get_close_matches(drug.lower(), list(kb.drugs["alk_tkis"]), n=1, cutoff=0.75)
        if close:
            raise InputError(f"patient {pid}: treatment '{drug}' is not a known drug; did you mean {close[0]}?")
    months = d.get("months")
    if months not in (None, ""):
        try:
            months = float(months)
        except (TypeError, ValueError):
            raise InputError(f"patient {pid}: months of {drug} must be a number, not '{months}'") from None
        if months < 0:
            raise InputError(f"patient {pid}: months of {drug} cannot be negative")
    else:
        months = None
    resp = str(d.get("best_response") or "").strip().upper()
    if resp not in RESPONSES:
        raise InputError(f"patient {pid}: best_response '{resp}' of {drug} must be one of CR, PR, SD, PD, NE")
    prog = d.get("progressed")
    if isinstance(prog, str):
        prog = {"true": True, "yes": True, "false": False, "no": False}.get(prog.strip().lower(), prog)
    if prog is not None and not isinstance(prog, bool):
        raise InputError(f"patient {pid}: progressed of {drug} must be true or false")
    return Treatment(drug, tki, months, resp, prog)


def _mutation_or_alteration(pid: str, item) -> SheetMutation | Alteration:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict) or not item.get("name"):
        raise InputError(f"patient {pid}: a mutation needs a name, e.g. {{name: G1202R, found_in: [ctDNA]}}")
    found = item.get("found_in") or []
    if isinstance(found, str):
        found = [x.strip() for x in re.split(r"[,;|]", found) if x.strip()]
    name = str(item["name"]).strip()
    if not re.search(r"\d", name):  # 'MET amplification', 'EMT', 'SCLC transformation'
        return parse_alteration(name, found)
    m = re.match(r"^([A-Za-z0-9-]+)[\s:]", name)
    if m and m.group(1).upper() != "ALK" and not re.fullmatch(r"(?i)p", m.group(1)) \
            and not re.fullmatch(r"[A-Z]\d+[A-Za-z]*", m.group(1)):
        return parse_alteration(name, found)
    try:
        return SheetMutation(parse_mutation(name), tuple(str(x) for x in found))
    except InputError as e:
        raise InputError(f"patient {pid}: {e}") from None


def _patient(d: dict, where: str) -> Patient:
    if not isinstance(d, dict):
        raise InputError(f"{where}: each patient must be a mapping with at least an 'id'")
    pid = str(d.get("id") or d.get("patient") or "").strip()
    if not pid:
        raise InputError(f"{where}: a patient has no 'id'; give every patient an id matching the sample sheet")
    known = {"id", "patient", "fusion", "variant", "treatments", "mutations", "alterations", "histology", "notes"}
    extra = set(d) - known
    if extra:
        raise InputError(f"{where}: patient {pid} has unknown field(s) {', '.join(sorted(extra))}; "
                         f"allowed: {', '.join(sorted(known - {'patient'}))}")
    p = Patient(pid, str(d.get("fusion") or ""), str(d.get("variant") or ""), histology=str(d.get("histology") or ""),
                notes=str(d.get("notes") or ""))
    for i, t in enumerate(d.get("treatments") or [], start=1):
        p.treatments.append(_treatment(pid, t, i))
    for item in list(d.get("mutations") or []) + list(d.get("alterations") or []):
        x = _mutation_or_alteration(pid, item)
        (p.mutations if isinstance(x, SheetMutation) else p.alterations).append(x)
    if p.histology:
        low = p.histology.lower()
        if any(w in low for w in PHENOTYPIC_TERMS):
            p.alterations.append(Alteration(p.histology, found_in=("histology",)))
    return p


def _split(cell: str) -> list[str]:
    return [x.strip() for x in str(cell or "").split("|") if x.strip()]


def _row_to_dict(row: dict, where: str) -> dict:
    d = {k: v for k, v in row.items() if k and v not in (None, "")}
    out = {k: d[k] for k in ("id", "patient", "fusion", "variant", "histology", "notes") if k in d}
    extra = set(d) - {"id", "patient", "fusion", "variant", "histology", "notes", "treatments", "mutations", "alterations"}
    if extra:
        raise InputError(f"{where}: unknown column(s) {', '.join(sorted(extra))}")
    out["treatments"] = []
    for t in _split(d.get("treatments", "")):
        parts = [x.strip() for x in t.split(":")]
        item = {"drug": parts[0]}
        if len(parts) > 1 and parts[1]:
            item["months"] = parts[1]
        if len(parts) > 2:
            item["best_response"] = parts[2]
        if len(parts) > 3:
            if parts[3].lower() not in ("progressed", "ongoing", "stopped"):
                raise InputError(f"{where}: treatment '{t}': the fourth field must be progressed, ongoing or stopped")
            item["progressed"] = parts[3].lower() == "progressed"
        out["treatments"].append(item)
    for key in ("mutations", "alterations"):
        items = []
        for m in _split(d.get(key, "")):
            name, _, where_found = m.partition("@")
            items.append({"name": name.strip(), "found_in": [x.strip() for x in where_found.split(",") if x.strip()]})
        out[key] = items
    return out


def read_patients(path: str | Path) -> list[Patient]:
    """Read a patient sheet (``.yaml``/``.yml`` or ``.tsv``/``.csv``/``.txt``)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"patient sheet {path} does not exist")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark else ""
            raise InputError(f"patient sheet {path.name} is not valid YAML{at}; check indentation and colons") from None
        if isinstance(data, dict) and "patients" in data:
            data = data["patients"]
        if not isinstance(data, list):
            raise InputError(f"patient sheet {path.name} must hold a list under 'patients:'")
        rows = [(d, f"{path.name} patient {i}") for i, d in enumerate(data, start=1)]
    else:
        sep = "," if path.suffix.lower() == ".csv" else "\t"
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader((ln for ln in fh if not ln.startswith("#")), delimiter=sep)
            if not reader.fieldnames or not ({"patient", "id"} & set(reader.fieldnames)):
                raise InputError(f"patient sheet {path.name} needs a 'patient' (or 'id') column")
            rows = [(_row_to_dict(r, f"{path.name} line {i}"), f"{path.name} line {i}") for i, r in enumerate(reader, start=2)]
    patients = [_patient(d, where) for d, where in rows]
    seen = set()
    for p in patients:
        if p.id in seen:
            raise InputError(f"patient sheet {path.name} lists patient {p.id} twice; merge the rows")
        seen.add(p.id)
    return patients


def patients_from_records(records: Iterable[dict]) -> list[Patient]:
    """Build patients from dicts in the YAML layout (for notebooks and tests)."""
    out = [_patient(d, f"patient {i}") for i, d in enumerate(records, start=1)]
    if len({p.id for p in out}) != len(out):
        raise InputError("two patients share an id; ids must be unique")
    return out


def drug_at_resistance(patients) -> dict[str, str]:
    """``{patient: drug at resistance}`` (last treatment line), for the drivers step's grouping.

    ``patients`` is a list of :class:`Patient` or a path to a patient sheet.
    """
    if isinstance(patients, (str, Path)):
        patients = read_patients(patients)
    return {p.id: p.drug_at_resistance for p in patients if p.treatments}
