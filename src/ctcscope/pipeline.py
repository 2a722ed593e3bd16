"""The whole study in one call: ``ctcscope run`` and ``ctcscope demo``.

Steps, in order (each is a plain function of its own module, usable alone):

1. copy number — :func:`ctcscope.workflow.run_copy_number` (counting, correction,
   segmentation, ploidy, QC, instability);
2. treatment groups — the drug at resistance of each patient (patient sheet);
3. phenotypes — FCS files → gates → ALK/CK phenotype of each sorted cell (when the sample
   sheet has an ``fcs`` column);
4. cohort — 250 kb matrix, Ward clustering, clones, diversity
   (:func:`ctcscope.cohort.run_cluster_stage`);
5. drivers — gene-level copy number, driver events by pathway
   (:func:`ctcscope.drivers.run_drivers_stage`);
6. resistance — the reading of each patient (:func:`ctcscope.resistance.stage.run_resistance_stage`,
   when a patient sheet is given);
7. report — ``report.html`` (:func:`ctcscope.report.build_report`);

and ``run.json`` last, so a folder without it is an unfinished run.  Every input is
validated before anything is written; a run that fails removes the folder it created (or,
with ``--overwrite``, leaves the replaced run without its ``run.json``).
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._atomic import prepare_output_dir
from .errors import InputError
from .genome import Genome
from .io.export import write_copy_number_outputs
from .io.samplesheet import read_sample_sheet
from .provenance import run_record
from .workflow import _clear_previous_run, _remove_new_folder, run_copy_number, write_run_json

log = logging.getLogger("ctcscope")

#: Demo cells sorted as putative CTCs whose FACS events fall outside the refined gates.
DEMO_OUTSIDE_GATES = ("SIM-P50_CTC06",)


@dataclass
class PipelineOptions:
    """Options of the steps after copy number (the CLI maps its flags onto these)."""

    patients: str | os.PathLike | None = None
    gating: str | os.PathLike | None = None
    plate_map: str | os.PathLike | None = None
    catalogue: str | os.PathLike | None = None
    catalogue_mode: str = "extend"
    cluster: bool = True
    drivers: bool = True
    phenotype: bool = True
    resistance: bool = True
    report: bool = True
    cluster_options: dict[str, Any] = field(default_factory=dict)
    cna_params: dict[str, Any] = field(default_factory=dict)
    dna_channel: str | None = None      # DNA-content channel of the FCS files (default: found by dye)
    dna_reference: float | None = None  # 2n G1 intensity when a file has no leukocytes to measure it


def _validate(sheet: pd.DataFrame | None, opts: PipelineOptions):
    """Read every optional input now, so a bad one stops the run before anything is written."""
    patients = None
    if opts.patients is not None:
        from .resistance.patients import read_patients

        patients = read_patients(opts.patients)
        if sheet is not None and "patient" in sheet:
            known = {p.id for p in patients}
            missing = sorted(set(sheet["patient"].fillna("").astype(str).str.strip()) - known - {""})
            if missing:
                more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                raise InputError(
                    f"patient(s) {', '.join(missing[:5])}{more} of the sample sheet are not in the patient sheet "
                    f"{Path(opts.patients).name} (it lists {', '.join(sorted(known)[:5]) or 'no patient'}); "
                    "add them to the patient sheet (an entry with only 'id:' is enough) or correct the sample sheet")
    if opts.gating is not None:
        from .phenotype.gating import load_gating

        load_gating(opts.gating)
    catalogue = None
    if opts.catalogue is not None:
        from .drivers.catalogue import load_catalogue

        catalogue = load_catalogue(opts.catalogue, opts.catalogue_mode)
    return patients, catalogue


def _has_fcs(sheet: pd.DataFrame | None) -> bool:
    return sheet is not None and "fcs" in sheet and sheet["fcs"].fillna("").astype(str).str.len().gt(0).any()


def run_pipeline(
    samples: str | os.PathLike | pd.DataFrame | None,
    genome: Genome,
    out: str | os.PathLike,
    *,
    counts: str | os.PathLike | None = None,
    options: PipelineOptions | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    overwrite: bool = False,
    min_mapq: int = 30,
    own_bins: bool | None = None,
    quiet: bool = False,
    sheet_dir: str | os.PathLike | None = None,
    extra_steps: dict[str, dict] | None = None,
):
    """Run every step of the study on a sample sheet (BAMs) or a count matrix.

    Returns the cohort AnnData (also written to ``out/cohort.h5ad``).
    """
    opts = options or PipelineOptions()
    sheet = samples
    if samples is not None and not isinstance(samples, pd.DataFrame):
        sheet_dir = sheet_dir or Path(samples).parent
        sheet = read_sample_sheet(samples, require_bam=counts is None)
    patients, catalogue = _validate(sheet, opts)

    out = Path(out)
    fresh = not out.exists() or (out.is_dir() and not any(out.iterdir()))
    steps: dict[str, dict] = dict(extra_steps or {})
    # phenotypes and DNA index first: the DNA index of each sorted cell is evidence on its
    # ploidy (ctcscope.cna.dna_content).  A problem with the FCS files costs the phenotypes,
    # not the copy number: it is said in one sentence and the run goes on.
    pheno, pheno_seconds, pheno_error = None, 0.0, ""
    if opts.phenotype and _has_fcs(sheet):
        from .phenotype.stage import compute_phenotypes

        t = time.perf_counter()
        try:
            pheno = compute_phenotypes(sheet, gating=opts.gating, plate_map=opts.plate_map, base_dir=sheet_dir,
                                       dna_channel=opts.dna_channel, dna_reference=opts.dna_reference, strict=False)
        except InputError as e:
            pheno_error = str(e)
            log.warning("phenotypes and DNA index are skipped: %s", pheno_error)
        pheno_seconds = time.perf_counter() - t
        if pheno is not None:
            for note in pheno.notes + [n for p in pheno.per_file for n in (p["dna"].notes if p["dna"] else [])]:
                log.warning("%s", note)
            sheet = _with_dna_index(sheet, pheno.table)
    t0 = time.perf_counter()
    adata = run_copy_number(sheet, genome, out, counts=counts, workers=workers, scheduler=scheduler,
                            overwrite=overwrite, min_mapq=min_mapq, own_bins=own_bins, params=opts.cna_params,
                            write_run=False, quiet=quiet)
    steps["copy_number"] = dict(adata.uns["ctcscope"], seconds=round(time.perf_counter() - t0, 3))
    try:
        if patients is not None:
            from .resistance.patients import drug_at_resistance

            groups = drug_at_resistance(patients)
            adata.obs["treatment_group"] = adata.obs.get("patient", pd.Series("", index=adata.obs_names)).astype(
                str).map(groups).fillna("").astype(str)

        if pheno is not None:
            from .phenotype import annotate_obs
            from .phenotype.stage import write_phenotypes

            t = time.perf_counter()
            write_phenotypes(pheno, out)
            table = pheno.table
            adata.obs = annotate_obs(adata.obs, table)
            _discard_outside_gates(adata)
            # the same provenance block as the other steps (tool, command, start time, versions)
            steps["phenotype"] = dict(run_record("phenotype", _jsonable({"gating": opts.gating, "plate_map": opts.plate_map,
                                                                         "dna_channel": opts.dna_channel,
                                                                         "dna_reference": opts.dna_reference})),
                                      step="phenotype", samples_linked=int(len(table)),
                                      samples_with_dna_index=int(pd.to_numeric(table.get("dna_index"), errors="coerce").notna().sum())
                                      if "dna_index" in table else 0,
                                      notes=pheno.notes, seconds=round(time.perf_counter() - t + pheno_seconds, 3))
        elif pheno_error:
            steps["phenotype"] = dict(step="phenotype", skipped=True, error=pheno_error)

        if opts.cluster:
            from .cohort import run_cluster_stage
            from .cohort.matrix import select_samples

            n_sel = int(select_samples(adata.obs, opts.cluster_options.get("samples", "qc_pass_tumour")).sum())
            if n_sel < 2:
                log.warning("only %d tumour sample(s) passed QC with a tumour (not normal-like) profile: clustering "
                            "needs at least 2 and is skipped", n_sel)
                opts = _replace(opts, cluster=False)
        if opts.cluster:
            t = time.perf_counter()
            adata = run_cluster_stage(adata, out, **opts.cluster_options)
            steps["cluster"] = dict(run_record("cluster", _jsonable(adata.uns.get("clusters", {}).get("params", {}))),
                                    step="cluster", seconds=round(time.perf_counter() - t, 3))

        if opts.drivers and (genome.genes is None or genome.genes.empty):
            log.warning("genome %s has no gene table, so the drivers step is skipped; give genes with the genome "
                        "(genome_from_fasta(..., genes=)) or use a built-in build", genome.build)
            opts = _replace(opts, drivers=False)
        if opts.drivers:
            from .drivers import run_drivers_stage

            t = time.perf_counter()
            adata = run_drivers_stage(adata, genome, out, catalogue=opts.catalogue,  # checked above; the path goes to run.json
                                      catalogue_mode=opts.catalogue_mode, write_run=False)
            steps["drivers"] = dict(json.loads(adata.uns["drivers"]["run_json"]), seconds=round(time.perf_counter() - t, 3))

        # the cohort files now carry treatment groups, phenotypes and clones
        write_copy_number_outputs(adata, out)

        if opts.resistance and patients is not None:
            from .resistance.stage import run_resistance_stage

            # the sheet's path (checked above), so its checksum goes to run.json with the step's other inputs
            res = run_resistance_stage(opts.patients, out, drivers=out / "drivers.tsv" if opts.drivers else None,
                                       genes=out / "genes.tsv" if opts.drivers else None, cells=out / "cells.tsv")
            steps["resistance"] = res["run"]

        write_run_json(out, steps)
        if opts.report:
            from .report.stage import report_step

            report_step(out)  # adds its own block to run.json
    except BaseException:
        if fresh:
            _remove_new_folder(out)
        else:
            _clear_previous_run(out)
        raise
    return adata


def _with_dna_index(sheet: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The sheet with each sorted cell's ``dna_index``/``dna_index_sd`` from the index sort
    (a value the user wrote in the sheet is kept)."""
    if not len(table) or "dna_index" not in table:
        return sheet
    t = table.drop_duplicates("sample_id").set_index("sample_id")
    out = sheet.copy()
    ids = out["sample_id"].astype(str)
    for c in ("dna_index", "dna_index_sd"):
        new = pd.to_numeric(ids.map(t[c]), errors="coerce")
        old = pd.to_numeric(out[c], errors="coerce") if c in out else pd.Series(np.nan, index=out.index)
        out[c] = old.where(old.notna(), new)
    return out


