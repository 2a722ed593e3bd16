"""Replication timing of the built-in genome bins (higher = earlier in S phase).

A cell caught in S phase has copied its early-replicating DNA but not yet its late DNA, so
its read depth rises and falls with replication timing (RT) along the genome, up to 2:1
between the earliest and latest regions: a signal copy-number callers can mistake for
gains and losses, and one that tells S-phase cells apart.  :func:`replication_timing`
gives one value per bin of a built-in genome.

Sources (see NOTICE): ENCODE FSU RepliChip replication timing (UCSC ``wgEncodeFsuRepliChip``)
on the QDNAseq hg19 bins, as packaged by scAbsolute (Schneider et al.), GPL-3.  The hg19
tracks are those values.  The hg38 tracks are the same data carried over with a liftover
derived from ~47,000 genes annotated in both GENCODE v19 (hg19) and v36 (hg38): monotone
piecewise-linear interpolation between gene starts/ends, each hg38 bin taking the mean hg19
RT of the span it maps to (``scripts/build_replication_timing.py``; no chain file was
available).  Checks of the hg38 derivation (that script's ``--validate``):

* 20 % of the gene anchors left out and mapped with the rest: median error 0 bp, 99 % within
  0.8 kb; left out in runs of 20 consecutive genes: 97.5 % within 10 kb, RT at the mapped
  and true hg19 positions r = 0.999;
* correlation with bin GC content, hg38 track on hg38 bins vs hg19 track on hg19 bins:
  0.627 vs 0.624 at 500 kb, 0.558 vs 0.557 at 50 kb (the hg19 track read at hg38
  coordinates without a liftover: 0.548 and 0.477);
* real 10x Genomics HeLa S3 cells (Gnan et al. 2022; hg38): the read depth of the cells
  Kronos flags as S phase over that of the other cells correlates with the hg38 track at
  r = 0.69 / 0.63 (two replicates; 0.56 / 0.50 with GC held fixed), against 0.51 / 0.48
  (0.33 / 0.29) for the track without a liftover.

Coverage: 92-94 % of all bins on either build (all usable hg19 bins but a handful at 50 and
100 kb; 99.8-99.9 % of the usable hg38 bins); unknown at centromeres, gaps and most of Y.
"""
from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import InputError
from .builtin import BUILTIN_BIN_SIZES, BUILTIN_BUILDS, Genome, load_genome


@functools.lru_cache(maxsize=16)
def _track(build: str, bin_size: int) -> pd.Series:
    """The packaged track indexed by the built-in bins' (chrom, start)."""
    ref = resources.files("ctcscope.genome").joinpath("data", f"replication_timing_{build}_{bin_size // 1000}kb.tsv.gz")
    with resources.as_file(ref) as p:
        t = pd.read_csv(p, sep="\t")["rt"].to_numpy(np.float64)
    bins = load_genome(build, bin_size).bins
    if t.size != len(bins):
        raise InputError(f"the packaged replication-timing track of {build} at {bin_size // 1000} kb has {t.size} "
                         f"values for {len(bins)} bins; rebuild it with scripts/build_replication_timing.py")
    return pd.Series(t, index=pd.MultiIndex.from_arrays([bins.chrom.astype(str), bins.start.astype(np.int64)]))


def replication_timing(genome: Genome, *, standardise: bool = True) -> np.ndarray:
    """Replication timing of each bin of ``genome``, aligned with ``genome.bins``.

    Higher = earlier replicating.  With ``standardise`` (default) the values have mean 0 and
    SD 1 over the bins where they are known; otherwise they are on the scale of the source
    (ENCODE RepliChip as packaged by scAbsolute, roughly -1 to 1.2).  NaN where unknown
    (centromeres, gaps, most of Y; on hg38 also where the build-to-build mapping is
    ambiguous).  Bins are matched by chromosome and start, so a subset or reordering of a
    built-in genome's bins gets the right values.

    Only the built-in hg19/hg38 genomes at the built-in bin sizes have a track: for a genome
    built from a FASTA (:func:`ctcscope.genome.fasta.genome_from_fasta`), whatever build it
    is named after, or any other custom genome, the result is all NaN (there is no
    replication-timing source for arbitrary references and bins).
    """
    n = len(genome.bins)
    b = str(genome.build).lower().replace("grch37", "hg19").replace("grch38", "hg38")
    if (b not in BUILTIN_BUILDS or int(genome.bin_size) not in BUILTIN_BIN_SIZES
            or not str(getattr(genome, "source", "")).startswith("built-in")):
        return np.full(n, np.nan)
    track = _track(b, int(genome.bin_size))
    key = pd.MultiIndex.from_arrays([genome.bins.chrom.astype(str), genome.bins.start.astype(np.int64)])
    t = track.reindex(key).to_numpy(np.float64)
    ends = genome.bins.end.to_numpy(np.int64)
    t[(ends - genome.bins.start.to_numpy(np.int64)) > int(genome.bin_size)] = np.nan  # not a built-in bin
    if standardise:
        ok = np.isfinite(t)
        if ok.any():
            t[ok] = (t[ok] - t[ok].mean()) / t[ok].std()
    return t


__all__ = ["replication_timing"]
