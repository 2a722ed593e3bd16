"""Validate ploidy, absolute copy number and WGD on sources the engine cannot tune to.

    python benchmarks/validate_ploidy.py [--sources own,own:stress,own:nocontrols,cnasim,kronos,real,external]
                                         [--split tune|holdout|all] [--quick] [--workers 2]
                                         [--param KEY=VALUE ...] [--rows rows.tsv]
                                         [--dna none,default,stress]

Sources (benchmarks/validation/):

* ``own``, ``own:stress``, ``own:nocontrols`` — the project's simulator (three bias
  presets/designs); shown for comparison, not as evidence;
* ``cnasim`` — cohorts of the third-party simulator CNAsim (Weiner & Bansal 2023), clonal
  trees with whole-genome doublings, its own read model;
* ``kronos`` — real 10x single cells of the normal diploid JEFF line and of HeLa S3
  (Gnan et al. 2022), count matrices rebuilt from their segment depths with synthetic noise;
* ``real`` — real samples of the shared data with an independently known answer
  (AneuFinder's euploid cell, ichorCNA's 27 healthy-donor cfDNA samples);
* ``external`` — optional real datasets staged outside the repository
  (``CTCSCOPE_EXTDATA``; see benchmarks/validation/external_sources.py).

Every cohort is ``tune`` or ``holdout`` (docs/cna.md lists which); rules and thresholds
were chosen on ``tune`` only.  Prints, per source and overall: ploidy agreement, exact copy
number (where the truth has it), WGD F1, expected calibration error, calls wrong at >= 0.99
confidence, the share of ``resolved`` calls, and the calibration table.
"""
from __future__ import annotations

import argparse
import ast
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from validation import scoring  # noqa: E402

ALL_SOURCES = ("own", "own:stress", "own:nocontrols", "own:cellline", "own:sphase", "own:doubled", "cnasim", "kronos", "real",
               "external")


def source_cohorts(name: str, split: str, quick: bool):
    """Cohorts of one source for one split (an empty iterator where a source has none)."""
    if name.startswith("own"):
        from validation import own_source
        variant = name.split(":", 1)[1] if ":" in name else "default"
        return own_source.cohorts(variant, split, quick=quick)
    if name == "cnasim":
        from validation import cnasim_source
        return cnasim_source.cohorts_for_split(split, quick=quick)
    if name == "kronos":
        from validation import kronos_source
        return kronos_source.cohorts_for_split(split, quick=quick)
    if name == "real":
        from validation import real_sources
        return real_sources.cohorts(split, quick=quick)
    if name == "external":
        from validation import external_sources
        return external_sources.cohorts_for_split(split, quick=quick)
    raise SystemExit(f"unknown source {name!r}; use {', '.join(ALL_SOURCES)}")


def run(sources, splits, *, quick=False, workers=2, params=None, verbose=True, dna=("none",)) -> pd.DataFrame:
    """Call every cohort of ``sources`` × ``splits``; one row per sample (see scoring.sample_rows).

    ``dna``: ``none`` (read depth alone) and/or a setting of the simulated index-sort DNA
    index (``default``, ``stress``: validation/dna_index.py); each is a run of its own,
    told apart by the ``dna`` column."""
    from ctcscope.cna import call_copy_number
    from validation.dna_index import attach_dna_index

    rows = []
    for src in sources:
        for split in splits:
            for c0 in source_cohorts(src, split, quick):
                for d in dna:
                    c = c0 if d == "none" else attach_dna_index(c0, d)
                    t0 = time.perf_counter()
                    out = call_copy_number(c.adata, workers=workers, quiet=True, params={**(params or {}), **c.params})
                    dt = time.perf_counter() - t0
                    r = scoring.sample_rows(c, out)
                    r["dna"] = d
                    r["seconds"] = dt / max(c.adata.n_obs, 1)
                    rows.append(r)
                    if verbose:
                        s = scoring.summary(r)
                        print(scoring.format_summary(f"  {c.source}/{c.name} [{split}] dna={d}", s), f"{dt:.0f}s",
                              flush=True)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def report(df: pd.DataFrame) -> None:
    if "dna" not in df:
        df = df.assign(dna="none")
    for dna, dd in df.groupby("dna", sort=False):
        tag = "" if dna == "none" else f" dna={dna}"
        print(f"\n== per source and split{tag}")
        for (src, split), d in dd.groupby(["source", "split"], sort=False):
            print(scoring.format_summary(f"{src} [{split}]{tag}", scoring.summary(d)))
        for split, d in dd.groupby("split", sort=False):
            print(scoring.format_summary(f"ALL [{split}]{tag}", scoring.summary(d)))
        print(scoring.format_summary(f"ALL{tag}", scoring.summary(dd)))
        if dna != "none":
            scoring.print_dna_table(dd)
        print(f"\n== calibration (scored samples with a confidence){tag}")
        for split, d in dd.groupby("split", sort=False):
            print(f"[{split}]")
            print(scoring.calibration_table(d).to_string())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", default=",".join(ALL_SOURCES))
    ap.add_argument("--split", default="all", choices=["tune", "holdout", "all"])
    ap.add_argument("--quick", action="store_true", help="one cohort per source and split")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--param", action="append", default=[], help="engine parameter KEY=VALUE (repeatable)")
    ap.add_argument("--rows", default=None, help="write the per-sample table to this TSV")
    ap.add_argument("--dna", default="none",
                    help="comma list of none (read depth alone), default, stress: a simulated index-sort DNA index "
                         "for single tumour cells (validation/dna_index.py); each a run of its own")
    a = ap.parse_args()
    params = {}
    for kv in a.param:
        k, v = kv.split("=", 1)
        try:
            params[k] = ast.literal_eval(v)
        except Exception:
            params[k] = v
    splits = ["tune", "holdout"] if a.split == "all" else [a.split]
    t0 = time.time()
    df = run(a.sources.split(","), splits, quick=a.quick, workers=a.workers, params=params, dna=tuple(a.dna.split(",")))
    if df.empty:
        print("no cohorts")
        return
    report(df)
    if a.rows:
        df.to_csv(a.rows, sep="\t", index=False)
    print(f"\ntotal {time.time() - t0:.0f} s, {len(df)} samples, {df.seconds.mean():.3f} s/sample (workers={a.workers})")


if __name__ == "__main__":
    main()
