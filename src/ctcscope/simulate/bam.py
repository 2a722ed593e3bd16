"""Coordinate-sorted, indexed BAM files whose per-bin read counts equal the simulated counts.

Reads start at the run's Ampli1 fragment ends (the same positions in every cell, so reads
stack as in real Ampli1 LowPass data): a forward read at the fragment start or a reverse
read ending at the fragment end; each fragment lies wholly inside one bin, so a counter
that assigns a read by its start, end or midpoint gets the same count.  Within a bin, a
cell picks fragments in proportion to the run's fragment efficiencies times a
cell-specific jitter (WGA of one cell).

On top of the counted reads (MAPQ >= 30, primary, not duplicate/QC-fail), each BAM holds
records a correct counter must skip: low-MAPQ (0-29), duplicate-flagged, secondary,
supplementary, QC-fail and unmapped records; :func:`write_bams` returns how many of each.
Secondary/supplementary/duplicate/QC-fail records carry MAPQ 60, so only the flags
exclude them.

BAM records are laid out directly as a numpy structured array (the BAM binary format with
fixed-width read names), BGZF-compressed and indexed by htslib (pysam); there is no Python
loop over reads.  SEQ and QUAL are empty (``*``): copy-number counting needs no bases,
and this keeps files small.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from .._atomic import atomic_path
from ..errors import InputError
from ..genome import Genome

#: Extra (filtered) records per counted read, by kind.
DEFAULT_EXTRAS = {"low_mapq": 0.03, "duplicate": 0.02, "secondary": 0.01, "supplementary": 0.005,
                  "qcfail": 0.005, "unmapped": 0.02}
#: Cell-specific jitter of fragment use within a bin (gamma shape; lower = more uneven).
CELL_SITE_SHAPE = 2.0

_FLAG = {"low_mapq": 0, "duplicate": 0x400, "secondary": 0x100, "supplementary": 0x800, "qcfail": 0x200}


@dataclass
class _Job:
    sample_id: str
    counts: np.ndarray
    path: str
    seed: int


def _contig_names(genome: Genome, chr_prefix: bool) -> list[str]:
    out = []
    for c in genome.chrom_sizes.index:
        n = c.removeprefix("chr")
        out.append(("chrM" if n == "MT" else "chr" + n) if chr_prefix else n)
    return out


def _header_text(genome: Genome, names: list[str], sample_id: str, paired: bool) -> str:
    rg = _safe(sample_id)
    sm = str(sample_id).replace("\t", " ").replace("\n", " ")
    lines = ["@HD\tVN:1.6\tSO:coordinate"]
    lines += [f"@SQ\tSN:{n}\tLN:{int(L)}\tAS:{genome.build}" for n, L in zip(names, genome.chrom_sizes.to_numpy())]
    lines.append(f"@RG\tID:{rg}\tSM:{sm}\tPL:ILLUMINA\tLB:Ampli1-LowPass-simulated")
    lines.append(f"@PG\tID:ctcscope-simulate\tPN:ctcscope\tVN:{__version__}\tCL:ctcscope simulate")
    lines.append(f"@CO\tSIMULATED data: single-cell Ampli1-like low-pass reads ({'paired' if paired else 'single'}-end), "
                 "not from a patient")
    return "\n".join(lines) + "\n"


def _choose_sites(run, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fragment index of every counted read, sorted by bin (vectorised inverse-CDF draw)."""
    n_bins = len(counts)
    w = run.site_weight.astype(np.float64) * rng.gamma(CELL_SITE_SHAPE, 1.0 / CELL_SITE_SHAPE, run.n_sites)
    cum = np.cumsum(w)
    off = np.searchsorted(run.site_bin, np.arange(n_bins + 1))
    read_bin = np.repeat(np.arange(n_bins), counts)
    first, stop = off[read_bin], off[read_bin + 1]
    if np.any(stop == first):
        raise RuntimeError("reads were simulated in a bin without amplified fragments")  # bias-model invariant
    lo = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    hi = cum[stop - 1]
    site = np.searchsorted(cum, lo + rng.random(read_bin.size) * (hi - lo), side="right")
    return np.clip(site, first, stop - 1)


