"""``ctcscope resist``: evidence-backed reading of ALK-TKI resistance per patient."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app, console, friendly


@app.command("resist")
@friendly
def resist(
    patients: Path = typer.Argument(..., help="Patient sheet (YAML, or TSV/CSV one row per patient)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (a ctcscope run folder or a new one)."),
    drivers: Optional[Path] = typer.Option(None, "--drivers", help="drivers.tsv (default: OUT/drivers.tsv if present)."),
    genes: Optional[Path] = typer.Option(None, "--genes", help="genes.tsv (default: OUT/genes.tsv if present)."),
    cells: Optional[Path] = typer.Option(None, "--cells", help="cells.tsv (default: OUT/cells.tsv if present)."),
    min_confidence: str = typer.Option("low", "--min-confidence", help="'low' keeps low-confidence CN events (flagged); 'high' drops them."),
    oncokb: bool = typer.Option(False, "--oncokb", help="Also annotate ALK variants through OncoKB (needs your token; network)."),
    oncokb_token: Optional[str] = typer.Option(None, "--oncokb-token", envvar="ONCOKB_API_TOKEN", help="Your OncoKB API token.", show_default=False),
) -> None:
    """Read each patient's resistance: mechanisms in the cells, TKI activity matrix, options with evidence."""
    from .._atomic import MARKER, guard_step
    from ..errors import OutputError
    from ..resistance.oncokb import resolve_token
    from ..resistance.stage import run_resistance_stage

    token = resolve_token(oncokb_token) if oncokb else None
    # add to a ctcscope run folder, or start a new/empty one; never write among a user's files
    if out.exists() and not out.is_dir():
        raise OutputError(f"output path {out} is a file, not a folder; choose a folder name with --out")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise OutputError(f"output folder {out} holds files that ctcscope did not write; choose a ctcscope run "
                          "folder or a new one with --out")

    def pick(given, name):
        if given is not None:
            return given
        p = out / name
        return p if p.exists() else None

    # the stage reads and checks every input before it creates the folder and writes there
    with guard_step(out):
        res = run_resistance_stage(patients, out, drivers=pick(drivers, "drivers.tsv"), genes=pick(genes, "genes.tsv"),
                                   cells=pick(cells, "cells.tsv"), min_confidence=min_confidence, oncokb_token=token)
        (out / MARKER).touch()
    for p in res["document"]["patients"]:
        console.print(f"[bold]{p['patient']}[/] ({p['drug_at_resistance'] or 'no treatment listed'}): "
                      f"{p['summary']['headline']}.", highlight=False)
    console.print(f"wrote {res['json']} and {res['tsv']} - research use only", highlight=False)
