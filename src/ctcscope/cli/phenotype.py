"""``ctcscope phenotype``: gate FCS sorts into CTC phenotypes and link sorted wells to samples."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ._app import app, console, friendly


@app.command("phenotype")
@friendly
def phenotype(
    fcs: List[Path] = typer.Option([], "--fcs", help="FCS file(s) of the sort (repeat --fcs for several)."),
    gating: Optional[Path] = typer.Option(None, "--gating", help="Gating definition: ctcscope YAML or Gating-ML 2.0 .xml "
                                          "(default: the study's Hoechst+ → CD45− → ALK/CK strategy)."),
    samples: Optional[Path] = typer.Option(None, "--samples", help="Sample sheet with sample_id and fcs/plate/well columns."),
    plate_map: Optional[Path] = typer.Option(None, "--plate-map", help="Table sample_id, well, plate and/or fcs."),
    compensation: Optional[str] = typer.Option(None, "--compensation", help="'file' (the FCS spillover keyword), "
                                               "'none', or a CSV/TSV spillover matrix."),
    control: List[str] = typer.Option([], "--control", help="Control file for derived thresholds, NAME=FILE.fcs."),
    dna_channel: Optional[str] = typer.Option(None, "--dna-channel", help="DNA-content channel (default: found by dye "
                                                                         "name: Hoechst, DAPI, DRAQ5, DyeCycle)."),
    dna_reference: Optional[float] = typer.Option(None, "--dna-reference", help="2n G1 intensity of the DNA channel, "
                                                  "where a sort has too few CD45+ events and no control well."),
    out: Path = typer.Option(..., "--out", help="Output folder (new, empty, or an earlier ctcscope run)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier phenotype result in --out."),
    no_figures: bool = typer.Option(False, "--no-figures", help="Skip the PNG figures."),
) -> None:
    """Gate FCS files into CTC phenotypes (ALK+/CK-, ALK-/CK+, ALK+/CK+, CD45+) and link index-sorted wells to samples."""
    from .._atomic import MARKER, guard_step, prepare_output_dir
    from ..errors import InputError, OutputError
    from ..phenotype import run_phenotype_stage

    if not fcs and samples is None:
        raise InputError("nothing to phenotype: give --fcs FILE (one or more) or --samples SHEET with an 'fcs' column")
    controls = {}
    for c in control:
        if "=" not in c:
            raise InputError(f"--control '{c}' must be NAME=FILE.fcs (NAME as used in the gating file's rules)")
        k, v = c.split("=", 1)
        controls[k.strip()] = Path(v.strip())
    if (out / MARKER).exists():
        if (out / "phenotypes.tsv").exists() and not overwrite:
            raise OutputError(f"{out} already holds a phenotype result; pass --overwrite to replace it or choose another --out")
    with guard_step(out):  # a failure or Ctrl-C removes a new folder, or the run.json of an earlier run
        if not (out / MARKER).exists():
            prepare_output_dir(out, overwrite=overwrite)
        table = run_phenotype_stage(samples, out, gating=gating, plate_map=plate_map, fcs=fcs, controls=controls,
                                    dna_channel=dna_channel, dna_reference=dna_reference,
                                    compensation=compensation, figures=not no_figures)
    import pandas as pd

    summary = pd.read_csv(out / "phenotype_summary.tsv", sep="\t")
    level = "sequenced" if (summary["level"] == "sequenced").any() else ("sorted" if (summary["level"] == "sorted").any() else "events")
    s = summary[summary["level"] == level]
    t = Table("patient", "file", *[p for p in pd.unique(s["phenotype"])], title=f"phenotypes ({level})")
    for (pat, f), g in s.groupby(["patient", "file"], sort=True):
        t.add_row(str(pat), str(f), *[str(int(v)) for v in g.set_index("phenotype")["count"]])
    console.print(t)
    if len(table):
        n_out = int((~table["in_gate"].astype(bool)).sum())
        console.print(f"{len(table)} samples linked to sorted wells; {n_out} outside the current gates "
                      f"(see 'flag' in {out / 'phenotypes.tsv'})")
    console.print(f"written to {out}")
