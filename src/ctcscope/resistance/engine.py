"""Interpretation engine: one evidence-backed reading of resistance per patient.

For each patient it combines the patient sheet (treatment lines, ALK mutations with the
samples they were found in, other findings) with, when present, the cohort's per-cell
driver events (``drivers.tsv`` or ``genes.tsv``) and cell table (``cells.tsv``):

1. the **cells** it reads: tumour CTCs = ``sample_type`` ctc/ctc_pool, ``qc_pass`` and not
   ``normal_like`` (the denominators of every prevalence), biopsies reported apart;
2. the **mechanisms** detected (on-target / off-target / phenotypic / context), each with
   the cells that carry it ("MET amplification in 3 of 11 CTCs"), and whether two
   mechanisms **co-occur** in one cell or sit in different cells;
3. a **TKI x expected-activity matrix** for the patient's ALK variants, using compound
   evidence when it exists (never a union of singles) and inferring from the components,
   flagged as such, only when it does not;
4. **options** to discuss (see :mod:`ctcscope.resistance.options`) and **caveats**.

Copy-number findings are weighed by level **and extent** (``genes.tsv``/``drivers.tsv``
columns ``focal``, ``arm_fraction``, ``segment_mb``; GISTIC 2.0's focal vs broad split): a
per-cell event is an *amplification* (``amp`` state, focal or of unknown extent), a
*homozygous deletion*, a *focal* gain or loss (region < half of the arm, high confidence),
or a *broad* change (arm-level or larger part of an arm; a broad ``amp`` is a broad
high-level gain, polysomy-like).  An off-target mechanism is **actionable** (it may carry
combination options) only when some CTC carries it as an amplification, a homozygous
deletion or a focal event, when a biopsy does, or when the patient sheet reports it; broad
changes alone are **context**: reported with their prevalence, without options.

Rules used by the matrix (documented in ``docs/resistance.md``):

- statements from ALK-positive NSCLC take precedence; statements from other ALK-driven
  tumours (ALCL, neuroblastoma, IMT) are shown and used only when no NSCLC statement
  exists for that variant x drug;
- sensitive and resistant statements together give ``conflicting`` (both kept and shown);
- a compound with its own statements is called from them alone; otherwise it is
  ``resistant`` if any component is resistant, ``sensitive`` only if every component is
  (basis ``inferred from components``), else ``conflicting``/``unknown``.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from itertools import combinations

import pandas as pd

from ..errors import InputError
from .knowledge import ALK_TKIS, KnowledgeBase, Mechanism, Statement, level_rank, load_knowledge_base
from .mutations import AlkVariant
from .patients import Alteration, Patient

TUMOUR_CTC_TYPES = ("ctc", "ctc_pool")
RESEARCH_USE = ("Research use only: this reading summarises published evidence for discussion by a molecular "
                "tumour board; it is not a treatment recommendation.")
CALL_ORDER = ("resistant", "conflicting", "reduced", "unknown", "sensitive")


@dataclass
class Call:
    """Expected activity of one drug against one ALK variant."""

    unit: str
    drug: str
    call: str                 # sensitive | resistant | conflicting | reduced | unknown
    basis: str                # compound evidence | mutation evidence | inferred from components | no evidence
    statements: list[Statement] = field(default_factory=list)
    components: dict[str, str] = field(default_factory=dict)
    other_disease_only: bool = False
    resensitization: bool = False

    @property
    def best_level(self) -> str:
        lv = [s.level for s in self.supporting]
        return min(lv, key=level_rank) if lv else ""

    @property
    def supporting(self) -> list[Statement]:
        want = {"sensitive": {"S"}, "resistant": {"R"}, "reduced": {"reduced"}}.get(self.call, {"S", "R", "reduced"})
        return [s for s in self.statements if s.direction in want]

    def to_dict(self) -> dict:
        d = {"unit": self.unit, "drug": self.drug, "call": self.call, "basis": self.basis,
             "best_level": self.best_level or None,
             "n_sensitive": sum(s.direction == "S" for s in self.statements),
             "n_resistant": sum(s.direction == "R" for s in self.statements),
             "statements": [s.to_dict() for s in sorted(self.statements, key=lambda s: (level_rank(s.level), s.id))]}
        if self.components:
            d["components"] = self.components
        if self.other_disease_only:
            d["other_disease_only"] = True
        if self.resensitization:
            d["resensitization"] = True
        return d


def _verdict(statements: list[Statement]) -> str:
    dirs = {s.direction for s in statements}
    if "S" in dirs and "R" in dirs:
        return "conflicting"
    if "R" in dirs:
        return "resistant"
    if "S" in dirs:
        return "sensitive"
    if "reduced" in dirs:
        return "reduced"
    return "unknown"


def activity(kb: KnowledgeBase, variant: AlkVariant | str, drug: str) -> Call:
    """Expected activity of ``drug`` against one ALK variant (single or compound)."""
    from .mutations import parse_mutation

    v = variant if isinstance(variant, AlkVariant) else parse_mutation(variant)
    direct = [s for s in kb.statements_for(v, drug) if s.direction in ("S", "R", "reduced")]
    nsclc = [s for s in direct if s.nsclc]
    use = nsclc or direct
    if use:
        c = Call(v.canonical, drug, _verdict(use), "compound evidence" if v.is_compound else "mutation evidence", use,
                 other_disease_only=not nsclc)
        c.resensitization = c.call == "sensitive" and any(s.resensitizes for s in use)
        return c
    if not v.is_compound:
        return Call(v.canonical, drug, "unknown", "no evidence")
    comps = {m.canonical: activity(kb, m, drug) for m in v.components}
    calls = {k: c.call for k, c in comps.items()}
    vals = set(calls.values())
    if "resistant" in vals:
        verdict = "resistant"
    elif "conflicting" in vals:
        verdict = "conflicting"
    elif "unknown" in vals:
        verdict = "unknown"
    elif "reduced" in vals:
        verdict = "reduced"
    else:
        verdict = "sensitive"
    sts = [s for c in comps.values() for s in c.statements]
    return Call(v.canonical, drug, verdict, "inferred from components", sts, calls,
                other_disease_only=any(c.other_disease_only for c in comps.values()))


def tki_matrix(kb: KnowledgeBase, variants: list[AlkVariant]) -> dict:
    """Activity of every ALK TKI against each variant, and the per-drug summary over all
    variants (the worst call: a drug must cover every variant the patient carries)."""
    units = list(dict.fromkeys(variants))
    calls = [activity(kb, v, d) for v in units for d in ALK_TKIS]
    summary = {}
    for d in ALK_TKIS:
        cs = [c for c in calls if c.drug == d]
        if not cs:
            summary[d] = "no ALK mutation reported"
            continue
        summary[d] = min((c.call for c in cs), key=CALL_ORDER.index)
    return {"units": [v.canonical for v in units], "calls": calls, "summary": summary}


# ---- cells and copy number --------------------------------------------------------------
#: Per-cell copy-number event classes that make a mechanism actionable.
ACTIONABLE_CLASSES = ("amplification", "homozygous deletion", "focal gain", "focal loss")
#: A region covering at least this share of its arm is called arm-level (Mermel et al. 2011).
ARM_LEVEL_FRACTION = 0.98


@dataclass(frozen=True)
class CellEvent:
    """One gene's copy-number state in one sample, with the extent of the region behind it."""

    sample_id: str
    gene: str
    state: str                      # amp | gain | loss | homdel
    confidence: str = "high"
    focal: bool | None = None       # None: extent unknown (a table without extent columns)
    arm_fraction: float = float("nan")
    segment_mb: float = float("nan")
    reason: str = ""                # why a low-confidence call is low (drivers.tsv low_confidence_reason)

    @property
    def event_class(self) -> str:
        """``amplification``, ``homozygous deletion``, ``focal gain``/``focal loss``,
        ``broad high-level gain``, ``broad gain``/``broad loss`` or, extent unknown, ``gain``/``loss``."""
        if self.state == "homdel":
            return "homozygous deletion"
        if self.state == "amp":
            return "broad high-level gain" if self.focal is False else "amplification"
        direction = "gain" if self.state == "gain" else "loss"
        if self.focal is None:
            return direction
        return f"focal {direction}" if self.focal else f"broad {direction}"

    @property
    def count_class(self) -> str:
        """The class a cell is counted under: :attr:`event_class`, except that a focal gain or
        loss of low confidence is counted apart (it does not make the mechanism actionable,
        so the rows count it apart too and their counts agree with the headline's)."""
        c = self.event_class
        return f"low-confidence {c}" if c in ("focal gain", "focal loss") and self.confidence == "low" else c

    @property
    def actionable(self) -> bool:
        c = self.event_class
        if c in ("amplification", "homozygous deletion"):
            return True
        return c in ("focal gain", "focal loss") and self.confidence == "high"

    @property
    def extent(self) -> str:
        """``"focal, 2.5 Mb"``, ``"arm-level"``, ``"broad, 62% of the arm"`` or ``""``."""
        if self.focal is None:
            return ""
        if self.focal:
            return f"focal, {self.segment_mb:.1f} Mb" if self.segment_mb == self.segment_mb else "focal"
        if self.arm_fraction == self.arm_fraction:
            return "arm-level" if self.arm_fraction >= ARM_LEVEL_FRACTION else \
                f"broad, {round(100 * self.arm_fraction)}% of the arm"
        return "broad"

    def label(self) -> str:
        ext = self.extent
        return f"{self.gene}:{self.state}" + (f" ({ext})" if ext else "") + \
            ((" (low)" if ext else "(low)") if self.confidence == "low" else "")


