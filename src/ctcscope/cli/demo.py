"""``ctcscope demo``: simulate the demo cohort and run every step on it."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app, console, friendly
from .run import QUIET, WORKERS, _log_to_console, check_workers


@app.command("demo")
@friendly
def demo(
    out: Path = typer.Option(Path("ctcscope-demo"), "--out", "-o", help="Output folder (new, empty, or an earlier demo "
                                                                         "with --overwrite)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Simulation seed (default: the published demo's)."),
    bam: bool = typer.Option(False, "--bam", help="Write BAMs and count them (slower; exercises the BAM path)."),
    workers: Optional[int] = WORKERS,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier demo in --out."),
    quiet: bool = QUIET,
) -> None:
    """SIMULATED cohort modelled on Oulhen et al. 2021 (six ALK+ patients, ~60 samples) → every step → report.html. Every sample id starts with SIM-."""
    from ..pipeline import run_demo

    _log_to_console(quiet)
    check_workers(workers)
    adata = run_demo(out, seed=seed, overwrite=overwrite, bam=bam, workers=workers, quiet=quiet)
    if not quiet:
        console.print(f"[green]done:[/] simulated demo cohort, {adata.n_obs} samples → {out}/report.html "
                      "(simulated data; research use only)", highlight=False)
