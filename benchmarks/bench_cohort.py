"""Time and peak memory of the cohort step (matrix + clustering + heatmap) at 1,000 and
10,000 cells.

Cells are drawn here (not by the read simulator, which would take minutes at 10,000 cells):
10 patients x 3 clones of integer copy-number profiles on the hg19 500 kb bins, each cell
with 0-3 private 1-5 Mb segment errors and 20 % whole-genome doubled.  Each size runs in a
fresh process, so ``maxrss`` is that size's own peak.

    python benchmarks/bench_cohort.py                 # 1,000 and 10,000 cells
    python benchmarks/bench_cohort.py --cells 2000 --repeat 3
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np


def make_cohort(n_cells: int, seed: int = 0, n_patients: int = 10, n_clones: int = 3):
    import anndata as ad
    import pandas as pd

    from ctcscope.genome import load_genome

    rng = np.random.default_rng(seed)
    g = load_genome("hg19", 500_000)
    var = g.to_var()
    nb = len(var)
    n_prof = n_patients * n_clones
    prof = np.full((n_prof, nb), 2.0)
    ploidy_p = rng.choice([2, 3, 4], size=n_patients)
    for p in range(n_patients):
        trunk = np.zeros(nb)
        for _ in range(12):
            s = rng.integers(0, nb - 150)
            trunk[s:s + rng.integers(20, 150)] += rng.choice([-1, 1, 2])
        for c in range(n_clones):
            own = trunk.copy()
            for _ in range(4):
                s = rng.integers(0, nb - 120)
                own[s:s + rng.integers(40, 120)] += rng.choice([-1, 1, 2])
            prof[p * n_clones + c] = np.maximum(ploidy_p[p] + own, 0)
    which = rng.integers(0, n_prof, size=n_cells)
    cn = prof[which].copy()
    # private segment errors, vectorised with a difference array
    n_err = rng.integers(0, 4, size=n_cells)
    rows = np.repeat(np.arange(n_cells), n_err)
    start = rng.integers(0, nb - 10, size=len(rows))
    stop = start + rng.integers(2, 11, size=len(rows))
    delta = rng.choice([-1.0, 1.0], size=len(rows))
    diff = np.zeros((n_cells, nb + 1))
    np.add.at(diff, (rows, start), delta)
    np.add.at(diff, (rows, stop), -delta)
    cn = np.maximum(cn + np.cumsum(diff, axis=1)[:, :nb], 0)
    ploidy = ploidy_p[which // n_clones].astype(int)
    wgd = rng.random(n_cells) < 0.2
    cn[wgd] *= 2
    ploidy = np.where(wgd, ploidy * 2, ploidy)
    cn = cn.astype(np.float32)
    cn[:, ~var.use.to_numpy()] = np.nan
    obs = pd.DataFrame({"patient": [f"P{p + 1}" for p in which // n_clones], "sample_type": "ctc",
                        "ploidy": ploidy, "wgd": ploidy >= 4, "qc_pass": True, "normal_like": False,
                        "phenotype": rng.choice(["ALK+/CK-", "ALK-/CK+", "ALK+/CK+"], size=n_cells),
                        "treatment_group": np.where(which // n_clones % 2, "crizotinib", "lorlatinib")},
                       index=[f"cell{i:05d}" for i in range(n_cells)])
    a = ad.AnnData(X=np.nan_to_num(cn), obs=obs, var=var, layers={"cn": cn})
    a.uns["ctcscope"] = {"genome": {"build": "hg19", "bin_size": 500_000}}
    truth = np.array([f"{w}" for w in which])
    return a, truth


def run_once(a, out: Path, trace: bool):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ctcscope.cohort import cluster, cohort_matrix
    from ctcscope.cohort.heatmap import plot_heatmap, save_heatmap

    res = {}
    state = {}

    def stage(name, fn):
        if trace:
            tracemalloc.start()
        t0, c0 = time.perf_counter(), time.process_time()
        val = fn()
        res[name] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}
        if trace:
            res[name]["peak_mb"] = tracemalloc.get_traced_memory()[1] / 2 ** 20
            tracemalloc.stop()
        return val

    state["m"] = stage("matrix", lambda: cohort_matrix(a))
    state["c"] = stage("cluster", lambda: cluster(state["m"]))

    def draw():
        fig = plot_heatmap(state["m"], state["c"])
        save_heatmap(fig, out)
        plt.close(fig)

    stage("heatmap", draw)
    return res, state


def child(n_cells: int, repeat: int, out: Path):
    from sklearn.metrics import adjusted_rand_score

    a, truth = make_cohort(n_cells)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    runs = []
    for _ in range(repeat):
        r, state = run_once(a, out, trace=False)
        runs.append(r)
    mem, _ = run_once(a, out, trace=True)
    summary = {"cells": n_cells, "bins": int(state["m"].n_vars), "repeat": repeat,
               "clones_found": int(state["c"].params["n_clones"]), "true_clones": int(len(set(truth))),
               "ari": float(adjusted_rand_score(truth, state["c"].clones)),
               "leaf_order": state["c"].params["leaf_order"],
               "maxrss_after_data_mb": base_rss,
               "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    for st in ("matrix", "cluster", "heatmap"):
        w = [r[st]["wall_s"] for r in runs]
        c = [r[st]["cpu_s"] for r in runs]
        summary[st] = {"wall_s_min": min(w), "wall_s_max": max(w), "cpu_s_min": min(c), "cpu_s_max": max(c),
                       "traced_peak_mb": mem[st]["peak_mb"]}
    summary["png_kb"] = (out / "heatmap.png").stat().st_size / 1024
    summary["svg_kb"] = (out / "heatmap.svg").stat().st_size / 1024
    print(json.dumps(summary))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, nargs="*", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench_cohort_out"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.cells[0], args.repeat, args.out)
        return
    print(f"{'cells':>6} {'bins':>6} {'stage':>8} {'wall s (min-max)':>17} {'CPU s (min-max)':>16} {'traced MB':>10}")
    for n in args.cells:
        out = args.out / f"{n}"
        p = subprocess.run([sys.executable, __file__, "--child", "--cells", str(n), "--repeat", str(args.repeat),
                            "--out", str(out)], capture_output=True, text=True, check=True)
        s = json.loads(p.stdout.strip().splitlines()[-1])
        for st in ("matrix", "cluster", "heatmap"):
            d = s[st]
            print(f"{n:>6} {s['bins']:>6} {st:>8} {d['wall_s_min']:>8.2f}-{d['wall_s_max']:<8.2f} "
                  f"{d['cpu_s_min']:>7.2f}-{d['cpu_s_max']:<8.2f} {d['traced_peak_mb']:>10.0f}")
        tot = sum(s[st]["wall_s_min"] for st in ("matrix", "cluster", "heatmap"))
        print(f"{n:>6} total wall (best run) {tot:.1f} s; process peak RSS {s['maxrss_mb']:.0f} MB "
              f"(data alone {s['maxrss_after_data_mb']:.0f} MB); clones {s['clones_found']} of "
              f"{s['true_clones']} true, ARI {s['ari']:.3f}; leaf order {s['leaf_order']}; "
              f"PNG {s['png_kb']:.0f} kB, SVG {s['svg_kb']:.0f} kB")


if __name__ == "__main__":
    main()
