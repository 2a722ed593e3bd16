"""Scores of ploidy calls against what a source knows: agreement, exact copy number, WGD F1,
calibration of ``ploidy_confidence`` (accuracy per confidence band, expected calibration
error) and the count of calls wrong at >= 0.99 confidence."""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Confidence bands of the calibration table (left-closed).
BANDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0000001)


def sample_rows(cohort, out) -> pd.DataFrame:
    """One row per sample of ``cohort`` called as ``out`` (the engine's AnnData)."""
    tr = cohort.truth.loc[out.obs_names]
    o = out.obs
    rows = pd.DataFrame({
        "source": cohort.source, "cohort": cohort.name, "split": cohort.split, "sample_id": out.obs_names,
        "sample_type": o["sample_type"].astype(str).to_numpy(),
        "ploidy_true": tr["ploidy"].to_numpy(np.float64), "wgd_true": tr["wgd"].to_numpy(np.float64),
        "score": tr["score"].to_numpy(bool),
        "ploidy": pd.to_numeric(o["ploidy"], errors="coerce").to_numpy(np.float64),
        "conf": o["ploidy_confidence"].to_numpy(np.float64),
        "wgd": o["wgd"].to_numpy(bool),
        "wgd_probability": o["wgd_probability"].to_numpy(np.float64) if "wgd_probability" in o else np.nan,
        "basis": o["ploidy_basis"].astype(str).to_numpy() if "ploidy_basis" in o else "",
        "status": o["ploidy_status"].astype(str).to_numpy() if "ploidy_status" in o else "",
        "runner_up": pd.to_numeric(o.get("ploidy_runner_up"), errors="coerce") if "ploidy_runner_up" in o else np.nan,
        "mean_cn": o["mean_cn"].to_numpy(np.float64),
        "mean_cn_true": tr["mean_cn"].to_numpy(np.float64) if "mean_cn" in tr else np.nan,
        "mapd": o["mapd"].to_numpy(np.float64),
        "normal_like": o["normal_like"].to_numpy(bool),
        "phase": tr["phase"].astype(str).to_numpy() if "phase" in tr else "",
        "s_phase": o["s_phase"].to_numpy(bool) if "s_phase" in o else False,
        "dna_index": pd.to_numeric(o["dna_index"], errors="coerce").to_numpy(np.float64) if "dna_index" in o else np.nan,
        "dna_phase": tr["dna_phase"].astype(str).to_numpy() if "dna_phase" in tr else "",
        "cycle_phase": o["cycle_phase"].astype(str).to_numpy() if "cycle_phase" in o else "",
        "dna_conflict": o["dna_conflict"].to_numpy(bool) if "dna_conflict" in o else False,
    })
    if "ploidy_probabilities" in out.obsm:
        P = np.asarray(out.obsm["ploidy_probabilities"], np.float64)
        for k in range(P.shape[1]):
            rows[f"p{k + 1}"] = P[:, k]
    if cohort.cn is not None:
        cn_call = np.asarray(out.layers["cn"], np.float64)
        use = out.var["use"].to_numpy(bool) if "use" in out.var else np.ones(out.n_vars, bool)
        truth_cn = cohort.cn[[list(cohort.adata.obs_names).index(s) for s in out.obs_names]]
        ok = use[None, :] & np.isfinite(cn_call) & np.isfinite(truth_cn)
        rows["exact"] = ((np.rint(cn_call) == np.rint(truth_cn)) & ok).sum(axis=1)
        rows["bins"] = ok.sum(axis=1)
    else:
        rows["exact"] = np.nan
        rows["bins"] = np.nan
    return rows


def ece(conf: np.ndarray, right: np.ndarray, bands=BANDS) -> float:
    """Expected calibration error over the confidence bands (weighted |accuracy - confidence|)."""
    conf = np.asarray(conf, np.float64)
    right = np.asarray(right, np.float64)
    ok = np.isfinite(conf)
    conf, right = conf[ok], right[ok]
    if conf.size == 0:
        return float("nan")
    e = 0.0
    for lo, hi in zip(bands[:-1], bands[1:]):
        m = (conf >= lo) & (conf < hi)
        if m.any():
            e += m.sum() / conf.size * abs(right[m].mean() - conf[m].mean())
    return float(e)


