"""Any genome from its FASTA: fixed bins with GC and N content, cached.

hg19 and hg38 are built in (:func:`ctcscope.genome.load_genome`); for another reference
(T2T-CHM13, a mouse xenograft reference, a build with decoys) give its FASTA.  The
sequence is read in windows through htslib (``pysam.FastaFile``; the ``.fai`` index is
built when missing) and every bin's GC fraction and N content is computed on NumPy byte
arrays.  The result is cached on disk, keyed by the FASTA's SHA-256 and the bin size, so
the second call returns at once; a moved or copied FASTA with the same content hits the
same cache entry.

Mappability is not computed (it needs an aligner): the column is NaN and ignored by the
usable-bin rule, which then relies on N content and an optional blacklist BED.
"""
from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import atomic_path, write_json
from ..errors import InputError
from ..provenance import sha256_file
from .builtin import Genome, add_arms
from .names import canonical_chroms, chrom_order, guess_build

CACHE_VERSION = 1
_WINDOW = 16 << 20  # bases read at a time
_GC = np.zeros(256, np.uint8)
_GC[[ord(c) for c in "GCgcSs"]] = 1
_ACGT = np.zeros(256, np.uint8)
_ACGT[[ord(c) for c in "ACGTacgtSsWw"]] = 1  # S (G/C) and W (A/T) carry GC information too
#: Contigs never used for calling: sex chromosome Y, mitochondria, unplaced/alt/decoy sequences.
_NOT_PRIMARY = re.compile(r"(?:_|^Un|^GL|^KI|^JH|^EBV$|^HLA|random|alt$|decoy|^MT$|^M$|^Y$|^W$|^hs37d5)", re.I)


