"""Fit the temperature of the ploidy posterior on tuning cohorts (calibration of confidence).

    python benchmarks/validate_ploidy.py --split tune --rows tune.tsv --param temperature=1
    python benchmarks/calibrate_ploidy.py tune.tsv

The engine reports, per sample, the posterior probability of each integer ploidy
(``obsm['ploidy_probabilities']``, columns ``p1..p10`` of the rows table).  A temperature
``T`` flattens it: ``p_k^(1/T) / sum_j p_j^(1/T)`` (the engine applies ``T`` to the
posterior over the scale grid, which for peaked posteriors is the same thing).  ``T`` is
chosen to minimise the negative log-likelihood of the true ploidy over the scored samples
whose ploidy was inferred (basis ``read depth`` or ``clone consensus``), each source
weighted equally; the expected calibration error before and after is printed per source.
Only ``tune`` rows are used.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validation.scoring import ece  # noqa: E402


def tempered(P: np.ndarray, T: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        L = np.log(np.clip(P, 1e-300, 1.0)) / T
    L -= L.max(axis=1, keepdims=True)
    Q = np.exp(L)
    return Q / Q.sum(axis=1, keepdims=True)


def fit_temperature(rows: pd.DataFrame, grid=np.exp(np.linspace(np.log(0.5), np.log(20.0), 120))) -> tuple[float, pd.DataFrame]:
    pc = [c for c in rows.columns if c.startswith("p") and c[1:].isdigit()]
    d = rows[(rows.split == "tune") & rows.score & np.isfinite(rows.ploidy_true) & np.isfinite(rows.conf)
             & rows.basis.isin(["read depth", "clone consensus"])].copy()
    P = d[pc].to_numpy(np.float64)
    truth = d.ploidy_true.to_numpy().astype(int) - 1
    ok = (truth >= 0) & (truth < P.shape[1]) & np.isfinite(P).all(axis=1)
    d, P, truth = d[ok], P[ok], truth[ok]
    w = 1.0 / d.groupby("source").source.transform("size").to_numpy()
    best = (np.inf, 1.0)
    for T in grid:
        Q = tempered(P, T)
        nll = float(np.sum(-w * np.log(np.clip(Q[np.arange(len(Q)), truth], 1e-12, 1.0))) / w.sum())
        if nll < best[0]:
            best = (nll, float(T))
    T = best[1]
    Q = tempered(P, T)
    out = []
    for src, idx in d.groupby("source").indices.items():
        right = (P[idx].argmax(1) == truth[idx])
        out.append({"source": src, "n": len(idx), "ece_before": ece(P[idx].max(1), right),
                    "ece_after": ece(Q[idx].max(1), right), "accuracy": right.mean(),
                    "wrong_99_before": int(((P[idx].max(1) >= 0.99) & ~right).sum()),
                    "wrong_99_after": int(((Q[idx].max(1) >= 0.99) & ~right).sum())})
    right = P.argmax(1) == truth
    out.append({"source": "ALL", "n": len(d), "ece_before": ece(P.max(1), right), "ece_after": ece(Q.max(1), right),
                "accuracy": right.mean(), "wrong_99_before": int(((P.max(1) >= 0.99) & ~right).sum()),
                "wrong_99_after": int(((Q.max(1) >= 0.99) & ~right).sum())})
    return T, pd.DataFrame(out)


def main():
    rows = pd.read_csv(sys.argv[1], sep="\t")
    T, table = fit_temperature(rows)
    print(f"temperature {T:.2f} (fitted on the tune rows of {sys.argv[1]})")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()
