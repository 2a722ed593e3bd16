"""The :class:`Genome` object and the built-in hg19/hg38 annotations.

Packaged files (see NOTICE for sources and licences) are built by
``scripts/build_genome_data.py`` from QDNAseq bin annotations, the ENCODE blacklist v2,
UCSC cytobands/chromInfo and GENCODE protein-coding genes.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd

from ..errors import InputError
from .names import AUTOSOMES, CHROMS, canonical_chroms

BUILTIN_BUILDS = ("hg19", "hg38")
BUILTIN_BIN_SIZES = (50_000, 100_000, 500_000, 1_000_000)

#: Default thresholds for a usable bin (fractions).  Chosen as QDNAseq does: drop bins that
#: are mostly N, poorly mappable, blacklisted, or that misbehave in normal controls
#: (|residual| > 4 SD in 1000 Genomes data); keep autosomes and X.
USE_DEFAULTS = dict(min_bases=0.75, min_mappability=0.5, max_blacklist=0.25, max_residual_sd=4.0)


@dataclass
class Genome:
    """A binned genome build.

    Attributes
    ----------
    build : name (``hg19``, ``hg38`` or a custom name).
    bin_size : nominal bin width in bp (0 for variable bins).
    bins : one row per bin: ``chrom, start, end, gc, mappability, blacklist, bases, use, arm``.
    chrom_sizes : chromosome → length (canonical names, in genome order).
    cytobands : ``chrom, start, end, band, stain`` (may be empty for custom genomes).
    genes : ``chrom, start, end, symbol, strand, gene_type`` (may be empty).
    """

    build: str
    bin_size: int
    bins: pd.DataFrame
    chrom_sizes: pd.Series
    cytobands: pd.DataFrame = field(default_factory=pd.DataFrame)
    genes: pd.DataFrame = field(default_factory=pd.DataFrame)
    source: str = ""

    @property
    def chroms(self) -> list[str]:
        return list(self.chrom_sizes.index)

    @property
    def n_bins(self) -> int:
        return len(self.bins)

    def chrom_offsets(self) -> pd.Series:
        """Genome-wide start coordinate of each chromosome (for plotting)."""
        return self.chrom_sizes.cumsum() - self.chrom_sizes

    def bin_index(self, chrom: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Index of the bin holding each (canonical chrom, 0-based pos); -1 if none."""
        chrom = np.asarray(chrom).astype(str)
        pos = np.asarray(pos, dtype=np.int64)
        out = np.full(len(pos), -1, dtype=np.int64)
        for c, idx in pd.Series(np.arange(len(self.bins))).groupby(self.bins.chrom.to_numpy()).agg(list).items():
            sel = chrom == c
            if not sel.any():
                continue
            idx = np.asarray(idx)
            starts = self.bins.start.to_numpy()[idx]
            ends = self.bins.end.to_numpy()[idx]
            k = np.searchsorted(starts, pos[sel], side="right") - 1
            ok = (k >= 0) & (pos[sel] < ends[np.clip(k, 0, None)])
            out[np.flatnonzero(sel)[ok]] = idx[k[ok]]
        return out

    def to_var(self) -> pd.DataFrame:
        """The bins as an AnnData ``var`` table (index ``chrom:start-end``, 1-based for display)."""
        from .replication import replication_timing

        v = self.bins.copy()
        v.index = (v.chrom + ":" + (v.start + 1).astype(str) + "-" + v.end.astype(str)).to_numpy()
        if "replication_timing" not in v:
            # the S-phase signal of the copy-number step (ctcscope.cna.cycle); NaN where unknown
            v["replication_timing"] = replication_timing(self)
        return v


