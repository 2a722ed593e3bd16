"""Integer copy-number profiles of clones and cells on a genome's bins.

Everything is a vector over ``genome.bins`` (one integer per bin).  Event regions snap
outward to whole bins so the truth is exact at the simulated resolution.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import InputError
from ..genome import Genome, canonical_chrom
from .design import NORMAL_CLONE, Clone, Event, Patient, Sample

#: Gene symbols renamed between GENCODE releases (hg19 tables use the old names).
GENE_ALIASES = {"SEPT9": "SEPTIN9", "SEPTIN9": "SEPT9", "MRE11A": "MRE11", "MRE11": "MRE11A",
                "FAM123B": "AMER1", "AMER1": "FAM123B", "C10orf54": "VSIR", "VSIR": "C10orf54"}

#: Default width of a focal event around a gene (bp); always at least the gene itself.
FOCAL_WIDTH = 1_500_000

_COORD = re.compile(r"^(?:chr)?([0-9XYMT]+):([\d,_]+)-([\d,_]+)$", re.I)
_ARM = re.compile(r"^(?:chr)?([0-9]{1,2}|X|Y)([pq])$", re.I)
_BAND = re.compile(r"^(?:chr)?([0-9]{1,2}|X|Y)([pq]\d+(?:\.\d+)?)$", re.I)


class _Lookup:
    """Arrays and a gene dictionary of one genome, built once (object comparisons in pandas
    are slow when repeated for every event)."""

    def __init__(self, genome: Genome):
        b = genome.bins
        self.bins = b
        self.chrom = b.chrom.to_numpy().astype(str)
        self.start = b.start.to_numpy()
        self.end = b.end.to_numpy()
        self.arm = b.arm.to_numpy().astype(str) if "arm" in b else np.full(len(b), "")
        codes, self.chrom_code = np.unique(self.chrom, return_inverse=True)
        self.code_of = {c: i for i, c in enumerate(codes)}
        g = genome.genes
        self.genes = g
        self.gene_row: dict[str, int] = {}
        if g is not None and not g.empty:
            # first row of each symbol, as the table orders them
            first = ~g.symbol.duplicated().to_numpy()
            self.gene_row = dict(zip(g.symbol.to_numpy()[first], np.flatnonzero(first)))

    def chrom_mask(self, c: str) -> np.ndarray:
        i = self.code_of.get(c)
        return np.zeros(len(self.chrom), bool) if i is None else self.chrom_code == i


_LOOKUPS: dict[int, _Lookup] = {}


def _lookup(genome: Genome) -> _Lookup:
    lk = _LOOKUPS.get(id(genome))
    if lk is None or lk.bins is not genome.bins or lk.genes is not genome.genes:
        if len(_LOOKUPS) > 32:
            _LOOKUPS.clear()
        lk = _LOOKUPS[id(genome)] = _Lookup(genome)
    return lk


def find_gene(genome: Genome, symbol: str) -> pd.Series | None:
    """The gene-table row of ``symbol`` (or its alias); ``None`` if absent."""
    lk = _lookup(genome)
    for name in (symbol, GENE_ALIASES.get(symbol)):
        if name is not None and name in lk.gene_row:
            return genome.genes.iloc[lk.gene_row[name]]
    return None


def region_mask(genome: Genome, event: Event) -> np.ndarray:
    """Boolean mask of the bins an event covers (edges snap outward to bins)."""
    lk = _lookup(genome)
    start, end = lk.start, lk.end
    r = event.region
    m = _COORD.match(r)
    if m:
        c, s, e = canonical_chrom(m.group(1)), int(re.sub("[,_]", "", m.group(2))), int(re.sub("[,_]", "", m.group(3)))
        if e <= s:
            raise InputError(f"event region {r} ends before it starts; give start-end with start < end")
        mask = lk.chrom_mask(c) & (start < e) & (end > s)
    elif _ARM.match(r):
        m = _ARM.match(r)
        c, arm = canonical_chrom(m.group(1)), m.group(2).lower()
        mask = lk.chrom_mask(c) & (lk.arm == arm)
    elif re.fullmatch(r"(?:chr)?([0-9]{1,2}|X|Y)", r, re.I) and canonical_chrom(r) in lk.code_of:
        mask = lk.chrom_mask(canonical_chrom(r))
    elif _BAND.match(r) and genome.cytobands is not None and not genome.cytobands.empty:
        m = _BAND.match(r)
        c, band = canonical_chrom(m.group(1)), m.group(2).lower()
        cb = genome.cytobands
        hit = cb[(cb.chrom == c) & (cb.band.str.lower() == band)]
        if hit.empty:  # prefix of sub-bands: 3p21 -> 3p21.1, 3p21.2, ... (not 3p2 -> 3p21)
            hit = cb[(cb.chrom == c) & cb.band.str.lower().str.match(re.escape(band) + r"(\.|$)")]
        if hit.empty:
            raise InputError(f"cytoband {r} is not in the {genome.build} cytoband table; use an arm, coordinates or a gene")
        s, e = int(hit.start.min()), int(hit.end.max())
        mask = lk.chrom_mask(c) & (start < e) & (end > s)
    else:
        gene = find_gene(genome, r.removeprefix("gene:"))
        if gene is None:
            raise InputError(
                f"event region '{r}' is neither a chromosome, arm ('8q'), cytoband ('3p21'), coordinates "
                f"('7:55000000-56000000') nor a gene of the {genome.build} gene table; check the spelling"
            )
        width = int(event.width or FOCAL_WIDTH)
        mid = (int(gene.start) + int(gene.end)) // 2
        s = min(int(gene.start), mid - width // 2)
        e = max(int(gene.end), mid + width // 2)
        mask = lk.chrom_mask(str(gene.chrom)) & (start < e) & (end > s)
    if not mask.any():
        raise InputError(f"event region '{r}' covers no bin of the {genome.build} {genome.bin_size // 1000} kb bins")
    return mask


def germline_profile(genome: Genome, sex: str, base: int = 2) -> np.ndarray:
    """Copies per bin of a karyotype at ``base`` copies per autosome (sex-aware X/Y)."""
    chrom = _lookup(genome).chrom
    cn = np.full(len(chrom), base, dtype=np.int32)
    if sex == "M":
        half = max(1, base // 2)
        cn[chrom == "X"] = half
        cn[chrom == "Y"] = half
    else:
        cn[chrom == "Y"] = 0
    cn[chrom == "MT"] = base  # not modelled as a copy-number target; kept flat
    return cn


def apply_events(cn: np.ndarray, events: list[Event], genome: Genome, masks: dict | None = None) -> np.ndarray:
    """Apply events in order (relative changes floor at 0 copies)."""
    out = cn.copy()
    for ev in events:
        mask = masks[ev.region, ev.width] if masks is not None and (ev.region, ev.width) in masks else region_mask(genome, ev)
        if masks is not None:
            masks[ev.region, ev.width] = mask
        if ev.cn is not None:
            out[mask] = int(ev.cn)
        else:
            out[mask] = np.maximum(out[mask] + int(ev.change), 0)
    return out


def clone_profile(clone: Clone, patient: Patient, genome: Genome, masks: dict | None = None) -> np.ndarray:
    """Copies per bin of a tumour clone: trunk → ancestors' events → pre-WGD events →
    doubling → events."""
    base = clone.ploidy // 2 if clone.wgd else clone.ploidy
    cn = germline_profile(genome, patient.sex, base)
    inherited = patient.history(clone.name)
    cn = apply_events(cn, list(patient.trunk) + inherited + list(clone.pre_wgd), genome, masks)
    if clone.wgd:
        cn = cn * 2
    return apply_events(cn, clone.events, genome, masks)


def patient_profiles(patient: Patient, genome: Genome, masks: dict | None = None) -> dict[str, np.ndarray]:
    """``{clone name: profile}`` including the flat ``normal`` karyotype."""
    out = {NORMAL_CLONE: germline_profile(genome, patient.sex, 2)}
    for c in patient.clones:
        out[c.name] = clone_profile(c, patient, genome, masks)
    return out


def sample_profile(sample: Sample, profiles: dict[str, np.ndarray], genome: Genome,
                   masks: dict | None = None) -> np.ndarray:
    """True copy number of a sample: a cell's integer profile (with its private events) or
    the weighted mean of its composition (copies per cell-equivalent)."""
    if sample.composition is None:
        return apply_events(profiles[sample.clone], sample.events, genome, masks).astype(np.float32)
    w = sample.weights
    tot = sum(w.values())
    mix = sum(profiles[k].astype(np.float64) * (v / tot) for k, v in w.items())
    return mix.astype(np.float32)


def base_ploidy(clone: Clone | None) -> int:
    return 2 if clone is None else int(clone.ploidy)


def modal_cn(cn: np.ndarray, weight: np.ndarray) -> int:
    """Length-weighted most common integer copy number (over the bins with weight > 0)."""
    v = np.rint(cn[weight > 0]).astype(int)
    w = weight[weight > 0]
    if v.size == 0:
        return 0
    counts = np.bincount(v, weights=w)
    return int(np.argmax(counts))
