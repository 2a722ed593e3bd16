"""Real samples in the project's shared data whose answer is known independently.

* ``aneufinder`` — the euploid human single cell of AneuFinder's tests (Bakker et al.,
  Genome Biol 2016, doi 10.1186/s13059-016-0971-7; Artistic-2.0): real 500 kb read counts,
  364 k reads, no WGA amplification artefacts beyond the library's.  Truth: 2n.
* ``ichor-hd`` — the 27 healthy-donor ultra-low-pass cfDNA samples of ichorCNA's panel of
  normals (Adalsteinsson et al., Nat Commun 2017, doi 10.1038/s41467-017-00965-y; GPL-3),
  hg19 500 kb.  The panel stores each donor's GC/mappability-corrected log2 ratio per bin,
  not raw counts: counts are drawn here as Poisson(depth x 2^log2ratio) with ~900 reads per
  bin (the panel's own read depth), so the bin-to-bin structure is real and a little
  Poisson noise is synthetic.  Scored as ``biopsy`` samples (bulk DNA): truth 2n, no WGD.

Both are held out: nothing was tuned on them.  The other real single-cell files in the
shared data (SCOPE's three 10x cells, SCclust's example cell, CopyKit's BL1 ratios) carry no
independent ploidy and are not scored here; the 10x JEFF and HeLa lines are
:mod:`kronos_source`.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .common import Cohort

SHARED = Path(os.environ.get("CTCSCOPE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def _align(table: pd.DataFrame, bins: pd.DataFrame, value_cols: list[str]) -> np.ndarray:
    """Values of ``table`` (1-based ``start`` as in QDNAseq/AneuFinder/ichorCNA files) on
    ctcscope's bins (0-based starts); NaN where a bin is absent from the table."""
    key = table["chrom"].astype(str).str.replace("^chr", "", regex=True) + ":" + (table["start"].astype(np.int64) - 1).astype(str)
    idx = pd.Index(key)
    bkey = bins["chrom"].astype(str) + ":" + bins["start"].astype(np.int64).astype(str)
    pos = idx.get_indexer(bkey)
    out = np.full((len(bins), len(value_cols)), np.nan)
    hit = pos >= 0
    out[hit] = table[value_cols].to_numpy(np.float64)[pos[hit]]
    return out


def aneufinder(split: str = "holdout") -> Iterator[Cohort]:
    import anndata as ad
    from ctcscope.genome import load_genome

    p = SHARED / "aneufinder-testdata" / "euploid_HB150318_1_003.bam_binsize_500000.tsv.gz"
    if not p.exists():
        return
    g = load_genome("hg19", 500_000)
    t = pd.read_csv(p, sep="\t")
    x = _align(t, g.bins, ["counts"])[:, 0]
    counts = np.nan_to_num(x, nan=0.0).astype(np.int32)[None, :]
    obs = pd.DataFrame({"sample_type": ["ctc"], "patient": ["aneufinder"], "pool_size": [1]}, index=["euploid_HB150318"])
    a = ad.AnnData(obs=obs, var=g.to_var(), layers={"counts": counts})
    truth = pd.DataFrame({"ploidy": [2.0], "wgd": [0.0], "score": [True]}, index=obs.index)
    yield Cohort("real:aneufinder", "euploid", split, a, truth, note="real counts; euploid (Bakker et al. 2016)")


def ichor_hd(split: str = "holdout", depth: float = 900.0, seed: int = 0) -> Iterator[Cohort]:
    import anndata as ad
    from ctcscope.genome import load_genome

    p = SHARED / "ichorCNA-extdata" / "HD_ULP_PoN_500kb_median_normAutosome_mapScoreFiltered_median.tsv.gz"
    if not p.exists():
        return
    g = load_genome("hg19", 500_000)
    t = pd.read_csv(p, sep="\t")
    cols = [c for c in t.columns if c.startswith("HD")]
    lr = _align(t, g.bins, cols).T  # samples x bins
    rng = np.random.default_rng(seed)
    mu = np.where(np.isfinite(lr), depth * np.exp2(np.nan_to_num(lr)), 0.0)
    counts = rng.poisson(mu).astype(np.int32)
    var = g.to_var()
    # bins the panel left out (filtered by ichorCNA) hold no data in any donor
    var["use"] = var["use"].to_numpy(bool) & np.isfinite(lr).any(axis=0)
    names = [c.split(".")[0] for c in cols]
    obs = pd.DataFrame({"sample_type": "biopsy", "patient": names, "pool_size": 1}, index=names)
    a = ad.AnnData(obs=obs, var=var, layers={"counts": counts})
    truth = pd.DataFrame({"ploidy": 2.0, "wgd": 0.0, "score": True}, index=obs.index)
    yield Cohort("real:ichor-hd", "HD_PoN_500kb", split, a, truth,
                 note="real healthy-donor cfDNA log2 ratios; Poisson counts drawn at ~900 reads/bin")


def cohorts(split: str = "holdout", *, quick: bool = False) -> Iterator[Cohort]:
    if split != "holdout":
        return
    yield from aneufinder(split)
    yield from ichor_hd(split)
