"""What to simulate: patients, clones, copy-number events, samples and bias levels.

A :class:`Design` is plain data (dataclasses that round-trip through ``dict``/YAML), so a
cohort reads like a study's design table::

    Design(patients=[Patient(
        id="P1", sex="F",
        trunk=[Event("8q", +1)],                         # shared by every tumour clone
        clones=[Clone("A", ploidy=2, events=[Event("MET", cn=10)]),
                Clone("B", ploidy=4, wgd=True, pre_wgd=[Event("13", -1)], events=[Event("3p", -1)])],
        samples=[Sample("P1_CTC01", clone="A"),
                 Sample("P1_POOL1", sample_type="ctc_pool", composition={"A": 4, "B": 1}),
                 Sample("P1_WBC", sample_type="wbc", composition={"normal": 200}, pool_size=200)])])

Karyotype construction (see :mod:`ctcscope.simulate.karyotype`): every autosome starts at
the clone's pre-doubling base (``ploidy`` or ``ploidy / 2`` when ``wgd``), sex chromosomes
follow the patient's sex; the patient's ``trunk`` events, then the clone's ``pre_wgd``
events are applied; a WGD doubles everything; then the clone's ``events`` and finally the
sample's private ``events`` are applied.  The clone name ``normal`` is reserved for the
flat germline karyotype (2n; XX or XY).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

#: Sample types of docs/data-model.md.
SAMPLE_TYPES = ("ctc", "ctc_pool", "wbc", "germline", "biopsy", "normal")
NORMAL_CLONE = "normal"


@dataclass
class Event:
    """One copy-number change.

    ``region``: ``"8"`` / ``"chr8"`` (whole chromosome), ``"8q"`` (arm), ``"3p21"``
    (cytoband prefix), ``"7:55000000-56000000"`` (0-based half-open coordinates), or a gene
    symbol (``"MET"``; focal, ``width`` bp centred on the gene and always covering it).
    Either ``change`` (relative copies, e.g. +1, -1) or ``cn`` (absolute copies, e.g. 0 for
    a homozygous deletion, 12 for an amplification) is given.  Region edges snap outward
    to the simulated genome's bins, so the truth stays integer per bin.
    """

    region: str
    change: int = 0
    cn: int | None = None
    width: int | None = None

    def __post_init__(self):
        self.region = str(self.region).strip()
        if not self.region:
            raise InputError("a simulated copy-number event has an empty region; give e.g. '8q', '7', 'MET'")
        if self.cn is not None and int(self.cn) < 0:
            raise InputError(f"event on {self.region} asks for {self.cn} copies; copy number cannot be negative")
        if self.cn is None and int(self.change) == 0:
            raise InputError(f"event on {self.region} changes nothing; give change (e.g. +1) or cn (e.g. 0, 10)")

    @property
    def label(self) -> str:
        if self.cn is not None:
            return f"{self.region}={self.cn}"
        return f"{self.region}{int(self.change):+d}"


@dataclass
class Clone:
    """A tumour clone: base ploidy, whole-genome doubling, and its events.

    ``parent`` names another clone of the patient whose whole event history (its
    ``pre_wgd`` and ``events``, recursively) this clone inherits as its first events, before
    its own ``pre_wgd`` events and its doubling; the base ploidy is this clone's own.  So a
    4n WGD descendant of a 2n clone shares its ancestor's changes, doubled.
    """

    name: str
    ploidy: int = 2
    wgd: bool = False
    pre_wgd: list[Event] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    parent: str | None = None

    def __post_init__(self):
        if self.name == NORMAL_CLONE:
            raise InputError(f"clone name '{NORMAL_CLONE}' is reserved for the flat germline karyotype; rename it")
        if not 1 <= int(self.ploidy) <= 8:
            raise InputError(f"clone {self.name}: base ploidy {self.ploidy} is outside 1-8")
        if self.wgd and int(self.ploidy) % 2:
            raise InputError(f"clone {self.name}: a whole-genome doubling needs an even base ploidy, got {self.ploidy}")
        if self.pre_wgd and not self.wgd:
            raise InputError(f"clone {self.name} has pre_wgd events but wgd is false; move them to events")


@dataclass
class Sample:
    """One sequenced sample.

    A single cell names its ``clone`` (or ``normal``); a pool or bulk sample gives a
    ``composition`` (clone → number of cells, or fraction; ``normal`` allowed).  ``reads``
    and ``mapd`` override the run's ranges (``None`` = drawn from the design's bias).
    """

    id: str
    sample_type: str = "ctc"
    clone: str | None = None
    composition: dict[str, float] | None = None
    pool_size: int | None = None
    phenotype: str = ""
    isolation: str = "FACS"
    gii: float | None = None
    reads: int | None = None
    mapd: float | None = None
    events: list[Event] = field(default_factory=list)

    def __post_init__(self):
        if self.sample_type not in SAMPLE_TYPES:
            raise InputError(f"sample {self.id}: sample_type '{self.sample_type}' is not one of {', '.join(SAMPLE_TYPES)}")
        if (self.clone is None) == (self.composition is None):
            raise InputError(f"sample {self.id}: give either clone (a single cell) or composition (a pool/bulk), not both or neither")
        if self.composition is not None:
            if not self.composition or any(float(v) <= 0 for v in self.composition.values()):
                raise InputError(f"sample {self.id}: composition needs positive weights, e.g. {{A: 4, B: 1}}")
            if self.events:
                raise InputError(f"sample {self.id}: private events are for single cells; put them on a clone")
        if self.reads is not None and int(self.reads) < 1:
            raise InputError(f"sample {self.id}: reads must be positive")

    @property
    def weights(self) -> dict[str, float]:
        return {self.clone: 1.0} if self.composition is None else {k: float(v) for k, v in self.composition.items()}

    @property
    def n_cells(self) -> int:
        """Cells in the sample as the sample sheet's ``pool_size``."""
        if self.pool_size is not None:
            return int(self.pool_size)
        if self.sample_type in ("ctc", "normal") or self.composition is None:
            return 1
        if self.sample_type in ("biopsy", "germline"):
            return 1  # bulk DNA: not a countable pool of sorted cells
        return int(round(sum(self.weights.values())))