def summary(rows: pd.DataFrame) -> dict:
    """The issue's measures over the scored samples of ``rows`` with a known ploidy."""
    d = rows[rows.score & np.isfinite(rows.ploidy_true)]
    right = (d.ploidy == d.ploidy_true).to_numpy()
    out = {"n": int(len(d)), "ploidy": float(right.mean()) if len(d) else float("nan")}
    if d.bins.notna().any() and d.bins.sum() > 0:
        out["exact"] = float(d.exact.sum() / d.bins.sum())
    w = d[np.isfinite(d.wgd_true)]
    if len(w) and (w.wgd_true > 0).any():
        tp = int(((w.wgd_true > 0) & w.wgd).sum())
        fp = int(((w.wgd_true == 0) & w.wgd).sum())
        fn = int(((w.wgd_true > 0) & ~w.wgd).sum())
        out.update(wgd_f1=2 * tp / max(2 * tp + fp + fn, 1), wgd_tp=tp, wgd_fp=fp, wgd_fn=fn)
    elif len(w):
        out.update(wgd_fp=int(w.wgd.sum()))
    has = np.isfinite(d.conf.to_numpy())
    out["n_conf"] = int(has.sum())
    out["ece"] = ece(d.conf.to_numpy(), right)
    hi = has & (d.conf.to_numpy() >= 0.99)
    out["n_99"] = int(hi.sum())
    out["wrong_99"] = int((hi & ~right).sum())
    out["wrong_99_frac"] = float((hi & ~right).sum() / max(len(d), 1))
    if (d.status != "").any():
        res = (d.status == "resolved").to_numpy()
        out["resolved"] = float(res.mean())
        out["ploidy_resolved"] = float(right[res].mean()) if res.any() else float("nan")
    return out


def calibration_table(rows: pd.DataFrame, bands=BANDS) -> pd.DataFrame:
    d = rows[rows.score & np.isfinite(rows.ploidy_true) & np.isfinite(rows.conf)]
    right = d.ploidy == d.ploidy_true
    b = pd.cut(d.conf, list(bands), right=False)
    t = pd.DataFrame({"right": right, "conf": d.conf, "band": b}).groupby("band", observed=True).agg(
        n=("right", "size"), accuracy=("right", "mean"), mean_conf=("conf", "mean"))
    return t


def format_summary(name: str, s: dict) -> str:
    def f(k, fmt="{:.3f}"):
        v = s.get(k)
        return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else fmt.format(v)
    wgd = (f"{f('wgd_f1')} (TP {s['wgd_tp']} FP {s['wgd_fp']} FN {s['wgd_fn']})" if "wgd_f1" in s
           else (f"- (FP {s['wgd_fp']})" if "wgd_fp" in s else "-"))
    res = f" resolved {f('resolved')} (right {f('ploidy_resolved')})" if "resolved" in s else ""
    return (f"{name:<28} n={s['n']:>4}  ploidy {f('ploidy')}  exact {f('exact')}  WGD F1 {wgd}  "
            f"ECE {f('ece')} (n={s['n_conf']})  wrong@>=0.99 {s['wrong_99']}/{s['n_99']}{res}")


def print_dna_table(rows: pd.DataFrame) -> None:
    """Cells with a DNA index: ploidy agreement, statuses, and how G2/M cells were read."""
    d = rows[rows["score"] & np.isfinite(rows["dna_index"])]
    if d.empty:
        return
    right = d["ploidy"] == d["ploidy_true"]
    print(f"  cells with a DNA index: {len(d)}; ploidy agreement {right.mean():.3f}; resolved "
          f"{(d['status'] == 'resolved').mean():.3f} (right {right[d['status'] == 'resolved'].mean():.3f}); "
          f"conflicts flagged {int(d['dna_conflict'].sum())}")
    c = d[d["dna_conflict"]]
    if len(c):
        pcols = [k for k in c.columns if k.startswith("p") and k[1:].isdigit()]
        top = c[pcols].to_numpy(np.float64).argmax(axis=1) + 1
        print(f"    disagreements: {len(c)}; read depth's call (kept) right {(c['ploidy'] == c['ploidy_true']).mean():.3f}, "
              f"the joint's favourite right {(top == c['ploidy_true'].to_numpy()).mean():.3f}")
    for ph, g in d.groupby("dna_phase"):
        r = g["ploidy"] == g["ploidy_true"]
        cyc = g["cycle_phase"].value_counts().to_dict()
        print(f"    true phase {ph or '-'}: {len(g)} cells, ploidy agreement {r.mean():.3f}, resolved "
              f"{(g['status'] == 'resolved').mean():.3f}, wrong at >= 0.99: {int(((g['conf'] >= 0.99) & ~r).sum())}; "
              f"cycle_phase {cyc}")
