"""Chromosome names and genome-build recognition.

ctcscope stores chromosomes without a prefix (``1``..``22``, ``X``, ``Y``), as the QDNAseq
and GRCh37 tables do, and accepts ``chr1``-style names everywhere on input.
"""
from __future__ import annotations

import re
from typing import Mapping

import pandas as pd

AUTOSOMES = [str(i) for i in range(1, 23)]
CHROMS = AUTOSOMES + ["X", "Y"]
_ORDER = {c: i for i, c in enumerate(CHROMS)}

#: Lengths of chromosome 1 (and 2, to be sure) of the builds we can recognise.
KNOWN_BUILDS: dict[str, dict[str, int]] = {
    "hg19": {"1": 249_250_621, "2": 243_199_373},
    "hg38": {"1": 248_956_422, "2": 242_193_529},
    "hg18": {"1": 247_249_719, "2": 242_951_149},
    "T2T-CHM13": {"1": 248_387_328, "2": 242_696_752},
    "mm10": {"1": 195_471_971, "2": 182_113_224},
    "mm39": {"1": 195_154_279, "2": 181_755_017},
}

_PREFIX = re.compile(r"^(chr|Chr|CHR)")


def canonical_chrom(name: str) -> str:
    """``chr1`` → ``1``, ``chrX`` → ``X``, ``chrM``/``MT`` → ``MT``; other names unchanged."""
    n = _PREFIX.sub("", str(name))
    if n in ("M", "MT"):
        return "MT"
    if n in ("x", "y"):
        n = n.upper()
    return n


def canonical_chroms(names: pd.Series) -> pd.Series:
    """Vectorised :func:`canonical_chrom`."""
    s = names.astype(str).str.replace(_PREFIX, "", regex=True)
    return s.replace({"M": "MT", "x": "X", "y": "Y"})


def chrom_order(name: str) -> int:
    """Sort key putting 1..22, X, Y first, then everything else."""
    return _ORDER.get(canonical_chrom(name), 1000)


def guess_build(lengths: Mapping[str, int]) -> str | None:
    """Name the build whose chr1/chr2 lengths match ``lengths`` (any naming), or ``None``."""
    canon = {canonical_chrom(k): int(v) for k, v in lengths.items()}
    for build, ref in KNOWN_BUILDS.items():
        if all(canon.get(c) == n for c, n in ref.items()):
            return build
    return None