@dataclass
class Patient:
    id: str
    sex: str = "F"
    clones: list[Clone] = field(default_factory=list)
    trunk: list[Event] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    #: Free-form patient-sheet fields (fusion, variant, treatments, mutations, notes).
    sheet: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.sex not in ("F", "M"):
            raise InputError(f"patient {self.id}: sex must be F or M, got '{self.sex}'")
        names = [c.name for c in self.clones]
        if len(set(names)) != len(names):
            raise InputError(f"patient {self.id}: clone names must be unique")
        known = set(names) | {NORMAL_CLONE}
        for c in self.clones:
            seen, cur = {c.name}, c
            while cur.parent is not None:
                if cur.parent not in names:
                    raise InputError(f"clone {cur.name} of patient {self.id} names parent '{cur.parent}', which is not one of its clones")
                cur = self.clone(cur.parent)
                if cur.name in seen:
                    raise InputError(f"clones of patient {self.id} have a parent cycle through '{cur.name}'; fix the parent fields")
                seen.add(cur.name)
        for s in self.samples:
            missing = set(s.weights) - known
            if missing:
                raise InputError(f"sample {s.id} uses clone(s) {', '.join(sorted(missing))} that patient {self.id} does not define")

    def clone(self, name: str) -> Clone | None:
        return next((c for c in self.clones if c.name == name), None)

    def history(self, name: str) -> list[Event]:
        """Inherited events of clone ``name``: its ancestors' ``pre_wgd + events``, oldest first."""
        chain, cur = [], self.clone(name)
        while cur is not None and cur.parent is not None:
            cur = self.clone(cur.parent)
            chain.append(cur)
        return [e for c in reversed(chain) for e in list(c.pre_wgd) + list(c.events)]

    def lineage(self, name: str) -> str:
        """The root ancestor of clone ``name`` (itself when it has no parent)."""
        cur = self.clone(name)
        if cur is None:
            return name
        while cur.parent is not None:
            cur = self.clone(cur.parent)
        return cur.name


#: Waviness of the default bias model, from real single cells (see docs/simulate.md).
WAVE_SD = (0.02, 0.10)
WAVE_MB = 3.5
WAVE_SHARED = 0.5

