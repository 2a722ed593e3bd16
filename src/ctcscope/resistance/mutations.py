"""ALK protein-change notation: parse, check against the reference sequence, normalise.

Accepted notations (case-insensitive where unambiguous)::

    G1202R   p.G1202R   p.Gly1202Arg   p.(Gly1202Arg)   ALK G1202R   ALK:p.G1202R
    G1202del   p.Gly1202del   L1198_G1202del          deletions
    T1151dup   p.Thr1151dup   T1151Tins   1151Tins    duplication (Thr inserted after Thr1151)
    T1151_L1152insK                                 insertion
    I1151Tins                                       literature alias of T1151dup (see below)
    G1202R+L1196M   G1202R/L1196M   C1156Y;L1198F   compound mutations (in cis)

Every residue named is checked against the human ALK reference protein (UniProt Q9UM73,
1620 aa, shipped in ``data/alk_Q9UM73.fasta``).  A wrong reference residue or a position
outside the protein is an :class:`~ctcscope.errors.InputError` whose message names the
real residue and the variants the knowledge base knows at that position.

The canonical form orders the mutations of a compound by position and joins them with
``+``; ``parse_mutation(v.canonical) == v`` for every parsed ``v`` (round trip).

``I1151Tins``: the reviews transcribed by the knowledge base (Pan et al. 2021 Table 2;
Tabbò et al. 2020 Table 1) print the threonine insertion at codon 1151 as "I1151Tins",
although residue 1151 is a threonine (CIViC names it "T1151INST"; HGVS: p.Thr1151dup).
This one literature spelling is accepted as an alias and normalised to ``T1151dup``; any
other wrong reference residue is rejected.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable

from ..errors import InputError

#: Length of the canonical ALK protein (UniProt Q9UM73).
ALK_LENGTH = 1620

AA3 = {
    "Ala": "A", "Arg": "R", "Asn": "N", "Asp": "D", "Cys": "C", "Gln": "Q", "Glu": "E", "Gly": "G",
    "His": "H", "Ile": "I", "Leu": "L", "Lys": "K", "Met": "M", "Phe": "F", "Pro": "P", "Ser": "S",
    "Thr": "T", "Trp": "W", "Tyr": "Y", "Val": "V", "Ter": "*", "Sec": "U",
}
AA1 = {v: k for k, v in AA3.items()}

#: Literature spellings that break the reference check but name a well-defined variant.
ALIASES = {"I1151TINS": "T1151dup"}

_GENE = re.compile(r"^\s*(?:ALK)(?:\s*[:\s]\s*|\s+)", re.IGNORECASE)


@lru_cache(maxsize=1)
def alk_sequence() -> str:
    """The 1620-residue human ALK protein (UniProt Q9UM73), one-letter codes."""
    text = resources.files("ctcscope.resistance").joinpath("data/alk_Q9UM73.fasta").read_text()
    seq = "".join(line.strip() for line in text.splitlines() if line and not line.startswith(">"))
    if len(seq) != ALK_LENGTH:  # pragma: no cover - guards the shipped file
        raise RuntimeError(f"packaged ALK sequence has {len(seq)} residues, expected {ALK_LENGTH}")
    return seq


def reference_residue(position: int) -> str:
    """One-letter reference residue of ALK at 1-based ``position``."""
    if not 1 <= position <= ALK_LENGTH:
        raise InputError(f"ALK has {ALK_LENGTH} residues; position {position} does not exist")
    return alk_sequence()[position - 1]


@dataclass(frozen=True, order=True)
class AlkMutation:
    """One protein change in ALK.

    ``kind`` is ``substitution``, ``deletion``, ``duplication`` or ``insertion``.
    ``position``/``end`` are 1-based and inclusive (``end == position`` for single residues;
    for an insertion, ``end = position + 1`` flanks the inserted residues).
    """

    position: int
    kind: str
    ref: str
    alt: str = ""
    end: int = 0

    def __post_init__(self):
        if not self.end:
            object.__setattr__(self, "end", self.position)

    @property
    def canonical(self) -> str:
        seq = alk_sequence()
        if self.kind == "substitution":
            return f"{self.ref}{self.position}{self.alt}"
        first = f"{self.ref}{self.position}"
        if self.kind == "insertion":
            return f"{first}_{seq[self.end - 1]}{self.end}ins{self.alt}"
        if self.end != self.position:
            first += f"_{seq[self.end - 1]}{self.end}"
        return first + ("del" if self.kind == "deletion" else "dup")

    @property
    def hgvs(self) -> str:
        """HGVS protein notation with three-letter codes, e.g. ``p.Gly1202Arg``."""
        seq = alk_sequence()
        first = f"{AA1[self.ref]}{self.position}"
        if self.kind == "substitution":
            return f"p.{first}{AA1[self.alt]}"
        if self.kind == "insertion":
            return f"p.{first}_{AA1[seq[self.end - 1]]}{self.end}ins{''.join(AA1[a] for a in self.alt)}"
        if self.end != self.position:
            first += f"_{AA1[seq[self.end - 1]]}{self.end}"
        return f"p.{first}" + ("del" if self.kind == "deletion" else "dup")

    def __str__(self) -> str:
        return self.canonical


@dataclass(frozen=True)
class AlkVariant:
    """One ALK allele: a single mutation or a compound of mutations in cis."""

    mutations: tuple[AlkMutation, ...]
    input: str = ""

    @property
    def canonical(self) -> str:
        return "+".join(m.canonical for m in self.mutations)

    @property
    def hgvs(self) -> str:
        return "+".join(m.hgvs for m in self.mutations)

    @property
    def is_compound(self) -> bool:
        return len(self.mutations) > 1

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(m.position for m in self.mutations)

    @property
    def components(self) -> tuple["AlkVariant", ...]:
        return tuple(AlkVariant((m,), m.canonical) for m in self.mutations)

    def __eq__(self, other) -> bool:
        return isinstance(other, AlkVariant) and self.mutations == other.mutations

    def __hash__(self) -> int:
        return hash(self.mutations)

    def __str__(self) -> str:
        return self.canonical


# --- parsing ----------------------------------------------------------------------------
_AA = r"(?:[A-Z][a-z]{2}|[A-Z*])"
_SUB = re.compile(rf"^({_AA})(\d+)({_AA}|=)$")
_DEL = re.compile(rf"^({_AA})(\d+)(?:_({_AA})(\d+))?(del|dup)$")
_INS = re.compile(rf"^({_AA})(\d+)_({_AA})(\d+)ins((?:{_AA})+)$")
_TINS = re.compile(rf"^({_AA})?(\d+)({_AA})ins$")  # literature style: T1151Tins / 1151Tins


def _one(code: str, text: str) -> str:
    if len(code) == 1:
        return code.upper()
    key = code[0].upper() + code[1:].lower()
    if key not in AA3:
        raise InputError(f"'{text}': '{code}' is not an amino-acid code; use one letter (G) or three (Gly)")
    return AA3[key]


def _normcase(s: str) -> str:
    """Upper-case one-letter codes and ``Xaa`` three-letter codes, lower-case keywords."""
    s = re.sub(r"(?i)(del|dup|ins)", lambda m: m.group(1).lower(), s)
    # three-letter codes: first letter upper, rest lower (Gly, gly, GLY -> Gly)
    s = re.sub(r"(?i)(ala|arg|asn|asp|cys|gln|glu|gly|his|ile|leu|lys|met|phe|pro|ser|thr|trp|tyr|val|ter|sec)",
               lambda m: m.group(1).capitalize(), s)
    return s


def _parse_single(token: str, original: str) -> AlkMutation:
    t = token.strip()
    t = _GENE.sub("", t)
    t = re.sub(r"^[pP]\.", "", t).strip()
    if t.startswith("(") and t.endswith(")"):
        t = t[1:-1]
    if not t:
        raise InputError(f"'{original}' has an empty mutation; write e.g. G1202R or p.Gly1202Arg")
    alias = ALIASES.get(t.upper())
    if alias:
        t = alias
    if re.fullmatch(r"(?i)[a-z*]\d+[a-z*]", t):  # one-letter substitution, any case
        t = t[0].upper() + t[1:-1] + t[-1].upper()
    else:
        t = _normcase(t)
        t = re.sub(r"^([a-z])(?=\d)", lambda m: m.group(1).upper(), t)
        t = re.sub(r"(\d)([a-z])$", lambda m: m.group(1) + m.group(2).upper(), t)
    if m := _SUB.match(t):
        ref, pos, alt = _one(m.group(1), original), int(m.group(2)), m.group(3)
        if alt == "=":
            raise InputError(f"'{original}' is a synonymous change (no amino-acid change); it cannot alter ALK-TKI binding")
        alt = _one(alt, original)
        _check_ref(ref, pos, original)
        if alt == ref:
            raise InputError(f"'{original}' changes {ref}{pos} to the same residue; write the new residue after the position")
        return AlkMutation(pos, "substitution", ref, alt)
    if m := _DEL.match(t):
        ref, pos = _one(m.group(1), original), int(m.group(2))
        _check_ref(ref, pos, original)
        end = pos
        if m.group(3):
            ref2, end = _one(m.group(3), original), int(m.group(4))
            _check_ref(ref2, end, original)
            if end <= pos:
                raise InputError(f"'{original}': the range must go from the lower to the higher position")
        return AlkMutation(pos, "deletion" if m.group(5) == "del" else "duplication", ref, "", end)
    if m := _INS.match(t):
        ref, pos, ref2, end = _one(m.group(1), original), int(m.group(2)), _one(m.group(3), original), int(m.group(4))
        _check_ref(ref, pos, original)
        _check_ref(ref2, end, original)
        if end != pos + 1:
            raise InputError(f"'{original}': an insertion lies between two adjacent residues (e.g. T1151_L1152insT)")
        inserted = "".join(_one(c, original) for c in re.findall(_AA, m.group(5)))
        return _insertion(pos, ref, inserted)
    if m := _TINS.match(t):
        pos = int(m.group(2))
        ref = reference_residue(pos)
        if m.group(1):
            _check_ref(_one(m.group(1), original), pos, original)
        return _insertion(pos, ref, _one(m.group(3), original))
    raise InputError(
        f"'{original}' is not a protein change this parser reads; write e.g. G1202R, p.Gly1202Arg, "
        "G1202del, T1151dup or a compound G1202R+L1196M"
    )


def _insertion(pos: int, ref: str, inserted: str) -> AlkMutation:
    """Insertion after ``pos``; a copy of the residue(s) just before is a duplication (HGVS)."""
    seq = alk_sequence()
    n = len(inserted)
    if pos - n >= 0 and seq[pos - n:pos] == inserted:
        return AlkMutation(pos - n + 1, "duplication", seq[pos - n], "", pos)
    return AlkMutation(pos, "insertion", ref, inserted, pos + 1)


def _check_ref(ref: str, pos: int, original: str) -> None:
    real = reference_residue(pos)
    if ref != real:
        known = known_at(pos)
        hint = f"; known at {pos}: {', '.join(known)}" if known else ""
        raise InputError(
            f"'{original}': ALK residue {pos} is {AA1.get(real, real)} ({real}), not {AA1.get(ref, ref)} ({ref}); "
            f"check the notation{hint}"
        )


def known_at(position: int) -> list[str]:
    """Variants the knowledge base names at ``position`` (singles and compound components)."""
    from .knowledge import load_knowledge_base, loading

    if loading():  # a hint while the knowledge base itself is being validated would recurse
        return []
    return load_knowledge_base().variants_at(position)


_SPLIT = re.compile(r"\s*[+;/,]\s*|\s+and\s+")


def parse_mutation(text: str) -> AlkVariant:
    """Parse one ALK variant (single or compound) into an :class:`AlkVariant`.

    Raises :class:`~ctcscope.errors.InputError` (one sentence) for unreadable notation, a
    reference residue that does not match ALK at that position, positions outside the
    protein, or a slash used for alternative alleles (``C1156Y/T``).
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("an ALK mutation is empty; write e.g. G1202R or G1202R+L1196M")
    original = text.strip()
    body = _GENE.sub("", original) if re.match(r"(?i)^\s*ALK[\s:]", original) else original
    parts = [p for p in _SPLIT.split(body) if p.strip()]
    for p in parts[1:]:
        q = re.sub(r"(?i)^(ALK[\s:]+)?(p\.)?", "", p.strip())
        if re.fullmatch(r"(?i)[a-z]{1,3}|del|dup", q):
            raise InputError(
                f"'{original}' lists alternative alleles ('/{q}'), not a compound; write each variant on its "
                f"own (e.g. {parts[0].strip()}) or a compound as G1202R+L1196M"
            )
    muts = [_parse_single(p, original) for p in parts]
    positions = [m.position for m in muts]
    if len(set(positions)) != len(positions):
        raise InputError(f"'{original}' names the same residue twice; a compound has one change per residue")
    return AlkVariant(tuple(sorted(muts)), original)


def parse_mutations(texts: Iterable[str]) -> list[AlkVariant]:
    """Parse several notations (e.g. a patient's mutation list)."""
    return [parse_mutation(t) for t in texts]


def canonical(text: str) -> str:
    """Shortcut: the canonical string of one notation."""
    return parse_mutation(text).canonical
