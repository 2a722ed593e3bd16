"""Accuracy and speed of the drivers step.  Prints numbers; run from the repository root:

    PYTHONPATH=src:tests python benchmarks/drivers_bench.py [--quick]

Accuracy
  1. Planted focal events (MET, MYC, ALK, ERBB2 amplification; CDKN2A homozygous deletion)
     on copy number built from known events and degraded like a segmenter's output
     (breakpoints moved by one bin with probability 0.3-0.5, 3-5 % of bins dropped):
     gene-level precision and recall.
  2. The same on the simulator's true copy number (ctcscope.simulate), against its gene
     truth table.
  2b. The focal flag: planted focal events called ``focal`` (sensitivity), and gains or
     losses outside any planted focal window (arm-level events) not called focal
     (specificity), on the constructed copy number of 1.
Speed and memory
  3. gene_copy_number for 100 / 1,000 / 10,000 cells x the catalogue's genes, and 100 cells x
     every protein-coding gene: wall time (median and range of repeats) and peak memory.
  4. The whole stage (tables, h5ad, figures) on the study-like test cohort.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ctcscope.drivers import builtin_catalogue, gene_copy_number  # noqa: E402
from ctcscope.genome import load_genome  # noqa: E402


def random_segments(genome, n_cells: int, seed: int, seg_per_chrom: int = 3) -> ad.AnnData:
    """Cells with random segments (vectorised), for timing only."""
    rng = np.random.default_rng(seed)
    use = genome.bins[genome.bins.use]
    ext = use.groupby("chrom", sort=False).agg(start=("start", "min"), end=("end", "max"))
    rows = []
    for c, r in ext.iterrows():
        k = seg_per_chrom
        cuts = np.sort(rng.integers(r.start + 1, r.end - 1, size=(n_cells, k - 1)), axis=1) // 500_000 * 500_000
        starts = np.c_[np.full(n_cells, r.start), cuts]
        ends = np.c_[cuts, np.full(n_cells, r.end)]
        ok = ends > starts
        sid = np.repeat(np.arange(n_cells), k).reshape(n_cells, k)
        rows.append(pd.DataFrame({"sid": sid[ok], "chrom": c, "start": starts[ok], "end": ends[ok]}))
    seg = pd.concat(rows).sort_values(["sid", "start"], kind="stable")
    seg["sample_id"] = "c" + seg.sid.astype(str).str.zfill(6)
    seg["n_bins"] = ((seg.end - seg.start) // 500_000).clip(lower=1)
    seg["seg_mean"] = np.nan
    seg["cn"] = rng.integers(0, 7, size=len(seg)).astype(float)
    obs = pd.DataFrame({"ploidy": rng.choice([2, 3, 4], n_cells), "patient": "P1"},
                       index=[f"c{i:06d}" for i in range(n_cells)])
    a = ad.AnnData(obs=obs, var=genome.to_var())
    a.uns["segments"] = seg.drop(columns="sid").reset_index(drop=True)
    return a


def timed(fn, repeats: int):
    """Wall times of ``repeats`` runs, then one more run under tracemalloc for the peak
    (tracing slows allocation-heavy code, so it is kept out of the timings)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, times, peak


def accuracy_constructed(quick: bool):
    from test_drivers_recovery import FOCAL, _cohort
    from _drivers_cohort import build_adata

    print("1. planted focal events on constructed copy number (gene level)")
    cat = builtin_catalogue()
    for build, seed, jitter, drop in [("hg19", 101, 0.3, 0.03), ("hg19", 102, 0.5, 0.05), ("hg38", 103, 0.3, 0.03)][: 1 if quick else 3]:
        genome = load_genome(build, 500_000)
        samples, planted = _cohort(genome, 60, seed)
        a = build_adata(genome, samples, seed=seed, jitter=jitter, drop=drop)
        gc = gene_copy_number(a, cat.select_genes(genome.genes)).astype({"gene": str, "sample_id": str, "state": str})
        calls = gc[gc.gene.isin(FOCAL) & (gc.state == gc.gene.map(FOCAL))]
        t = set(map(tuple, planted[["sample_id", "gene"]].to_numpy()))
        p = set(map(tuple, calls[["sample_id", "gene"]].to_numpy()))
        tp = len(t & p)
        print(f"   {build} seed {seed} jitter {jitter} drop {drop}: planted {len(t)}, called {len(p)}, "
              f"recall {tp / len(t):.3f}, precision {tp / max(1, len(p)):.3f}")