#: Named bias levels (:meth:`Bias.preset`).
BIAS_PRESETS: dict[str, dict] = {
    "default": {},
    "stress": {"wave_sd": (0.02, 0.08), "wave_mb": 15.0, "wave_shared": 0.0, "wave_pool_average": False},
}


@dataclass
class Bias:
    """Levels of the technical bias model (see :mod:`ctcscope.simulate.bias` for why each term).

    Ranges are (low, high); each sample draws its own value inside them.
    """

    reads: tuple[float, float] = (3e5, 2e6)          # reads counted into bins per sample (log-uniform)
    mapd: tuple[float, float] = (0.15, 0.35)          # target MAPD of single cells
    bulk_mapd: tuple[float, float] = (0.10, 0.15)     # pools of many cells, germline, biopsy
    gc_sd: tuple[float, float, float] = (0.20, 0.10, 0.04)  # per-cell SD of linear/quadratic/cubic GC terms
    gc_run: tuple[float, float, float] = (-0.15, -0.06, 0.0)  # run-level GC curve (Ampli1 favours AT-rich MseI fragments)
    sites_per_mb: float = 1200.0                       # amplified Ampli1 fragments per Mb (fixed per run)
    site_sigma: float = 0.9                            # log-normal SD of per-fragment amplification (heavy tail)
    # waviness: measured on real single cells (docs/simulate.md, benchmarks/real_noise.py)
    wave_sd: tuple[float, float] = WAVE_SD               # SD of the log-waviness of one cell
    wave_mb: float = WAVE_MB                             # Gaussian kernel SD (Mb); correlation length x sqrt(2)
    wave_shared: float = WAVE_SHARED                     # share of a cell's wave variance common to the run
    wave_pool_average: bool = True                       # pools/bulk: private wave averages over their cells
    blacklist_boost: float = 1.0                       # extra read pile-up in unusable blacklisted bins
    s_phase: float = 0.0                               # share of single cells caught in S phase (replication pattern)
    g2_phase: float = 0.05                             # share of the other single cells in G2/M (twice the DNA, same profile)
    efflux_dim: float = 0.05                           # share of CTCs whose Hoechst staining is dimmed by efflux pumps

    def __post_init__(self):
        for name in ("reads", "mapd", "bulk_mapd", "wave_sd", "gc_sd", "gc_run"):
            setattr(self, name, tuple(float(x) for x in getattr(self, name)))
        if self.reads[0] <= 0 or self.reads[1] < self.reads[0]:
            raise InputError("bias.reads must be a (low, high) range of positive read numbers")
        if not 0 <= self.mapd[0] <= self.mapd[1] < 2:
            raise InputError("bias.mapd must be a (low, high) range between 0 and 2")
        if not 0 <= self.wave_sd[0] <= self.wave_sd[1] < 1:
            raise InputError("bias.wave_sd must be a (low, high) range between 0 and 1")
        if not 0 <= float(self.wave_shared) <= 1:
            raise InputError("bias.wave_shared must be a fraction between 0 and 1")
        if not float(self.wave_mb) > 0:
            raise InputError("bias.wave_mb must be a positive length in Mb")
        for name in ("s_phase", "g2_phase", "efflux_dim"):
            if not 0 <= float(getattr(self, name)) <= 1:
                raise InputError(f"bias.{name} must be a fraction between 0 and 1")

    @classmethod
    def preset(cls, name: str) -> "Bias":
        """A named bias level: ``default`` (calibrated on real cells) or ``stress`` (the
        earlier, harsher waviness: 2-8 % over a ~21 Mb correlation length, independent in
        every sample, pools and bulk samples as wavy as single cells)."""
        if name not in BIAS_PRESETS:
            raise InputError(f"unknown bias preset '{name}'; use one of {', '.join(BIAS_PRESETS)}")
        return cls(**BIAS_PRESETS[name])


