"""The ``run`` workflow: sample sheet (or count matrix) → counts → copy number → output folder.

Each stage is a plain function, usable from a notebook::

    genome = load_genome("hg19", 500_000)
    adata = count_samples("samples.csv", genome)           # BAMs → layer 'counts'
    adata = run_copy_number("samples.csv", genome, "out")   # the whole copy-number run

Per-sample work goes through :func:`ctcscope.parallel.map_samples` (a local process pool,
or a Dask cluster with ``scheduler=``).  A run writes its files atomically and
``run.json`` last: a folder without ``run.json`` is an unfinished run.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from ._atomic import MARKER, prepare_output_dir, write_json
from .errors import CtcscopeError, InputError
from .genome import Genome, guess_build, load_genome
from .io.bam import FILTERS, bam_contigs, check_build, count_bam
from .io.counts import load_counts
from .io.export import write_copy_number_outputs
from .io.samplesheet import read_sample_sheet
from .parallel import default_workers, map_samples
from .provenance import run_record

log = logging.getLogger("ctcscope")

#: Files of the output folder a new run replaces (``--overwrite``); see docs/data-model.md.
RUN_FILES = ("run.json", "cohort.h5ad", "cells.tsv", "segments.seg", "clusters.tsv", "diversity.tsv", "genes.tsv",
             "drivers.tsv", "pathways.tsv", "phenotypes.tsv", "resistance.json", "resistance.tsv", "report.html",
             "genes.h5ad", "driver_frequencies.tsv", "driver_samples.tsv", "driver_patients.tsv",
             "driver_recurrence.tsv", "driver_groups.tsv", "driver_groups_summary.tsv",
             "diversity_test.json", "altered_regions.tsv", "clone_consensus.tsv",
             "sorted_wells.tsv", "phenotype_summary.tsv", "gates.tsv", "gate_values.tsv", "phenotype.json")
RUN_DIRS = ("figures", "report_tables")


# ----------------------------------------------------------------------------- parameters


def parse_bin_size(text: str | int) -> int:
    """``500kb``, ``1Mb``, ``0.5Mb``, ``500000`` → bp."""
    if isinstance(text, (int, np.integer)):
        v = int(text)
    else:
        m = re.fullmatch(r"\s*([\d.]+)\s*(bp|b|kb|k|kbp|mb|m|mbp)?\s*", str(text), flags=re.I)
        if not m:
            raise InputError(f"bin size '{text}' is not understood; write e.g. 500kb, 1Mb or 500000")
        unit = (m.group(2) or "bp").lower()
        mult = {"bp": 1, "b": 1, "k": 1_000, "kb": 1_000, "kbp": 1_000, "m": 1_000_000, "mb": 1_000_000,
                "mbp": 1_000_000}[unit]
        try:
            v = float(m.group(1)) * mult
        except ValueError:
            raise InputError(f"bin size '{text}' is not understood; write e.g. 500kb, 1Mb or 500000") from None
        if v != int(v):
            raise InputError(f"bin size '{text}' is not a whole number of bases; write e.g. 500kb")
        v = int(v)
    if v <= 0:
        raise InputError(f"bin size '{text}' must be positive; write e.g. 500kb")
    return v


def resolve_genome(genome: str | None, fasta: str | os.PathLike | None, bin_size: int | str,
                   bams: list[str] | None = None, *, blacklist=None, cache_dir=None) -> Genome:
    """The :class:`Genome` for a run from ``--genome``/``--fasta``; recognised from the first
    BAM's header when neither is given."""
    size = parse_bin_size(bin_size)
    if genome and fasta:
        raise InputError("give either --genome (a built-in build) or --fasta (your own reference), not both")
    if fasta:
        from .genome.fasta import genome_from_fasta

        return genome_from_fasta(fasta, size, cache_dir, blacklist=blacklist)
    if not genome:
        guess = None
        if bams:
            guess = guess_build(dict(bam_contigs(bams[0])))
        if guess not in ("hg19", "hg38"):
            raise InputError(
                "the genome build was not given and could not be recognised from the BAM header; "
                "pass --genome hg19 or --genome hg38, or --fasta with the reference"
            )
        log.info("genome build %s recognised from %s", guess, Path(bams[0]).name)
        genome = guess
    return load_genome(genome, size)


# ----------------------------------------------------------------------------- counting


def _slim(genome: Genome) -> Genome:
    """The parts of a genome the counter needs (small to ship to worker processes)."""
    return Genome(build=genome.build, bin_size=genome.bin_size, bins=genome.bins[["chrom", "start", "end"]].copy(),
                  chrom_sizes=genome.chrom_sizes)


def _count_one(bam: str, genome: Genome, min_mapq: int, threads: int, checksum: bool) -> dict[str, Any]:
    r = count_bam(bam, genome, min_mapq=min_mapq, threads=threads, checksum=checksum)
    return {"counts": r.counts, "tallies": r.tallies, "total": r.reads_total, "paired": r.paired,
            "sorted": r.sorted, "sha256": r.sha256}


def check_bam_headers(bams: list[str], genome: Genome) -> None:
    """Refuse, before any counting, BAMs that are not BAMs or are aligned to another build."""
    for b in bams:
        check_build(bam_contigs(b), genome, Path(b).name)


