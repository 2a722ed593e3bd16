"""Bin-count matrices as input: data that arrives already binned.

Accepted layouts (plain or gzipped text, tab- or comma-separated, or ``.h5ad``):

* **bins × cells**: ``chrom``, ``start`` (and ``end``) columns, then one column of raw
  counts per cell; annotation columns such as ``gc``, ``mapp``, ``strand`` are recognised
  and not taken for cells (e.g. SCOPE's 10x matrices).  A single-cell table whose count
  column is ``counts`` (AneuFinder, with ``mcounts``/``pcounts``) or ``bincount``
  (Ginkgo/SCclust varbins, where ``chrompos`` is the bin start) is one cell named after
  its file.
* **cells × bins**: a first column of cell ids, then one column per bin named
  ``chrom:start-end`` (as ``var_names`` of ctcscope's AnnData).
* **h5ad**: an AnnData with ``var`` columns ``chrom``, ``start``, ``end`` and raw counts
  in ``layers['counts']`` (or ``X``).

Coordinates may be 0-based half-open or 1-based inclusive: the convention is recognised
from how consecutive bins abut.  Bins are matched to the chosen genome's bins by
coordinates.  When they do not line up (another binning, variable-size bins) but do fit
the build — same chromosome names, nothing beyond a chromosome's end — the matrix's own
bins are used, annotated with GC (the file's own ``gc`` column when present),
mappability, blacklist and N content from the build's finest bins by overlap.
"""
from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import GenomeMismatchError, InputError
from ..genome import Genome, canonical_chroms, chrom_order
from ..genome.builtin import BUILTIN_BIN_SIZES, BUILTIN_BUILDS, add_arms, load_genome, usable_bins

_CHROM = ("chrom", "chr", "chromosome", "seqnames", "bin.chrom", "chrom_name", "contig")
_START = ("start", "bin.start", "chrompos", "chromstart", "begin", "pos")
_END = ("end", "bin.end", "chromend", "stop")
_GC = ("gc", "gc_content", "gc.content", "gcfrac")
_MAPP = ("mapp", "mappability", "map")
#: Columns that annotate bins and are never cells.
_ANNOTATION = set(_CHROM + _START + _END + _GC + _MAPP) | {
    "strand", "width", "length", "bin.length", "abspos", "bin", "bin_id", "name", "arm", "chrom.arm", "blacklist",
    "bases", "use", "residual", "ratio", "mcounts", "pcounts", "gene.count", "cgi.count", "dist.telomere",
    "bin_length", "gene_count", "cgi_count", "dist_telomere", "index",
}
_SINGLE_CELL_COLUMNS = ("counts", "bincount", "count", "reads")
_REGION = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)$")


# ----------------------------------------------------------------------------- reading


def _cell_name_from_file(path: Path) -> str:
    n = path.name
    for suf in (".gz", ".tsv", ".csv", ".txt"):
        if n.lower().endswith(suf):
            n = n[: -len(suf)]
    n = re.sub(r"\.bam(_binsize_\d+)?$", "", n)
    n = re.sub(r"\.varbin\.\d+k$", "", n)
    return n


