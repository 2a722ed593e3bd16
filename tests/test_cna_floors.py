"""The issue's accuracy floors on held-out simulated cohorts (slow: run with ``-m slow``).

Seeds 101-110 were never used while developing the engine (tuning used seeds 1-12, the
default suite uses 201-202).  Same computation as ``benchmarks/accuracy_cna.py``; figures
for 101-120 and for the harsher ``stress`` preset are in docs/cna.md.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy_cna.py"


def _bench():
    spec = importlib.util.spec_from_file_location("accuracy_cna", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_floors_on_held_out_default_cohorts():
    bench = _bench()
    df, _, _ = bench.evaluate(range(101, 111), 40, "pelt", workers=2)
    f = bench.floors(df)
    assert f["n"] > 300
    assert f["ploidy"] >= 0.95, f
    assert f["exact"] >= 0.93, f
    assert f["wgd_f1"] >= 0.95, f
    # normal-like "CTCs" are found and no tumour CTC is called so
    cells = df.sample_type == "ctc"
    assert (df.normal_like & df.normal_like_true)[cells].sum() >= 0.8 * df.normal_like_true[cells].sum()
    # one known miss since the scan on merged segments: seed 110 SIM-P1_CTC06, a 5n cell under
    # 9 % waves whose ±1 steps (20 %) merge away, called flat (docs/cna.md, Known failures)
    assert (df.normal_like & ~df.normal_like_true)[cells].sum() <= 1
    assert np.all(df.ploidy[df.sample_type.isin(["wbc", "germline"])] == 2)


#: Today's held-out level on these cohorts (measured: own 101-105 ploidy 0.938, 0 of 92 calls
#: at >= 0.99 wrong; CNAsim 101-103 0.794; ECE 0.056 over both)
OWN_PLOIDY_TODAY = 0.92
CNASIM_PLOIDY_TODAY = 0.75


def _validation():
    import sys

    sys.path.insert(0, str(BENCH.parent))
    import validate_ploidy
    from validation import scoring

    return validate_ploidy, scoring


@pytest.fixture(scope="module")
def held_out_rows():
    """benchmarks/validate_ploidy.py on held-out seeds of both generators (own simulator
    101-105, CNAsim 101-103): the figures of docs/cna.md come from the full splits."""
    pytest.importorskip("CNAsim")
    vp, _ = _validation()
    from validation import cnasim_source, own_source

    own = [own_source.cohort(s, "default", split="holdout") for s in range(101, 106)]
    cna = [next(cnasim_source.cohorts([s], split="holdout", **o)) for s, o in cnasim_source.SPLIT_SEEDS["holdout"][:3]]
    from ctcscope.cna import call_copy_number

    rows = []
    for c in own + cna:
        out = call_copy_number(c.adata, workers=2, quiet=True, params=c.params)
        rows.append(_validation()[1].sample_rows(c, out))
    import pandas as pd

    return pd.concat(rows, ignore_index=True)


@pytest.mark.slow
def test_held_out_generators_hold_todays_level(held_out_rows):
    """Regression guard at today's measured level (below the issue's floors; see next test)."""
    _, scoring = _validation()
    own = scoring.summary(held_out_rows[held_out_rows.source == "own:default"])
    cna = scoring.summary(held_out_rows[held_out_rows.source == "cnasim"])
    assert own["ploidy"] >= OWN_PLOIDY_TODAY and own["wrong_99"] == 0, own
    assert cna["ploidy"] >= CNASIM_PLOIDY_TODAY, cna
    allr = scoring.summary(held_out_rows)
    assert allr["ece"] <= 0.08, allr


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue floors not yet met on CNAsim (docs/cna.md, Known failures)")
def test_held_out_generators_meet_the_issue_floors(held_out_rows):
    _, scoring = _validation()
    for src in ("own:default", "cnasim"):
        s = scoring.summary(held_out_rows[held_out_rows.source == src])
        assert s["ploidy"] >= 0.95 and s["wgd_f1"] >= 0.95, (src, s)
    allr = scoring.summary(held_out_rows)
    assert allr["wrong_99"] <= 0.01 * allr["n"] and allr["ece"] <= 0.05, allr