def _reads(run, genome: Genome, job: _Job, read_length: int, paired: bool, extras: dict):
    """Mapped records (dict of arrays, sorted by position) and the number of unmapped
    fragments; ``kinds`` counts fragments of each kind."""
    rng = np.random.default_rng([job.seed, 2, zlib.crc32(job.sample_id.encode())])
    chrom_idx = pd.Index(genome.chrom_sizes.index).get_indexer(genome.bins.chrom.to_numpy()).astype(np.int32)
    n = int(job.counts.sum())
    site = _choose_sites(run, job.counts, rng)
    kinds = {"counted": n}
    parts = []
    next_id = 0

    def fragments(site, kind):
        nonlocal next_id
        m = site.size
        fid = np.arange(next_id, next_id + m, dtype=np.int64)
        next_id += m
        start = run.site_start[site].astype(np.int64)
        flen = run.site_len[site].astype(np.int64)
        L = np.minimum(flen, read_length)
        rev = rng.random(m) < 0.5
        ci = chrom_idx[run.site_bin[site]]
        if kind == "counted":
            mapq = np.where(rng.random(m) < 0.9, 60, rng.integers(30, 60, m))
        elif kind == "low_mapq":
            mapq = rng.integers(0, 30, m)
        else:
            mapq = np.full(m, 60)
        extra = _FLAG.get(kind, 0)
        if not paired or kind in ("secondary", "supplementary"):
            pos = np.where(rev, start + flen - L, start)
            flag = np.where(rev, 0x10, 0) + extra + (0x41 if paired else 0)
            return [dict(ref=ci, pos=pos, flag=flag, mapq=mapq, L=L, mref=np.full(m, -1, np.int32),
                         mpos=np.full(m, -1, np.int64), tlen=np.zeros(m, np.int64), fid=fid)]
        # a pair: the left mate forward at the fragment start, the right mate reverse at its end
        left, right = start, start + flen - L
        r1_left = ~rev
        f_left = np.where(r1_left, 0x1 | 0x2 | 0x20 | 0x40, 0x1 | 0x2 | 0x20 | 0x80) + extra
        f_right = np.where(r1_left, 0x1 | 0x2 | 0x10 | 0x80, 0x1 | 0x2 | 0x10 | 0x40) + extra
        return [dict(ref=ci, pos=left, flag=f_left, mapq=mapq, L=L, mref=ci, mpos=right, tlen=flen, fid=fid),
                dict(ref=ci, pos=right, flag=f_right, mapq=mapq, L=L, mref=ci, mpos=left, tlen=-flen, fid=fid)]

    parts += fragments(site, "counted")
    for kind, frac in extras.items():
        k = int(round(frac * n))
        kinds[kind] = k
        if k == 0 or kind == "unmapped":
            continue
        if kind == "duplicate":  # a duplicate sits on a read that was counted
            extra_site = site[rng.integers(0, n, k)] if n else rng.integers(0, run.n_sites, k)
        else:
            extra_site = rng.integers(0, run.n_sites, k)
        parts += fragments(extra_site, kind)
    rec = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((rec["pos"], rec["ref"]))
    rec = {k: v[order] for k, v in rec.items()}
    unmapped_ids = np.arange(next_id, next_id + kinds.get("unmapped", 0), dtype=np.int64)
    return rec, unmapped_ids, kinds


def _reg2bin(beg: np.ndarray, end: np.ndarray) -> np.ndarray:
    """SAM spec reg2bin (0-based, end exclusive), vectorised."""
    e = end - 1
    return np.select(
        [beg >> 14 == e >> 14, beg >> 17 == e >> 17, beg >> 20 == e >> 20, beg >> 23 == e >> 23, beg >> 26 == e >> 26],
        [4681 + (beg >> 14), 585 + (beg >> 17), 73 + (beg >> 20), 9 + (beg >> 23), 1 + (beg >> 26)], 0)


