"""Write a simulated cohort as a user would bring it (sheets, counts or BAMs) plus its truth.

Folder layout (:func:`write_simulation`)::

    samples.csv          sample sheet (docs/data-model.md; column simulated = true)
    patients.yaml        patient sheet (top-level simulated: true)
    counts.tsv.gz        bins x samples read counts (chrom, start, end, one column per sample)
    counts.h5ad          the same as AnnData (obs = sheet, var = bins, layers['counts'])
    bams/<id>.bam(.bai)  with bam=True: coordinate-sorted, indexed BAMs of exactly these counts
    truth/               samples.tsv, segments.tsv, breakpoints.tsv, genes.tsv, cn.tsv.gz,
                         bam_records.tsv (with bam=True)
    design.yaml          the design, to re-simulate
    run.json             provenance (versions, seed, parameters)
    SIMULATED.txt        what this folder is
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import prepare_output_dir, write_h5ad, write_json, write_text, write_tsv
from ..errors import InputError
from .counts import SimulatedCohort
from .design import Design

SHEET_COLUMNS = ["sample_id", "bam", "patient", "sample_type", "pool_size", "phenotype", "isolation", "gii", "simulated"]


@dataclass
class SimulationFiles:
    """Paths written by :func:`write_simulation` (``bams`` empty without BAMs)."""

    out_dir: Path
    samples: Path
    patients: Path
    counts: Path
    counts_h5ad: Path
    truth_dir: Path
    design: Path
    bams: dict[str, Path] = field(default_factory=dict)
    bam_records: pd.DataFrame | None = None
    sim: SimulatedCohort | None = field(default=None, repr=False)


def sample_sheet(sim: SimulatedCohort, bams: dict[str, str] | None = None) -> pd.DataFrame:
    """The sample sheet of a simulated cohort; ``bams`` maps sample id → path as written."""
    obs = sim.adata.obs
    df = pd.DataFrame({
        "sample_id": obs.index.to_numpy(),
        "bam": [bams.get(s, "") for s in obs.index] if bams else "",
        "patient": obs.patient.to_numpy(),
        "sample_type": obs.sample_type.astype(str).to_numpy(),
        "pool_size": obs.pool_size.astype(int).to_numpy(),
        "phenotype": obs.phenotype.to_numpy(),
        "isolation": obs.isolation.to_numpy(),
        "gii": obs.gii.to_numpy(),
        "simulated": "true",
    })
    if not bams:
        df = df.drop(columns="bam")
    return df


def patient_sheet(design: Design) -> dict:
    """Patient sheet (docs/data-model.md YAML form) of a design, marked as simulated."""
    patients = []
    for p in design.patients:
        entry = {"id": p.id}
        for key in ("fusion", "variant", "treatments", "mutations", "notes"):
            if key in p.sheet:
                entry[key] = p.sheet[key]
        entry.setdefault("notes", f"SIMULATED patient ({design.name})")
        patients.append(entry)
    return {"simulated": True, "source": f"ctcscope simulate: {design.name}", "patients": patients}


def counts_table(sim: SimulatedCohort, values: np.ndarray | None = None) -> pd.DataFrame:
    """Bins x samples table: ``chrom, start, end`` then one column per sample."""
    b = sim.genome.bins
    v = sim.counts if values is None else values
    body = pd.DataFrame(np.asarray(v).T, columns=list(sim.adata.obs_names))
    return pd.concat([b[["chrom", "start", "end"]].reset_index(drop=True), body], axis=1)


def write_truth(sim: SimulatedCohort, truth_dir: str | os.PathLike) -> Path:
    d = Path(truth_dir)
    d.mkdir(parents=True, exist_ok=True)
    write_tsv(d / "samples.tsv", sim.truth.samples)
    write_tsv(d / "segments.tsv", sim.truth.segments)
    write_tsv(d / "breakpoints.tsv", sim.truth.breakpoints())
    write_tsv(d / "genes.tsv", sim.truth.genes)
    write_tsv(d / "cn.tsv.gz", counts_table(sim, sim.truth.cn), float_format="%.6g", compression="gzip")
    return d


def _yaml(obj) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, width=120)


def _remove_stale(out: Path) -> None:
    """On overwrite, drop BAMs and BAM tallies of an earlier simulation in this (ctcscope)
    folder, so nothing left behind contradicts the new sheets."""
    for p in list((out / "bams").glob("*.bam")) + list((out / "bams").glob("*.bam.bai")):
        p.unlink()
    stale = out / "truth" / "bam_records.tsv"
    if stale.exists():
        stale.unlink()


def write_simulation(sim: SimulatedCohort, out_dir: str | os.PathLike, *, bam: bool = False, overwrite: bool = False,
                     read_length: int = 150, paired: bool = False, chr_prefix: bool = True, workers: int | None = 1,
                     quiet: bool = True) -> SimulationFiles:
    """Write sheets, counts (and BAMs), truth and provenance of a simulated cohort to ``out_dir``.

    The folder is prepared with :func:`ctcscope._atomic.prepare_output_dir` (an existing
    non-ctcscope folder is refused; an earlier ctcscope folder needs ``overwrite``).
    """
    if bam and read_length < 20:  # checked before the folder is made
        raise InputError(f"read length {read_length} is too short; use e.g. 150 (as the study) or 100")
    target = Path(out_dir)
    fresh = not target.exists() or (target.is_dir() and not any(target.iterdir()))
    out = prepare_output_dir(out_dir, overwrite=overwrite)
    try:
        return _write_simulation(sim, out, bam=bam, read_length=read_length, paired=paired, chr_prefix=chr_prefix,
                                 workers=workers, quiet=quiet)
    except BaseException:  # an error or Ctrl-C: nothing may look like a finished simulation
        _undo(out, fresh)
        raise


#: What :func:`write_simulation` writes into its folder (removed again if it fails).
SIM_FILES = ("run.json", "SIMULATED.txt", "samples.csv", "patients.yaml", "counts.tsv.gz", "counts.h5ad", "design.yaml")


def _undo(out: Path, fresh: bool) -> None:
    """Remove a failed simulation: the whole folder when this call made it, else its run.json."""
    import shutil

    from .._atomic import MARKER

    (out / "run.json").unlink(missing_ok=True)
    if not fresh:
        return
    for name in SIM_FILES + (MARKER,):
        (out / name).unlink(missing_ok=True)
    for d in ("bams", "truth"):
        shutil.rmtree(out / d, ignore_errors=True)
    for tmp in out.glob(".*.tmp-*"):
        tmp.unlink(missing_ok=True)
    try:
        out.rmdir()
    except OSError:
        pass


def _write_simulation(sim, out: Path, *, bam, read_length, paired, chr_prefix, workers, quiet) -> SimulationFiles:
    from .. import __version__
    from ..provenance import run_record
    from .bam import _safe, write_bams

    _remove_stale(out)
    bams: dict[str, Path] = {}
    records = None
    if bam:
        records = write_bams(sim, out / "bams", read_length=read_length, paired=paired, chr_prefix=chr_prefix,
                             workers=workers, quiet=quiet)
        bams = {s: out / "bams" / f"{_safe(s)}.bam" for s in sim.adata.obs_names}
    rel = {s: os.path.relpath(p, out) for s, p in bams.items()}
    write_text(out / "SIMULATED.txt",
               "This folder holds SIMULATED single-cell copy-number data made by `ctcscope simulate` "
               f"(ctcscope {__version__}; design '{sim.design.name}', seed {sim.seed}, {sim.genome.build} "
               f"{sim.genome.bin_size // 1000} kb). It is not data from any patient.\n")
    write_tsv(out / "samples.csv", sample_sheet(sim, rel), sep=",")
    write_text(out / "patients.yaml", "# SIMULATED patient sheet (ctcscope simulate)\n" + _yaml(patient_sheet(sim.design)))
    write_tsv(out / "counts.tsv.gz", counts_table(sim), compression="gzip")
    a = sim.adata.copy()
    if rel:
        a.obs["bam"] = [rel[s] for s in a.obs_names]
    write_h5ad(out / "counts.h5ad", a)
    truth = write_truth(sim, out / "truth")
    if records is not None:
        rec = records.copy()
        rec["bam"] = [rel[s] for s in rec.sample_id]
        write_tsv(truth / "bam_records.tsv", rec)
    write_text(out / "design.yaml", "# SIMULATED cohort design (ctcscope simulate)\n" + _yaml(sim.design.to_dict()))
    write_json(out / "run.json", run_record(
        "simulate", {"design": sim.design.name, "seed": sim.seed, "run_seed": sim.adata.uns["simulation"]["run_seed"],
                     "build": sim.genome.build, "bin_size": sim.genome.bin_size, "bam": bam, "read_length": read_length,
                     "paired": paired, "chr_prefix": chr_prefix, "simulated": True}))
    return SimulationFiles(out_dir=out, samples=out / "samples.csv", patients=out / "patients.yaml",
                           counts=out / "counts.tsv.gz", counts_h5ad=out / "counts.h5ad", truth_dir=truth,
                           design=out / "design.yaml", bams=bams, bam_records=records, sim=sim)