# strongest first: the class a cell is counted under when it carries several events
CLASS_ORDER = ("amplification", "homozygous deletion", "focal gain", "focal loss", "low-confidence focal gain",
               "low-confidence focal loss", "broad high-level gain", "gain", "loss", "broad gain", "broad loss")
#: ``low_confidence_reason`` codes of the drivers step in words.
REASON_WORDS = {"near_breakpoint": "at or across a breakpoint", "uncertain_ploidy": "ploidy uncertain",
                "few_bins": "too few bins", "in_unusable_bins": "in unmeasured bins", "low_qc_sample": "sample failed QC"}


def reason_words(code: str) -> str:
    """``"near_breakpoint;uncertain_ploidy"`` → ``"at or across a breakpoint, ploidy uncertain"``."""
    parts = [c.strip() for c in str(code or "").split(";") if c.strip()]
    return ", ".join(REASON_WORDS.get(c, c.replace("_", " ")) for c in parts)


def _bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    return s.astype(str).str.strip().str.lower().isin(["true", "1", "yes", "t"])


def _prepare_cells(cells: pd.DataFrame | None) -> pd.DataFrame | None:
    if cells is None:
        return None
    c = cells.copy()
    if "sample_id" not in c.columns:
        if c.index.name == "sample_id" or c.index.dtype == object:
            c = c.reset_index().rename(columns={c.index.name or "index": "sample_id"})
        else:
            raise InputError("cells table has no 'sample_id' column; pass cells.tsv from the copy-number step")
    if "patient" not in c.columns:
        raise InputError("cells table has no 'patient' column; add the patient of each sample to the sample sheet")
    c["sample_id"] = c["sample_id"].astype(str)
    c["patient"] = c["patient"].fillna("").astype(str)
    c["sample_type"] = c["sample_type"].fillna("ctc").astype(str).str.lower() if "sample_type" in c else "ctc"
    c["qc_pass"] = _bool(c["qc_pass"]) if "qc_pass" in c else True
    c["normal_like"] = _bool(c["normal_like"]) if "normal_like" in c else False
    c["phenotype"] = c["phenotype"].fillna("").astype(str) if "phenotype" in c else ""
    return c