def _discard_outside_gates(adata) -> None:
    """Sequenced cells outside the refined gates leave the analysis, as in the study
    (Oulhen et al. 2021: "cells initially considered as putative CTCs and sequenced were
    discarded after refining the gating"): they fail QC with that reason."""
    if "phenotype_in_gate" not in adata.obs:
        return
    out = adata.obs["phenotype_in_gate"].astype(str).eq("False").to_numpy()
    if not out.any():
        return
    reason = "outside the refined FACS gates"
    old = adata.obs["qc_reason"].fillna("").astype(str) if "qc_reason" in adata.obs else ""
    adata.obs.loc[out, "qc_reason"] = [r + ("; " if r else "") + reason for r in pd.Series(old)[out]]
    adata.obs.loc[out, "qc_pass"] = False
    log.info("%d sequenced cell(s) fall outside the refined FACS gates and are left out of the analysis",
             int(out.sum()))


def _replace(opts: PipelineOptions, **kw) -> PipelineOptions:
    import dataclasses

    return dataclasses.replace(opts, **kw)


def _jsonable(d):
    import json

    from ._atomic import _json_default

    return json.loads(json.dumps(d, default=_json_default))


def run_demo(out: str | os.PathLike, *, seed: int | None = None, overwrite: bool = False, bam: bool = False,
             workers: int | None = None, quiet: bool = False, report: bool = True):
    """Simulate the demo cohort (SIMULATED data modelled on Oulhen et al. 2021) and run every step.

    The simulated inputs (sample sheet, patient sheet, counts or BAMs, FCS sorts, truth)
    go to ``out/input``; the results to ``out``.
    """
    from ._atomic import guard_step

    out = Path(out).resolve()
    fresh = not out.exists() or (out.is_dir() and not any(out.iterdir()))
    prepare_output_dir(out, overwrite=overwrite)  # refuse a user's folder before simulating anything
    # a failure or Ctrl-C while simulating removes a new demo folder (or an earlier demo's run.json)
    with guard_step(out, fresh=fresh):
        return _run_demo(out, seed=seed, bam=bam, workers=workers, quiet=quiet, report=report)