def _encode(rec: dict, unmapped_ids: np.ndarray, name_prefix: str, rg: str, paired: bool) -> tuple[bytes, bytes]:
    """BAM records as bytes (numpy structured arrays; fixed-width read names)."""
    ids = np.concatenate([rec["fid"], unmapped_ids])
    width = max(1, len(str(int(ids.max())))) if ids.size else 1
    prefix = name_prefix.encode()
    l_name = len(prefix) + width + 1
    if l_name > 254:
        raise InputError("sample id is too long to name reads; shorten it to under 200 characters")
    tag = b"RGZ" + rg.encode() + b"\0"

    def names(fid):
        # prefix + zero-padded decimal id + NUL, built as a byte matrix (no per-read strings)
        buf = np.zeros((fid.size, l_name), dtype=np.uint8)
        buf[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
        powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
        buf[:, len(prefix): len(prefix) + width] = (fid[:, None] // powers) % 10 + 48
        return buf.view(f"S{l_name}").ravel()

    base = [("block_size", "<i4"), ("refID", "<i4"), ("pos", "<i4"), ("l_read_name", "u1"), ("mapq", "u1"),
            ("bin", "<u2"), ("n_cigar_op", "<u2"), ("flag", "<u2"), ("l_seq", "<u4"), ("next_refID", "<i4"),
            ("next_pos", "<i4"), ("tlen", "<i4"), ("read_name", f"S{l_name}")]
    tail = [("tag", f"S{len(tag)}")]
    dt = np.dtype(base + [("cigar", "<u4")] + tail)
    m = rec["pos"].size
    a = np.zeros(m, dtype=dt)
    a["block_size"] = dt.itemsize - 4
    a["refID"], a["pos"] = rec["ref"], rec["pos"]
    a["l_read_name"], a["mapq"] = l_name, rec["mapq"]
    a["bin"] = _reg2bin(rec["pos"], rec["pos"] + rec["L"])
    a["n_cigar_op"], a["flag"] = 1, rec["flag"]
    a["next_refID"], a["next_pos"], a["tlen"] = rec["mref"], rec["mpos"], rec["tlen"]
    a["read_name"] = names(rec["fid"])
    a["cigar"] = (rec["L"].astype(np.uint32) << 4)  # op 0 = M
    a["tag"] = tag
    du = np.dtype(base + tail)
    per = 2 if paired else 1
    u = np.zeros(unmapped_ids.size * per, dtype=du)
    u["block_size"] = du.itemsize - 4
    u["refID"], u["pos"], u["next_refID"], u["next_pos"] = -1, -1, -1, -1
    u["l_read_name"], u["bin"] = l_name, 4680
    u["flag"] = np.tile([0x1 | 0x4 | 0x8 | 0x40, 0x1 | 0x4 | 0x8 | 0x80], unmapped_ids.size) if paired else 0x4
    u["read_name"] = names(np.repeat(unmapped_ids, per))
    u["tag"] = tag
    return a.tobytes(), u.tobytes()


def _bam_header(text: str, names: list[str], lengths) -> bytes:
    import struct

    t = text.encode()
    out = [b"BAM\1", struct.pack("<i", len(t)), t, struct.pack("<i", len(names))]
    for n, L in zip(names, lengths):
        nb = n.encode() + b"\0"
        out += [struct.pack("<i", len(nb)), nb, struct.pack("<i", int(L))]
    return b"".join(out)


def write_bam(sim, sample_id: str, path: str | os.PathLike, *, read_length: int = 150, paired: bool = False,
              chr_prefix: bool = True, extras: dict | None = None) -> dict:
    """Write one sample's BAM (+ ``.bai``) atomically; returns its record counts."""
    i = sim.adata.obs_names.get_loc(sample_id)
    job = _Job(sample_id, np.asarray(sim.counts[i], dtype=np.int64), str(path), sim.seed)
    return _write(sim.run, sim.genome, job, read_length, paired, chr_prefix, DEFAULT_EXTRAS if extras is None else extras)


def _write(run, genome, job: _Job, read_length, paired, chr_prefix, extras) -> dict:
    import pysam
    from pysam.libcbgzf import BGZFile

    names = _contig_names(genome, chr_prefix)
    rec, unmapped, kinds = _reads(run, genome, job, read_length, paired, extras)
    mapped_bytes, unmapped_bytes = _encode(rec, unmapped, _safe(job.sample_id) + ":", _safe(job.sample_id), paired)
    header = _bam_header(_header_text(genome, names, job.sample_id, paired), names, genome.chrom_sizes.to_numpy())
    path = Path(job.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with BGZFile(str(tmp), "wb") as fh:
            fh.write(header)
            fh.write(mapped_bytes)
            fh.write(unmapped_bytes)
        bai = Path(str(tmp) + ".bai")
        pysam.index(str(tmp), str(bai))
    os.replace(bai, str(path) + ".bai")
    _publish_mode(path)
    _publish_mode(Path(str(path) + ".bai"))
    per = 2 if paired else 1
    n_records = rec["pos"].size + unmapped.size * per
    row = {"sample_id": job.sample_id, "bam": str(path), "paired": paired, "counted": kinds["counted"]}
    for k in DEFAULT_EXTRAS:
        row[k] = kinds.get(k, 0)
    row["counted_records"] = kinds["counted"] * per
    row["records_total"] = int(n_records)
    return row


def _publish_mode(p: Path) -> None:
    """Temporary files are created private (0600); give the finished file the usual
    permissions of the user's umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(p, 0o666 & ~mask)


def write_bams(sim, out_dir: str | os.PathLike, genome: Genome | None = None, *, read_length: int = 150,
               paired: bool = False, chr_prefix: bool = True, extras: dict | None = None,
               samples: list[str] | None = None, workers: int | None = 1, quiet: bool = True) -> pd.DataFrame:
    """One coordinate-sorted, indexed BAM per sample in ``out_dir`` (``<sample_id>.bam``).

    Per-bin counts of reads with MAPQ >= 30 that are not unmapped, secondary,
    supplementary, QC-fail or duplicate equal ``sim.adata.layers['counts']`` (paired-end:
    per fragment, i.e. counting read 1 only).  Returns one row per sample: the path and
    the number of records of each kind (``counted``, ``low_mapq``, ``duplicate``,
    ``secondary``, ``supplementary``, ``qcfail``, ``unmapped``, ``records_total``).
    """
    from ..parallel import map_samples

    genome = genome or sim.genome
    if genome.n_bins != sim.genome.n_bins or genome.build != sim.genome.build:
        raise InputError("write_bams needs the genome the cohort was simulated on; pass sim.genome")
    if read_length < 20:
        raise InputError(f"read length {read_length} is too short; use e.g. 150 (as the study) or 100")
    ids = list(sim.adata.obs_names) if samples is None else list(samples)
    unknown = set(ids) - set(sim.adata.obs_names)
    if unknown:
        raise InputError(f"sample(s) {', '.join(sorted(unknown)[:3])} are not in the simulated cohort")
    out_dir = Path(out_dir)
    ex = DEFAULT_EXTRAS if extras is None else extras
    bad = set(ex) - set(DEFAULT_EXTRAS)
    if bad:
        raise InputError(f"unknown extra record kind(s) {', '.join(sorted(bad))}; allowed: {', '.join(DEFAULT_EXTRAS)}")
    jobs = [_Job(s, np.asarray(sim.counts[sim.adata.obs_names.get_loc(s)], dtype=np.int64),
                 str(out_dir / f"{_safe(s)}.bam"), sim.seed) for s in ids]
    # In other processes the run-level fragments (tens of MB) are rebuilt from their seed
    # rather than shipped with every job.
    local = workers is not None and int(workers) <= 1 or len(jobs) <= 1
    run_spec = None if local else (sim.design.bias, int(sim.adata.uns["simulation"]["run_seed"]))
    rows = map_samples(_write_job, jobs, workers=workers, description="writing BAMs", quiet=quiet,
                       run=sim.run if local else None, run_spec=run_spec, genome=genome, read_length=read_length,
                       paired=paired, chr_prefix=chr_prefix, extras=ex)
    return pd.DataFrame(rows)


_RUN_CACHE: dict = {}


def _write_job(job: _Job, *, run, run_spec, genome, read_length, paired, chr_prefix, extras) -> dict:
    if run is None:
        from .bias import run_bias
        from .counts import _run_rng

        bias, run_seed = run_spec
        key = (genome.build, genome.bin_size, genome.n_bins, repr(bias), run_seed)
        if key not in _RUN_CACHE:
            _RUN_CACHE.clear()
            _RUN_CACHE[key] = run_bias(genome, bias, _run_rng(run_seed))
        run = _RUN_CACHE[key]
    return _write(run, genome, job, read_length, paired, chr_prefix, extras)


def _safe(sample_id: str) -> str:
    """A file name for a sample id (ids are free text)."""
    import re

    return re.sub(r"[^A-Za-z0-9._+-]", "_", sample_id)