def _prepare_events(events: pd.DataFrame | None, min_confidence: str) -> pd.DataFrame | None:
    if events is None:
        return None
    need = {"sample_id", "gene", "state"}
    if missing := need - set(events.columns):
        raise InputError(f"driver table lacks column(s) {', '.join(sorted(missing))}; pass drivers.tsv or genes.tsv")
    e = events.copy()
    e["sample_id"] = e["sample_id"].astype(str)
    e["gene"] = e["gene"].astype(str).str.upper()
    e["state"] = e["state"].astype(str).str.lower()
    e = e[e["state"].isin(["amp", "gain", "loss", "homdel"])]
    if "confidence" in e.columns:
        e["confidence"] = e["confidence"].fillna("high").astype(str).str.lower()
        if min_confidence == "high":
            e = e[e["confidence"] == "high"]
    else:
        e["confidence"] = "high"
    # extent of the altered region (drivers step); absent in older or hand-made tables
    e["_extent"] = "focal" in e.columns
    if "focal" in e.columns:
        from ..drivers.events import as_bool

        e["focal"] = as_bool(e["focal"])
    for c in ("arm_fraction", "segment_mb"):
        e[c] = pd.to_numeric(e[c], errors="coerce") if c in e.columns else float("nan")
    e["_reason"] = (e["low_confidence_reason"].fillna("").astype(str) if "low_confidence_reason" in e.columns else "")
    return e


