"""The copy-number outputs of a run: ``cohort.h5ad``, ``cells.tsv``, ``segments.seg``.

Each file is written atomically (:mod:`ctcscope._atomic`): it appears complete under its
final name or not at all.  ``run.json`` is not written here: the workflow writes it last,
so a folder without it is an unfinished run.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .._atomic import write_h5ad, write_tsv
from ..errors import InputError

#: IGV (desktop and igv.js) plots the LAST column of a SEG file, so ``seg.mean`` (log2 of the
#: segment ratio to the cell's mean) must come last; the integer copy number sits before it
#: and shows in IGV's pop-up.  Putting ``copy_number`` last made a flat 4n cell look gained.
SEG_COLUMNS = ["ID", "chrom", "loc.start", "loc.end", "num.mark", "copy_number", "seg.mean"]
#: Segment ratios are floored here before log2 so homozygous deletions stay finite in IGV.
SEG_RATIO_FLOOR = 2.0 ** -10
#: ``uns`` keys stored as JSON text in the h5ad (nested lists/dicts h5ad cannot hold).
_JSON_UNS = ("ctcscope",)


def cells_table(adata) -> pd.DataFrame:
    """``obs`` with ``sample_id`` as the first column (the content of ``cells.tsv``)."""
    obs = adata.obs.copy()
    obs.insert(0, "sample_id", obs.index.astype(str))
    return obs.reset_index(drop=True)


def segments_to_seg(segments: pd.DataFrame) -> pd.DataFrame:
    """IGV SEG table from ``uns['segments']`` (1-based starts; ``seg.mean`` = log2 ratio)."""
    need = {"sample_id", "chrom", "start", "end", "n_bins", "seg_mean", "cn"}
    missing = need - set(segments.columns)
    if missing:
        raise ValueError(f"segments table lacks columns {sorted(missing)}")
    ratio = segments.seg_mean.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log2 = np.log2(np.maximum(ratio, SEG_RATIO_FLOOR))
    return pd.DataFrame({
        "ID": segments.sample_id.astype(str).to_numpy(),
        "chrom": segments.chrom.astype(str).to_numpy(),
        "loc.start": segments.start.to_numpy(np.int64) + 1,
        "loc.end": segments.end.to_numpy(np.int64),
        "num.mark": segments.n_bins.to_numpy(np.int64),
        "copy_number": segments.cn.to_numpy(),
        "seg.mean": np.round(log2, 4),
    })[SEG_COLUMNS]


def log2_ratio_x(adata) -> np.ndarray | None:
    """``X`` of ``cohort.h5ad``: each bin's segment ratio to the cell's mean, as log2 — the
    value ``segments.seg`` gives IGV, painted onto the bins (``layers['segment']``, floored at
    :data:`SEG_RATIO_FLOOR` like the SEG file).

    Where there is no call — bins not usable (``var['use']`` False) and cells without
    segments — ``X`` is 0, the cell's own mean level, so PCA and distances see "no
    information" rather than a NaN (scanpy refuses NaN).  Select ``adata[:, adata.var.use]``
    to drop those bins.  ``None`` when the AnnData has no ``segment`` layer yet.
    """
    if "segment" not in adata.layers:
        return None
    seg = np.asarray(adata.layers["segment"], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        log2 = np.log2(np.maximum(seg, SEG_RATIO_FLOOR))
    return np.where(np.isfinite(log2), log2, 0.0).astype(np.float32)


def _h5ad_ready(adata):
    """A copy h5ad can store and scanpy can use: ``X`` from :func:`log2_ratio_x`, mixed-type
    text columns as str, nested provenance as JSON."""
    a = adata.copy()
    x = log2_ratio_x(a)
    if x is not None:
        a.X = x
    for frame in (a.obs, a.var):
        for c in frame.columns:
            if frame[c].dtype == object:
                vals = frame[c]
                if vals.map(lambda v: isinstance(v, (bool, np.bool_))).all():
                    frame[c] = vals.astype(bool)
                else:
                    frame[c] = vals.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    for k in _JSON_UNS:
        if k in a.uns and not isinstance(a.uns[k], str):
            a.uns[k] = json.dumps(a.uns[k], default=_json_default)
    for k, v in list(a.uns.items()):
        if isinstance(v, pd.DataFrame):
            v = v.copy()
            for c in v.columns:
                if v[c].dtype == object:
                    v[c] = v[c].astype(str)
            a.uns[k] = v
    return a


def _json_default(o):
    from .._atomic import _json_default as d

    return d(o)


def write_copy_number_outputs(adata, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``cohort.h5ad``, ``cells.tsv`` and (when segments exist) ``segments.seg``.

    Returns the paths written, by name.  ``adata`` is not modified.
    """
    out = Path(out_dir)
    written = {"cohort.h5ad": write_h5ad(out / "cohort.h5ad", _h5ad_ready(adata))}
    written["cells.tsv"] = write_tsv(out / "cells.tsv", cells_table(adata))
    seg = adata.uns.get("segments")
    if isinstance(seg, pd.DataFrame):
        written["segments.seg"] = write_tsv(out / "segments.seg", segments_to_seg(seg), na_rep="NA")
    return written


def read_cohort(out_dir: str | os.PathLike):
    """Read ``cohort.h5ad`` of an output folder (provenance in ``uns['ctcscope']`` as a dict)."""
    import anndata as ad

    p = Path(out_dir)
    if p.is_dir():
        p = p / "cohort.h5ad"
    if not p.exists():
        raise InputError(f"{p} does not exist; run 'ctcscope run' first or give the output folder of a run")
    a = ad.read_h5ad(p)
    for k in _JSON_UNS:
        if isinstance(a.uns.get(k), str):
            a.uns[k] = json.loads(a.uns[k])
    return a


def write_count_matrix(adata, path: str | os.PathLike) -> Path:
    """Raw counts as bins × cells text (``chrom, start, end, gc, mappability, use`` then one
    column per sample; 0-based starts) or as ``.h5ad`` — both read back by ``--counts``."""
    path = Path(path)
    if path.suffix == ".h5ad":
        return write_h5ad(path, _h5ad_ready(adata))
    v = adata.var
    table = pd.DataFrame({"chrom": v.chrom.to_numpy(), "start": v.start.to_numpy(), "end": v.end.to_numpy()})
    for c in ("gc", "mappability"):
        if c in v:
            table[c] = v[c].to_numpy()
    counts = pd.DataFrame(np.asarray(adata.layers["counts"]).T, columns=adata.obs_names.astype(str))
    table = pd.concat([table, counts], axis=1)
    sep = "," if ".csv" in path.name else "\t"
    comp = "gzip" if path.name.endswith(".gz") else None
    return write_tsv(path, table, sep=sep, compression=comp)
