"""Counting throughput: ctcscope's BAM counter next to samtools on the same BAM.

    python benchmarks/bench_counting.py [--reads 1000000] [--repeats 3] [--bam existing.bam]

Makes (once, cached in ``--workdir``) a coordinate-sorted single-end 150 bp hg19 BAM with
random sequences and a realistic flag/MAPQ mix, then times, each in a fresh process:

* ``ctcscope``: :func:`ctcscope.io.bam.count_bam` (500 kb bins, MAPQ ≥ 30, filters, SHA-256),
  with 1 and 2 inflation threads;
* ``samtools view -c -q 30 -F 0xF04`` (a total only; the reference for speed);
* ``samtools view -q 30 -F 0xF04 | numpy`` (positions parsed from SAM text, then binned);
* a Python loop over ``pysam.AlignmentFile`` (what the compiled scan replaces).

Prints reads/s (median and range over repeats) and peak RSS of each process.  samtools
comes from Debian (``benchmarks/setup.sh``); without it, ``pysam.view`` stands in (noted).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def make_bam(path: Path, n: int, seed: int = 1) -> None:
    """Sorted single-end 150 bp BAM on hg19, random bases, ~8 % duplicates, MAPQ mix."""
    import pandas as pd
    import pysam

    sys.path.insert(0, str(SRC))
    from ctcscope.genome import load_genome

    g = load_genome("hg19", 500_000)
    sizes = g.chrom_sizes
    rng = np.random.default_rng(seed)
    p = sizes.to_numpy() / sizes.sum()
    chrom_i = np.sort(rng.choice(len(sizes), n, p=p))
    pos = (rng.random(n) * (sizes.to_numpy()[chrom_i] - 200)).astype(np.int64) + 1
    order = np.lexsort((pos, chrom_i))
    chrom_i, pos = chrom_i[order], pos[order]
    flag = rng.choice([0, 16, 1024, 1040, 4, 256, 2048], n, p=[.44, .44, .04, .04, .02, .01, .01])
    mapq = rng.choice([60, 40, 30, 20, 5, 0], n, p=[.7, .08, .04, .06, .06, .06])
    unmapped = (flag & 4) > 0
    mapq[unmapped] = 0
    bases = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, (n, 150))]
    seqs = bases.view("S150").ravel().astype(str)
    names = np.char.add("r", np.arange(n).astype(str))
    qual = "F" * 150
    df = pd.DataFrame({
        "qname": names, "flag": flag, "rname": "chr" + sizes.index.to_numpy()[chrom_i].astype(object),
        "pos": pos, "mapq": mapq, "cigar": np.where(unmapped, "*", "150M"), "rnext": "*", "pnext": 0, "tlen": 0,
        "seq": seqs, "qual": qual,
    })
    with tempfile.TemporaryDirectory() as tmp:
        sam = Path(tmp) / "reads.sam"
        with open(sam, "w") as fh:
            fh.write("@HD\tVN:1.6\tSO:coordinate\n")
            for c, ln in sizes.items():
                fh.write(f"@SQ\tSN:chr{c}\tLN:{ln}\n")
        df.to_csv(sam, sep="\t", header=False, index=False, mode="a")
        pysam.view("-b", "-o", str(path), str(sam), catch_stdout=False)


# --------------------------------------------------------------------------- runners

CTCSCOPE = """
import sys, time
sys.path.insert(0, {src!r})
from ctcscope.genome import load_genome
from ctcscope.io.bam import count_bam
g = load_genome("hg19", 500_000)
count_bam({bam!r}, g, checksum=False)  # warm numba's cache (first-ever call compiles)
t = time.perf_counter()
r = count_bam({bam!r}, g, threads={threads}, checksum={checksum})
print(time.perf_counter() - t, r.reads_total, r.reads_kept + r.filtered["off_bins"], HWM())
"""

PYSAM_LOOP = """
import sys, time, numpy as np, pysam
t = time.perf_counter()
counts = {{}}
n = kept = 0
with pysam.AlignmentFile({bam!r}) as f:
    for a in f.fetch(until_eof=True):
        n += 1
        if a.flag & 0xF04 or a.mapping_quality < 30:
            continue
        k = (a.reference_id, a.reference_start // 500000)
        counts[k] = counts.get(k, 0) + 1
        kept += 1
print(time.perf_counter() - t, n, kept, HWM())
"""

SAMTOOLS_NUMPY = """
import sys, time, subprocess, numpy as np, pandas as pd
t = time.perf_counter()
p = subprocess.Popen([{samtools!r}, "view", "-q", "30", "-F", "0xF04", {bam!r}], stdout=subprocess.PIPE)
df = pd.read_csv(p.stdout, sep="\\t", header=None, usecols=[2, 3], names=["chrom", "pos"], dtype={{2: str, 3: np.int64}},
                 engine="c")
p.wait()
codes, uniq = pd.factorize(df.chrom)
counts = np.bincount(codes * 600 + (df.pos.to_numpy() - 1) // 500000)
print(time.perf_counter() - t, -1, len(df), HWM())
"""


HWM = """
def HWM():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""


def run_child(code: str) -> tuple[float, float, int, int, float]:
    """Run python ``code`` in a fresh process → (inner seconds, wall seconds, total, kept, peak RSS MB)."""
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", HWM + code], stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    status = p.wait()
    wall = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"benchmark child failed: {code[:80]}")
    inner, total, kept, hwm = out.split()[-4:]
    return float(inner), wall, int(total), int(kept), int(hwm) / 1024


def run_cmd(cmd: list[str]) -> tuple[float, float, int, int, float]:
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed")
    # ru_maxrss of a child starts from this (small) process's size at fork: see the floor printed
    return wall, wall, -1, int(out.split()[-1]), ru.ru_maxrss / 1024


def report(name: str, runs, n_reads: int) -> None:
    secs = [r[0] for r in runs]
    med = statistics.median(secs)
    rss = max(r[4] for r in runs)
    rate = n_reads / med
    print(f"{name:<44} {med:7.2f} s  ({min(secs):.2f}-{max(secs):.2f})  {rate / 1e6:6.2f} M reads/s"
          f"  peak RSS {rss:7.0f} MB  kept {runs[0][3]:,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bam", type=Path, help="time this BAM instead of making one")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ctcscope-bench")
    ap.add_argument("--skip-pysam-loop", action="store_true")
    ap.add_argument("--make-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.make_only:
        make_bam(a.bam, a.reads)
        return

    bam = a.bam
    if bam is None:
        a.workdir.mkdir(parents=True, exist_ok=True)
        bam = a.workdir / f"se150_{a.reads}.bam"
        if not bam.exists():
            t = time.perf_counter()
            # in a child process, so this process stays small for the RSS figures
            subprocess.run([sys.executable, __file__, "--make-only", "--reads", str(a.reads), "--bam", str(bam)],
                           check=True)
            print(f"made {bam} ({bam.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s")
    size_mb = bam.stat().st_size / 1e6
    samtools = shutil.which("samtools")
    print(f"BAM {bam.name}: {size_mb:.1f} MB; {os.cpu_count()} cores; repeats {a.repeats}")

    ours = [run_child(CTCSCOPE.format(src=str(SRC), bam=str(bam), threads=1, checksum=True)) for _ in range(a.repeats)]
    n = ours[0][2]
    print(f"reads in BAM: {n:,}")
    report("ctcscope count_bam (1 thread, +sha256)", ours, n)
    report("ctcscope count_bam (2 threads, +sha256)",
           [run_child(CTCSCOPE.format(src=str(SRC), bam=str(bam), threads=2, checksum=True)) for _ in range(a.repeats)], n)
    report("ctcscope count_bam (1 thread, no sha256)",
           [run_child(CTCSCOPE.format(src=str(SRC), bam=str(bam), threads=1, checksum=False)) for _ in range(a.repeats)], n)
    if samtools:
        st = [run_cmd([samtools, "view", "-c", "-q", "30", "-F", "0xF04", str(bam)]) for _ in range(a.repeats)]
        report("samtools view -c -q 30 -F 0xF04", st, n)
        st2 = [run_cmd([samtools, "view", "-@", "2", "-c", "-q", "30", "-F", "0xF04", str(bam)])
               for _ in range(a.repeats)]
        report("samtools view -@ 2 -c -q 30 -F 0xF04", st2, n)
        report("samtools view -q 30 -F 0xF04 | pandas/numpy",
               [run_child(SAMTOOLS_NUMPY.format(samtools=samtools, bam=str(bam)))], n)
        same = ours[0][3] == st[0][3]
        print(f"same filtered read count as samtools (kept + off_bins): {same} ({ours[0][3]:,} vs {st[0][3]:,})")
    else:
        code = ("import pysam,time,sys;t=time.perf_counter();"
                f"n=int(pysam.view('-c','-q','30','-F','0xF04',{str(bam)!r}).strip());"
                "print(time.perf_counter()-t,-1,n)")
        report("pysam.view -c (samtools not installed: run benchmarks/setup.sh)",
               [run_child(code) for _ in range(a.repeats)], n)
    if not a.skip_pysam_loop:
        report("Python loop over pysam.AlignmentFile", [run_child(PYSAM_LOOP.format(bam=str(bam)))], n)
    base = run_child("import sys,time;sys.path.insert(0,%r);import ctcscope.io.bam;print(0,0,0,HWM())" % str(SRC))
    floor = run_cmd([sys.executable, "-c", "print(0)"])
    print(f"(peak RSS of a Python process that only imports ctcscope.io.bam: {base[4]:.0f} MB; "
          f"RSS floor inherited by a child command from this process: {floor[4]:.0f} MB)")


if __name__ == "__main__":
    main()
