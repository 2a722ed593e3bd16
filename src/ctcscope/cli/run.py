"""``ctcscope run`` (sample sheet → copy-number output folder) and ``ctcscope count``."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from ._app import app, console, console_err, friendly


class _RichWarnings(logging.Handler):
    """Show the library's warnings (e.g. a BAM with no usable read) as one yellow line each."""

    def emit(self, record):
        level = "warning" if record.levelno >= logging.WARNING else "note"
        colour = "yellow" if level == "warning" else "cyan"
        console_err.print(f"[{colour}]{level}:[/] {record.getMessage()}", highlight=False, soft_wrap=True)


def _log_to_console(quiet: bool) -> None:
    log = logging.getLogger("ctcscope")
    if not any(isinstance(h, _RichWarnings) for h in log.handlers):
        log.addHandler(_RichWarnings())
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


def check_workers(workers: Optional[int]) -> None:
    from ..errors import InputError

    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers} must be 1 or more")


SAMPLES = typer.Option(None, "--samples", "-s", help="Sample sheet (CSV/TSV): sample_id, bam, patient, sample_type, ...")
GENOME = typer.Option(None, "--genome", "-g", help="Built-in build: hg19 or hg38 (recognised from the BAMs if omitted).")
FASTA = typer.Option(None, "--fasta", help="Reference FASTA for any other genome (bins, GC and N content computed and cached).")
BIN_SIZE = typer.Option("500kb", "--bin-size", help="Bin width: 50kb, 100kb, 500kb, 1Mb (or any size with --fasta).")
WORKERS = typer.Option(None, "--workers", "-j", help="Local worker processes (default: number of cores, up to 8).")
SCHEDULER = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://host:8786) to run per-sample work on a cluster.")
MIN_MAPQ = typer.Option(30, "--min-mapq", help="Minimum mapping quality of a counted read.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bars or notes.")


