"""Cohorts with known copy number for the drivers tests.

Each sample is a base ploidy plus events (chrom, start, end, copy number) placed on the
genome in base pairs; the events are rasterised onto the genome's bins (a bin takes the
copy number at its midpoint), optionally degraded like a real segmenter's output
(breakpoints moved by one bin, bins dropped), and turned into ``layers['cn']`` and
``uns['segments']`` as the copy-number step writes them.  The truth is kept in base pairs,
so the tests measure what the gene layer recovers at the bins' resolution.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import anndata as ad
import numpy as np
import pandas as pd

from ctcscope.drivers.genes import segments_from_layer


@dataclass
class Sample:
    sample_id: str
    ploidy: int = 2
    patient: str = "P1"
    sample_type: str = "ctc"
    phenotype: str = "ALK-/CK+"
    treatment_group: str = "crizotinib"
    qc_pass: bool = True
    normal_like: bool = False
    sex: str = "F"
    events: list = field(default_factory=list)   # (chrom, start, end, cn), applied in order


def gene_locus(genome, symbol: str) -> tuple[str, int, int]:
    g = genome.genes[genome.genes.symbol == symbol]
    assert len(g) == 1, symbol
    r = g.iloc[0]
    return str(r.chrom), int(r.start), int(r.end)


def gene_event(genome, symbol: str, cn: float, flank_left: float = 1e6, flank_right: float = 1e6):
    c, s, e = gene_locus(genome, symbol)
    return (c, max(0, int(s - flank_left)), int(e + flank_right), cn)


def arm_event(genome, chrom: str, arm: str, cn: float):
    b = genome.bins[(genome.bins.chrom == chrom) & (genome.bins.arm == arm)]
    return (chrom, int(b.start.min()), int(b.end.max()), cn)


def chrom_event(genome, chrom: str, cn: float):
    b = genome.bins[genome.bins.chrom == chrom]
    return (chrom, int(b.start.min()), int(b.end.max()), cn)


def rasterise(genome, s: Sample) -> np.ndarray:
    """True copy number per bin (bin midpoint), NaN on unusable bins."""
    bins = genome.bins
    chrom = bins.chrom.to_numpy()
    mid = ((bins.start + bins.end) // 2).to_numpy()
    cn = np.full(len(bins), float(s.ploidy))
    if s.sex == "M":
        cn[np.isin(chrom, ["X", "Y"])] = s.ploidy / 2
    for c, a, b, v in s.events:
        cn[(chrom == c) & (mid >= a) & (mid < b)] = v
    cn[~bins.use.to_numpy()] = np.nan
    return cn


def degrade(cn: np.ndarray, chrom: np.ndarray, rng: np.random.Generator, jitter: float, drop: float) -> np.ndarray:
    """Move each breakpoint by one bin with probability ``jitter``; drop a fraction of bins."""
    cn = cn.copy()
    ok = np.flatnonzero(np.isfinite(cn))
    v, c = cn[ok], chrom[ok]
    change = np.flatnonzero((v[1:] != v[:-1]) & (c[1:] == c[:-1])) + 1
    for k in change:
        if rng.random() < jitter:
            if rng.random() < 0.5:
                v[k] = v[k - 1]
            else:
                v[k - 1] = v[k]
    cn[ok] = v
    if drop > 0:
        cn[ok[rng.random(len(ok)) < drop]] = np.nan
    return cn


def build_adata(genome, samples: list[Sample], *, seed: int = 0, jitter: float = 0.0, drop: float = 0.0):
    """AnnData with ``layers['cn']``, ``uns['segments']`` and the obs columns of the data model."""
    rng = np.random.default_rng(seed)
    chrom = genome.bins.chrom.to_numpy()
    X = np.vstack([degrade(rasterise(genome, s), chrom, rng, jitter, drop) for s in samples]).astype(np.float32)
    obs = pd.DataFrame({
        "patient": [s.patient for s in samples],
        "sample_type": pd.Categorical([s.sample_type for s in samples]),
        "phenotype": [s.phenotype for s in samples],
        "treatment_group": [s.treatment_group for s in samples],
        "ploidy": [s.ploidy for s in samples],
        "qc_pass": [s.qc_pass for s in samples],
        "normal_like": [s.normal_like for s in samples],
        "sex": [s.sex for s in samples],
    }, index=[s.sample_id for s in samples])
    a = ad.AnnData(X=np.zeros_like(X), obs=obs, var=genome.to_var())
    a.layers["cn"] = X
    a.uns["segments"] = segments_from_layer(a)
    a.uns["ctcscope"] = {"genome": {"build": genome.build, "bin_size": genome.bin_size}}
    return a


def true_gene_cn(genome, s: Sample, genes: pd.DataFrame) -> pd.DataFrame:
    """Base-pair truth per gene: lowest and highest copy number over the gene body
    (evaluated at nine points along it; the events are much wider than that spacing)."""
    rows = []
    for r in genes.itertuples():
        b = float(s.ploidy) / 2 if (s.sex == "M" and r.chrom in ("X", "Y")) else float(s.ploidy)
        xs = np.linspace(r.start, r.end - 1, 9).astype(np.int64)
        vals = np.full(len(xs), b)
        for c, a, e, v in s.events:
            if c == r.chrom:
                vals[(xs >= a) & (xs < e)] = v
        rows.append((r.symbol, vals.min(), vals.max()))
    return pd.DataFrame(rows, columns=["gene", "true_min", "true_max"])


def near_true_breakpoint(genome, s: Sample, genes: pd.DataFrame, n_bins: int = 2) -> np.ndarray:
    """Per gene: whether it lies within ``n_bins`` usable bins of a true event boundary (a
    segmenter places breakpoints to within a bin of the data, and next to a run of unusable
    bins that bin may be megabases away)."""
    near = np.zeros(len(genes), dtype=bool)
    gch = genes.chrom.to_numpy().astype(str)
    gs, ge = genes.start.to_numpy(), genes.end.to_numpy()
    use = genome.bins[genome.bins.use]
    for c, a, e, v in s.events:
        b = use[use.chrom == c]
        bs, be = b.start.to_numpy(), b.end.to_numpy()
        on = gch == c
        for x in (a, e):
            k = int(np.searchsorted(bs, x))
            lo = min(bs[max(0, k - n_bins)], x) if len(bs) else x
            hi = max(be[min(len(be) - 1, k + n_bins - 1)], x) if len(be) else x
            near |= on & (gs < hi) & (ge > lo)
    return near


def observed(genome, genes: pd.DataFrame) -> np.ndarray:
    """Genes overlapping at least one usable bin (others cannot be measured at all)."""
    out = np.zeros(len(genes), dtype=bool)
    use = genome.bins[genome.bins.use]
    for c, idx in pd.Series(np.arange(len(genes))).groupby(genes.chrom.to_numpy().astype(str)).indices.items():
        b = use[use.chrom == c]
        bs, be = b.start.to_numpy(), b.end.to_numpy()
        k = np.searchsorted(be, genes.start.to_numpy()[idx], side="right")
        ok = k < len(bs)
        out[idx[ok]] = bs[k[ok]] < genes.end.to_numpy()[idx[ok]]
    return out
