"""Reads per bin for every sample of a design, with the ground truth they were drawn from.

>>> from ctcscope.genome import load_genome
>>> from ctcscope.simulate import random_design, simulate_cohort
>>> g = load_genome("hg19", 500_000)
>>> sim = simulate_cohort(random_design(20, seed=1), g, seed=1)
>>> sim.adata.layers["counts"].dtype
dtype('int32')
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import anndata as ad
import numpy as np
import pandas as pd

from ..genome import AUTOSOMES, Genome, replication_timing
from .bias import CellBias, RunBias, bias_table, bias_weights, cell_bias, draw_counts, genome_position_mb, run_bias
from .design import NORMAL_CLONE, SAMPLE_TYPES, Design, Event, Patient, Sample
from .karyotype import GENE_ALIASES, find_gene, modal_cn, patient_profiles, sample_profile

#: Genes whose true copy number is always reported in ``truth.genes`` (the study's named
#: drivers and the ALK-TKI bypass genes), besides every gene an event targets.
REPORTED_GENES = (
    "ALK", "MYCN", "CCND3", "SEPT9", "FGFR1", "MYC", "RB1", "CDK6", "CDK4", "CDKN2A", "CDKN2B",
    "MDM2", "MDM4", "TP53", "BAP1", "FANCD2", "MLH1", "ERBB2", "EGFR", "KRAS", "RAF1", "MAP2K4",
    "MAP4K1", "AKT1", "MET", "KIT", "PIK3CA", "PTEN", "BRCA1", "BRCA2", "ATM", "CCND1", "CCNE1",
)

#: Single-cell sample types (over-dispersion of one cell's WGA).
SINGLE_CELL_TYPES = ("ctc", "normal")


@dataclass
class Truth:
    """What was simulated.

    ``samples``: one row per sample: ``sample_id, patient, sex, sample_type, pool_size,
    phenotype, clone`` (the cell's clone, or the largest tumour clone of a mixture),
    ``lineage`` (the clone's root ancestor),
    ``composition`` (``A:4;B:1``), ``purity`` (tumour fraction), ``ploidy`` (integer base
    ploidy), ``mean_cn`` (length-weighted over usable autosomal bins), ``modal_cn``,
    ``wgd`` (study rule: ploidy >= 4), ``wgd_event`` (karyotype built by a doubling),
    ``normal_like`` (flat germline karyotype), ``events``, plus the bias parameters.
    ``cn``: samples x bins true copy number (integers for cells; the mixture mean for pools
    and bulk samples, copies per cell-equivalent).
    ``segments``: ``sample_id, chrom, start, end, n_bins, cn`` (runs of equal true CN over
    all bins, 0-based half-open).
    ``genes``: ``sample_id, patient, gene, chrom, start, end, cn, cn_min, cn_max, ploidy,
    relative_cn, state, planted, event, usable`` for :data:`REPORTED_GENES` and every gene an
    event targets.  States (truth rule): ``homdel`` cn = 0; ``loss`` cn < ploidy; ``amp``
    cn >= 2 x ploidy; ``gain`` ploidy < cn < 2 x ploidy; else ``neutral``.
    """

    samples: pd.DataFrame
    cn: np.ndarray
    segments: pd.DataFrame
    genes: pd.DataFrame

    def breakpoints(self) -> pd.DataFrame:
        """True breakpoints: ``sample_id, chrom, pos`` (0-based boundary), ``cn_left, cn_right``."""
        s = self.segments
        same = (s.sample_id.to_numpy()[1:] == s.sample_id.to_numpy()[:-1]) & (s.chrom.to_numpy()[1:] == s.chrom.to_numpy()[:-1])
        i = np.flatnonzero(same)
        return pd.DataFrame({
            "sample_id": s.sample_id.to_numpy()[i + 1],
            "chrom": s.chrom.to_numpy()[i + 1],
            "pos": s.start.to_numpy()[i + 1],
            "cn_left": s.cn.to_numpy()[i],
            "cn_right": s.cn.to_numpy()[i + 1],
        })


@dataclass
class SimulatedCohort:
    """Result of :func:`simulate_cohort`: ``adata`` as a real run would have it (counts and
    the sample sheet), ``truth``, and what is needed to write BAMs of exactly these counts."""

    adata: ad.AnnData
    truth: Truth
    design: Design
    genome: Genome
    seed: int
    run: RunBias = field(repr=False)
    #: Expected counts (before Poisson/over-dispersion noise), samples x bins.
    expected: np.ndarray = field(repr=False)
    cell_bias: dict = field(repr=False, default_factory=dict)

    @property
    def counts(self) -> np.ndarray:
        return self.adata.layers["counts"]

    def with_truth(self) -> ad.AnnData:
        """A copy of ``adata`` with ``layers['true_cn']`` and ``obs['true_*']`` columns."""
        a = self.adata.copy()
        a.layers["true_cn"] = self.truth.cn.copy()
        t = self.truth.samples.set_index("sample_id").loc[a.obs_names]
        for col in ("ploidy", "mean_cn", "wgd", "normal_like", "clone", "lineage", "composition", "purity"):
            a.obs[f"true_{col}"] = t[col].to_numpy()
        return a


def replication_factor(rt: np.ndarray, rng: np.random.Generator, width: float = 0.3) -> tuple[np.ndarray, float]:
    """Read-depth factor of a cell in S phase, and how far it is into S (share of DNA copied).

    Each bin is copied with probability ``1 / (1 + exp(-(rt - theta) / width))`` (``rt``:
    standardised replication timing, high = early), ``theta`` drawn between the 15th and 85th
    percentiles of the track; a copied bin has twice the DNA.  Bins without a timing value
    take the genome-wide share.  Single cells replicate in a less ordered way than the
    population track, so each bin's share is also jittered (SD 0.1).
    """
    known = np.isfinite(rt)
    theta = float(np.quantile(rt[known], rng.uniform(0.15, 0.85))) if known.any() else 0.0
    f = np.where(known, 1.0 / (1.0 + np.exp(-(np.where(known, rt, 0.0) - theta) / width)), np.nan)
    share = float(np.nanmean(f)) if known.any() else 0.5
    f = np.clip(np.where(known, f, share) + rng.normal(0.0, 0.1, rt.size), 0.0, 1.0)
    return 1.0 + f, share


def _cycle_factor(phase: str, progress: float) -> float:
    """DNA content relative to the same cell in G1."""
    if phase == "S":
        return 1.0 + float(progress)
    return 2.0 if phase == "G2/M" else 1.0


def _sample_rng(seed: int, sample_id: str) -> np.random.Generator:
    # keyed by the id, so adding a sample to a design does not change the others
    return np.random.default_rng([int(seed), 1, zlib.crc32(sample_id.encode())])


def _run_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 0, 0x52554E])


def _mapd_target(sample: Sample, design: Design, rng: np.random.Generator) -> float:
    b = design.bias
    cell = float(rng.uniform(*b.mapd))
    bulk = float(rng.uniform(*b.bulk_mapd))
    if sample.mapd is not None:
        return float(sample.mapd)
    if sample.sample_type in SINGLE_CELL_TYPES and sample.composition is None:
        return cell
    if sample.sample_type == "ctc_pool":
        # WGA noise of n cells averages out roughly as 1/sqrt(n)
        return max(b.bulk_mapd[0], cell / np.sqrt(max(sample.n_cells, 1)))
    return bulk


#: Bulk DNA (germline, biopsy) amplifies many genomes at once: its private waviness is gone.
BULK_CELLS = 1000


def _wave_cells(sample: Sample) -> float:
    """Genomes amplified together, over which a sample's private waviness averages."""
    if sample.sample_type in ("germline", "biopsy"):
        return float(BULK_CELLS)
    return float(max(sample.n_cells, 1))


def _sample_clone_info(patient: Patient, sample: Sample) -> dict:
    w = sample.weights
    tumour = {k: v for k, v in w.items() if k != NORMAL_CLONE}
    tot = sum(w.values())
    if tumour:
        dom = max(tumour, key=lambda k: (tumour[k], k))
        clone = patient.clone(dom)
        ploidy, wgd_event = int(clone.ploidy), bool(clone.wgd)
    else:
        dom, ploidy, wgd_event = NORMAL_CLONE, 2, False
    comp = ";".join(f"{k}:{v:g}" for k, v in w.items())
    return dict(clone=dom, lineage=patient.lineage(dom) if tumour else NORMAL_CLONE, composition=comp,
                purity=sum(tumour.values()) / tot, ploidy=ploidy,
                wgd_event=wgd_event, normal_like=not tumour)


def _events_of(patient: Patient, sample: Sample) -> list[tuple[Event, str]]:
    """(event, level) pairs affecting any cell of the sample."""
    out = []
    for name in sample.weights:
        if name == NORMAL_CLONE:
            continue
        c = patient.clone(name)
        out += [(e, "trunk") for e in patient.trunk] + [(e, f"clone {name}") for e in patient.history(name) + c.pre_wgd + c.events]
    out += [(e, "private") for e in sample.events]
    return out


def _drug_at_resistance(patient: Patient) -> str:
    """The last treatment line's drug from the patient's sheet fields ("" if none)."""
    lines = patient.sheet.get("treatments") or []
    return str(lines[-1].get("drug", "")) if lines and isinstance(lines[-1], dict) else ""


def segments_table(cn: np.ndarray, sample_ids: list[str], genome: Genome) -> pd.DataFrame:
    """Runs of equal value along the bins of each chromosome, for every sample (vectorised)."""
    b = genome.bins
    chrom = b.chrom.to_numpy()
    start = b.start.to_numpy()
    end = b.end.to_numpy()
    n_s, n_b = cn.shape
    new_chrom = np.ones(n_b, bool)
    new_chrom[1:] = chrom[1:] != chrom[:-1]
    change = np.ones((n_s, n_b), bool)
    change[:, 1:] = (cn[:, 1:] != cn[:, :-1]) | new_chrom[None, 1:]
    si, bi = np.nonzero(change)           # row-major: sorted by sample, then bin
    nxt = np.append(bi[1:], n_b)
    last_of_row = np.append(si[1:] != si[:-1], True)
    nxt[last_of_row] = n_b
    stop = nxt - 1
    return pd.DataFrame({
        "sample_id": np.asarray(sample_ids, dtype=object)[si],
        "chrom": chrom[bi],
        "start": start[bi],
        "end": end[stop],
        "n_bins": stop - bi + 1,
        "cn": cn[si, bi],
    })


def gene_state(cn: np.ndarray, ploidy: np.ndarray) -> np.ndarray:
    """Truth rule for a gene's state (see :class:`Truth`)."""
    cn = np.asarray(cn, float)
    p = np.asarray(ploidy, float)
    return np.select([cn <= 0, cn < p, cn >= 2 * p, cn > p], ["homdel", "loss", "amp", "gain"], "neutral")


def genes_table(cn: np.ndarray, samples: pd.DataFrame, genome: Genome, design: Design) -> pd.DataFrame:
    """True gene-level copy number of the reported and targeted genes in every sample."""
    targets: dict[str, set[str]] = {}      # sample -> genes named by an event
    labels: dict[tuple[str, str], list[str]] = {}
    resolved: dict[str, object] = {}
    for patient, sample in design.samples:
        for ev, level in _events_of(patient, sample):
            name = ev.region.removeprefix("gene:")
            if name not in resolved:
                resolved[name] = find_gene(genome, name)
            g = resolved[name]
            if g is None or name not in (g.symbol, GENE_ALIASES.get(g.symbol)):
                continue
            targets.setdefault(sample.id, set()).add(g.symbol)
            labels.setdefault((sample.id, g.symbol), []).append(f"{ev.label} ({level})")
    names = list(dict.fromkeys(list(REPORTED_GENES) + sorted({x for v in targets.values() for x in v})))
    rows = []
    b = genome.bins
    bchrom, bstart, bend = b.chrom.to_numpy(), b.start.to_numpy(), b.end.to_numpy()
    use = b.use.to_numpy(bool)
    for name in names:
        g = find_gene(genome, name)
        if g is None:
            continue
        sel = np.flatnonzero((bchrom == str(g.chrom)) & (bstart < int(g.end)) & (bend > int(g.start)))
        if sel.size == 0:
            continue
        overlap = np.minimum(bend[sel], int(g.end)) - np.maximum(bstart[sel], int(g.start))
        main = sel[np.argmax(overlap)]
        rows.append((g.symbol, str(g.chrom), int(g.start), int(g.end), main, sel, bool(use[sel].any())))
    if not rows:
        return pd.DataFrame(columns=["sample_id", "patient", "gene", "chrom", "start", "end", "cn", "cn_min", "cn_max",
                                     "ploidy", "relative_cn", "state", "planted", "event", "usable"])
    sid = samples.sample_id.to_numpy()
    out = []
    for sym, c, s, e, main, sel, usable in rows:
        val = cn[:, main].astype(float)
        sub = cn[:, sel].astype(float)
        out.append(pd.DataFrame({
            "sample_id": sid, "patient": samples.patient.to_numpy(), "gene": sym, "chrom": c, "start": s, "end": e,
            "cn": val, "cn_min": sub.min(axis=1), "cn_max": sub.max(axis=1),
            "ploidy": samples.ploidy.to_numpy(),
            "planted": [sym in targets.get(x, ()) for x in sid],
            "event": ["; ".join(labels.get((x, sym), [])) for x in sid],
            "usable": usable,
        }))
    df = pd.concat(out, ignore_index=True)
    df["relative_cn"] = df.cn / df.ploidy
    df["state"] = gene_state(df.cn.to_numpy(), df.ploidy.to_numpy())
    cols = ["sample_id", "patient", "gene", "chrom", "start", "end", "cn", "cn_min", "cn_max", "ploidy",
            "relative_cn", "state", "planted", "event", "usable"]
    order = {s: i for i, s in enumerate(sid)}
    df["_o"] = df.sample_id.map(order)
    return df.sort_values(["_o", "chrom", "start"], kind="stable")[cols].reset_index(drop=True)


def simulate_cohort(design: Design, genome: Genome, seed: int = 0) -> SimulatedCohort:
    """Simulate read counts per bin for every sample of ``design`` on ``genome``'s bins.

    Deterministic given ``seed`` (and ``design.run_seed`` for the run-level bias).  Each
    sample's noise comes from its own random stream keyed by its id.
    """
    seed = int(seed)
    run_seed = int(design.run_seed) if design.run_seed is not None else seed
    run = run_bias(genome, design.bias, _run_rng(run_seed))
    pos_mb = genome_position_mb(genome)
    b = genome.bins
    use = b.use.to_numpy(bool)
    auto = b.chrom.isin(AUTOSOMES).to_numpy() & use
    width = (b.end - b.start).to_numpy(float)
    wauto = np.where(auto, width, 0.0)

    masks: dict = {}
    rt = replication_timing(genome) if design.bias.s_phase > 0 else np.full(genome.n_bins, np.nan)
    ids, obs_rows, truth_rows, cn_rows, mean_rows, counts_rows = [], [], [], [], [], []
    biases: dict[str, CellBias] = {}
    for patient in design.patients:
        profiles = patient_profiles(patient, genome, masks)
        for sample in patient.samples:
            rng = _sample_rng(seed, sample.id)
            cn = sample_profile(sample, profiles, genome, masks)
            lo, hi = design.bias.reads
            reads = int(sample.reads) if sample.reads is not None else int(round(np.exp(rng.uniform(np.log(lo), np.log(hi)))))
            mapd = _mapd_target(sample, design, rng)
            base_w = cn * run.eff * run.locus * run.boost
            cb = cell_bias(genome, design.bias, run, rng, reads=reads, mapd_target=mapd, pos_mb=pos_mb,
                           expected_cn_weight=base_w, n_cells=_wave_cells(sample))
            w = cn * bias_weights(genome, run, cb)
            phase, progress, hoechst = "G1", float("nan"), 1.0
            if sample.sample_type in SINGLE_CELL_TYPES and sample.composition is None:
                # a cell caught replicating: early-replicating DNA copied, late DNA not yet
                # (ctcscope.cna.cycle); its own stream, so other draws do not change
                srng = np.random.default_rng([int(seed), 2, zlib.crc32(sample.id.encode())])
                if design.bias.s_phase > 0 and srng.random() < design.bias.s_phase:
                    factor, progress = replication_factor(rt, srng)
                    w = w * factor
                    phase = "S"
                # G2/M and efflux-dimmed staining change the DNA stain only (the profile of a
                # G2 cell is its G1 profile doubled everywhere); a stream of their own
                crng = np.random.default_rng([int(seed), 3, zlib.crc32(sample.id.encode())])
                u_g2, u_dim, dim = crng.random(), crng.random(), crng.uniform(0.5, 0.85)
                if phase == "G1" and u_g2 < design.bias.g2_phase:
                    phase = "G2/M"
                if sample.sample_type == "ctc" and u_dim < design.bias.efflux_dim:
                    hoechst = float(dim)
            tot = w.sum()
            mean = reads * w / tot if tot > 0 else np.zeros_like(w)
            counts = draw_counts(mean, cb.phi, rng)
            info = _sample_clone_info(patient, sample)
            mean_cn = float((cn * wauto).sum() / wauto.sum()) if wauto.sum() else float("nan")
            ids.append(sample.id)
            biases[sample.id] = cb
            cn_rows.append(cn.astype(np.float32))
            mean_rows.append(mean.astype(np.float32))
            counts_rows.append(counts)
            obs_rows.append(dict(
                sample_id=sample.id, patient=patient.id, sample_type=sample.sample_type, pool_size=sample.n_cells,
                phenotype=sample.phenotype, isolation=sample.isolation,
                gii=float(sample.gii) if sample.gii is not None else np.nan, bam="", simulated=True,
                treatment_group=_drug_at_resistance(patient)))
            truth_rows.append(dict(
                sample_id=sample.id, patient=patient.id, sex=patient.sex, sample_type=sample.sample_type,
                pool_size=sample.n_cells, phenotype=sample.phenotype, **info, mean_cn=mean_cn,
                modal_cn=modal_cn(cn, wauto), wgd=info["ploidy"] >= 4, phase=phase, s_phase_progress=progress,
                dna_index=mean_cn / 2.0 * _cycle_factor(phase, progress), hoechst_factor=hoechst,
                events="; ".join(f"{e.label} ({lvl})" for e, lvl in _events_of(patient, sample)),
            ))

    counts = np.vstack(counts_rows)
    if counts.max(initial=0) > np.iinfo(np.int32).max:
        raise OverflowError("simulated counts exceed int32; lower the read depth")
    obs = pd.DataFrame(obs_rows).set_index("sample_id")
    obs.index.name = None
    obs["sample_type"] = pd.Categorical(obs.sample_type, categories=list(SAMPLE_TYPES))
    obs["pool_size"] = obs.pool_size.astype(int)
    adata = ad.AnnData(obs=obs, var=genome.to_var(), layers={"counts": counts.astype(np.int32)})
    adata.uns["simulation"] = {
        "simulated": True, "design": design.name, "seed": seed, "run_seed": run_seed,
        "build": genome.build, "bin_size": int(genome.bin_size), "note": "SIMULATED data (ctcscope.simulate)",
    }
    true_cn = np.vstack(cn_rows)
    samples = pd.DataFrame(truth_rows)
    samples = samples.merge(bias_table(biases), on="sample_id", how="left")
    samples["reads"] = counts.sum(axis=1)
    truth = Truth(samples=samples, cn=true_cn, segments=segments_table(true_cn, ids, genome),
                  genes=genes_table(true_cn, samples, genome, design))
    return SimulatedCohort(adata=adata, truth=truth, design=design, genome=genome, seed=seed, run=run,
                           expected=np.vstack(mean_rows), cell_bias=biases)
