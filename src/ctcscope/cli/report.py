"""``ctcscope report DIR``: (re)build the self-contained ``report.html`` of an output folder."""
from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, console, friendly


@app.command("report")
@friendly
def report(
    out_dir: Path = typer.Argument(..., help="Output folder of `ctcscope run` / `ctcscope demo`."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the page here instead of DIR/report.html."),
    max_profiles: int = typer.Option(300, "--max-profiles", min=1,
                                     help="Genome-wide profiles embedded (a stratified subset above this)."),
    static: bool = typer.Option(True, "--static/--no-static", help="Static PNG fallbacks for readers without JavaScript."),
) -> None:
    """Build one HTML page (offline, self-contained) from whatever steps DIR holds. For research use only."""
    from .._atomic import MARKER
    from ..errors import OutputError
    from ..report.collect import KNOWN_FILES
    from ..report.stage import report_step

    ours = (out_dir / MARKER).exists()
    has_results = out_dir.is_dir() and any((out_dir / n).is_file() for n in KNOWN_FILES)
    if has_results and not ours and output is None:
        raise OutputError(f"{out_dir} was not written by ctcscope (no {MARKER} marker), so the report is not written "
                          "into it; give --output FILE.html to write the page elsewhere")
    # a folder ctcscope did not write is only read: no report_tables/, no run.json entry
    path = report_step(out_dir, output=output, max_profiles=max_profiles, static_fallback=static,
                       record=ours, write_tables=ours)
    size = path.stat().st_size / 1e6
    console.print(f"report written: {path} ({size:.1f} MB); open it in any browser, no network needed")
