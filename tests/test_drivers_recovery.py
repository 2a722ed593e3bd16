"""Planted focal events are recovered at gene level (precision and recall >= 0.95) and
genes in neutral regions are not called — on copy number built from known events and
degraded like a segmenter's output (breakpoints moved by a bin, bins dropped)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctcscope.drivers import builtin_catalogue, driver_events, gene_copy_number
from ctcscope.genome import load_genome

from _drivers_cohort import Sample, arm_event, build_adata, gene_event, near_true_breakpoint, observed, true_gene_cn

FOCAL = {"MET": "amp", "MYC": "amp", "ALK": "amp", "ERBB2": "amp", "CDKN2A": "homdel"}


def _cohort(genome, n_cells: int, seed: int):
    """Tumour cells of ploidy 2-6 with arm-level events and focal events at the five loci."""
    rng = np.random.default_rng(seed)
    arms = genome.bins[genome.bins.use & genome.bins.chrom.isin([str(i) for i in range(1, 23)])][["chrom", "arm"]]
    arms = arms.drop_duplicates().to_numpy().tolist()
    samples, planted = [], []
    for i in range(n_cells):
        p = int(rng.choice([2, 2, 3, 4, 4, 6]))
        ev = []
        for k in rng.choice(len(arms), size=int(rng.integers(2, 8)), replace=False):
            c, a = arms[k]
            ev.append(arm_event(genome, c, a, float(max(1, p + rng.choice([-1, 1, 2])))))
        sid = f"cell{i:02d}"
        for gene, state in FOCAL.items():
            if rng.random() < 0.4:
                left, right = rng.uniform(0.4e6, 2.5e6, size=2)
                cn = 0.0 if state == "homdel" else float(max(2 * p, p + 3) + rng.integers(0, 6))
                ev.append(gene_event(genome, gene, cn, left, right))
                planted.append((sid, gene, state))
        samples.append(Sample(sid, ploidy=p, events=ev))
    return samples, pd.DataFrame(planted, columns=["sample_id", "gene", "state"])


@pytest.mark.parametrize("build,seed,jitter,drop", [("hg19", 11, 0.3, 0.03), ("hg38", 12, 0.5, 0.05)])
def test_planted_focal_events_precision_recall(build, seed, jitter, drop):
    genome = load_genome(build, 500_000)
    samples, planted = _cohort(genome, 60, seed)
    a = build_adata(genome, samples, seed=seed, jitter=jitter, drop=drop)
    cat = builtin_catalogue()
    gc = gene_copy_number(a, cat.select_genes(genome.genes))
    calls = gc[gc.gene.isin(FOCAL)].astype({"gene": str, "sample_id": str, "state": str})
    called = calls[calls.state == calls.gene.map(FOCAL)][["sample_id", "gene"]]
    truth = set(map(tuple, planted[["sample_id", "gene"]].to_numpy()))
    pred = set(map(tuple, called.to_numpy()))
    tp = len(truth & pred)
    recall, precision = tp / len(truth), tp / max(1, len(pred))
    assert len(truth) > 80
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    # and they come out as driver events with the right direction
    ev = driver_events(gc, cat, obs=a.obs)
    ev_pairs = set(map(tuple, ev[ev.gene.isin(FOCAL)][["sample_id", "gene"]].to_numpy()))
    assert len(truth & ev_pairs) / len(truth) >= 0.95
    assert set(ev[ev.gene == "CDKN2A"].alteration) <= {"loss"}
    assert set(ev[ev.gene.isin(["MET", "MYC", "ALK", "ERBB2"])].alteration) <= {"gain"}


def test_neutral_regions_are_not_called():
    genome = load_genome("hg19", 500_000)
    samples, _ = _cohort(genome, 30, 5)
    a = build_adata(genome, samples, seed=5, jitter=0.5, drop=0.05)
    cat = builtin_catalogue()
    genes = cat.select_genes(genome.genes)
    genes = genes[genes.chrom != "Y"]
    gc = gene_copy_number(a, genes).astype({"gene": str, "sample_id": str, "state": str})
    seen = observed(genome, genes)
    # genes no usable bin covers are flagged, whatever copy number they inherit
    unseen = gc[gc.gene.isin(set(genes.symbol[~seen]))]
    assert (unseen.low_confidence_reason.str.contains("in_unusable_bins")).all() and len(unseen)
    n_neutral = n_called = 0
    for s in samples:
        t = true_gene_cn(genome, s, genes).set_index("gene")
        neutral = (t.true_min == s.ploidy) & (t.true_max == s.ploidy)
        far = ~near_true_breakpoint(genome, s, genes)
        keep = t.index[neutral.to_numpy() & far & seen]
        got = gc[(gc.sample_id == s.sample_id) & gc.gene.isin(keep)]
        n_neutral += len(got)
        n_called += int((~got.state.isin(["neutral", "unknown"])).sum())
    assert n_neutral > 10_000
    assert n_called == 0


def test_gene_states_match_truth_away_from_breakpoints():
    """Every catalogue gene, not only the planted loci: away from true breakpoints the
    called state equals the state of the true copy number."""
    from ctcscope.drivers.genes import classify_cn, state_names

    genome = load_genome("hg19", 500_000)
    samples, _ = _cohort(genome, 20, 9)
    a = build_adata(genome, samples, seed=9, jitter=0.3, drop=0.03)
    genes = builtin_catalogue().select_genes(genome.genes)
    genes = genes[genes.chrom != "Y"]
    gc = gene_copy_number(a, genes).astype({"gene": str, "sample_id": str, "state": str})
    agree = total = 0
    for s in samples:
        t = true_gene_cn(genome, s, genes).set_index("gene")
        flat = t.true_min == t.true_max
        far = ~near_true_breakpoint(genome, s, genes)
        keep = t.index[flat.to_numpy() & far & observed(genome, genes)]
        want = pd.Series(state_names(classify_cn(t.loc[keep, "true_min"], s.ploidy)), index=keep)
        got = gc[(gc.sample_id == s.sample_id)].set_index("gene").loc[keep, "state"]
        ok = got != "unknown"
        agree += int((got[ok] == want[ok]).sum())
        total += int(ok.sum())
    assert total > 5000 and agree == total


def test_focal_flag_separates_planted_focal_events_from_arm_level_events():
    """Planted focal amplifications / deletions (gene + 0.4-2.5 Mb each side) come out ``focal``; gains and
    losses of whole arms (and genes on an arm beside a focal amplicon) never do."""
    genome = load_genome("hg19", 500_000)
    samples, planted = _cohort(genome, 40, 21)
    a = build_adata(genome, samples, seed=21, jitter=0.3, drop=0.03)
    genes = builtin_catalogue().select_genes(genome.genes)
    genes = genes[genes.chrom != "Y"]
    gc = gene_copy_number(a, genes).astype({"gene": str, "sample_id": str, "state": str, "chrom": str})
    # genes overlapping a planted focal window (widened by two bins: a bin takes the value at
    # its midpoint and breakpoints are moved by a bin), per sample
    in_window = np.zeros(len(gc), bool)
    focal_windows = {s.sample_id: [e for e in s.events if (e[2] - e[1]) < 10e6] for s in samples}
    for sid, wins in focal_windows.items():
        on = (gc.sample_id == sid).to_numpy()
        for c, lo, hi, _ in wins:
            in_window |= on & (gc.chrom == c).to_numpy() & (gc.start < hi + 1e6).to_numpy() & (gc.end > lo - 1e6).to_numpy()
    altered = ~gc.state.isin(["neutral", "unknown"]).to_numpy()
    hit = gc.merge(planted, on=["sample_id", "gene", "state"])
    assert len(hit) > 40 and hit.focal.all() and (hit.segment_mb < 8).all() and (hit.arm_fraction < 0.2).all()
    broad = gc[altered & ~in_window]
    assert len(broad) > 1000
    assert not broad.focal.any()
    assert (broad.arm_fraction > 0.9).mean() > 0.95      # arm-level events cover their arm
    assert not gc[~altered].focal.any()
