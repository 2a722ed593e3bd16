"""``ctcscope simulate``: single-cell WGA copy-number data with ground truth (SIMULATED)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

from ._app import app, console, friendly


def parse_bin_size(text: str) -> int:
    """``500kb``, ``1Mb``, ``500000`` → bp."""
    from ..errors import InputError

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(bp|b|kb|k|mb|m)?\s*", str(text), re.I)
    if not m:
        raise InputError(f"bin size '{text}' is not understood; write e.g. 500kb, 1Mb or 500000")
    unit = (m.group(2) or "bp").lower()
    return int(round(float(m.group(1)) * {"bp": 1, "b": 1, "kb": 1e3, "k": 1e3, "mb": 1e6, "m": 1e6}[unit]))


def parse_reads(text: str) -> tuple[float, float]:
    """``500000`` or ``300000-2000000`` (``k``/``M`` suffixes allowed) → (low, high)."""
    from ..errors import InputError

    def one(x: str) -> float:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", x)
        if not m:
            raise InputError(f"reads '{text}' is not understood; write e.g. 500000, 500k or 300k-2M")
        return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]

    parts = str(text).split("-")
    if len(parts) > 2:
        raise InputError(f"reads '{text}' is not understood; write e.g. 500000, 500k or 300k-2M")
    lo, hi = one(parts[0]), one(parts[-1])
    if lo < 1 or hi < lo:
        raise InputError(f"reads '{text}' must be a positive number or a low-high range")
    return (lo, hi)


@app.command("simulate")
@friendly
def simulate(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (new or empty, or an earlier ctcscope folder with --overwrite)."),
    cells: int = typer.Option(40, "--cells", min=1, help="Single CTCs in a random design (ignored with --design/--demo)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same data."),
    genome: str = typer.Option("hg19", "--genome", help="Built-in genome build: hg19 or hg38."),
    bin_size: str = typer.Option("500kb", "--bin-size", help="Bin size: 50kb, 100kb, 500kb or 1Mb."),
    bam: bool = typer.Option(False, "--bam/--counts", help="Also write one indexed BAM per sample (default: counts only)."),
    design: Optional[Path] = typer.Option(None, "--design", help="Cohort design YAML (see docs/simulate.md)."),
    demo: bool = typer.Option(False, "--demo", help="The demo cohort modelled on Oulhen et al. 2021 (seed default 2021)."),
    paired: bool = typer.Option(False, "--paired", help="Paired-end BAMs (default single-end, as the study)."),
    read_length: int = typer.Option(150, "--read-length", help="Read length of the BAMs."),
    chr_prefix: bool = typer.Option(True, "--chr-prefix/--no-chr-prefix", help="Contig names chr1.. (default) or 1.."),
    pools: int = typer.Option(1, "--pools", min=0, help="CTC pools per patient in a random design."),
    sparse: int = typer.Option(0, "--sparse", min=0, help="Sparse cells (50k reads) in a random design."),
    reads: Optional[str] = typer.Option(None, "--reads", help="Reads per sample: a number (500000) or a range "
                                        "(300000-2000000, drawn log-uniformly); default: the design's."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes for writing BAMs."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier ctcscope output folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary (as run, count and demo)."),
) -> None:
    """Simulate single-cell WGA low-pass data with ground truth, as counts or BAMs (SIMULATED data).

    Clones with trunk/clone/private events, 2n-6n with whole-genome doubling, focal
    amplifications at driver loci, homozygous deletions, pools, leukocyte and germline
    controls; Ampli1-like bias (curved GC, shared locus bias, waviness, over-dispersion).
    """
    from ..errors import InputError
    from ..genome import load_genome
    from ..simulate import load_design, random_design, simulate_cohort, write_simulation
    from ..simulate.demo import DEMO_SEED, demo_design

    if demo and design is not None:
        raise InputError("give either --demo or --design, not both")
    g = load_genome(genome, parse_bin_size(bin_size))
    if demo:
        d = demo_design()
        seed = DEMO_SEED if seed == 0 else seed
    elif design is not None:
        d = load_design(design)
    else:
        d = random_design(cells, seed=seed, genome=g, pools_per_patient=pools, sparse=sparse)
    if reads is not None:
        d.bias.reads = parse_reads(reads)
    sim = simulate_cohort(d, g, seed=seed)
    files = write_simulation(sim, out, bam=bam, overwrite=overwrite, read_length=read_length, paired=paired,
                             chr_prefix=chr_prefix, workers=workers, quiet=quiet)
    if quiet:
        return
    n = sim.adata.obs.sample_type.value_counts()
    kinds = ", ".join(f"{v} {k}" for k, v in n.items() if v)
    console.print(f"SIMULATED {sim.adata.n_obs} samples ({kinds}) on {g.build} {g.bin_size // 1000} kb, seed {seed}")
    console.print(f"sample sheet: {files.samples}\npatient sheet: {files.patients}\ncounts: {files.counts}"
                  + (f"\nBAMs: {files.out_dir / 'bams'}" if bam else "") + f"\ntruth: {files.truth_dir}")
