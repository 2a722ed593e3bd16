"""Speed of the resistance step: knowledge-base load, and interpretation of a large cohort.

Prints numbers (median and spread of repeated runs); not a test.
    PYTHONPATH=src python benchmarks/bench_resistance.py [n_patients] [cells_per_patient]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
import tracemalloc

import numpy as np
import pandas as pd

from ctcscope.resistance.knowledge import _load
from ctcscope.resistance.patients import patients_from_records
from ctcscope.resistance.stage import run_resistance_stage

N_PAT = int(sys.argv[1]) if len(sys.argv) > 1 else 100
N_CELL = int(sys.argv[2]) if len(sys.argv) > 2 else 200
rng = np.random.default_rng(7)
MUTS = ["G1202R", "C1156Y+L1198F", "I1171S+G1269A", "L1196M+G1202R", "F1174L", "G1202K", ""]
DRUGS = [["crizotinib"], ["crizotinib", "alectinib"], ["crizotinib", "ceritinib", "lorlatinib"], ["alectinib", "lorlatinib"]]
GENES = ["ALK", "MET", "EGFR", "ERBB2", "KRAS", "MYC", "TP53", "RB1", "NF2", "PTEN", "PIK3CA", "YAP1", "ABCB1", "CDK4"]


def cohort():
    recs, cells, ev = [], [], []
    for i in range(N_PAT):
        pid = f"P{i}"
        m = MUTS[i % len(MUTS)]
        recs.append({"id": pid, "treatments": [{"drug": d} for d in DRUGS[i % len(DRUGS)]],
                     "mutations": [{"name": m, "found_in": [f"{pid}_C0"]}] if m else []})
        for j in range(N_CELL):
            sid = f"{pid}_C{j}"
            cells.append((sid, pid, "ctc", True, bool(rng.random() < 0.05), ["ALK+/CK-", "ALK-/CK+"][j % 2]))
            for g in rng.choice(GENES, size=4, replace=False):
                ev.append((sid, pid, g, rng.choice(["gain", "amp", "loss", "homdel"])))
    return (patients_from_records(recs),
            pd.DataFrame(cells, columns=["sample_id", "patient", "sample_type", "qc_pass", "normal_like", "phenotype"]),
            pd.DataFrame(ev, columns=["sample_id", "patient", "gene", "state"]))


def timed(f, reps):
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return statistics.median(out), min(out), max(out)


if __name__ == "__main__":
    def load():
        _load.cache_clear()
        _load("")
    m, lo, hi = timed(load, 5)
    print(f"knowledge base load + validation: median {m:.3f} s (min {lo:.3f}, max {hi:.3f}, 5 runs)")
    pts, cells, ev = cohort()
    print(f"cohort: {N_PAT} patients x {N_CELL} cells = {len(cells)} cells, {len(ev)} CN events")
    with tempfile.TemporaryDirectory() as d:
        m, lo, hi = timed(lambda: run_resistance_stage(pts, d, drivers=ev, cells=cells), 3)
        tracemalloc.start()  # separate run: tracing slows Python down
        run_resistance_stage(pts, d, drivers=ev, cells=cells)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(f"interpret + write json/tsv: median {m:.2f} s (min {lo:.2f}, max {hi:.2f}, 3 runs); "
          f"{1000 * m / N_PAT:.1f} ms per patient; peak Python memory {peak:.0f} MiB")