def _run_demo(out: Path, *, seed, bam, workers, quiet, report):
    from .genome import load_genome
    from .phenotype import simulate_sort
    from .simulate.demo import DEMO_SEED, make_demo

    seed = DEMO_SEED if seed is None else int(seed)
    t = time.perf_counter()
    files = make_demo(out / "input", seed=seed, bam=bam, overwrite=True, workers=workers or 1)
    sheet = pd.read_csv(files.samples, dtype=str, keep_default_na=False)
    # each sorted cell's Hoechst follows its true DNA content, cycle phase and any efflux
    # dimming (the truth of the simulation)
    truth = files.sim.truth.samples.set_index("sample_id")
    sheet["sim_dna_index"] = sheet["sample_id"].map(truth["dna_index"] * truth["hoechst_factor"])
    # the recipe's putative CTC that falls outside the refined gates (see its YAML comment)
    sheet = simulate_sort(sheet, out / "input" / "fcs", seed=seed, outside=DEMO_OUTSIDE_GATES)
    sheet = sheet.drop(columns=[c for c in ("sim_phenotype", "sim_dna_index") if c in sheet])
    sheet_path = out / "input" / "samples.csv"
    # paths relative to the sheet's folder, as a user would write them (the folder can move)
    sheet["fcs"] = [os.path.relpath(f, sheet_path.parent) if f else "" for f in sheet["fcs"].fillna("").astype(str)]
    from ._atomic import write_tsv

    write_tsv(sheet_path, sheet, sep=",")
    simulate_block = {"step": "simulate", "simulated": True, "seed": seed, "design": "demo_oulhen2021",
                      "citation": "Oulhen M et al. npj Precis Oncol 2021;5:71. doi:10.1038/s41698-021-00203-1",
                      "seconds": round(time.perf_counter() - t, 3)}
    genome = load_genome("hg19", 500_000)
    opts = PipelineOptions(patients=files.patients, report=report)
    return run_pipeline(sheet_path, genome, out, counts=None if bam else files.counts, options=opts,
                        workers=workers, overwrite=True, quiet=quiet, extra_steps={"simulate": simulate_block})