def _index_events(ev: pd.DataFrame | None) -> dict[str, list[CellEvent]]:
    """``{gene: [CellEvent, ...]}`` of one patient's events."""
    out: dict[str, list] = defaultdict(list)
    if ev is None or not len(ev):
        return out
    known = bool(ev["_extent"].iloc[0])
    focal = ev["focal"].to_numpy() if known else [None] * len(ev)
    reasons = ev["_reason"].to_numpy() if "_reason" in ev else [""] * len(ev)
    for sid, gene, state, conf, foc, af, mb, why in zip(ev["sample_id"].to_numpy(), ev["gene"].to_numpy(),
                                                       ev["state"].to_numpy(), ev["confidence"].to_numpy(), focal,
                                                       ev["arm_fraction"].to_numpy(float),
                                                       ev["segment_mb"].to_numpy(float), reasons):
        out[gene].append(CellEvent(sid, gene, state, conf, None if foc is None else bool(foc), float(af), float(mb),
                                   str(why)))
    return out


def _cn_carriers(mech: Mechanism, by_gene: dict, samples: set[str]
                 ) -> tuple[dict[str, list[CellEvent]], dict[str, dict[str, CellEvent]]]:
    """``({sample_id: [CellEvent, ...]}, per-gene hits)`` for the samples carrying the
    mechanism (for ``all_of`` mechanisms: every gene altered in the same sample)."""
    spec = mech.detect.get("copy_number") or {}
    genes = [g.upper() for g in spec.get("genes", [])]
    states = set(spec.get("states", []))
    roles = {k.upper(): set(v) for k, v in (spec.get("roles") or {}).items()}
    hits: dict[str, dict[str, CellEvent]] = defaultdict(dict)
    for gene in genes:
        ok = roles.get(gene, states)
        for e in by_gene.get(gene, ()):
            if e.sample_id in samples and e.state in ok:
                hits[e.sample_id][gene] = e
    out = {}
    for sid, h in hits.items():
        if spec.get("all_of"):
            if all(g in h for g in genes):
                out[sid] = [h[g] for g in genes]
        else:
            out[sid] = [h[g] for g in genes if g in h]
    return out, hits


def _sheet_matches(mech: Mechanism, alterations: list[Alteration]) -> list[Alteration]:
    out = []
    for a in alterations:
        for entry in mech.detect.get("sheet", []) or []:
            if "term" in entry:
                if a.is_term and entry["term"].lower() in a.text.lower():
                    out.append(a)
                    break
            elif a.gene == entry.get("gene"):
                events = [str(x) for x in entry.get("events", [])]
                if a.event in events or (a.detail and a.detail in [x.upper() for x in events]):
                    out.append(a)
                    break
    return out


