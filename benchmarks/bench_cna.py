"""Speed and memory of the copy-number step (counts → ratio → segments → ploidy → CN).

    python benchmarks/bench_cna.py [--cells 20] [--repeats 3] [--bin-sizes 500000,50000]

For each bin size a simulated cohort (``random_design``, seed 7, ~1 M reads per cell) is
called with :func:`ctcscope.cna.call_copy_number` in a fresh process, ``workers=1`` (so the
figure is time per sample on one core; the step parallelises over samples), repeated
``--repeats`` times.  Prints seconds per sample (median and range over repeats), the share of
the one-off numba compilation (first call in a process), and the peak RSS of the process.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
from ctcscope.genome import load_genome
from ctcscope.simulate import Bias, random_design, simulate_cohort
from ctcscope.cna import call_copy_number
bin_size, cells = int(sys.argv[1]), int(sys.argv[2])
g = load_genome("hg19", bin_size)
sim = simulate_cohort(random_design(cells, seed=7, bias=Bias(reads=(8e5, 1.2e6))), g, seed=7)
small = sim.adata[:2].copy()
t0 = time.perf_counter(); call_copy_number(small, workers=1, quiet=True); warm = time.perf_counter() - t0
t0 = time.perf_counter(); out = call_copy_number(sim.adata, workers=1, quiet=True); dt = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n": int(sim.adata.n_obs), "seconds": dt, "warmup_2_samples": warm, "peak_rss_mb": rss,
                  "bins": int(g.n_bins), "reads_median": float(sim.adata.layers["counts"].sum(1).mean())}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bin-sizes", default="500000,50000")
    a = ap.parse_args()
    print(f"{'bins':>8} {'samples':>7} {'s/sample (median [min-max])':>30} {'compile+2 samples (s)':>22} {'peak RSS (MB)':>14}")
    for bs in [int(x) for x in a.bin_sizes.split(",")]:
        runs = []
        for _ in range(a.repeats):
            out = subprocess.run([sys.executable, "-c", CHILD, str(bs), str(a.cells)], capture_output=True, text=True,
                                 check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        per = sorted(r["seconds"] / r["n"] for r in runs)
        med = per[len(per) // 2]
        print(f"{bs // 1000:>6}kb {runs[0]['n']:>7} {med:>12.3f} [{per[0]:.3f}-{per[-1]:.3f}]{'':>8} "
              f"{sorted(r['warmup_2_samples'] for r in runs)[len(runs) // 2]:>22.1f} "
              f"{max(r['peak_rss_mb'] for r in runs):>14.0f}")
    print(f"(cohorts: {runs[0]['n']} samples incl. pools and controls, ~{runs[0]['reads_median'] / 1e6:.1f} M reads each;"
          " workers=1; time includes the run-level steps)")


if __name__ == "__main__":
    t = time.time()
    main()
    print(f"total {time.time() - t:.0f} s")
