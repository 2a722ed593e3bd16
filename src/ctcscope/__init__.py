"""ctcscope: single circulating-tumour-cell copy number and ALK-inhibitor resistance.

The data model is :class:`anndata.AnnData` (``obs`` = samples, ``var`` = genomic bins,
layers ``counts``/``ratio``/``segment``/``cn``); every analysis step is a function that
takes and returns it.  See ``docs/data-model.md``.  For research use only.
"""
from __future__ import annotations

__version__ = "0.1.0"

RESEARCH_USE = (
    "ctcscope is research software. Its output is not a diagnostic test and must not be used "
    "on its own to make treatment decisions."
)
