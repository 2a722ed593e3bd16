"""The drivers step as one call: AnnData in, tables and figures out (``ctcscope drivers``)."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Mapping

import pandas as pd

from .. import _atomic
from ..errors import InputError
from ..provenance import run_record
from .catalogue import MODES, Catalogue, load_catalogue
from .events import AMBIGUOUS_RULES, driver_events
from .genes import CallThresholds, gene_anndata, gene_copy_number
from .plots import plot_driver_heatmap, plot_frequency_by_group, plot_group_comparison, save_figure
from .summaries import (driver_matrix, events_per_patient, events_per_sample, gene_frequencies,
                        gene_frequencies_by_group, group_comparison, most_altered_genes,
                        pathway_summary, recurrence)

#: Files written by :func:`run_drivers_stage` (relative to the output folder).
OUTPUTS = {
    "genes": "genes.tsv",
    "genes_h5ad": "genes.h5ad",
    "drivers": "drivers.tsv",
    "pathways": "pathways.tsv",
    "frequencies": "driver_frequencies.tsv",
    "frequencies_by_group": "driver_frequencies_by_group.tsv",
    "samples": "driver_samples.tsv",
    "patients": "driver_patients.tsv",
    "recurrence": "driver_recurrence.tsv",
    "groups": "driver_groups.tsv",
    "groups_summary": "driver_groups_summary.tsv",
    "heatmap": "figures/drivers",
    "heatmap_json": "figures/drivers.json",
    "groups_figure": "figures/drivers_groups",
    "frequencies_figure": "figures/driver_frequencies_by_group",
}



def _genome_for(adata, genome):
    if genome is not None:
        return genome
    from ..genome import load_genome

    rec = adata.uns.get("ctcscope") or {}
    if isinstance(rec, str):  # cohort.h5ad stores the provenance as JSON text (docs/data-model.md)
        try:
            rec = json.loads(rec)
        except ValueError:
            rec = {}
    g = rec.get("genome") or (rec.get("parameters") or {}).get("genome") or adata.uns.get("genome") or {}
    if not g.get("build"):
        raise InputError("the cohort does not say which genome build it uses (uns['ctcscope']['genome']); "
                         "pass the genome explicitly")
    from ..genome import BUILTIN_BIN_SIZES

    # only the build's gene table is used here: a count matrix's own (variable) bins have no built-in twin
    size = int(g.get("bin_size") or 0)
    return load_genome(g["build"], size if size in BUILTIN_BIN_SIZES else 500_000)


def _catalogue_for(catalogue, mode) -> Catalogue:
    if str(mode).lower() not in MODES:
        raise InputError(f"catalogue mode {mode!r} is not known; use one of {', '.join(MODES)}")
    if isinstance(catalogue, Catalogue):
        return catalogue
    return load_catalogue(catalogue, mode if catalogue is not None or mode == "replace" else "builtin")


def _append_run_json(out_dir: Path, block: dict) -> None:
    """Add this step's block to ``run.json`` (``{"tool", "version", "steps": {step: block}}``
    as the run workflow writes it; other shapes are converted)."""
    from .. import __version__

    p = out_dir / "run.json"
    old = {}
    if p.exists():
        try:
            old = json.loads(p.read_text())
        except json.JSONDecodeError:
            old = {}
    run = {"tool": "ctcscope", "version": __version__, "steps": {}}
    if isinstance(old, dict):
        steps = old.get("steps")
        if isinstance(steps, dict):
            run = {**old, "steps": dict(steps)}
        elif isinstance(steps, list):
            run = {**old, "steps": {str(b.get("step") or b.get("command") or i): b for i, b in enumerate(steps)
                                    if isinstance(b, dict)}}
        elif "command" in old:
            run["steps"] = {str(old["command"]): old}
    run["steps"]["drivers"] = block
    _atomic.write_json(p, run)


def _write_table(path: Path, df: pd.DataFrame) -> None:
    """Write a TSV atomically (``NA`` for missing values, floats to 4 decimals).

    Uses pyarrow's C++ CSV writer (a FlowKit dependency, so normally present): pandas
    formats every value in Python, which takes minutes for the gene table of thousands of
    cells.  Falls back to pandas when pyarrow is missing or a string needs quoting."""
    df = df.round(4)
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        t = pa.Table.from_pandas(df, preserve_index=False)
        t = t.cast(pa.schema([pa.field(f.name, pa.string()) if pa.types.is_dictionary(f.type) else f
                              for f in t.schema]))
        opts = pacsv.WriteOptions(delimiter="\t", null_string="NA", quoting_style="none", quoting_header="none")
        with _atomic.atomic_path(path) as tmp:
            pacsv.write_csv(t, str(tmp), opts)
        return
    except ImportError:
        pass
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass   # e.g. a sample id holding a tab or quote: let pandas quote it
    _atomic.write_tsv(path, df)


def run_drivers_stage(adata, genome, out_dir, *, catalogue: str | Path | Catalogue | None = None,
                      catalogue_mode: str = "extend", group_by: str | Mapping | pd.Series | None = "treatment_group",
                      ambiguous: str = "high_level", members: str = "high_level", thresholds: CallThresholds | None = None,
                      all_genes: bool = False, figures: bool = True, patients=None, write_run: bool = True):
    """Gene-level copy number, driver events, summaries and figures for a cohort.

    Parameters
    ----------
    adata : the cohort AnnData (after the copy-number step).
    genome : :class:`ctcscope.genome.Genome` (its gene table), or ``None`` to load the build
        named in ``adata.uns['ctcscope']['genome']``.
    out_dir : output folder; files of :data:`OUTPUTS` are written atomically.
    catalogue : a user catalogue file (or a :class:`Catalogue`); ``None`` = built-in.
    catalogue_mode : ``"extend"`` or ``"replace"`` (with a file).
    group_by : obs column (default the drug at resistance), or a sample/patient → group
        mapping; ``None`` skips the group comparison.  The default column may be absent
        (the comparison is then skipped); any other missing column is an error.
    ambiguous, members : rules for ambiguous-role and pathway-member genes (see
        :func:`ctcscope.drivers.driver_events`).
    all_genes : write every gene of the build to ``genes.tsv`` (default: catalogue genes).
    patients : a patient sheet (path) or list of patients: fills ``obs['treatment_group']``
        (the drug at resistance, last treatment line) where the cohort lacks it.
    write_run : add this step's provenance block to ``run.json`` now.  A workflow that
        writes ``run.json`` itself at the end passes ``False`` and takes the block from
        ``adata.uns['drivers']['run']``.

    Returns the AnnData with ``uns['drivers']`` (parameters, catalogue version, counts).
    """
    if ambiguous not in AMBIGUOUS_RULES:
        raise InputError(f"ambiguous-gene rule {ambiguous!r} is not known; use one of {', '.join(AMBIGUOUS_RULES)}")
    out_dir = Path(out_dir)
    genome = _genome_for(adata, genome)
    cat = _catalogue_for(catalogue, catalogue_mode)
    if genome.genes is None or genome.genes.empty:
        raise InputError(f"genome {genome.build} has no gene table; use a built-in build or give genes with the genome")
    cat_genes = cat.select_genes(genome.genes)
    unmatched = sorted(set(cat.genes) - set(cat_genes["catalogue_gene"]))
    # a user's catalogue gene that the build's gene table lacks (a typo, an old symbol) would
    # otherwise vanish without a word
    user_unmatched: list[str] = []
    if catalogue is not None and not isinstance(catalogue, Catalogue):
        user_unmatched = sorted(set(unmatched) & set(load_catalogue(catalogue, "replace").genes))
        if user_unmatched:
            shown = ", ".join(user_unmatched[:10]) + (f" and {len(user_unmatched) - 10} more"
                                                      if len(user_unmatched) > 10 else "")
            logging.getLogger("ctcscope").warning(
                "%d gene(s) of your catalogue are not in the %s gene table and were left out: %s "
                "(check the symbols, or add the current symbol as an alias)", len(user_unmatched), genome.build, shown)
    genes = genome.genes if all_genes else cat_genes
    t = thresholds or CallThresholds()
    if patients is not None:
        from ..resistance.patients import drug_at_resistance

        drug = drug_at_resistance(patients)
        pat = adata.obs["patient"].astype(str) if "patient" in adata.obs else pd.Series("", index=adata.obs.index)
        have = (adata.obs["treatment_group"].astype(object).fillna("").astype(str)
                if "treatment_group" in adata.obs else pd.Series("", index=adata.obs.index))
        adata.obs["treatment_group"] = have.where(have != "", pat.map(drug).fillna("")).astype(str)
    obs = adata.obs.copy()
    obs.index = obs.index.astype(str)

    gene_cn = gene_copy_number(adata, genes, thresholds=t)
    events = driver_events(gene_cn, cat, obs=obs, ambiguous=ambiguous, members=members)
    freqs = gene_frequencies(gene_cn[gene_cn["gene"].astype(str).isin(set(cat_genes["symbol"]))], obs, cat)
    pathways = pathway_summary(events, obs)
    per_sample = events_per_sample(events, obs)
    per_patient = events_per_patient(events, obs)
    rec = recurrence(events, obs)

    do_groups = group_by is not None and not (isinstance(group_by, str) and group_by == "treatment_group"
                                              and "treatment_group" not in obs)
    groups = summary = freqs_by_group = None
    if do_groups:
        groups, summary = group_comparison(events, obs, group_by)
        freqs_by_group = gene_frequencies_by_group(
            gene_cn[gene_cn["gene"].astype(str).isin(set(cat_genes["symbol"]))], obs, group_by, cat)

    def w(key, df):
        _write_table(out_dir / OUTPUTS[key], df)

    w("genes", gene_cn)
    w("drivers", events)
    w("pathways", pathways)
    w("frequencies", freqs)
    w("samples", per_sample)
    w("patients", per_patient)
    w("recurrence", rec)
    if groups is not None:
        w("groups", groups)
        w("groups_summary", summary)
        w("frequencies_by_group", freqs_by_group)
    gad = gene_anndata(gene_cn, obs, cat)
    _atomic.write_h5ad(out_dir / OUTPUTS["genes_h5ad"], gad)
    written = [OUTPUTS[k] for k in ("genes", "drivers", "pathways", "frequencies", "samples", "patients",
                                    "recurrence", "genes_h5ad")]
    if groups is not None:
        written += [OUTPUTS["groups"], OUTPUTS["groups_summary"], OUTPUTS["frequencies_by_group"]]
    # no patient with a drug group (e.g. a patient sheet without treatment lines): the tables
    # say so by being empty; the figures get no blank "Group" track and no empty comparison
    any_group = do_groups and (not isinstance(group_by, str) or (
        group_by in obs and obs[group_by].astype(object).fillna("").astype(str).str.strip()
        .replace({"nan": "", "None": ""}).ne("").any()))
    if figures:
        mat = driver_matrix(events, obs, gene_freq=freqs, group_by=group_by if any_group else None)
        _atomic.write_json(out_dir / OUTPUTS["heatmap_json"], mat)
        save_figure(plot_driver_heatmap(mat, cohort_obs=obs), out_dir / OUTPUTS["heatmap"])
        written += [OUTPUTS["heatmap_json"], OUTPUTS["heatmap"] + ".png", OUTPUTS["heatmap"] + ".svg"]
        if groups is not None and any_group:
            save_figure(plot_group_comparison(groups, summary), out_dir / OUTPUTS["groups_figure"])
            top = most_altered_genes(freqs)
            save_figure(plot_frequency_by_group(freqs_by_group, top), out_dir / OUTPUTS["frequencies_figure"])
            written += [OUTPUTS[k] + ext for k in ("groups_figure", "frequencies_figure") for ext in (".png", ".svg")]
        else:  # an earlier run's comparison would otherwise stay next to tables that no longer match it
            for k in ("groups_figure", "frequencies_figure"):
                for ext in (".png", ".svg"):
                    (out_dir / (OUTPUTS[k] + ext)).unlink(missing_ok=True)

    params = {
        "catalogue": str(catalogue) if catalogue is not None and not isinstance(catalogue, Catalogue) else None,
        "catalogue_mode": catalogue_mode, "catalogue_version": cat.version, "catalogue_genes": len(cat),
        "catalogue_genes_not_in_genome": unmatched,
        "user_catalogue_genes_not_in_genome": user_unmatched,
        "group_by": group_by if isinstance(group_by, str) or group_by is None else "mapping",
        "ambiguous": ambiguous, "members": members, "amp_ratio": t.amp_ratio, "amp_extra": t.amp_extra, "min_bins": t.min_bins,
        "breakpoint_margin": t.breakpoint_margin, "all_genes": all_genes, "genome": genome.build,
    }
    info = {
        "parameters": params,
        "n_events": int(len(events)),
        "n_drivers": int(events[["gene", "alteration"]].drop_duplicates().shape[0]) if len(events) else 0,
        "n_genes": int(gene_cn["gene"].nunique()),
        "groups": summary.to_dict("records") if summary is not None else [],
        "files": written,
    }
    # the user's catalogue is an input of this step: its checksum goes to run.json
    cat_inputs = [catalogue] if catalogue is not None and not isinstance(catalogue, Catalogue) else []
    block = run_record("drivers", params, inputs=cat_inputs)
    block["step"] = "drivers"
    block["outputs"] = written
    block = json.loads(json.dumps(block, default=_atomic._json_default))
    if write_run:
        _append_run_json(out_dir, block)
    info["run"] = block
    adata.uns["drivers"] = _h5ad_safe(json.loads(json.dumps(info, default=_atomic._json_default)))
    # h5ad turns the block's lists (inputs) into strings or tables: keep it as JSON text too, so
    # a workflow writing run.json itself gets the block exactly as written here
    adata.uns["drivers"]["run_json"] = json.dumps(block)
    return adata


def _h5ad_safe(obj):
    """Make a JSON-like object writable to h5ad: None → "", lists of records → DataFrame,
    other mixed lists → a JSON string."""
    if isinstance(obj, dict):
        return {str(k): _h5ad_safe(v) for k, v in obj.items()}
    if obj is None:
        return ""
    if isinstance(obj, list):
        if obj and all(isinstance(x, dict) for x in obj):
            return pd.DataFrame(obj).fillna("")
        if obj and all(isinstance(x, str) for x in obj):
            return list(obj)
        return json.dumps(obj)
    return obj
