"""``ctcscope drivers DIR``: driver CNAs by pathway on an existing output folder."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app, console, friendly


@app.command("drivers")
@friendly
def drivers(
    folder: Path = typer.Argument(..., help="Output folder of a copy-number run (holds cohort.h5ad)."),
    catalogue: Optional[Path] = typer.Option(None, "--catalogue", help="Your driver catalogue (TSV/CSV with gene, role[, pathways])."),
    catalogue_mode: str = typer.Option("extend", "--catalogue-mode", help="extend: add to the built-in catalogue; replace: use yours alone."),
    group_by: str = typer.Option("treatment_group", "--group-by", help="obs column to compare groups by (default: drug at resistance); 'none' to skip."),
    ambiguous: str = typer.Option("high_level", "--ambiguous", help="Ambiguous-role genes count on: high_level (amp/homdel), any, none."),
    members: str = typer.Option("high_level", "--pathway-members", help="Pathway-member genes (on no driver list) count on: high_level (amp/homdel in their role's direction) or any."),
    patients: Optional[Path] = typer.Option(None, "--patients", help="Patient sheet (YAML/TSV): groups samples by the drug at resistance when the cohort has no treatment_group."),
    all_genes: bool = typer.Option(False, "--all-genes", help="Write every gene of the build to genes.tsv, not only catalogue genes."),
) -> None:
    """Gene-level copy number, driver events by pathway, frequencies and group comparison."""
    from .. import _atomic
    from ..drivers import run_drivers_stage
    from ..errors import InputError, OutputError
    from ..io.export import read_cohort

    folder = Path(folder)
    h5 = folder / "cohort.h5ad"
    if not h5.is_file():
        raise InputError(f"{folder} has no cohort.h5ad; run the copy-number step first (ctcscope run) or point to its output folder")
    if not (folder / _atomic.MARKER).exists():
        raise OutputError(f"{folder} was not written by ctcscope (no {_atomic.MARKER} marker); "
                          "run ctcscope drivers on a ctcscope output folder")
    try:
        adata = read_cohort(folder)  # provenance (uns['ctcscope']) back from its JSON text
    except OSError as e:
        raise InputError(f"cannot read {h5} ({e}); re-run the copy-number step to rewrite it") from e
    gb = None if group_by.lower() in ("none", "") else group_by
    if gb is not None and gb != "treatment_group" and gb not in adata.obs:
        raise InputError(f"cohort.h5ad has no obs column {gb!r} to group by; choose one of "
                         f"{', '.join(map(str, adata.obs.columns[:12]))} or --group-by none")
    from .run import _log_to_console

    _log_to_console(quiet=False)   # the step's warnings (e.g. catalogue genes the build lacks) as one line each
    with _atomic.guard_step(folder):  # interrupted half-way: the folder loses its run.json (an unfinished run)
        adata = run_drivers_stage(adata, None, folder, catalogue=catalogue, catalogue_mode=catalogue_mode,
                                  group_by=gb, ambiguous=ambiguous, members=members, all_genes=all_genes,
                                  patients=patients)
    d = adata.uns["drivers"]
    console.print(f"{d['n_events']} driver events ({d['n_drivers']} drivers) over {d['n_genes']} genes; "
                  f"tables and figures written to {folder}")
