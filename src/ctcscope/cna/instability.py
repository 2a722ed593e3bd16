"""Chromosomal instability measures of one sample's absolute copy-number profile.

All measures use usable autosomal bins (the sex chromosomes differ between male and female
cells and would count as "altered" in every male cell), weighted by bin length.

- ``fga``: fraction of the genome whose copy number differs from the base ploidy.
- ``breakpoints``: copy-number changes between neighbouring segments of a chromosome.
- ``wgii``: weighted genome instability index (Burrell et al. 2013, Nature 494:492,
  doi:10.1038/nature11935): the mean over autosomes of the fraction of each chromosome
  that differs from the base ploidy, so every chromosome weighs the same.
- ``n_cn_states``: distinct integer copy numbers.
- ``max_amplification``: the highest integer copy number.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..genome.names import AUTOSOMES


def instability(cn: np.ndarray, bins: pd.DataFrame, ploidy: int | None) -> dict:
    """Instability measures of one sample.

    Parameters
    ----------
    cn : absolute copy number per bin (NaN where unusable); rounded to integers here.
    bins : the bin table (``chrom``, ``start``, ``end``).
    ploidy : the sample's integer base ploidy (``None`` gives NaN measures).

    Returns
    -------
    dict with ``fga, breakpoints, wgii, n_cn_states, max_amplification``.
    """
    cn = np.asarray(cn, dtype=np.float64)
    chrom = bins["chrom"].astype(str).to_numpy()
    auto = np.isin(chrom, AUTOSOMES) & np.isfinite(cn)
    out = {"fga": float("nan"), "breakpoints": 0, "wgii": float("nan"), "n_cn_states": 0, "max_amplification": 0}
    if ploidy is None or auto.sum() == 0:
        return out
    k = np.rint(cn[auto])
    w = (bins["end"].to_numpy(np.float64) - bins["start"].to_numpy(np.float64))[auto]
    c = chrom[auto]
    altered = k != ploidy
    out["fga"] = float(np.sum(w * altered) / np.sum(w))
    change = (k[1:] != k[:-1]) & (c[1:] == c[:-1])
    out["breakpoints"] = int(change.sum())
    per_chrom = pd.DataFrame({"c": c, "a": w * altered, "w": w}).groupby("c").sum()
    out["wgii"] = float(np.mean(per_chrom["a"] / per_chrom["w"]))
    out["n_cn_states"] = int(np.unique(k).size)
    out["max_amplification"] = int(k.max())
    return out
