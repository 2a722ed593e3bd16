"""What every validation source hands to ``benchmarks/validate_ploidy.py``.

A *source* is a generator of :class:`Cohort` objects: one run of samples (counts on a
ctcscope genome's bins) and what is known about them.  Sources are deliberately varied so
that the copy-number engine cannot be tuned to any one of them: the project's own
simulator, a third-party simulator (CNAsim), real cells whose answer is known
independently, and count matrices reconstructed from real segment depths.

Every cohort carries a ``split``: ``"tune"`` cohorts may be looked at while choosing rules
and thresholds; ``"holdout"`` cohorts are only scored, at the end (docs/cna.md says which is
which for every source).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import anndata as ad
import numpy as np
import pandas as pd

SPLITS = ("tune", "holdout")


@dataclass
class Cohort:
    """One run of samples with what is known about them.

    ``adata``: samples x bins, ``layers['counts']`` (int), ``obs`` with at least
    ``sample_type`` (ctc, ctc_pool, wbc, germline, biopsy, normal), ``patient`` and
    ``pool_size``; ``var`` from ``ctcscope.genome.load_genome(...).to_var()``.

    ``truth``: indexed like ``adata.obs_names``; columns

    * ``ploidy``  (float; integer base ploidy = modal autosomal copy number, NaN unknown),
    * ``wgd``     (float 1/0, NaN unknown; study rule: ploidy >= 4, or the source's own
      record of a doubling where it has one: say which in ``note``),
    * ``score``   (bool: the sample is scored - tumour samples and cells of known ploidy;
      controls may be scored too when their answer is known),
    * optional ``phase`` (``G1``, ``S``, ``G2``), ``mean_cn``, ``clone``.

    ``cn``: samples x bins true integer copy number (NaN unknown), or ``None``.
    """

    source: str
    name: str
    split: str
    adata: ad.AnnData
    truth: pd.DataFrame
    cn: np.ndarray | None = None
    note: str = ""
    params: dict = field(default_factory=dict)  # engine parameters this cohort must be run with, if any

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {self.split!r}")
        if list(self.truth.index) != list(self.adata.obs_names):
            raise ValueError(f"{self.source}/{self.name}: truth must be indexed like adata.obs_names")
        for col in ("ploidy", "wgd", "score"):
            if col not in self.truth:
                raise ValueError(f"{self.source}/{self.name}: truth lacks column {col!r}")
        if self.cn is not None and self.cn.shape != self.adata.shape:
            raise ValueError(f"{self.source}/{self.name}: cn must be samples x bins like adata")
        for col in ("sample_type", "patient", "pool_size"):
            if col not in self.adata.obs:
                raise ValueError(f"{self.source}/{self.name}: adata.obs lacks {col!r}")
