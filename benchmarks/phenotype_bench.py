"""Speed, memory and agreement of the phenotype step.

Run:  PYTHONPATH=src python benchmarks/phenotype_bench.py [--events 100000 1000000] [--repeats 3]

For each size it writes a simulated whole-tube acquisition (FCS 3.1, 4 colours, spillover
keyword; see ``ctcscope.phenotype.simulate_fcs.simulate_acquisition``), then times:

- ``read_fcs`` (FlowIO parse + compensation) and ``apply_gating`` (the study's YAML
  strategy with leukocyte-derived CK/ALK splits);
- FlowKit reading the same file and applying the same gates (Hoechst ≥, CD45 <, quadrant
  at the splits ctcscope derived) as a FlowKit GatingStrategy, with memberships compared
  event by event.

It prints the minimum/median/maximum over the repeats, the peak traced memory of one
ctcscope read+gate, and the agreement with the simulation's truth.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np


def _timed(fn, repeats):
    out, ts = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return out, ts


def _fmt(ts):
    return f"min {min(ts):.3f} s, median {statistics.median(ts):.3f} s, max {max(ts):.3f} s (n={len(ts)})"


def _flowkit_strategy(values, f):
    import flowkit as fk

    def dim(ch, lo=None, hi=None):
        return fk.Dimension(f.channel(ch), compensation_ref="FCS", range_min=lo, range_max=hi)

    gs = fk.GatingStrategy()
    a = fk.gates.RectangleGate("hoechst_pos", [dim("Hoechst", lo=values["hoechst_pos.above"]["value"])])
    gs.add_gate(a, ("root",))
    b = fk.gates.RectangleGate("cd45_neg", [dim("CD45", hi=values["cd45_neg.below"]["value"])])
    gs.add_gate(b, ("root", "hoechst_pos"))
    xs, ys = values["ctc.x_split"]["value"], values["ctc.y_split"]["value"]
    dx = fk.QuadrantDivider("ALK", f.channel("ALK"), "FCS", [xs])
    dy = fk.QuadrantDivider("CK", f.channel("CK"), "FCS", [ys])
    quads = [fk.gates.Quadrant(q, ["ALK", "CK"], [rx, ry]) for q, rx, ry in [
        ("ALK+/CK-", (xs, None), (None, ys)), ("ALK-/CK+", (None, xs), (ys, None)),
        ("ALK+/CK+", (xs, None), (ys, None)), ("ALK-/CK-", (None, xs), (None, ys))]]
    gs.add_gate(fk.gates.QuadrantGate("ctc", [dx, dy], quads), ("root", "hoechst_pos", "cd45_neg"))
    return gs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import flowkit as fk

    from ctcscope.phenotype import apply_gating, read_fcs, study_gating
    from ctcscope.phenotype.simulate_fcs import simulate_acquisition

    g = study_gating()
    with tempfile.TemporaryDirectory() as d:
        for n in args.events:
            path = Path(d) / f"acq_{n}.fcs"
            t0 = time.perf_counter()
            truth = simulate_acquisition(path, n, seed=1)
            print(f"\n== {n:,} events ({path.stat().st_size / 1e6:.1f} MB; simulated in {time.perf_counter() - t0:.1f} s)")

            f, t_read = _timed(lambda: read_fcs(path), args.repeats)
            res, t_gate = _timed(lambda: apply_gating(f, g), args.repeats)
            tracemalloc.start()
            apply_gating(read_fcs(path), g)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"ctcscope read_fcs      : {_fmt(t_read)}")
            print(f"ctcscope apply_gating  : {_fmt(t_gate)}")
            print(f"ctcscope peak memory   : {peak / 1e6:.0f} MB for read + gate ({peak / n:.0f} bytes/event)")
            agree = float((res.phenotype.to_numpy() == truth["phenotype"].to_numpy()).mean())
            ctc = truth["phenotype"].isin(["ALK+/CK-", "ALK-/CK+", "ALK+/CK+"]).to_numpy()
            agree_ctc = float((res.phenotype.to_numpy()[ctc] == truth["phenotype"].to_numpy()[ctc]).mean())
            print(f"agreement with truth   : {100 * agree:.3f}% of events; {100 * agree_ctc:.2f}% of {ctc.sum()} CTC events")

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s, t_fk_read = _timed(lambda: fk.Sample(str(path)), args.repeats)
                gs = _flowkit_strategy(res.values, f)
                r, t_fk_gate = _timed(lambda: gs.gate_sample(s), args.repeats)
            print(f"FlowKit Sample()       : {_fmt(t_fk_read)}")
            print(f"FlowKit gate_sample    : {_fmt(t_fk_gate)}")
            diffs = {q: int((r.get_gate_membership(q) != res.membership[f"ctc/{q}"].to_numpy()).sum())
                     for q in ("ALK+/CK-", "ALK-/CK+", "ALK+/CK+", "ALK-/CK-")}
            print(f"FlowKit vs ctcscope    : events differing per quadrant {diffs}")


if __name__ == "__main__":
    main()
