"""``ctcscope genomes``: what builds and bin sizes are built in."""
from __future__ import annotations

from rich.table import Table

from ._app import app, console, friendly


@app.command("genomes")
@friendly
def genomes() -> None:
    """List the built-in genome builds and bin sizes."""
    from ..genome import BUILTIN_BIN_SIZES, BUILTIN_BUILDS, load_genome

    t = Table("build", "bin size", "bins", "usable bins", "genes")
    for b in BUILTIN_BUILDS:
        for s in BUILTIN_BIN_SIZES:
            g = load_genome(b, s)
            t.add_row(b, f"{s // 1000} kb", str(g.n_bins), str(int(g.bins.use.sum())), str(len(g.genes)))
    console.print(t)
