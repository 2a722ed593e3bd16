"""``ctcscope cluster DIR``: Ward clustering, clones, diversity and heatmap of an existing run."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import app, console, friendly


@app.command("cluster")
@friendly
def cluster_cmd(
    folder: Path = typer.Argument(..., help="Output folder of a ctcscope run (holds cohort.h5ad)."),
    grid: int = typer.Option(250, "--grid", help="Grid bin width in kb (the study: 250)."),
    value: str = typer.Option("log2_cn_over_ploidy", "--value",
                              help="log2_cn_over_ploidy (the study), log2_segment or log2_ratio."),
    samples: str = typer.Option("qc_pass_tumour", "--samples",
                                help="qc_pass_tumour, tumour, all, or comma-separated sample or patient ids."),
    min_clone_size: Optional[int] = typer.Option(None, "--min-clone-size",
                                                 help="Smallest clone (default: 2 or 1% of the samples)."),
    silhouette: float = typer.Option(0.25, "--silhouette", help="Split threshold of the nearest-neighbour silhouette."),
    clones: Optional[int] = typer.Option(None, "--clones", help="Cut the tree into exactly this many clones instead."),
    across_patients: bool = typer.Option(False, "--across-patients",
                                         help="Let a clone hold cells of several patients (default: clones within a patient)."),
    permutations: int = typer.Option(999, "--permutations", help="Patient-label shuffles of the diversity test."),
    seed: int = typer.Option(0, "--seed", help="Seed of the permutation test and of subsampling."),
    no_figures: bool = typer.Option(False, "--no-figures", help="Skip the heatmap."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier clustering result in the folder."),
) -> None:
    """Cluster the cohort's copy-number profiles (Ward, Euclidean, 250 kb), call clones, measure intra/inter-patient diversity and draw the heatmap; updates DIR/cohort.h5ad."""
    import json

    import pandas as pd

    from .._atomic import MARKER, guard_step, write_h5ad, write_tsv
    from ..cohort import run_cluster_stage
    from ..errors import InputError, OutputError
    from ..io.export import read_cohort

    h5 = folder / "cohort.h5ad"
    if not folder.is_dir() or not h5.exists():
        raise InputError(f"{folder} has no cohort.h5ad; give the output folder of 'ctcscope run' "
                         "(or of the copy-number step)")
    if not (folder / MARKER).exists():
        raise OutputError(f"{folder} was not written by ctcscope (no {MARKER} marker); copy cohort.h5ad into a "
                          "ctcscope output folder first")
    if (folder / "clusters.tsv").exists() and not overwrite:
        raise OutputError(f"{folder} already holds a clustering result; pass --overwrite to replace it")
    try:
        adata = read_cohort(folder)
    except OSError as e:
        raise InputError(f"cannot read {h5} ({e}); is it a complete h5ad file?") from e
    sel = samples
    if samples not in ("qc_pass_tumour", "tumour", "all", "qc_pass_tumor", "tumor"):
        sel = [s.strip() for s in samples.split(",") if s.strip()]
    if grid <= 0:
        raise InputError(f"--grid must be a positive width in kb, got {grid}")
    if clones is not None and clones < 1:
        raise InputError(f"--clones {clones} must be 1 or more (or leave it out to call clones from the tree)")
    if min_clone_size is not None and min_clone_size < 1:
        raise InputError(f"--min-clone-size {min_clone_size} must be 1 or more")
    if permutations < 0:
        raise InputError(f"--permutations {permutations} cannot be negative (0 skips the permutation p-value)")
    if not -1.0 <= silhouette <= 1.0:
        raise InputError(f"--silhouette {silhouette} must lie between -1 and 1 (a silhouette's range)")
    with guard_step(folder):  # interrupted half-way: the folder loses its run.json (an unfinished run)
        res = run_cluster_stage(adata, folder, grid=grid * 1000, value=value, samples=sel,
                                min_clone_size=min_clone_size, silhouette_threshold=silhouette, n_clones=clones,
                                by_patient=not across_patients,
                                n_permutations=permutations, seed=seed, figures=not no_figures)
        if isinstance(res.uns.get("ctcscope"), dict):  # back to JSON text, as the copy-number step wrote it
            res.uns["ctcscope"] = json.dumps(res.uns["ctcscope"], default=str)
        write_h5ad(h5, res)
        cells = folder / "cells.tsv"
        if cells.exists():
            t = pd.read_csv(cells, sep="\t", dtype={"sample_id": str}, keep_default_na=False)
            if "sample_id" in t:
                t["clone"] = res.obs["clone"].reindex(t["sample_id"]).fillna("").to_numpy()
                t["cluster_order"] = res.obs["cluster_order"].reindex(t["sample_id"]).fillna(-1).astype(int).to_numpy()
                write_tsv(cells, t)
        _add_run_step(folder, json.loads(res.uns["clusters"]["provenance"]))
    u = res.uns["clusters"]
    test = u["test"]
    n = int((res.obs["cluster_order"] >= 0).sum())
    console.print(f"{n} samples clustered into {u['params']['n_clones']} clones "
                  f"({u['params']['clone_rule']})")
    if test.get("n_patients", 0) >= 2 and pd.notna(test.get("p_value")):
        console.print(f"within-patient distance {test['mean_within']:.3f} vs between-patient {test['mean_between']:.3f} "
                      f"(RMS log2 per bin); permutation p = {test['p_value']:.3g} ({test['n_permutations']} shuffles)")
    console.print(f"written to {folder}: clusters.tsv, diversity.tsv, diversity_test.json, altered_regions.tsv, "
                  f"clone_consensus.tsv" + ("" if no_figures else ", figures/heatmap.png|svg|json") + ", cohort.h5ad")


def _add_run_step(folder: Path, record: dict) -> None:
    """Add this step's provenance to ``run.json`` (``steps.cluster``) when the folder has one."""
    import json

    from .._atomic import write_json

    p = folder / "run.json"
    if not p.exists():
        return
    try:
        run = json.loads(p.read_text())
    except (OSError, ValueError):
        return  # not ours to repair
    if isinstance(run, dict) and isinstance(run.get("steps"), dict):
        run["steps"]["cluster"] = record
        write_json(p, run)