@app.command("run")
@friendly
def run(
    samples: Optional[Path] = SAMPLES,
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (new, empty, or an earlier run with --overwrite)."),
    genome: Optional[str] = GENOME,
    fasta: Optional[Path] = FASTA,
    bin_size: str = BIN_SIZE,
    counts: Optional[Path] = typer.Option(None, "--counts", help="Bin-count matrix (TSV/CSV/h5ad) instead of BAMs."),
    own_bins: Optional[bool] = typer.Option(None, "--own-bins/--genome-bins",
                                            help="Use the count matrix's own bins / insist on the genome's bins "
                                                 "(default: the genome's when they line up)."),
    blacklist: Optional[Path] = typer.Option(None, "--blacklist", help="BED of regions to avoid (with --fasta)."),
    workers: Optional[int] = WORKERS,
    scheduler: Optional[str] = SCHEDULER,
    min_mapq: int = MIN_MAPQ,
    patients: Optional[Path] = typer.Option(None, "--patients", "-p",
                                            help="Patient sheet (YAML or TSV): treatment lines, fusion, mutations."),
    gating: Optional[Path] = typer.Option(None, "--gating", help="Gating file (YAML or Gating-ML 2.0) for FCS files "
                                                               "named in the sheet (default: the study's strategy)."),
    plate_map: Optional[Path] = typer.Option(None, "--plate-map", help="Table sample_id, plate/fcs, well."),
    dna_channel: Optional[str] = typer.Option(None, "--dna-channel",
                                              help="DNA-content channel of the index sorts (default: found by dye name: "
                                                   "Hoechst, DAPI, DRAQ5, DyeCycle)."),
    dna_reference: Optional[float] = typer.Option(None, "--dna-reference",
                                                  help="2n G1 intensity of the DNA channel, used where a sort has too "
                                                       "few CD45+ events and no leukocyte control well."),
    catalogue: Optional[Path] = typer.Option(None, "--catalogue", help="Your own driver catalogue (TSV)."),
    catalogue_mode: str = typer.Option("extend", "--catalogue-mode", help="extend or replace the built-in catalogue."),
    copy_number_only: bool = typer.Option(False, "--copy-number-only",
                                          help="Stop after copy number (no clustering, drivers, resistance, report)."),
    no_report: bool = typer.Option(False, "--no-report", help="Do not write report.html."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier ctcscope run in --out."),
    quiet: bool = QUIET,
) -> None:
    """Single-cell BAMs (or bin counts) → copy number, ploidy, WGD, QC, clusters, drivers, phenotypes, resistance reading and report.html in one output folder."""
    from ..errors import InputError
    from ..io.samplesheet import read_sample_sheet
    from ..pipeline import PipelineOptions, run_pipeline
    from ..workflow import resolve_genome, run_copy_number

    _log_to_console(quiet)
    if samples is None and counts is None:
        raise InputError("no input given; pass a sample sheet with --samples (BAMs) or a count matrix with --counts")
    check_workers(workers)
    sheet = read_sample_sheet(samples, require_bam=counts is None) if samples is not None else None
    bams = sheet["bam"].tolist() if sheet is not None and counts is None else None
    if counts is not None and not genome and not fasta:
        raise InputError("with --counts, give the genome the counts were made on: --genome hg19, --genome hg38 or --fasta")
    g = resolve_genome(genome, fasta, bin_size, bams, blacklist=blacklist)
    if copy_number_only:
        adata = run_copy_number(sheet if sheet is not None else None, g, out, counts=counts, workers=workers,
                                scheduler=scheduler, overwrite=overwrite, min_mapq=min_mapq, own_bins=own_bins,
                                quiet=quiet)
    else:
        opts = PipelineOptions(patients=patients, gating=gating, plate_map=plate_map, catalogue=catalogue,
                               catalogue_mode=catalogue_mode, report=not no_report, dna_channel=dna_channel,
                               dna_reference=dna_reference)
        adata = run_pipeline(sheet, g, out, counts=counts, options=opts, workers=workers, scheduler=scheduler,
                             overwrite=overwrite, min_mapq=min_mapq, own_bins=own_bins, quiet=quiet,
                             sheet_dir=samples.parent if samples is not None else None)
    if not quiet:
        console.print(f"[green]done:[/] {adata.n_obs} samples × {adata.n_vars} bins → {out}", highlight=False)
        # what to look at next: how many samples are usable, and the page that explains them
        if "qc_pass" in adata.obs:
            n_pass = int(adata.obs["qc_pass"].fillna(False).astype(bool).sum())
            console.print(f"{n_pass} of {adata.n_obs} samples passed QC (each sample's QC in {Path(out) / 'cells.tsv'})",
                          highlight=False, soft_wrap=True)
        if (Path(out) / "report.html").exists():
            console.print(f"report: {Path(out) / 'report.html'} (open it in any browser; research use only)",
                          highlight=False, soft_wrap=True)


@app.command("count")
@friendly
def count(
    samples: Path = typer.Option(..., "--samples", "-s", help="Sample sheet (CSV/TSV) with sample_id and bam."),
    out: Path = typer.Option(..., "--out", "-o", help="Count matrix to write: .tsv, .tsv.gz or .h5ad."),
    genome: Optional[str] = GENOME,
    fasta: Optional[Path] = FASTA,
    bin_size: str = BIN_SIZE,
    workers: Optional[int] = WORKERS,
    scheduler: Optional[str] = SCHEDULER,
    min_mapq: int = MIN_MAPQ,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
    quiet: bool = QUIET,
) -> None:
    """BAMs → read counts per bin only (a matrix that --counts reads back)."""
    from ..errors import InputError, OutputError
    from ..io.samplesheet import read_sample_sheet
    from ..io.export import write_count_matrix
    from ..workflow import check_bam_headers, count_samples, resolve_genome

    _log_to_console(quiet)
    check_workers(workers)
    if out.is_dir():
        raise OutputError(f"{out} is a folder; give a file name ending in .tsv, .tsv.gz or .h5ad")
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists; pass --overwrite to replace it or choose another name with --out")
    if not any(str(out).endswith(s) for s in (".tsv", ".tsv.gz", ".h5ad", ".csv", ".csv.gz")):
        raise InputError(f"{out.name}: give a file name ending in .tsv, .tsv.gz, .csv(.gz) or .h5ad")
    sheet = read_sample_sheet(samples)
    g = resolve_genome(genome, fasta, bin_size, sheet["bam"].tolist())
    check_bam_headers(sheet["bam"].tolist(), g)
    adata = count_samples(sheet, g, workers=workers, scheduler=scheduler, min_mapq=min_mapq, quiet=quiet)
    write_count_matrix(adata, out)
    if not quiet:
        console.print(f"[green]done:[/] {adata.n_obs} samples × {adata.n_vars} bins → {out}", highlight=False)