def accuracy_focal(quick: bool):
    from test_drivers_recovery import _cohort
    from _drivers_cohort import build_adata

    print("2b. focal flag on constructed copy number (planted focal windows vs arm-level events)")
    cat = builtin_catalogue()
    for build, seed, jitter, drop in [("hg19", 101, 0.3, 0.03), ("hg19", 102, 0.5, 0.05), ("hg38", 103, 0.3, 0.03)][: 1 if quick else 3]:
        genome = load_genome(build, 500_000)
        samples, planted = _cohort(genome, 60, seed)
        a = build_adata(genome, samples, seed=seed, jitter=jitter, drop=drop)
        gc = gene_copy_number(a, cat.select_genes(genome.genes)).astype(
            {"gene": str, "sample_id": str, "state": str, "chrom": str})
        hit = gc.merge(planted, on=["sample_id", "gene", "state"])
        near = np.zeros(len(gc), bool)     # within a planted window widened by two bins
        for s in samples:
            on = (gc.sample_id == s.sample_id).to_numpy()
            for c, lo, hi, _ in [e for e in s.events if e[2] - e[1] < 10e6]:
                near |= on & (gc.chrom == c).to_numpy() & (gc.start < hi + 1e6).to_numpy() & (gc.end > lo - 1e6).to_numpy()
        broad = gc[~gc.state.isin(["neutral", "unknown"]).to_numpy() & ~near]
        print(f"   {build} seed {seed}: planted focal calls flagged focal {hit.focal.mean():.3f} (n={len(hit)}); "
              f"calls outside focal windows flagged focal {broad.focal.mean():.4f} (n={len(broad)})")


def accuracy_simulated(quick: bool):
    from ctcscope.simulate import random_design, simulate_cohort
    from test_drivers_simulated import _score, _truth_adata

    print("2. planted focal events on the simulator's true copy number")
    genome = load_genome("hg19", 500_000)
    genes = builtin_catalogue().select_genes(genome.genes)
    for seed in (201, 202, 203)[: 1 if quick else 3]:
        sim = simulate_cohort(random_design(60, seed=seed), genome, seed=seed)
        gc = gene_copy_number(_truth_adata(sim, genome), genes).astype({"gene": str, "sample_id": str, "state": str})
        r, p, n = _score(gc, sim.truth.genes)
        print(f"   seed {seed}: planted {n}, recall {r:.3f}, precision {p:.3f}")


def speed(quick: bool):
    print("3. gene_copy_number speed (wall time; median [min-max] of repeats; peak traced memory)")
    genome = load_genome("hg19", 500_000)
    cat_genes = builtin_catalogue().select_genes(genome.genes)
    cases = [(100, cat_genes, "catalogue", 5), (1000, cat_genes, "catalogue", 3), (10_000, cat_genes, "catalogue", 3),
             (100, genome.genes, "all protein-coding", 3)]
    if quick:
        cases = cases[:2]
    for n, genes, label, rep in cases:
        a = random_segments(genome, n, seed=n)
        out, times, peak = timed(lambda: gene_copy_number(a, genes), rep)
        print(f"   {n:>6} cells x {len(genes):>6} genes ({label}): {statistics.median(times):.2f} s "
              f"[{min(times):.2f}-{max(times):.2f}], {len(out):,} rows, peak {peak / 2**20:.0f} MiB")


def stage(quick: bool):
    import tempfile

    from _drivers_study import study_adata
    from ctcscope import _atomic
    from ctcscope.drivers import run_drivers_stage

    print("4. run_drivers_stage on the study-like cohort (39 samples)")
    genome = load_genome("hg19", 500_000)
    for figures in (False, True):
        times = []
        for _ in range(1 if quick else 3):
            a = study_adata(genome, seed=2, jitter=0.2, drop=0.02)
            with tempfile.TemporaryDirectory() as d:
                out = _atomic.prepare_output_dir(Path(d) / "o")
                t = time.perf_counter()
                run_drivers_stage(a, genome, out, figures=figures)
                times.append(time.perf_counter() - t)
        print(f"   figures={figures}: {statistics.median(times):.2f} s [{min(times):.2f}-{max(times):.2f}]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    accuracy_constructed(a.quick)
    accuracy_focal(a.quick)
    accuracy_simulated(a.quick)
    speed(a.quick)
    stage(a.quick)


if __name__ == "__main__":
    main()