@dataclass
class Detected:
    mechanism: Mechanism
    cells: dict[str, list] = field(default_factory=dict)      # tumour CTCs: CellEvents or phenotypes
    biopsies: dict[str, list] = field(default_factory=dict)
    sheet: list[Alteration] = field(default_factory=list)
    n_total: int = 0
    by_phenotype: dict[str, str] = field(default_factory=dict)
    gene_hits: dict[str, dict[str, CellEvent]] = field(default_factory=dict)   # tumour CTCs, each gene alone

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @staticmethod
    def _events(evs) -> list[CellEvent]:
        return [e for e in evs if isinstance(e, CellEvent)]

    def cell_class(self, sid: str) -> str:
        """Strongest event class of a carrying CTC ("" for a phenotype-only carrier)."""
        cls = [e.count_class for e in self._events(self.cells.get(sid, ()))]
        return min(cls, key=CLASS_ORDER.index) if cls else ""

    # the properties below are read many times once detection is complete: cached
    @cached_property
    def classes(self) -> Counter:
        """Carrying CTCs per strongest event class (``amplification`` before ``broad gain``)."""
        return Counter(c for c in (self.cell_class(s) for s in self.cells) if c)

    @property
    def states(self) -> Counter:
        """Strongest copy-number state per carrying CTC (amp/homdel before gain/loss)."""
        out = Counter()
        for evs in self.cells.values():
            st = [e.state for e in self._events(evs)]
            if st:
                out["amp" if "amp" in st else "homdel" if "homdel" in st else st[0]] += 1
        return out

    @cached_property
    def actionable_cells(self) -> list[str]:
        """CTCs carrying the mechanism as an amplification, a homozygous deletion or a focal
        (high-confidence) gain or loss."""
        return sorted(s for s, evs in self.cells.items() if any(e.actionable for e in self._events(evs)))

    @property
    def biopsy_actionable(self) -> bool:
        return any(e.actionable for v in self.biopsies.values() for e in self._events(v))

    @property
    def actionable(self) -> bool:
        """A molecular finding that may carry options: reported in the sheet, or carried by a
        CTC or a biopsy as an amplification, homozygous deletion or focal event.  Broad
        low-level changes in aneuploid cells, and phenotypes alone, are not."""
        return bool(self.sheet) or self.biopsy_actionable or bool(self.actionable_cells)

    @cached_property
    def high_level(self) -> bool:
        """Reported in the sheet, or an amplification / homozygous deletion in a CTC or a biopsy
        (not only focal low-level gains or losses)."""
        hl = ("amplification", "homozygous deletion")
        return bool(self.sheet) or any(e.event_class in hl for v in list(self.cells.values()) + list(self.biopsies.values())
                                       for e in self._events(v))

    @property
    def strong(self) -> bool:
        """Alias of :attr:`actionable` (kept for callers of earlier versions)."""
        return self.actionable

    @property
    def copy_number_only(self) -> bool:
        """Detected only through copy number (no sheet, phenotype or fusion variant)."""
        return not self.sheet and not self.mechanism.detect.get("phenotype") and bool(self.cells or self.biopsies)

    @property
    def role(self) -> str:
        """``on_target``, ``actionable``, ``lineage`` (phenotypic: transformation, EMT-like or
        ALK-negative epithelial cells) or ``context`` (broad changes only, or context mechanisms)."""
        cat = self.mechanism.category
        if cat == "on_target":
            return "on_target"
        if cat == "phenotypic":
            return "lineage"
        if cat == "off_target" and self.actionable:
            return "actionable"
        return "context"

    @property
    def label(self) -> str:
        lab = self.mechanism.label
        if "amplification" in lab and (self.cells or self.biopsies) and not self.sheet \
                and not self.classes["amplification"] \
                and not any(e.event_class == "amplification" for v in self.biopsies.values() for e in self._events(v)):
            return lab.replace("amplification", "copy gain")
        return lab

    @cached_property
    def extent_known(self) -> bool:
        """Whether the copy-number events carry their extent (the drivers step's columns)."""
        return any(e.focal is not None for v in self.cells.values() for e in self._events(v))

    def extent_summary(self) -> str:
        """``"focal amplification in 2"``, ``"broad gain in 9, focal amplification in 1"``,
        or "" when the extent of the events is unknown (or no copy-number carrier)."""
        cls = self.classes
        if not self.extent_known:
            return ""
        names = {"amplification": "focal amplification", "broad high-level gain": "broad high-level gain (polysomy-like)"}
        if len(cls) == 1 and self.n_cells:
            c = next(iter(cls))
            return names.get(c, c) + (" in all" if cls[c] == self.n_cells and self.n_cells > 1 else "")
        return ", ".join(f"{names.get(c, c)} in {n}" for c, n in sorted(cls.items(), key=lambda x: CLASS_ORDER.index(x[0])))

    def summary(self) -> str:
        parts = []
        if self.n_total:
            if self.cells:
                ext = self.extent_summary()
                parts.append(f"{self.label} in {self.n_cells} of {self.n_total} CTCs" + (f" ({ext})" if ext else ""))
        if self.biopsies:
            parts.append(f"in the biopsy ({', '.join(self.biopsies)})")
        if self.sheet:
            where = sorted({w for a in self.sheet for w in a.found_in})
            parts.append(f"reported in the patient sheet ({'; '.join(a.text for a in self.sheet)}"
                         + (f"; found in {', '.join(where)})" if where else ")"))
        return (", ".join(p for p in parts if p) or self.label).replace(", in the biopsy", " and in the biopsy")

    def cell_labels(self) -> dict[str, list[str]]:
        """``{sample_id: ["MET:amp (focal, 2.5 Mb)", "ALK+/CK-", ...]}`` for the JSON."""
        return {k: [e.label() if isinstance(e, CellEvent) else str(e) for e in v] for k, v in sorted(self.cells.items())}

    def actionable_summary(self) -> str:
        """The events that make the mechanism actionable, per gene and class:
        ``"MET focal amplification in 2 of 3 CTCs"``; the summary for sheet/biopsy findings."""
        per: Counter = Counter()
        for sid in self.actionable_cells:
            for e in self._events(self.cells[sid]):
                if e.actionable:
                    per[(e.gene, e.event_class)] += 1
        if not per:
            return self.summary()
        names = {"amplification": "focal amplification" if self.extent_known else "amplification"}
        parts = [f"{g} {names.get(c, c)} in {n}" for (g, c), n in sorted(per.items(), key=lambda x: (-x[1], x[0]))]
        return ", ".join(parts) + f" of {self.n_total} CTCs" + self.left_out()

    def left_out(self) -> str:
        """The carrying CTCs whose focal event was not counted as actionable because the call
        is of low confidence, with why: ``"; 1 more cell left out: ERBB3 focal gain of low
        confidence (at or across a breakpoint)"`` ("" when none)."""
        out = []
        for sid in sorted(set(self.cells) - set(self.actionable_cells)):
            low = [e for e in self._events(self.cells[sid]) if e.count_class.startswith("low-confidence")]
            if low:
                out.append(", ".join(f"{e.gene} {e.event_class} of low confidence"
                                     + (f" ({reason_words(e.reason)})" if e.reason else "") for e in low))
        if not out:
            return ""
        return (f"; {len(out)} more cell{'' if len(out) == 1 else 's'} left out: "
                + "; ".join(sorted(set(out))))

    def heading(self) -> str:
        """What was found, in the words of the finding itself: per gene its copy-number
        classes across the CTCs and biopsies, strongest first (``"MET broad gain"``,
        ``"ALK focal amplification, broad gain"``); the mechanism's name when the finding is
        not a copy-number event (a phenotype, the sheet, the fusion variant)."""
        per: dict[str, set] = defaultdict(set)
        for v in list(self.cells.values()) + list(self.biopsies.values()):
            for e in self._events(v):
                per[e.gene].add(e.count_class)
        if not per or self.sheet:
            return self.mechanism.name
        names = {"amplification": "focal amplification" if self.extent_known else "amplification",
                 "broad high-level gain": "broad high-level gain (polysomy-like)"}

        def order(c):
            return CLASS_ORDER.index(c) if c in CLASS_ORDER else len(CLASS_ORDER)
        genes = sorted(per, key=lambda g: (min(order(c) for c in per[g]), g))
        parts = [f"{g} " + ", ".join(names.get(c, c) for c in sorted(per[g], key=order)) for g in genes[:3]]
        more = len(genes) - 3
        return "; ".join(parts) + (f"; {more} more gene{'' if more == 1 else 's'}" if more > 0 else "")

    def co_loss(self) -> dict:
        """For a same-cell co-alteration (``all_of``, e.g. TP53 + RB1): CTCs carrying each gene,
        the CTCs carrying all of them, and the kind of those losses (``focal_or_homozygous``,
        ``arm_level``, ``broad`` or ``unknown``).  Empty for other mechanisms."""
        spec = self.mechanism.detect.get("copy_number") or {}
        genes = [g.upper() for g in spec.get("genes", [])]
        if not spec.get("all_of") or not self.n_total:
            return {}
        both = sorted(s for s, evs in self.cells.items() if self._events(evs))
        evs = [e for s in both for e in self._events(self.cells[s])]
        strong = sorted({f"{e.gene} {e.event_class}" for e in evs if e.state == "homdel" or e.focal})
        if strong:
            kind = "focal_or_homozygous"
        elif evs and all(e.focal is False for e in evs):
            arm = all(e.arm_fraction >= ARM_LEVEL_FRACTION for e in evs if e.arm_fraction == e.arm_fraction)
            kind = "arm_level" if arm else "broad"
        else:
            kind = "unknown"
        return {"each": {g: sum(g in h for h in self.gene_hits.values()) for g in genes}, "n_total": self.n_total,
                "cells_with_all": both, "kind": kind, "strong_events": strong}

    def co_loss_detail(self) -> str:
        """:meth:`co_loss` in words ("" for other mechanisms)."""
        c = self.co_loss()
        if not c:
            return ""
        head = ", ".join(f"{g} loss in {n}" for g, n in c["each"].items()) + f" of {c['n_total']} CTCs"
        both = c["cells_with_all"]
        if not both:
            return head + "; no CTC carries them together"
        kind = {"focal_or_homozygous": "including " + ", ".join(c["strong_events"]),
                "arm_level": "all arm-level single-copy losses, no homozygous deletion or focal loss",
                "broad": "all broad single-copy losses, no homozygous deletion or focal loss",
                "unknown": "extent of the losses unknown"}[c["kind"]]
        return f"{head}; both in the same cell in {len(both)} ({', '.join(both)}): {kind}"