def default_cache_dir() -> Path:
    """``$CTCSCOPE_CACHE``, else ``$XDG_CACHE_HOME/ctcscope``, else ``~/.cache/ctcscope``."""
    if os.environ.get("CTCSCOPE_CACHE"):
        return Path(os.environ["CTCSCOPE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ctcscope"


def _open_fasta(path: Path):
    import pysam

    if not path.exists():
        raise InputError(f"FASTA file {path} does not exist; check the path given with --fasta")
    if path.is_dir():
        raise InputError(f"{path} is a folder; give the FASTA file with --fasta")
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head == b"\x1f\x8b":
        with gzip.open(path, "rb") as fh:
            first = fh.read(1)
    else:
        with open(path, "rb") as fh:
            first = fh.read(1)
    if first != b">":
        raise InputError(f"{path.name} is not a FASTA file (it does not start with '>'); give the reference sequence")
    fai = Path(str(path) + ".fai")
    for idx in (fai, Path(str(path) + ".gzi")):
        if idx.exists() and idx.stat().st_mtime_ns < path.stat().st_mtime_ns:
            # an index older than the sequence describes another file: rebuild it
            try:
                idx.unlink()
            except OSError:
                pass
    try:
        return pysam.FastaFile(str(path))
    except (OSError, ValueError) as e:
        if head == b"\x1f\x8b":
            raise InputError(
                f"{path.name} is gzip- but not bgzip-compressed, so it cannot be indexed; decompress it "
                "(gunzip) or recompress it with bgzip"
            ) from None
        raise InputError(
            f"cannot index FASTA {path.name} ({e}); make its folder writable or create {path.name}.fai "
            "with samtools faidx"
        ) from None


def _bin_sequence(fa, contig: str, length: int, bin_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin counts of (A/C/G/T bases, G/C bases) of one contig, read in windows."""
    n_bins = -(-length // bin_size)
    acgt = np.zeros(n_bins, np.int64)
    gc = np.zeros(n_bins, np.int64)
    step = max(1, _WINDOW // bin_size) * bin_size
    for w0 in range(0, length, step):
        w1 = min(length, w0 + step)
        seq = np.frombuffer(fa.fetch(contig, w0, w1).encode("ascii", "replace"), np.uint8)
        cuts = np.arange(0, len(seq), bin_size)
        b0 = w0 // bin_size
        acgt[b0:b0 + len(cuts)] = np.add.reduceat(_ACGT[seq], cuts, dtype=np.int64)
        gc[b0:b0 + len(cuts)] = np.add.reduceat(_GC[seq], cuts, dtype=np.int64)
    return acgt, gc


def _compute_bins(fa, bin_size: int) -> tuple[pd.DataFrame, pd.Series]:
    names = list(fa.references)
    lengths = list(fa.lengths)
    sizes = pd.Series(lengths, index=canonical_chroms(pd.Series(names)).to_numpy(), name="length")
    if sizes.index.duplicated().any():
        d = sizes.index[sizes.index.duplicated()][0]
        raise InputError(f"the FASTA names chromosome {d} twice (e.g. as chr{d} and {d}); keep one")
    frames = []
    for raw, canon, length in zip(names, sizes.index, lengths):
        if length < bin_size:  # a contig shorter than one bin gives no usable bin
            continue
        acgt, gc = _bin_sequence(fa, raw, length, bin_size)
        start = np.arange(len(acgt), dtype=np.int64) * bin_size
        end = np.minimum(start + bin_size, length)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(acgt > 0, gc / np.maximum(acgt, 1), np.nan)
        frames.append(pd.DataFrame({"chrom": canon, "start": start, "end": end,
                                    "bases": acgt / float(bin_size), "gc": frac}))
    if not frames:
        raise InputError(f"no sequence in the FASTA is as long as one bin ({bin_size:,} bp); choose a smaller bin size")
    bins = pd.concat(frames, ignore_index=True)
    order = sorted(sizes.index, key=lambda c: (chrom_order(c), list(sizes.index).index(c)))
    return bins, sizes.loc[order]


def _read_bed(path, what: str, min_cols: int = 3) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} file {path} does not exist; check the path")
    df = pd.read_csv(path, sep="\t", header=None, comment="#", dtype={0: str})
    if df.shape[1] < min_cols or not pd.api.types.is_integer_dtype(df[1]) or not pd.api.types.is_integer_dtype(df[2]):
        # tolerate a header line
        df = pd.read_csv(path, sep="\t", comment="#", dtype=str)
        if df.shape[1] < min_cols:
            raise InputError(f"{what} file {path.name} needs tab-separated chrom, start, end columns")
        df.columns = range(df.shape[1])
        try:
            df[1] = df[1].astype(np.int64)
            df[2] = df[2].astype(np.int64)
        except ValueError:
            raise InputError(f"{what} file {path.name}: start/end are not whole numbers; give a BED file") from None
    df[0] = canonical_chroms(df[0]).to_numpy()
    return df


def interval_fraction(bins: pd.DataFrame, intervals: pd.DataFrame) -> np.ndarray:
    """Fraction of each bin covered by the union of ``intervals`` (columns 0,1,2 = chrom, start, end)."""
    out = np.zeros(len(bins))
    for c, idx in bins.groupby("chrom", sort=False).indices.items():
        iv = intervals[intervals[0] == c].sort_values(1)
        if iv.empty:
            continue
        s, e = iv[1].to_numpy(np.int64), iv[2].to_numpy(np.int64)
        # merge overlapping intervals, then a cumulative covered-bp function at the edges
        e_run = np.maximum.accumulate(e)
        new = np.r_[True, s[1:] > e_run[:-1]]
        grp = np.cumsum(new) - 1
        ms = s[new]
        me = np.zeros(len(ms), np.int64)
        np.maximum.at(me, grp, e)
        edges = np.ravel(np.column_stack([ms, me]))
        cover = np.ravel(np.column_stack([np.cumsum(me - ms) - (me - ms), np.cumsum(me - ms)]))
        bs = bins.start.to_numpy(np.int64)[idx]
        be = bins.end.to_numpy(np.int64)[idx]
        covered = np.interp(be, edges, cover) - np.interp(bs, edges, cover)
        out[idx] = covered / np.maximum(be - bs, 1)
    return out


def _cache_paths(cache_dir: Path, sha: str, bin_size: int) -> tuple[Path, Path]:
    stem = f"fasta-{sha[:20]}-{bin_size}-v{CACHE_VERSION}"
    return cache_dir / f"{stem}.tsv.gz", cache_dir / f"{stem}.json"


def _quick_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _lookup_sha(cache_dir: Path, path: Path) -> str | None:
    idx = cache_dir / "fasta-index.json"
    try:
        return json.loads(idx.read_text()).get(_quick_key(path))
    except (OSError, ValueError):
        return None


def _remember_sha(cache_dir: Path, path: Path, sha: str) -> None:
    idx = cache_dir / "fasta-index.json"
    try:
        known = json.loads(idx.read_text()) if idx.exists() else {}
    except (OSError, ValueError):
        known = {}
    known[_quick_key(path)] = sha
    write_json(idx, known)


def genome_from_fasta(
    fasta: str | os.PathLike,
    bin_size: int,
    cache_dir: str | os.PathLike | None = None,
    *,
    blacklist: str | os.PathLike | None = None,
    cytobands: str | os.PathLike | None = None,
    genes: str | os.PathLike | None = None,
    build: str | None = None,
    min_bases: float = 0.75,
    max_blacklist: float = 0.25,
    use_cache: bool = True,
) -> Genome:
    """Bin a reference FASTA into a :class:`Genome` (GC and N content per bin).

    Parameters
    ----------
    fasta : plain or bgzip-compressed FASTA (a ``.fai`` is created next to it if missing).
    bin_size : bin width in bp.
    cache_dir : where binned genomes are kept (default :func:`default_cache_dir`).
    blacklist : optional BED of regions to avoid (fraction covered → ``blacklist``).
    cytobands : optional UCSC ``cytoBand`` table (chrom, start, end, band, stain) for arms.
    genes : optional table ``chrom, start, end, symbol[, strand, gene_type]``.
    build : name of the build (default: recognised from chromosome lengths, else the file name).
    min_bases, max_blacklist : usable-bin thresholds (fraction of A/C/G/T bases; blacklisted fraction).

    ``bases`` is the fraction of the nominal bin width that is A/C/G/T (so a short last
    bin scores low); ``gc`` is the G+C fraction of those bases.  A bin is usable when
    ``bases >= min_bases``, ``blacklist <= max_blacklist`` and it lies on a primary
    chromosome other than Y and MT (no unplaced, alt or decoy contigs).
    """
    path = Path(fasta)
    bin_size = int(bin_size)
    if bin_size < 1000:
        raise InputError(f"bin size {bin_size} bp is too small for low-pass copy number; choose 50 kb or more")
    fa = _open_fasta(path)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    sha = _lookup_sha(cache, path) if use_cache else None
    bins = sizes = None
    if sha is not None:
        tsv, meta = _cache_paths(cache, sha, bin_size)
        if tsv.exists() and meta.exists():
            bins = pd.read_csv(tsv, sep="\t", dtype={"chrom": str})
            m = json.loads(meta.read_text())
            sizes = pd.Series(m["chrom_sizes"], name="length")
    if bins is None:
        sha = sha or sha256_file(path)
        tsv, meta = _cache_paths(cache, sha, bin_size)
        if use_cache and tsv.exists() and meta.exists():
            bins = pd.read_csv(tsv, sep="\t", dtype={"chrom": str})
            sizes = pd.Series(json.loads(meta.read_text())["chrom_sizes"], name="length")
        else:
            bins, sizes = _compute_bins(fa, bin_size)
            if use_cache:
                try:
                    with atomic_path(tsv) as tmp:
                        bins.to_csv(tmp, sep="\t", index=False, compression="gzip")
                    write_json(meta, {"fasta": str(path.resolve()), "sha256": sha, "bin_size": bin_size,
                                      "chrom_sizes": {k: int(v) for k, v in sizes.items()},
                                      "version": CACHE_VERSION})
                except OSError:
                    pass  # a read-only cache only costs time
        if use_cache:
            try:
                _remember_sha(cache, path, sha)
            except OSError:
                pass
    fa.close()
    bins = bins.copy()
    bins["mappability"] = np.nan
    bins["blacklist"] = interval_fraction(bins, _read_bed(blacklist, "blacklist")) if blacklist else 0.0
    bins["residual"] = np.nan
    primary = ~bins.chrom.astype(str).str.contains(_NOT_PRIMARY)
    bins["use"] = (primary & (bins.bases >= min_bases) & (bins.blacklist <= max_blacklist) & bins.gc.notna()).to_numpy()
    cyto = pd.DataFrame(columns=["chrom", "start", "end", "band", "stain"])
    if cytobands:
        c = _read_bed(cytobands, "cytoband", 5).iloc[:, :5]
        c.columns = ["chrom", "start", "end", "band", "stain"]
        cyto = c
    bins["arm"] = add_arms(bins, cyto)
    gene_df = pd.DataFrame(columns=["chrom", "start", "end", "symbol", "strand", "gene_type"])
    if genes:
        gdf = _read_bed(genes, "gene", 4)
        gdf = gdf.iloc[:, :6]
        gdf.columns = ["chrom", "start", "end", "symbol", "strand", "gene_type"][: gdf.shape[1]]
        gene_df = gdf.reindex(columns=gene_df.columns, fill_value="")
    bins = bins[["chrom", "start", "end", "bases", "gc", "mappability", "blacklist", "residual", "use", "arm"]]
    name = build or guess_build(sizes.to_dict()) or re.sub(r"\.(fa|fasta|fna)(\.gz)?$", "", path.name, flags=re.I)
    return Genome(build=name, bin_size=bin_size, bins=bins.reset_index(drop=True), chrom_sizes=sizes,
                  cytobands=cyto, genes=gene_df, source=f"FASTA {path.name} (sha256 {sha[:12]}), {bin_size // 1000} kb bins")