def usable_bins(bins: pd.DataFrame, **thresholds) -> np.ndarray:
    """Boolean mask of bins fit for copy-number calling (see :data:`USE_DEFAULTS`)."""
    t = {**USE_DEFAULTS, **thresholds}
    use = bins.chrom.isin(AUTOSOMES + ["X"]).to_numpy()
    if "bases" in bins:
        use &= bins.bases.fillna(0).to_numpy() >= t["min_bases"]
    if "mappability" in bins and bins.mappability.notna().any():
        use &= bins.mappability.fillna(0).to_numpy() >= t["min_mappability"]
    if "blacklist" in bins:
        use &= bins.blacklist.fillna(0).to_numpy() <= t["max_blacklist"]
    if "gc" in bins:
        use &= bins.gc.notna().to_numpy()
    if "residual" in bins and bins.residual.notna().any():
        res = bins.residual.to_numpy()
        auto = bins.chrom.isin(AUTOSOMES).to_numpy()
        sd = np.nanstd(res)
        # autosomal bins without a residual were judged unusable by QDNAseq's calibration
        use &= ~auto | (np.isfinite(res) & (np.abs(res) <= t["max_residual_sd"] * sd))
    return use


def _read(name: str, **kw) -> pd.DataFrame:
    ref = resources.files("ctcscope.genome").joinpath("data", name)
    with resources.as_file(ref) as p:
        return pd.read_csv(p, sep="\t", **kw)


def add_arms(bins: pd.DataFrame, cytobands: pd.DataFrame) -> pd.Series:
    """``p`` or ``q`` for each bin from the centromere (``acen`` bands) position."""
    if cytobands is None or cytobands.empty:
        return pd.Series("", index=bins.index)
    acen = cytobands[cytobands.stain == "acen"].groupby("chrom").agg(start=("start", "min"), end=("end", "max"))
    centre = ((acen.start + acen.end) / 2).reindex(bins.chrom).to_numpy()
    mid = ((bins.start + bins.end) / 2).to_numpy()
    arm = np.where(np.isnan(centre), "", np.where(mid < centre, "p", "q"))
    return pd.Series(arm, index=bins.index)


@functools.lru_cache(maxsize=16)
def _load_builtin(build: str, bin_size: int) -> Genome:
    kb = bin_size // 1000
    bins = _read(f"bins_{build}_{kb}kb.tsv.gz", dtype={"chrom": str})
    sizes = _read(f"chromsizes_{build}.tsv", dtype={"chrom": str}).set_index("chrom")["length"]
    cyto = _read(f"cytobands_{build}.tsv.gz", dtype={"chrom": str})
    genes = _read(f"genes_{build}.tsv.gz", dtype={"chrom": str})
    bins["use"] = usable_bins(bins)
    bins["arm"] = add_arms(bins, cyto)
    return Genome(build=build, bin_size=bin_size, bins=bins, chrom_sizes=sizes.loc[CHROMS],
                  cytobands=cyto, genes=genes,
                  source=f"built-in {build} {kb} kb (QDNAseq bins, ENCODE blacklist v2, UCSC, GENCODE)")


def load_genome(build: str = "hg19", bin_size: int = 500_000) -> Genome:
    """Load a built-in build at one of :data:`BUILTIN_BIN_SIZES` (a fresh copy, safe to modify).

    For other genomes use :func:`ctcscope.genome.fasta.genome_from_fasta`.
    """
    b = str(build).lower().replace("grch37", "hg19").replace("grch38", "hg38")
    if b not in BUILTIN_BUILDS:
        raise InputError(
            f"genome build '{build}' is not built in; use one of {', '.join(BUILTIN_BUILDS)} "
            "or give the reference sequence with --fasta"
        )
    if int(bin_size) not in BUILTIN_BIN_SIZES:
        sizes = ", ".join(f"{s // 1000} kb" for s in BUILTIN_BIN_SIZES)
        raise InputError(
            f"bin size {bin_size} bp is not built in for {b}; choose {sizes}, "
            "or give the reference sequence with --fasta to build other bins"
        )
    g = _load_builtin(b, int(bin_size))
    return Genome(build=g.build, bin_size=g.bin_size, bins=g.bins.copy(), chrom_sizes=g.chrom_sizes.copy(),
                  cytobands=g.cytobands.copy(), genes=g.genes.copy(), source=g.source)


# keep names importable for users who normalise their own tables
__all__ = ["Genome", "load_genome", "usable_bins", "add_arms", "canonical_chroms", "USE_DEFAULTS"]