def _read_text_table(path: Path) -> pd.DataFrame:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig") as fh:
            head = fh.readline()
    except (UnicodeDecodeError, OSError) as e:
        raise InputError(f"count matrix {path.name} is not readable text ({e}); give a TSV/CSV or .h5ad file") from None
    sep = "\t" if head.count("\t") >= head.count(",") else ","
    if head.count(sep) == 0:
        raise InputError(f"count matrix {path.name} has a single column; separate columns with tabs or commas")
    fields = [f.strip() for f in head.rstrip("\r\n").split(sep)]
    dup = sorted({f for f in fields if fields.count(f) > 1})
    if dup:
        raise InputError(f"count matrix {path.name}: column '{dup[0]}' appears twice; cell names must be unique")
    try:
        return pd.read_csv(path, sep=sep, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        msg = str(e).strip().splitlines()[-1]
        raise InputError(f"count matrix {path.name} cannot be parsed ({msg}); check that every row has the same "
                         "number of columns") from None


def _pick(cols: dict[str, str], names) -> str | None:
    for n in names:
        if n in cols:
            return cols[n]
    return None


def _parse_regions(names, where: str) -> pd.DataFrame:
    rows = []
    for n in names:
        m = _REGION.match(str(n).strip())
        if not m:
            raise InputError(
                f"{where}: column '{n}' is not a bin name like 1:1000001-1500000; give chrom/start/end columns "
                "(bins as rows) or name bin columns chrom:start-end"
            )
        rows.append((m["chrom"], int(m["start"].replace(",", "")), int(m["end"].replace(",", ""))))
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def _count_values(df: pd.DataFrame, cols: list[str], where: str) -> np.ndarray:
    """Raw counts as int32 (cells × bins); refuse ratios, negatives, text."""
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise InputError(f"{where}: column '{bad[0]}' holds text, not read counts; remove it or fix its values")
    m = df[cols].to_numpy(dtype=float).T
    if np.isnan(m).any():
        c = cols[int(np.flatnonzero(np.isnan(m).any(axis=1))[0])]
        raise InputError(f"{where}: column '{c}' has missing values; a count matrix needs a count for every bin")
    if (m < 0).any() or (m != np.round(m)).any():
        c = cols[int(np.flatnonzero(((m < 0) | (m != np.round(m))).any(axis=1))[0])]
        raise InputError(
            f"{where}: column '{c}' holds values that are not whole non-negative numbers; ctcscope needs raw read "
            "counts per bin, not ratios or log values"
        )
    return m.astype(np.int32)


def _table_bins_cells(df: pd.DataFrame, path: Path):
    """(bins DataFrame with chrom/start/end [+gc, mappability], counts cells × bins, cell names, end_given)."""
    where = f"count matrix {path.name}"
    cols = {str(c).strip().lower(): c for c in df.columns}
    c_chrom, c_start, c_end = _pick(cols, _CHROM), _pick(cols, _START), _pick(cols, _END)
    if c_chrom is not None:
        if c_start is None:
            raise InputError(f"{where} has a chromosome column but no 'start' column; add the bin starts")
        bins = pd.DataFrame({"chrom": df[c_chrom].astype(str), "start": df[c_start]})
        bins["end"] = df[c_end] if c_end is not None else -1
        for names, out in ((_GC, "gc"), (_MAPP, "mappability")):
            c = _pick(cols, names)
            if c is not None and pd.api.types.is_numeric_dtype(df[c]):
                bins[out] = df[c].astype(float)
        single = [cols[k] for k in _SINGLE_CELL_COLUMNS if k in cols]
        cells = [c for k, c in cols.items() if k not in _ANNOTATION and k not in _SINGLE_CELL_COLUMNS]
        if single and not cells:
            names = [_cell_name_from_file(path)]
            m = _count_values(df, [single[0]], where)
        else:
            if not cells:
                raise InputError(f"{where} has bin columns but no cell columns; add one column of read counts per cell")
            names = [str(c) for c in cells]
            m = _count_values(df, cells, where)
        return bins, m, names, c_end is not None
    # cells × bins: first column holds cell ids, the others are bins
    first = df.columns[0]
    bins = _parse_regions(df.columns[1:], where)
    names = df[first].astype(str).tolist()
    m = _count_values(df, list(df.columns[1:]), where).T
    return bins, m, names, True


def _read_h5ad(path: Path):
    import anndata as ad

    where = f"count matrix {path.name}"
    try:
        a = ad.read_h5ad(path)
    except Exception as e:  # h5py/anndata raise many types for damaged files
        raise InputError(f"{where} cannot be read as h5ad ({type(e).__name__}); check that the file is complete") from None
    var = a.var
    if {"chrom", "start", "end"} <= set(var.columns):
        bins = pd.DataFrame({"chrom": var.chrom.astype(str).to_numpy(), "start": var.start.to_numpy(),
                             "end": var.end.to_numpy()})
        zero_based = True
    else:
        bins = _parse_regions(a.var_names, where)
        zero_based = False
    for names, out in ((_GC, "gc"), (_MAPP, "mappability")):
        c = next((c for c in var.columns if c.lower() in names), None)
        if c is not None:
            bins[out] = var[c].astype(float).to_numpy()
    x = a.layers["counts"] if "counts" in a.layers else a.X
    x = x.toarray() if hasattr(x, "toarray") else np.asarray(x)
    frame = pd.DataFrame(x.T, columns=[f"c{i}" for i in range(x.shape[0])])
    m = _count_values(frame, list(frame.columns), where)
    obs = a.obs.copy()
    return bins, m, [str(i) for i in a.obs_names], zero_based, obs


# ----------------------------------------------------------------------------- coordinates


def _to_half_open(bins: pd.DataFrame, end_given: bool, genome: Genome, where: str) -> pd.DataFrame:
    """Canonical chrom names; 0-based half-open coordinates (1-based input recognised)."""
    b = bins.copy()
    b["chrom"] = canonical_chroms(b.chrom).to_numpy()
    for c in ("start", "end"):
        if not pd.api.types.is_numeric_dtype(b[c]) or b[c].isna().any():
            raise InputError(f"{where}: the bin {c} column holds text or missing values; give whole numbers")
    b["start"] = b.start.astype(np.int64)
    b["end"] = b.end.astype(np.int64)
    if not end_given:
        # only starts given (Ginkgo/SCclust varbins): a bin ends where the next one starts,
        # the last one at the chromosome's end
        nxt = b.groupby("chrom", sort=False).start.shift(-1)
        size = b.chrom.map(genome.chrom_sizes).astype(float)
        b["end"] = nxt.fillna(size).fillna(b.start + 1).astype(np.int64)
        return b
    # how consecutive bins meet tells the convention: next.start == end (half-open) or end + 1
    same = b.chrom.eq(b.chrom.shift(-1))
    gap = (b.start.shift(-1) - b.end)[same]
    one_based = False
    if len(gap):
        n0, n1 = int((gap == 0).sum()), int((gap == 1).sum())
        if n0 or n1:
            one_based = n1 > n0
        else:
            w = b.end - b.start
            one_based = int(((w + 1) % 1000 == 0).sum()) > int((w % 1000 == 0).sum())
    elif len(b):
        w = b.end - b.start
        one_based = bool(((w + 1) % 1000 == 0).all() and not (w % 1000 == 0).all())
    if one_based:
        b["start"] -= 1
    if (b.end <= b.start).any():
        r = b[b.end <= b.start].iloc[0]
        raise InputError(f"{where}: bin {r.chrom}:{r.start}-{r.end} ends before it starts; check the start/end columns")
    return b


def _check_fits(b: pd.DataFrame, genome: Genome, where: str) -> None:
    sizes = genome.chrom_sizes
    known = b.chrom.isin(sizes.index)
    if not known.any():
        ex = ", ".join(pd.unique(b.chrom)[:3])
        raise GenomeMismatchError(
            f"{where}: no chromosome name fits genome {genome.build} (the matrix has {ex}, ...); "
            "choose the genome the counts were made on"
        )
    over = b[known & (b.end > b.chrom.map(sizes).fillna(np.inf))]
    if len(over):
        r = over.iloc[0]
        raise GenomeMismatchError(
            f"{where}: bin {r.chrom}:{r.start + 1:,}-{r.end:,} ends past the end of chromosome {r.chrom} in "
            f"{genome.build} ({int(sizes[r.chrom]):,} bp), so the counts were made on another build; choose that build"
        )
    for c, g in b[known].groupby("chrom", sort=False):
        s = np.sort(g.start.to_numpy())
        e = g.end.to_numpy()[np.argsort(g.start.to_numpy())]
        if (s[1:] < e[:-1]).any():
            raise InputError(f"{where}: bins on chromosome {c} overlap; give non-overlapping bins")


# ----------------------------------------------------------------------------- annotation of own bins


def _overlap_mean(ref: pd.DataFrame, col: str, weight: np.ndarray, b: pd.DataFrame) -> np.ndarray:
    """Overlap-weighted mean of ``ref[col]`` over each bin of ``b`` (NaN where no data)."""
    out = np.full(len(b), np.nan)
    for c, idx in b.groupby("chrom", sort=False).indices.items():
        r = ref[ref.chrom == c]
        if r.empty:
            continue
        r = r.sort_values("start")
        rs, re_ = r.start.to_numpy(float), r.end.to_numpy(float)
        v = r[col].to_numpy(float)
        w = weight[r.index.to_numpy()] if len(weight) else np.ones(len(r))
        ok = np.isfinite(v) & np.isfinite(w)
        dens_w = np.where(ok, w, 0.0) / (re_ - rs)  # weight per bp
        dens_vw = np.where(ok, v * w, 0.0) / (re_ - rs)
        # piecewise-constant densities → cumulative integrals at the reference bin edges
        edges = np.concatenate([rs, re_[-1:]])
        cw = np.concatenate([[0.0], np.cumsum(dens_w * (re_ - rs))])
        cvw = np.concatenate([[0.0], np.cumsum(dens_vw * (re_ - rs))])
        s = b.start.to_numpy(float)[idx]
        e = b.end.to_numpy(float)[idx]
        W = np.interp(e, edges, cw) - np.interp(s, edges, cw)
        VW = np.interp(e, edges, cvw) - np.interp(s, edges, cvw)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[idx] = np.where(W > 0, VW / W, np.nan)
    return out


def annotate_bins(b: pd.DataFrame, genome: Genome, source: str) -> Genome:
    """A :class:`Genome` on the bins ``b`` (chrom/start/end, optional gc/mappability), annotated
    from ``genome`` — the build's 50 kb bins for a built-in build — by overlap."""
    ref = genome
    if genome.build in BUILTIN_BUILDS and genome.bin_size in BUILTIN_BIN_SIZES:
        ref = load_genome(genome.build, min(BUILTIN_BIN_SIZES))
    rb = ref.bins.reset_index(drop=True)
    width = (rb.end - rb.start).to_numpy(float)
    bases_w = width * rb["bases"].fillna(0).to_numpy(float) if "bases" in rb else width
    out = b[["chrom", "start", "end"]].reset_index(drop=True).copy()
    width_b = (out.end - out.start).to_numpy(float)
    # 'bases' = non-N fraction of the bin, from the reference's non-N bases
    if "bases" in rb:
        nonn = _overlap_mean(rb.assign(_one=rb["bases"].fillna(0)), "_one", width, out)
        out["bases"] = nonn
    for col, w in (("gc", bases_w), ("mappability", width), ("blacklist", width)):
        own = b[col].to_numpy(float) if col in b else None
        if own is not None and np.isfinite(own).any():
            # the file's own values win (computed for exactly these bins); % → fraction
            out[col] = own / 100.0 if np.nanmax(own) > 1.0 else own
        elif col in rb:
            out[col] = _overlap_mean(rb, col, w, out)
        else:
            out[col] = np.nan
    out["residual"] = np.nan
    out["use"] = usable_bins(out) & (width_b > 0)
    out["arm"] = add_arms(out, genome.cytobands)
    widths = np.unique(width_b[out.chrom.eq(out.chrom.shift(-1)).to_numpy()])
    bin_size = int(widths[0]) if len(widths) == 1 else 0
    return Genome(build=genome.build, bin_size=bin_size, bins=out, chrom_sizes=genome.chrom_sizes.copy(),
                  cytobands=genome.cytobands.copy(), genes=genome.genes.copy(),
                  source=f"own bins of {source}, annotated from {ref.source or ref.build}")


# ----------------------------------------------------------------------------- public


def load_counts(path: str | os.PathLike, genome: Genome, *, own_bins: bool | None = None):
    """Read a count matrix; return ``(AnnData, Genome)`` — the genome whose bins ``var`` holds.

    ``own_bins``: ``None`` (default) uses the chosen genome's bins when the matrix's bins
    line up with them and the matrix's own bins otherwise; ``False`` refuses a matrix
    whose bins do not line up; ``True`` always keeps the matrix's own bins.
    """
    import anndata as ad

    path = Path(path)
    where = f"count matrix {path.name}"
    if not path.exists():
        raise InputError(f"count matrix {path} does not exist; check the path given with --counts")
    if path.is_dir():
        raise InputError(f"count matrix {path} is a folder; give the TSV/CSV or .h5ad file")
    obs_in = None
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if not magic:
        raise InputError(f"count matrix {path.name} is an empty file; give a TSV/CSV or .h5ad file")
    if magic.startswith(b"\x89HDF") or path.suffix.lower() == ".h5ad":
        bins, m, names, zero_based, obs_in = _read_h5ad(path)
        end_given = True
        if zero_based:
            bins["chrom"] = canonical_chroms(bins.chrom).to_numpy()
            b = bins
        else:
            b = _to_half_open(bins, True, genome, where)
    else:
        df = _read_text_table(path)
        if df.empty:
            raise InputError(f"count matrix {path.name} has a header but no rows; give one row per bin or cell")
        bins, m, names, end_given = _table_bins_cells(df, path)
        b = _to_half_open(bins, end_given, genome, where)
    if len(set(names)) != len(names):
        dup = pd.Series(names)[pd.Series(names).duplicated()].iloc[0]
        raise InputError(f"{where}: cell '{dup}' appears twice; cell names must be unique")

    # counts on contigs the genome lacks (chrM, unplaced, decoys) are set aside
    on_genome = b.chrom.isin(genome.chrom_sizes.index).to_numpy()
    _check_fits(b, genome, where)
    set_aside = {"file": path.name, "bins_in_file": int(len(b)), "bins_set_aside": int((~on_genome).sum()),
                 "reads_set_aside": int(m[:, ~on_genome].sum())}
    b, m = b[on_genome].reset_index(drop=True), m[:, on_genome]

    gb = genome.bins
    key_g = pd.MultiIndex.from_arrays([gb.chrom.astype(str), gb.start.astype(np.int64), gb.end.astype(np.int64)])
    key_b = pd.MultiIndex.from_arrays([b.chrom, b.start, b.end])
    pos = key_g.get_indexer(key_b)
    matched = bool((pos >= 0).all())
    if own_bins is False and not matched:
        r = b[pos < 0].iloc[0]
        raise InputError(
            f"{where}: {int((pos < 0).sum()):,} of {len(b):,} bins (first {r.chrom}:{r.start + 1:,}-{r.end:,}) do not "
            f"line up with the {genome.build} {genome.bin_size // 1000} kb bins; choose the bin size the counts were "
            "made with, or allow the matrix's own bins"
        )
    if matched and not own_bins:
        x = np.zeros((m.shape[0], genome.n_bins), np.int32)
        x[:, pos] = m
        target = Genome(build=genome.build, bin_size=genome.bin_size, bins=genome.bins.copy(),
                        chrom_sizes=genome.chrom_sizes, cytobands=genome.cytobands, genes=genome.genes,
                        source=genome.source)
        present = np.zeros(genome.n_bins, bool)
        present[pos] = True
        # bins the matrix does not cover have no data: not usable for calling
        target.bins["use"] = target.bins["use"].to_numpy() & present
    else:
        order = np.lexsort((b.start.to_numpy(), b.chrom.map(chrom_order).to_numpy()))
        b, m = b.iloc[order].reset_index(drop=True), m[:, order]
        target = annotate_bins(b, genome, path.name)
        x = m
    var = target.to_var()
    obs = _default_obs(names)
    if obs_in is not None:
        for c in obs_in.columns:
            if c not in ("reads", "reads_total"):
                obs[c] = obs_in[c].to_numpy()
    obs["reads"] = x.sum(axis=1).astype(np.int64)
    obs["reads_total"] = np.nan
    adata = ad.AnnData(X=None, obs=obs, var=var, layers={"counts": x})
    adata.uns["genome"] = {"build": target.build, "bin_size": int(target.bin_size), "source": target.source}
    adata.uns["counts_input"] = set_aside
    return adata, target


def read_counts(path: str | os.PathLike, genome: Genome, *, own_bins: bool | None = None):
    """Read a bin-count matrix into an AnnData (obs = cells, var = bins, layer ``counts``).

    See the module docstring for the layouts read.  ``var`` holds the chosen genome's bins
    when the matrix's bins line up with them (bins the matrix lacks get ``use = False``),
    else the matrix's own bins annotated from the build (``own_bins`` forces either way).

    >>> a = read_counts("scope_demo_10x_3cells_hg19_500kb_counts.tsv.gz", load_genome("hg19", 500_000))  # doctest: +SKIP
    """
    return load_counts(path, genome, own_bins=own_bins)[0]


def _default_obs(names) -> pd.DataFrame:
    n = len(names)
    obs = pd.DataFrame(index=pd.Index([str(s) for s in names], name="sample_id"))
    obs["patient"] = [""] * n
    obs["sample_type"] = ["ctc"] * n
    obs["pool_size"] = np.ones(n, np.int64)
    obs["phenotype"] = [""] * n
    obs["isolation"] = [""] * n
    obs["gii"] = np.full(n, np.nan)
    obs["bam"] = [""] * n
    return obs
