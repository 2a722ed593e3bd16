"""What the DNA index costs the copy-number call (issue 11).

    python benchmarks/bench_dna_index.py [--workers 1]

Calls a 46-sample cohort of doubled genomes with few later changes (the simulator's
``random_design(ploidies=(2, 4), post_wgd_events=(0, 1))``, seed 171) twice with read depth
alone and twice with each single cell's DNA index (its true DNA content), and prints the
seconds of each call.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    from ctcscope.cna import call_copy_number
    from ctcscope.genome import load_genome
    from ctcscope.simulate import Bias, random_design, simulate_cohort

    g = load_genome("hg19", 500_000)
    design = random_design(40, seed=171, genome=g, bias=Bias(s_phase=0.15), ploidies=(2, 4), focal=False,
                           private_events=(0, 0), post_wgd_events=(0, 1))
    sim = simulate_cohort(design, g, seed=171)
    tr = sim.truth.samples.set_index("sample_id").loc[sim.adata.obs_names]
    di = np.where(tr["sample_type"].eq("ctc"), tr["dna_index"] * tr["hoechst_factor"], np.nan)
    withdna = sim.adata.copy()
    withdna.obs["dna_index"], withdna.obs["dna_index_sd"] = di, di * 0.035
    call_copy_number(sim.adata[:5].copy(), workers=a.workers, quiet=True)  # warm-up (numba compilation)
    for name, x in (("read depth", sim.adata), ("with DNA index", withdna)) * 2:
        t = time.perf_counter()
        call_copy_number(x, workers=a.workers, quiet=True)
        dt = time.perf_counter() - t
        print(f"{name:15s} {x.n_obs} samples  {dt:6.2f} s  ({dt / x.n_obs:.3f} s/sample, workers={a.workers})")


if __name__ == "__main__":
    main()
