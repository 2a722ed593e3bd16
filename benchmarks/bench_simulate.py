"""Speed and memory of the simulator (prints numbers; run: python benchmarks/bench_simulate.py).

- simulate_cohort: a random 100-cell cohort (plus pools and controls) at 500 kb and 50 kb bins
- the demo cohort (counts only)
- write_bams: one 1 M-read single-end BAM (and paired-end), with the filtered extra records
Each timing is repeated; the median and the range are printed.  Peak memory is the
process's maximum resident set size after each part.
"""
from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ctcscope.genome import load_genome  # noqa: E402
from ctcscope.simulate import Design, Patient, Sample, random_design, simulate_cohort, simulate_demo, write_bams  # noqa: E402


def timed(fn, repeat=3):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, times


def report(label, times, extra=""):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label:<48s} median {statistics.median(times):6.2f} s  range {min(times):.2f}-{max(times):.2f} s"
          f"  (n={len(times)})  peak RSS {rss:5.0f} MB {extra}")


def main():
    g500 = load_genome("hg19", 500_000)
    g50 = load_genome("hg19", 50_000)
    d = random_design(100, seed=1, genome=g500)
    n = sum(len(p.samples) for p in d.patients)
    _, t = timed(lambda: random_design(100, seed=1, genome=g500))
    report("random_design(100 cells)", t)
    sim, t = timed(lambda: simulate_cohort(d, g500, seed=1))
    report(f"simulate_cohort 500 kb ({n} samples)", t, f"{sim.counts.sum() / 1e6:.0f} M reads")
    _, t = timed(lambda: simulate_cohort(d, g50, seed=1), repeat=2)
    report(f"simulate_cohort 50 kb ({n} samples)", t)
    demo, t = timed(simulate_demo)
    report(f"demo cohort ({demo.adata.n_obs} samples)", t)

    one = simulate_cohort(Design(patients=[Patient("P", samples=[Sample("SIM-1M", clone="normal", reads=1_000_000)])]),
                          g500, seed=3)
    with tempfile.TemporaryDirectory() as td:
        tab, t = timed(lambda: write_bams(one, td))
        report("write_bams 1 M reads single-end", t, f"{tab.records_total[0] / 1e6:.2f} M records, "
               f"{Path(tab.bam[0]).stat().st_size / 1e6:.1f} MB")
        tab, t = timed(lambda: write_bams(one, td, paired=True))
        report("write_bams 1 M fragments paired-end", t, f"{tab.records_total[0] / 1e6:.2f} M records")


if __name__ == "__main__":
    main()