def _prevalence(n: int, total: int) -> str:
    if not total:
        return ""
    f = n / total
    return "all" if n == total else "most" if f > 0.5 else "half" if f == 0.5 else "a minority"


@dataclass
class PatientReading:
    patient: Patient
    cells_info: dict
    mutations: list[dict]
    detected: list[Detected]
    co_occurrence: list[dict]
    matrix: dict
    options: list[dict]
    not_proposed: list[dict]
    notes: list[str]
    caveats: list[str]
    summary: dict = field(default_factory=dict)   # the opening paragraph (ctcscope.resistance.summary)


def interpret_patient(patient: Patient, *, kb: KnowledgeBase | None = None, cells: pd.DataFrame | None = None,
                      events: pd.DataFrame | None = None, min_confidence: str = "low",
                      prepared: bool = False) -> PatientReading:
    """Reading for one patient from the raw cells table and driver/gene events."""
    from .options import build_options

    kb = kb or load_knowledge_base()
    if not prepared:
        cells = _prepare_cells(cells)
        events = _prepare_events(events, min_confidence)
    notes, caveats = [], []
    # -- cells --------------------------------------------------------------------------
    info: dict = {"n_tumour_ctcs": 0}
    tumour, biopsies, pheno_of = [], [], {}
    if cells is not None:
        mine = cells[cells["patient"] == patient.id]
        ctc = mine[mine["sample_type"].isin(TUMOUR_CTC_TYPES)]
        keep = ctc[ctc["qc_pass"] & ~ctc["normal_like"]]
        tumour = keep["sample_id"].tolist()
        pheno_of = dict(zip(mine["sample_id"], mine["phenotype"]))
        bx = mine[(mine["sample_type"] == "biopsy") & mine["qc_pass"]]
        biopsies = bx["sample_id"].tolist()
        info = {
            "n_ctc_samples": int(len(ctc)),
            "n_tumour_ctcs": int(len(keep)),
            "excluded_qc_fail": int((~ctc["qc_pass"]).sum()),
            "excluded_normal_like": int((ctc["qc_pass"] & ctc["normal_like"]).sum()),
            "tumour_ctcs": tumour,
            "phenotypes": dict(Counter(keep["phenotype"].replace("", "unknown"))),
            "biopsies": biopsies,
        }
        if len(mine) == 0:
            notes.append(f"No sample of patient {patient.id} is in the cells table; the reading uses the patient sheet only.")
        elif 0 < len(keep) < 5:
            caveats.append(f"Only {len(keep)} tumour CTC(s) passed QC; prevalences are imprecise.")
    n_total = len(tumour)
    # -- ALK mutations from the sheet ------------------------------------------------------
    muts = []
    for sm in patient.mutations:
        d = {"input": sm.variant.input, "canonical": sm.variant.canonical, "hgvs": sm.variant.hgvs,
             "compound": sm.variant.is_compound, "found_in": list(sm.found_in),
             "ctcs": [x for x in sm.found_in if x in set(tumour)]}
        unknown = kb.describe_unknown(sm.variant)
        if unknown:
            d["note"] = unknown
            caveats.append(unknown[0].upper() + unknown[1:] + ".")
        muts.append(d)
    # -- mechanisms -----------------------------------------------------------------------
    detected: list[Detected] = []
    by_gene = _index_events(events)
    tumour_set, biopsy_set = set(tumour), set(biopsies)
    scope = tumour_set | biopsy_set
    for mech in kb.mechanisms:
        det = Detected(mech, n_total=n_total)
        if events is not None and mech.detect.get("copy_number"):
            car, hits = _cn_carriers(mech, by_gene, scope)
            det.cells = {k: v for k, v in car.items() if k in tumour_set}
            det.biopsies = {k: v for k, v in car.items() if k in biopsy_set}
            det.gene_hits = {k: v for k, v in hits.items() if k in tumour_set}
        if tumour and mech.detect.get("phenotype"):
            for sid in tumour:
                if pheno_of.get(sid, "") in mech.detect["phenotype"]:
                    det.cells.setdefault(sid, []).append(pheno_of[sid])
        det.sheet = _sheet_matches(mech, patient.alterations)
        fv = [x.lower() for x in mech.detect.get("fusion_variant", []) or []]
        fusion_hit = bool(fv) and patient.variant.strip().lower() in fv
        if det.cells or det.biopsies or det.sheet or fusion_hit:
            if det.cells:
                ph = Counter(pheno_of.get(s, "") or "unknown" for s in det.cells)
                tot = Counter(pheno_of.get(s, "") or "unknown" for s in tumour)
                det.by_phenotype = {p: f"{ph[p]} of {tot[p]}" for p in sorted(ph)}
            detected.append(det)
    # -- co-occurrence -------------------------------------------------------------------------
    sets = [(d.label, set(d.cells)) for d in detected if d.cells and d.mechanism.category != "context"]
    sets += [(f"ALK {m['canonical']}", set(m["ctcs"])) for m in muts if m["ctcs"]]
    co = []
    for (a, sa), (b, sb) in combinations(sets, 2):
        both = sorted(sa & sb)
        co.append({"a": a, "b": b, "n_a": len(sa), "n_b": len(sb), "n_both": len(both), "cells_both": both,
                   "summary": (f"{a} and {b} co-occur in {len(both)} cell(s) ({', '.join(both)})" if both else
                               f"{a} and {b} sit in different cells (no CTC carries both)")})
    # -- matrix & options --------------------------------------------------------------------
    matrix = tki_matrix(kb, [sm.variant for sm in patient.mutations])
    for c in matrix["calls"]:
        if c.call == "conflicting":
            s = sorted({x.source.short for x in c.statements if x.direction == "S"})
            r = sorted({x.source.short for x in c.statements if x.direction == "R"})
            caveats.append(f"Conflicting evidence for {c.drug} against ALK {c.unit}: sensitive per {'; '.join(s)}; "
                           f"resistant per {'; '.join(r)}.")
        if c.other_disease_only:
            caveats.append(f"Evidence for {c.drug} against ALK {c.unit} comes only from other ALK-driven tumours "
                           "(not NSCLC).")
    options, not_proposed, opt_notes, opt_caveats = build_options(kb, patient, matrix, detected)
    notes += opt_notes
    caveats += opt_caveats
    if events is None and cells is None:
        notes.append("No cell data were given: mechanisms come from the patient sheet only.")
    for d in detected:
        caveats += [c for c in d.mechanism.caveats if c not in caveats]
    caveats.append(RESEARCH_USE)
    reading = PatientReading(patient, info, muts, detected, co, matrix, options, not_proposed, notes,
                             list(dict.fromkeys(caveats)))
    from .summary import summarise

    reading.summary = summarise(reading, kb)
    return reading


