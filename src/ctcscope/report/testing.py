"""Synthetic output folders that follow the data contract, for tests and benchmarks of the report.

:func:`write_synthetic_run` writes every file a full ``ctcscope run`` leaves in its output
folder (``docs/data-model.md``) for a random cohort with known clones, ploidies and focal
events.  The copy-number files are drawn directly (integer copy number plus Gaussian noise,
not the read-level simulator :mod:`ctcscope.simulate`), so the report can be tested on any
combination of present/absent steps and measured at 10,000 cells; the clustering files
are drawn from the known clones; the drivers, phenotype (simulated sort files) and
resistance files are written by the real steps on that cohort.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .._atomic import MARKER, write_h5ad, write_json, write_tsv
from ..genome import load_genome

ALL_STEPS = ("cna", "cohort", "drivers", "phenotype", "resistance")

# (gene, chrom, start, end, role, pathway) of hg19 loci used for focal events
_FOCAL = [
    ("MET", "7", 116312458, 116438440, "activating", "RTK/RAS"),
    ("MYC", "8", 128748314, 128753680, "activating", "MYC"),
    ("ALK", "2", 29415639, 30144432, "activating", "RTK/RAS"),
    ("ERBB2", "17", 37844166, 37886679, "activating", "RTK/RAS"),
    ("CCND3", "6", 41902670, 42016610, "activating", "Cell cycle"),
    ("CDKN2A", "9", 21967750, 21995300, "loss_of_function", "Cell cycle"),
    ("RB1", "13", 48877882, 49056026, "loss_of_function", "Cell cycle"),
    ("TP53", "17", 7571719, 7590868, "loss_of_function", "Cell cycle;DNA repair"),
]
_PHENOS = ["ALK+/CK-", "ALK-/CK+", "ALK+/CK+"]
_DRUGS = ["crizotinib", "lorlatinib"]


def _profiles(n_bins: int, chrom: np.ndarray, arm: np.ndarray, base: int, rng: np.random.Generator,
              n_events: int) -> np.ndarray:
    """One integer profile: ``base`` copies with ``n_events`` whole-arm gains or losses."""
    cn = np.full(n_bins, base, dtype=np.int16)
    keys = pd.unique(pd.Series(chrom).str.cat(pd.Series(arm)))
    key_of_bin = pd.Series(chrom).str.cat(pd.Series(arm)).to_numpy()
    for k in rng.choice(keys, size=min(n_events, len(keys)), replace=False):
        cn[key_of_bin == k] = max(0, base + rng.choice([-1, 1, 2]))
    return cn


def write_synthetic_run(out_dir: str | Path, n_cells: int = 40, n_patients: int = 3, *, seed: int = 0,
                        build: str = "hg19", bin_size: int = 1_000_000, steps: Iterable[str] = ALL_STEPS,
                        simulated: bool = True, sample_ids: Sequence[str] | None = None,
                        patient_ids: Sequence[str] | None = None,
                        first_line: str = "carboplatin + pemetrexed") -> dict:
    """Write a complete output folder for a synthetic cohort and return its truth.

    Parameters
    ----------
    out_dir : folder to write (created; marked as a ctcscope folder).
    n_cells : tumour cells (CTCs) in total; each patient also gets one leukocyte control.
    n_patients : patients; each has two clones of distinct base ploidy.
    steps : which steps' files to write (``cna`` always writes cohort.h5ad, cells.tsv,
        segments.seg; the others add their contract files).
    simulated : mark run.json as simulated.
    sample_ids, patient_ids : override the generated ids (to test escaping).
    first_line : the (non-ALK) first treatment line of every patient's sheet (free text).

    Returns a dict with ``obs`` (the sample table), ``clone`` and ``ploidy`` truth.
    """
    steps = set(steps)
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by ctcscope\n")
    g = load_genome(build, bin_size)
    var = g.to_var()
    use = var["use"].to_numpy(bool)
    chrom = var["chrom"].to_numpy(str)
    arm = var["arm"].to_numpy(str)
    n_bins = len(var)

    patients = list(patient_ids) if patient_ids is not None else [f"P{i + 1}" for i in range(n_patients)]
    n_patients = len(patients)
    # clones: two per patient, distinct base ploidy (one WGD clone in every other patient)
    clone_base, clone_prof, clone_patient = [], [], []
    for i, p in enumerate(patients):
        for j, base in enumerate((2 + (i % 2), 4 + (i % 3) if i % 2 == 0 else 3)):
            prof = _profiles(n_bins, chrom, arm, base, rng, n_events=6)
            # focal events at driver loci, shared by the patient's clones
            for gene, c, s, e, role, _ in _FOCAL[(i * 2) % len(_FOCAL):(i * 2) % len(_FOCAL) + 2 + j]:
                sel = (chrom == c) & (var["end"].to_numpy() > s - 2_000_000) & (var["start"].to_numpy() < e + 2_000_000)
                prof[sel] = 0 if role == "loss_of_function" else base + 6
            clone_base.append(base)
            clone_prof.append(prof)
            clone_patient.append(p)
    clone_prof = np.stack(clone_prof)

    # samples: CTCs spread over patients and clones, plus one leukocyte control per patient
    ids, pats, types, clones = [], [], [], []
    for k in range(n_cells):
        pi = k % n_patients
        ci = 2 * pi + (k // n_patients) % 2
        ids.append(f"{patients[pi]}_CTC{k // n_patients + 1}")
        pats.append(patients[pi])
        types.append("ctc_pool" if k % 17 == 5 else "ctc")
        clones.append(ci)
    for pi, p in enumerate(patients):
        ids.append(f"{p}_WBC")
        pats.append(p)
        types.append("wbc")
        clones.append(-1)
    if sample_ids is not None:
        ids[:len(sample_ids)] = list(sample_ids)
    n = len(ids)
    clones = np.asarray(clones)
    cn = np.where(clones[:, None] >= 0, clone_prof[np.clip(clones, 0, None)], 2).astype(np.float32)
    # a private arm event in every third CTC
    for r in np.flatnonzero((clones >= 0) & (np.arange(n) % 3 == 0)):
        cn[r] = np.where(_profiles(n_bins, chrom, arm, 0, rng, 1) != 0, cn[r] + 1, cn[r])
    cn[:, ~use] = np.nan
    med = np.nanmedian(cn[:, use], axis=1)
    scale = 1.0 / med
    mean_cn = np.nanmean(cn[:, use], axis=1)
    ploidy = np.array([clone_base[c] if c >= 0 else 2 for c in clones])
    noise = rng.normal(0.0, 0.08, size=cn.shape).astype(np.float32)
    ratio = (cn * scale[:, None].astype(np.float32)) * (1 + noise)
    ratio[:, ~use] = np.nan
    counts = rng.poisson(np.nan_to_num(ratio, nan=0.5) * 150).astype(np.int32)

    # segments: runs of equal integer CN within a chromosome
    seg_rows = []
    ub = np.flatnonzero(use)
    # a new segment wherever the chromosome changes between consecutive usable bins
    chrom_change = np.r_[True, chrom[ub][1:] != chrom[ub][:-1]]
    segment = np.full_like(ratio, np.nan)
    for r in range(n):
        v = cn[r, ub]
        brk = np.r_[True, (v[1:] != v[:-1])] | chrom_change
        starts = np.flatnonzero(brk)
        ends = np.r_[starts[1:], len(ub)]
        sums = np.add.reduceat(ratio[r, ub], starts)
        means = sums / (ends - starts)
        segment[r, ub] = np.repeat(means, ends - starts)
        b0, b1 = ub[starts], ub[ends - 1]
        seg_rows.append(pd.DataFrame({
            "sample_id": ids[r], "chrom": chrom[b0], "start": var["start"].to_numpy()[b0],
            "end": var["end"].to_numpy()[b1], "n_bins": ends - starts, "seg_mean": means,
            "cn": v[starts].astype(int)}))
    segments = pd.concat(seg_rows, ignore_index=True)

    grid = np.round(np.arange(1.5, 8.01, 0.05), 2)
    post = np.exp(-0.5 * ((grid[None, :] - mean_cn[:, None]) / 0.12) ** 2)
    post /= post.sum(axis=1, keepdims=True)
    conf = np.clip(0.55 + 0.45 * rng.random(n), 0, 1)
    fga = np.nanmean(cn[:, use] != ploidy[:, None], axis=1)
    qc_fail = np.zeros(n, bool)
    qc_fail[rng.choice(n, size=max(1, n // 12), replace=False)] = True
    qc_fail[types.index("wbc")] = False
    reasons = np.where(qc_fail, "mapd>0.45;reads<100000", "")
    # the study's mix: mostly ALK-/CK+ and ALK+/CK-, few ALK+/CK+
    pheno = [("CD45+" if t == "wbc" else _PHENOS[int(rng.choice(3, p=[0.4, 0.5, 0.1]))]) for t in types]
    obs = pd.DataFrame({
        "patient": pats, "sample_type": pd.Categorical(types), "pool_size": [5 if t == "ctc_pool" else 1 for t in types],
        "phenotype": pheno, "isolation": "FACS", "gii": rng.integers(1, 5, n).astype(float), "bam": "",
        "reads": counts.sum(axis=1).astype(np.int64), "reads_total": (counts.sum(axis=1) * 1.2).astype(np.int64),
        "mapd": np.where(qc_fail, 0.5, rng.uniform(0.15, 0.3, n)), "usable_bins": int(use.sum()),
        "overdispersion": rng.uniform(1.5, 4, n), "n_segments": segments.groupby("sample_id", sort=False).size().reindex(ids).to_numpy(),
        "ploidy": ploidy, "mean_cn": mean_cn, "scale": scale, "ploidy_confidence": conf,
        "ploidy_runner_up": ploidy * 2 // 1 % 9, "ploidy_runner_up_prob": 1 - conf,
        "wgd": ploidy >= 4, "wgd_probability": post[:, grid >= 3.5].sum(axis=1),
        "qc_pass": ~qc_fail, "qc_reason": reasons, "normal_like": clones < 0,
        "fga": fga, "breakpoints": segments.groupby("sample_id", sort=False).size().reindex(ids).to_numpy() - 23,
        "wgii": fga * 0.9, "n_cn_states": [len(np.unique(cn[r, use])) for r in range(n)],
        "max_amplification": np.nanmax(cn[:, use], axis=1).astype(int),
        "clone": "", "cluster_order": -1,  # filled by the cohort step
    }, index=pd.Index(ids, name="sample_id"))
    true_clone = pd.Series(["" if c < 0 else f"{clone_patient[c]}_c{c % 2 + 1}" for c in clones], index=obs.index)

    run = {"tool": "ctcscope", "simulated": simulated, "steps": {}}
    from ..io.export import log2_ratio_x, segments_to_seg
    from ..provenance import run_record

    if "cna" in steps:
        import anndata as ad

        a = ad.AnnData(obs=obs, var=var)
        a.layers["counts"] = counts
        a.layers["ratio"] = ratio
        a.layers["segment"] = segment
        a.layers["cn"] = cn
        a.obsm["ploidy_posterior"] = post
        a.uns["ploidy_grid"] = grid
        a.uns["segments"] = segments
        rec = run_record("ctcscope demo" if simulated else "ctcscope run",
                         {"bin_size": bin_size, "genome": build, "seed": seed})
        rec["genome"] = {"build": build, "bin_size": bin_size, "source": g.source}
        rec["simulated"] = simulated
        a.uns["ctcscope"] = {k: v for k, v in rec.items() if k != "inputs"}
        a.X = log2_ratio_x(a)
        write_h5ad(out / "cohort.h5ad", a)
        write_tsv(out / "cells.tsv", obs.reset_index())
        write_tsv(out / "segments.seg", segments_to_seg(segments))
        run["steps"]["copy_number"] = rec

    treatment_group = {p: _DRUGS[i % 2] for i, p in enumerate(patients)}
    if "cohort" in steps:
        # the real cohort step (250 kb grid, Ward clustering, clones, diversity, heatmap)
        import anndata as ad

        from ..cohort.stage import run_cluster_stage

        if "cna" not in steps:
            raise ValueError("the cohort step needs the copy-number step: steps must include 'cna'")
        a = run_cluster_stage(ad.read_h5ad(out / "cohort.h5ad"), out, n_permutations=199, seed=seed)
        obs["clone"] = a.obs["clone"].reindex(obs.index).astype(str).to_numpy()
        obs["cluster_order"] = a.obs["cluster_order"].reindex(obs.index).to_numpy()
        write_h5ad(out / "cohort.h5ad", a)
        write_tsv(out / "cells.tsv", obs.reset_index())
        run["steps"]["cohort"] = run_record("ctcscope cluster", {"grid": 250_000})

    if "drivers" in steps:
        # the real drivers step (gene-level copy number, catalogue, summaries, figures)
        import anndata as ad

        from ..drivers.stage import run_drivers_stage

        a = ad.read_h5ad(out / "cohort.h5ad") if "cna" in steps else None
        if a is None:
            raise ValueError("the drivers step needs the copy-number step: steps must include 'cna'")
        a.obs["treatment_group"] = a.obs["patient"].map(treatment_group).astype(str)
        a = run_drivers_stage(a, g, out, write_run=False, figures=n <= 2000)
        run["steps"]["drivers"] = run_record("ctcscope drivers", {})
        # cells.tsv carries treatment_group, as the workflow's obs would
        write_tsv(out / "cells.tsv", obs.assign(treatment_group=obs["patient"].map(treatment_group)).reset_index())

    if "phenotype" in steps:
        # the real phenotype step on simulated sort files (one FCS per patient, index-sorted wells)
        from ..phenotype import run_phenotype_stage, simulate_sort

        sheet = obs.reset_index()[["sample_id", "patient", "sample_type", "phenotype"]].astype(str)
        sheet.loc[sheet.sample_type == "wbc", "phenotype"] = ""
        # one 96-well plate per patient: cells beyond it are left unsorted (no FCS link)
        sheet.loc[sheet.groupby("patient").cumcount() >= 90, "phenotype"] = ""
        sheet = simulate_sort(sheet, out / "fcs", seed=seed, outside=[ids[min(4, n_cells - 1)]])
        run_phenotype_stage(sheet, out)
        run["steps"]["phenotype"] = run_record("ctcscope phenotype", {})

    if "resistance" in steps:
        # the real resistance step on a patient sheet for the synthetic patients: G1202R in
        # one CTC and in ctDNA; crizotinib, then lorlatinib for every other patient
        from ..resistance.patients import patients_from_records
        from ..resistance.stage import run_resistance_stage

        records = []
        for i, p in enumerate(patients):
            first_ctc = next((s for s, pp, t in zip(ids, pats, types) if pp == p and t == "ctc"), None)
            tx = [{"drug": first_line, "months": 4, "best_response": "SD", "progressed": True},
                  {"drug": "crizotinib", "months": 9.5, "best_response": "PR",
                   "progressed": treatment_group[p] == "crizotinib"}]
            if treatment_group[p] == "lorlatinib":
                tx.append({"drug": "lorlatinib", "months": 3.6, "best_response": "PR", "progressed": True})
            records.append({"id": p, "fusion": "EML4-ALK", "variant": "v3" if i % 2 else "v1", "treatments": tx,
                            "mutations": [{"name": "G1202R", "found_in": [x for x in (first_ctc, "ctDNA") if x]}]})
        r = run_resistance_stage(patients_from_records(records), out,
                                 drivers=out / "drivers.tsv" if "drivers" in steps else None,
                                 cells=out / "cells.tsv" if "cna" in steps else None)
        run["steps"]["resistance"] = r["run"]

    write_json(out / "run.json", run)
    return {"obs": obs, "clones": clones, "true_clone": true_clone, "ploidy": ploidy, "segments": segments}


__all__ = ["ALL_STEPS", "write_synthetic_run"]