@dataclass
class Design:
    patients: list[Patient] = field(default_factory=list)
    bias: Bias = field(default_factory=Bias)
    name: str = "custom"
    #: Seed of the run-level (shared) bias; ``None`` = derived from the simulation seed.
    run_seed: int | None = None
    notes: str = ""
    #: Always true for designs made by ctcscope; written into every sheet it produces.
    simulated: bool = True

    def __post_init__(self):
        ids = [s.id for p in self.patients for s in p.samples]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise InputError(f"sample ids must be unique; repeated: {', '.join(dup[:5])}")
        if not ids:
            raise InputError("the design has no samples; add samples to at least one patient")

    @property
    def samples(self) -> list[tuple[Patient, Sample]]:
        return [(p, s) for p in self.patients for s in p.samples]

    def to_dict(self) -> dict:
        return _to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> "Design":
        return design_from_dict(d)


# ---------------------------------------------------------------------------------------
# dict / YAML round trip

def _to_plain(o):
    if isinstance(o, dict):
        return {k: _to_plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_to_plain(v) for v in o]
    return o


def _event(x) -> Event:
    if isinstance(x, Event):
        return x
    if isinstance(x, str):  # compact form: "8q+1", "MET=10", "CDKN2A=0"
        return parse_event(x)
    if not isinstance(x, dict) or "region" not in x:
        raise InputError(f"cannot read event {x!r}; write e.g. {{region: 8q, change: 1}} or '8q+1'")
    return Event(**{k: x[k] for k in ("region", "change", "cn", "width") if k in x})


def parse_event(text: str) -> Event:
    """``"8q+1"``, ``"13-1"``, ``"MET=10"``, ``"CDKN2A=0"``; ``@width`` for gene-centred
    focal events: ``"MET=10@2000000"``, ``"ALK+2@5000000"``."""
    import re

    t = text.strip()
    m = re.fullmatch(r"(.+?)=(\d+)(?:@(\d+))?", t)
    if m:
        return Event(m.group(1), cn=int(m.group(2)), width=int(m.group(3)) if m.group(3) else None)
    m = re.fullmatch(r"(.+?)([+-]\d+)(?:@(\d+))?", t)
    if m and not re.fullmatch(r".+:\d+", m.group(1)):
        return Event(m.group(1), change=int(m.group(2)), width=int(m.group(3)) if m.group(3) else None)
    raise InputError(f"cannot read event '{text}'; write e.g. '8q+1', '13-1', 'MET=10', 'CDKN2A=0@1000000' or 'ALK+2@5000000'")


def _fields(cls, d: dict, what: str) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    extra = set(d) - names
    if extra:
        raise InputError(f"{what} has unknown field(s) {', '.join(sorted(extra))}; allowed: {', '.join(sorted(names))}")
    return dict(d)


def design_from_dict(d: dict) -> Design:
    if not isinstance(d, dict) or "patients" not in d:
        raise InputError("a simulation design needs a 'patients' list")
    d = _fields(Design, d, "design")
    patients = []
    for p in d.pop("patients") or []:
        p = _fields(Patient, p, f"patient {p.get('id', '?')}")
        clones = []
        for c in p.pop("clones", []) or []:
            c = _fields(Clone, c, f"clone {c.get('name', '?')}")
            c["pre_wgd"] = [_event(e) for e in c.get("pre_wgd") or []]
            c["events"] = [_event(e) for e in c.get("events") or []]
            clones.append(Clone(**c))
        samples = []
        for s in p.pop("samples", []) or []:
            s = _fields(Sample, s, f"sample {s.get('id', '?')}")
            s["events"] = [_event(e) for e in s.get("events") or []]
            samples.append(Sample(**s))
        trunk = [_event(e) for e in p.pop("trunk", []) or []]
        patients.append(Patient(clones=clones, samples=samples, trunk=trunk, **p))
    bias = d.pop("bias", None)
    bias = Bias(**_fields(Bias, bias, "bias")) if isinstance(bias, dict) else (bias or Bias())
    return Design(patients=patients, bias=bias, **d)


def load_design(path: str | Path) -> Design:
    """Read a design from YAML (or JSON)."""
    import yaml

    p = Path(path)
    if not p.exists():
        raise InputError(f"design file {p} does not exist; check the path given with --design")
    try:
        d = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise InputError(f"design file {p} is not valid YAML ({str(e).splitlines()[0]}); fix the syntax") from e
    return design_from_dict(d)
