"""Genome builds: bins with GC/mappability/blacklist, chromosome sizes, cytobands and genes.

>>> g = load_genome("hg19", 500_000)
>>> g.bins.columns[:4].tolist()
['chrom', 'start', 'end', 'gc']

Coordinates are 0-based, half-open (BED); chromosome names have no ``chr`` prefix.
"""
from .builtin import BUILTIN_BIN_SIZES, BUILTIN_BUILDS, Genome, load_genome, usable_bins
from .names import AUTOSOMES, CHROMS, canonical_chrom, canonical_chroms, chrom_order, guess_build
from .replication import replication_timing

__all__ = [
    "AUTOSOMES",
    "BUILTIN_BIN_SIZES",
    "BUILTIN_BUILDS",
    "CHROMS",
    "Genome",
    "canonical_chrom",
    "canonical_chroms",
    "chrom_order",
    "guess_build",
    "load_genome",
    "replication_timing",
    "usable_bins",
]