def interpret(patients: list[Patient], *, drivers: pd.DataFrame | None = None, cells: pd.DataFrame | None = None,
              genes: pd.DataFrame | None = None, kb: KnowledgeBase | None = None,
              min_confidence: str = "low") -> list[PatientReading]:
    """Readings for every patient of the sheet.

    ``drivers`` (drivers.tsv) or ``genes`` (genes.tsv, preferred when both are given because
    it covers every gene) supply per-cell copy-number states; ``cells`` (cells.tsv) supplies
    sample types, QC, normal-like flags and phenotypes.
    """
    if min_confidence not in ("low", "high"):
        raise InputError(f"minimum confidence '{min_confidence}' is not known; use 'low' or 'high'")
    kb = kb or load_knowledge_base()
    c = _prepare_cells(cells)
    src = genes if genes is not None else drivers
    ev = _prepare_events(src, min_confidence)
    if ev is not None and c is None and "patient" in src.columns:
        # without cells.tsv the driver table's own sample columns define the cells it covers
        c = _prepare_cells(src[[x for x in ("sample_id", "patient", "sample_type", "qc_pass", "normal_like", "phenotype")
                                if x in src.columns]].drop_duplicates("sample_id"))
    # split once by patient so each reading touches only its own rows (cohorts of 10^4-10^5 cells)
    cells_by = dict(tuple(c.groupby("patient", sort=False))) if c is not None else {}
    ev_by: dict = {}
    if ev is not None:
        owner = dict(zip(c["sample_id"], c["patient"])) if c is not None else {}
        pat = ev["patient"].astype(str) if "patient" in ev.columns else ev["sample_id"].map(owner).fillna("")
        ev_by = dict(tuple(ev.groupby(pat.to_numpy(), sort=False)))
    empty_c = c.iloc[0:0] if c is not None else None
    empty_e = ev.iloc[0:0] if ev is not None else None
    return [interpret_patient(p, kb=kb, cells=cells_by.get(p.id, empty_c), events=ev_by.get(p.id, empty_e),
                              min_confidence=min_confidence, prepared=True) for p in patients]
