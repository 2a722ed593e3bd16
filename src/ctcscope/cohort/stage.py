"""The cohort step: matrix, clustering, clones, diversity, heatmap, written to ``out_dir``."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from .._atomic import write_json, write_tsv
from ..errors import InputError
from .cluster import cluster
from .diversity import diversity_table, patient_test
from .matrix import cohort_matrix
from .rebin import DEFAULT_GRID


def run_cluster_stage(adata: ad.AnnData, out_dir: str | Path, *, grid: int = DEFAULT_GRID,
                      value: str = "log2_cn_over_ploidy", samples: str | Sequence[str] = "qc_pass_tumour",
                      clip: tuple[float, float] | None = (-2.0, 2.0), min_clone_size: int | None = None,
                      silhouette_threshold: float = 0.25, n_clones: int | None = None,
                      by_patient: bool = True, n_permutations: int = 999, shared_fraction: float = 0.8,
                      seed: int = 0, figures: bool = True, max_rows: int = 1500) -> ad.AnnData:
    """Run the cohort step on ``adata`` and write its outputs into ``out_dir``.

    Writes (atomically) ``clusters.tsv`` (one row per clustered sample in dendrogram
    order: ``sample_id, patient, sample_type, clone, cluster_order, clone_assignment,
    reference, reference_type, distance_to_reference``), ``diversity.tsv`` (one row per
    patient), ``diversity_test.json`` (within- vs between-patient permutation test),
    ``altered_regions.tsv``, ``clone_consensus.tsv`` and, with ``figures``,
    ``figures/heatmap.png``, ``figures/heatmap.svg`` and ``figures/heatmap.json`` (the
    compact form for the HTML report).

    Options are those of :func:`cohort_matrix` (``grid, value, samples, clip``),
    :func:`cluster` (``min_clone_size, silhouette_threshold, n_clones, by_patient, seed``)
    and :func:`ctcscope.cohort.diversity.diversity_table` / :func:`patient_test`
    (``shared_fraction, n_permutations``).

    Returns a copy of ``adata`` with ``obs['clone']`` (``""`` for samples not clustered),
    ``obs['cluster_order']`` (-1 if not clustered) and ``uns['clusters']``.
    """
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    m = cohort_matrix(adata, grid, value=value, samples=samples, clip=clip)
    t_matrix = time.perf_counter() - t0
    if m.n_obs < 2:
        raise InputError(f"only {m.n_obs} sample passed the selection; clustering needs at least 2 "
                         "(check qc_pass/sample_type, or choose samples='all')")
    t1 = time.perf_counter()
    cl = cluster(m, min_clone_size=min_clone_size, silhouette_threshold=silhouette_threshold, n_clones=n_clones,
                 by_patient=by_patient, seed=seed)
    t_cluster = time.perf_counter() - t1
    t2 = time.perf_counter()
    test = patient_test(m, n_permutations=n_permutations, seed=seed)
    per_patient, ref, regions = diversity_table(m, cl.clones, shared_fraction=shared_fraction)
    t_div = time.perf_counter() - t2

    # per-sample table in tree order
    tab = cl.table()
    o = m.obs
    tab.insert(1, "patient", o["patient"].astype(str).reindex(tab.sample_id).to_numpy() if "patient" in o else "")
    tab.insert(2, "sample_type", o["sample_type"].astype(str).reindex(tab.sample_id).to_numpy()
               if "sample_type" in o else "ctc")
    tab = tab.merge(ref.drop(columns=["patient"]), on="sample_id", how="left")
    write_tsv(out_dir / "clusters.tsv", tab)
    write_tsv(out_dir / "diversity.tsv", per_patient)
    write_tsv(out_dir / "altered_regions.tsv", regions)
    cons = cl.consensus.T.copy()
    cons.insert(0, "end", m.var["end"].to_numpy())
    cons.insert(0, "start", m.var["start"].to_numpy())
    cons.insert(0, "chrom", m.var["chrom"].astype(str).to_numpy())
    write_tsv(out_dir / "clone_consensus.tsv", cons, float_format="%.4g")
    write_json(out_dir / "diversity_test.json", test)

    t_fig = 0.0
    if figures:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from .heatmap import heatmap_embed, plot_heatmap, save_heatmap, write_embed

        t3 = time.perf_counter()
        # the whole cohort's obs: the matrix holds a subset, colours follow the cohort
        fig = plot_heatmap(m, cl, max_rows=max_rows, cohort_obs=adata.obs)
        save_heatmap(fig, out_dir / "figures")
        write_embed(out_dir / "figures" / "heatmap.json",
                    heatmap_embed(fig, m, cl, max_rows=max_rows, cohort_obs=adata.obs))
        plt.close(fig)
        t_fig = time.perf_counter() - t3

    from ..provenance import run_record

    params = {"grid": int(grid), "value": value, "samples": samples if isinstance(samples, str) else list(samples),
              "clip": list(clip) if clip is not None else None, "min_clone_size": cl.params["min_clone_size"],
              "silhouette_threshold": float(silhouette_threshold), "n_clones": n_clones, "by_patient": bool(by_patient),
              "n_permutations": int(n_permutations), "shared_fraction": float(shared_fraction), "seed": int(seed)}
    res = adata.copy()
    clone = pd.Series("", index=res.obs_names, dtype=object)
    order = pd.Series(-1, index=res.obs_names, dtype=np.int64)
    clone.loc[tab.sample_id.to_numpy()] = tab.clone.to_numpy()
    order.loc[tab.sample_id.to_numpy()] = tab.cluster_order.to_numpy()
    res.obs["clone"] = clone.to_numpy().astype(str)
    res.obs["cluster_order"] = order.to_numpy()
    res.uns["clusters"] = {
        "params": {**cl.params, **{k: v for k, v in m.uns["cohort_matrix"].items() if k != "samples"},
                   "samples": m.uns["cohort_matrix"]["samples"] if isinstance(samples, str) else ",".join(samples),
                   "n_permutations": int(n_permutations), "shared_fraction": float(shared_fraction)},
        "linkage": cl.linkage,
        "order": np.asarray(cl.sample_ids, dtype=str)[cl.order],
        "splits": cl.splits.astype({"accepted": bool}) if len(cl.splits) else cl.splits,
        "consensus": cons.reset_index(drop=True),
        "test": {k: v for k, v in test.items() if v is not None},
        # JSON text, as uns['ctcscope']: h5ad cannot hold the nested lists of a record
        "provenance": json.dumps(run_record("cluster", params), default=str),
        "timing_s": {"matrix": t_matrix, "cluster": t_cluster, "diversity": t_div, "figures": t_fig},
        "files": ["clusters.tsv", "diversity.tsv", "diversity_test.json", "altered_regions.tsv",
                  "clone_consensus.tsv"] + (["figures/heatmap.png", "figures/heatmap.svg", "figures/heatmap.json"]
                                            if figures else []),
    }
    return res