def count_samples(
    sheet: pd.DataFrame | str | os.PathLike,
    genome: Genome,
    workers: int | None = None,
    scheduler: Any = None,
    *,
    min_mapq: int = 30,
    checksum: bool = True,
    quiet: bool = False,
):
    """Count every sample's BAM into ``genome``'s bins → AnnData.

    ``obs``: the sheet (index ``sample_id``) plus ``reads`` (counted), ``reads_total``
    (records in the BAM) and ``paired_end``; ``var``: ``genome.to_var()``; layer
    ``counts`` (int32).  ``uns['read_filters']`` holds every sample's filter tallies and
    ``uns['bam_sha256']`` the BAM checksums (``sample_id, bam, sha256``).  A BAM with no read passing the filters is
    kept with zero counts (and a warning in ``uns['warnings']``).
    """
    import anndata as ad

    if not isinstance(sheet, pd.DataFrame):
        sheet = read_sample_sheet(sheet)
    bams = sheet["bam"].astype(str).tolist()
    if scheduler is None:
        n_workers = default_workers() if workers is None else max(1, int(workers))
        threads = max(1, (os.cpu_count() or 1) // max(1, min(n_workers, len(bams))))
    else:
        threads = 1
    res = map_samples(_count_one, bams, workers=workers, scheduler=scheduler, description="counting reads",
                      quiet=quiet, genome=_slim(genome), min_mapq=int(min_mapq), threads=threads, checksum=checksum)
    obs = sheet.set_index("sample_id", drop=True)
    obs.index = obs.index.astype(str)
    obs.index.name = "sample_id"
    tallies = pd.DataFrame([r["tallies"] for r in res], index=obs.index)[list(FILTERS)]
    obs["reads"] = tallies["kept"].to_numpy(np.int64)
    obs["reads_total"] = np.array([r["total"] for r in res], np.int64)
    obs["paired_end"] = np.array([r["paired"] for r in res], bool)
    x = np.vstack([r["counts"] for r in res]).astype(np.int32)
    adata = ad.AnnData(X=None, obs=obs, var=genome.to_var(), layers={"counts": x})
    adata.uns["read_filters"] = tallies.reset_index()
    adata.uns["bam_sha256"] = pd.DataFrame({"sample_id": obs.index.to_numpy(), "bam": bams,
                                            "sha256": [r["sha256"] for r in res]})
    adata.uns["genome"] = {"build": genome.build, "bin_size": int(genome.bin_size), "source": genome.source}
    adata.uns["warnings"] = count_warnings(adata, min_mapq)
    for w in adata.uns["warnings"]:
        log.warning(w)
    return adata


def count_warnings(adata, min_mapq: int = 30) -> list[str]:
    """One sentence per sample whose BAM gave no (or very few) usable reads."""
    out = []
    tallies = adata.uns.get("read_filters")
    if tallies is None:
        return out
    for _, row in tallies.iterrows():
        sid = row["sample_id"]
        total = int(sum(int(row[f]) for f in FILTERS))
        if total == 0:
            out.append(f"{sid}: the BAM holds no reads; the sample is kept with zero counts and will fail QC")
        elif int(row["kept"]) == 0:
            top = max(FILTERS[:-1], key=lambda f: int(row[f]))
            why = {"low_mapq": f"MAPQ below {min_mapq}", "off_bins": "outside the genome's bins"}.get(top, top)
            out.append(f"{sid}: none of its {total:,} reads passed the filters (most: {why}); "
                       "the sample is kept with zero counts and will fail QC")
    return out


def counts_from_matrix(path, genome: Genome, sheet: pd.DataFrame | None = None, *, own_bins: bool | None = None):
    """A count matrix (see :mod:`ctcscope.io.counts`) joined with the sample sheet → (AnnData, Genome).

    With a sheet, its samples are taken in sheet order (each must be a cell of the
    matrix) and its columns fill ``obs``; matrix cells absent from the sheet are left out.
    """
    adata, g = load_counts(path, genome, own_bins=own_bins)
    if sheet is None:
        return adata, g
    ids = sheet.sample_id.astype(str)
    missing = ids[~ids.isin(adata.obs_names)]
    if len(missing):
        ex = ", ".join(adata.obs_names[:3])
        raise InputError(
            f"sample {missing.iloc[0]!r} of the sample sheet is not a cell of count matrix {Path(path).name} "
            f"(its cells: {ex}, ...); make the sample ids match the matrix's cell names"
        )
    left = int((~adata.obs_names.isin(ids)).sum())
    if left:
        log.warning("%d cells of %s are not in the sample sheet and are left out", left, Path(path).name)
    adata = adata[ids.to_numpy()].copy()
    obs = sheet.set_index("sample_id", drop=True)
    obs.index = obs.index.astype(str)
    obs.index.name = "sample_id"
    obs["reads"] = adata.obs["reads"].to_numpy()
    obs["reads_total"] = np.nan
    adata.obs = obs
    return adata, g


# ----------------------------------------------------------------------------- the run


def _call_copy_number(adata, *, workers=None, scheduler=None, **params):
    """``ctcscope.cna.call_copy_number`` (looked up at call time; the cna step owns it)."""
    try:
        from .cna import call_copy_number
    except ModuleNotFoundError as e:
        if e.name != f"{__package__}.cna":
            raise
        raise CtcscopeError("this ctcscope build has no copy-number step (ctcscope.cna); install the full "
                            "package, or use 'ctcscope count' for bin counts only") from None
    return call_copy_number(adata, workers=workers, scheduler=scheduler, **params)


def _clear_previous_run(out: Path) -> None:
    """Remove an earlier run's results (``run.json`` first, so nothing looks complete)."""
    for name in RUN_FILES:
        p = out / name
        if p.is_file():
            p.unlink()
    for d in RUN_DIRS:
        if (out / d).is_dir():
            shutil.rmtree(out / d)


def _remove_new_folder(out: Path) -> None:
    """Undo a folder this run created (only ctcscope's own files are removed)."""
    for p in out.iterdir() if out.exists() else ():
        if p.name == MARKER or p.name.startswith(".") and ".tmp-" in p.name or p.name in RUN_FILES:
            p.unlink()
        elif p.is_dir() and p.name in RUN_DIRS:
            shutil.rmtree(p)
    try:
        out.rmdir()
    except OSError:
        pass


def write_run_json(out: str | os.PathLike, steps: dict[str, dict]) -> Path:
    """``run.json``: one provenance block per step run (write it last)."""
    return write_json(Path(out) / "run.json", {"tool": "ctcscope", "version": __version__, "steps": steps})


def run_copy_number(
    samples: str | os.PathLike | pd.DataFrame | None,
    genome: Genome,
    out: str | os.PathLike,
    *,
    counts: str | os.PathLike | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    overwrite: bool = False,
    min_mapq: int = 30,
    own_bins: bool | None = None,
    params: dict[str, Any] | None = None,
    write_run: bool = True,
    quiet: bool = False,
):
    """Sample sheet (BAMs) or count matrix → copy number → ``out`` folder.

    Steps: validate the inputs (sheet, BAM headers against ``genome``) → prepare ``out``
    → :func:`count_samples` (or :func:`counts_from_matrix`) →
    ``ctcscope.cna.call_copy_number(adata, workers=, scheduler=, **params)`` →
    :func:`ctcscope.io.export.write_copy_number_outputs` → ``run.json`` (when
    ``write_run``; a caller adding later steps passes ``False`` and calls
    :func:`write_run_json` at the very end with ``adata.uns['ctcscope']``).

    Nothing is written before the inputs are validated.  If a later step fails, a
    folder this run created is removed again, and an earlier run replaced with
    ``overwrite`` has lost its ``run.json`` — no failed run looks complete.
    """
    params = dict(params or {})
    sheet = None
    sheet_path = None
    if isinstance(samples, pd.DataFrame):
        sheet = samples
        if samples.attrs.get("path") and Path(samples.attrs["path"]).is_file():
            sheet_path = Path(samples.attrs["path"])  # read by read_sample_sheet: record the file
    elif samples is not None:
        sheet_path = Path(samples)
        sheet = read_sample_sheet(samples, require_bam=counts is None)
    elif counts is None:
        raise InputError("no input given; pass a sample sheet with --samples (BAMs) or a count matrix with --counts")
    if counts is None:
        check_bam_headers(sheet["bam"].tolist(), genome)
    else:
        adata, run_genome = counts_from_matrix(counts, genome, sheet, own_bins=own_bins)

    out = Path(out)
    fresh = not out.exists() or (out.is_dir() and not any(out.iterdir()))
    prepare_output_dir(out, overwrite=overwrite)
    if not fresh:
        _clear_previous_run(out)
    try:
        if counts is None:
            adata = count_samples(sheet, genome, workers=workers, scheduler=scheduler, min_mapq=min_mapq, quiet=quiet)
            run_genome = genome
        adata = _call_copy_number(adata, workers=workers, scheduler=scheduler, quiet=quiet, **params)
        inputs = [p for p in (sheet_path, counts) if p is not None]
        if counts is None:
            inputs += list(sheet["bam"])
        parameters = {
            "genome": {"build": run_genome.build, "bin_size": int(run_genome.bin_size), "source": run_genome.source},
            "min_mapq": int(min_mapq) if counts is None else None,
            "samples": str(sheet_path) if sheet_path else None,
            "counts": str(counts) if counts is not None else None,
            "own_bins": own_bins,
            "workers": workers,
            "scheduler": scheduler if isinstance(scheduler, str) or scheduler is None else type(scheduler).__name__,
            "copy_number": params,
        }
        sums = adata.uns.get("bam_sha256")
        known = dict(zip(sums.bam, sums.sha256)) if isinstance(sums, pd.DataFrame) else None
        record = run_record("run", parameters, inputs, checksums=known)
        adata.uns["ctcscope"] = record
        write_copy_number_outputs(adata, out)
        if write_run:
            write_run_json(out, {"copy_number": record})
    except BaseException:
        if fresh:
            _remove_new_folder(out)
        raise
    return adata
