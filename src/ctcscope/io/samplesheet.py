"""The sample sheet: one row per sample (single CTC, CTC pool, leukocyte control, ...).

The columns are described in ``docs/data-model.md``.  Every problem found is reported
as one sentence naming the row (line of the file) and how to fix it; all problems of a
sheet are reported at once, so a user fixes the sheet in one go.
"""
from __future__ import annotations

import csv
import difflib
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

#: Allowed values of ``sample_type`` (see docs/data-model.md).
SAMPLE_TYPES = ("ctc", "ctc_pool", "wbc", "germline", "biopsy", "normal")
NORMAL_TYPES = ("wbc", "germline", "normal")
TUMOUR_TYPES = ("ctc", "ctc_pool", "biopsy")

#: Common spellings accepted for the standard columns (after lower-casing, spaces → ``_``).
COLUMN_ALIASES = {
    "sample": "sample_id", "sampleid": "sample_id", "sample_name": "sample_id", "id": "sample_id",
    "cell": "sample_id", "cell_id": "sample_id",
    "bam_file": "bam", "bam_path": "bam", "bamfile": "bam",
    "patient_id": "patient", "patientid": "patient",
    "type": "sample_type", "sampletype": "sample_type",
    "pool": "pool_size", "poolsize": "pool_size", "cells": "pool_size", "n_cells": "pool_size",
    "isolation_method": "isolation", "method": "isolation",
    "genome_integrity_index": "gii",
}
#: Spellings of sample types that mean one of :data:`SAMPLE_TYPES`.
TYPE_ALIASES = {
    "single_ctc": "ctc", "ctc_single": "ctc", "pool": "ctc_pool", "ctcpool": "ctc_pool", "ctc-pool": "ctc_pool",
    "leukocyte": "wbc", "leucocyte": "wbc", "leukocytes": "wbc", "leucocytes": "wbc", "cd45": "wbc",
    "cd45+": "wbc", "wbc_pool": "wbc", "germline_dna": "germline", "gdna": "germline", "tissue": "biopsy",
    "tumour": "biopsy", "tumor": "biopsy",
}
_PATH_COLUMNS = ("bam", "fcs")
_MAX_REPORTED = 8


def _read_text(path: Path) -> str:
    if not path.exists():
        raise InputError(f"sample sheet {path} does not exist; check the path given with --samples")
    if path.is_dir():
        raise InputError(f"sample sheet {path} is a folder; give the CSV or TSV file")
    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04":
        raise InputError(f"sample sheet {path.name} is an Excel/zip file; save it as CSV or TSV (UTF-8)")
    if raw[:2] == b"\x1f\x8b":
        raise InputError(f"sample sheet {path.name} is gzip-compressed; give the plain CSV or TSV file")
    for bom, enc in ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(enc)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(
            f"sample sheet {path.name} is not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); "
            "save it as UTF-8 CSV or TSV"
        ) from None


def _delimiter(text: str, name: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"sample sheet {name} is empty; add a header line (sample_id, bam, ...) and one row per sample")
    header = lines[0]
    counts = {d: header.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        if "|" in header or " " in header.strip():
            raise InputError(
                f"sample sheet {name} has a single column ({header.strip()[:40]!r}); "
                "separate the columns with tabs (TSV) or commas (CSV)"
            )
        return ","
    return best


def _norm_col(c: str) -> str:
    k = str(c).strip().lower().replace(" ", "_").replace("-", "_")
    return COLUMN_ALIASES.get(k, k)


def _closest_type(value: str) -> str:
    """Suggest a sample type, also through its common spellings (``leukocite`` → ``wbc``)."""
    m = difflib.get_close_matches(value, list(SAMPLE_TYPES) + list(TYPE_ALIASES), n=1, cutoff=0.6)
    if not m:
        return ""
    return f"; did you mean '{TYPE_ALIASES.get(m[0], m[0])}'?"


def read_sample_sheet(path: str | os.PathLike, require_bam: bool = True) -> pd.DataFrame:
    """Read and validate a sample sheet (CSV, TSV or ``;``-separated; sniffed).

    Returns one row per sample with columns ``sample_id, patient, sample_type, pool_size,
    phenotype, isolation, gii, bam`` first (defaults filled in), then any other columns
    of the sheet unchanged.  Relative ``bam``/``fcs`` paths are resolved against the
    sheet's folder.  ``require_bam=False`` when the reads come from a count matrix.

    Raises :class:`InputError` listing every problem, one sentence each.
    """
    path = Path(path)
    name = path.name
    text = _read_text(path)
    sep = _delimiter(text, name)
    # blank lines and comment lines ('#') are dropped; keep file line numbers for messages
    kept = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and not ln.lstrip().startswith("#")]
    rows = list(csv.reader([ln for _, ln in kept], delimiter=sep))
    for (line, _), row in zip(kept[1:], rows[1:]):
        if len(row) > len(rows[0]) and any(v.strip() for v in row[len(rows[0]):]):
            raise InputError(f"sample sheet {name}, line {line} has {len(row)} fields but the header has "
                             f"{len(rows[0])}; remove the extra fields or add column names")
    try:
        df = pd.read_csv(io.StringIO("\n".join(ln for _, ln in kept)), sep=sep, dtype=str, keep_default_na=False,
                         quoting=csv.QUOTE_MINIMAL, index_col=False)
    except pd.errors.ParserError as e:
        msg = str(e).strip().splitlines()[-1]
        raise InputError(f"sample sheet {name} cannot be parsed ({msg}); check that every row has the same "
                         "number of columns") from None
    df = df.fillna("").reset_index(drop=True)
    lines = [i for i, _ in kept[1:]]
    df.insert(0, "_line", lines if len(lines) == len(df) else list(range(2, len(df) + 2)))

    cols = [_norm_col(c) for c in df.columns]
    dup = sorted({c for c in cols if cols.count(c) > 1 and c != "_line"})
    if dup:
        raise InputError(f"sample sheet {name} has the column '{dup[0]}' twice; keep one")
    df.columns = cols
    if "sample_id" not in df:
        raise InputError(
            f"sample sheet {name} has no 'sample_id' column (columns: {', '.join(c for c in cols if c != '_line')}); "
            "add one with a unique id per sample"
        )
    df = df.apply(lambda s: s.str.strip() if s.dtype == object else s)
    if len(df) == 0:
        raise InputError(f"sample sheet {name} has a header but no samples; add one row per sample")
    if require_bam and "bam" not in df:
        raise InputError(
            f"sample sheet {name} has no 'bam' column; add one with each sample's BAM path "
            "(or give a bin-count matrix with --counts)"
        )

    problems: list[str] = []

    def bad(line, msg):
        problems.append(f"line {line}: {msg}")

    # sample ids
    for ln, sid in zip(df._line, df.sample_id):
        if sid == "":
            bad(ln, "sample_id is empty; give every sample a unique id")
    seen: dict[str, int] = {}
    for ln, sid in zip(df._line, df.sample_id):
        if sid and sid in seen:
            bad(ln, f"sample_id '{sid}' is already used on line {seen[sid]}; sample ids must be unique")
        seen.setdefault(sid, ln)

    # sample types
    if "sample_type" not in df:
        df["sample_type"] = "ctc"
    types = []
    for ln, t in zip(df._line, df.sample_type):
        k = t.lower().replace(" ", "_")
        k = TYPE_ALIASES.get(k, k)
        if k == "":
            k = "ctc"
        elif k not in SAMPLE_TYPES:
            bad(ln, f"sample_type '{t}' is not known{_closest_type(k)} (allowed: {', '.join(SAMPLE_TYPES)})")
        types.append(k)
    df["sample_type"] = types

    # pool sizes
    if "pool_size" not in df:
        df["pool_size"] = ""
    pools = []
    for ln, v, t in zip(df._line, df.pool_size, df.sample_type):
        if v == "":
            if t == "ctc_pool":
                bad(ln, "sample_type is ctc_pool but pool_size is empty; give the number of cells in the pool")
            pools.append(1)
            continue
        try:
            f = float(v)
        except ValueError:
            f = np.nan
        if not np.isfinite(f) or f != int(f) or f < 1:
            bad(ln, f"pool_size '{v}' is not a positive whole number; give the number of cells (1 for a single cell)")
            pools.append(1)
            continue
        n = int(f)
        if t == "ctc" and n > 1:
            bad(ln, f"sample_type is ctc (a single cell) but pool_size is {n}; use sample_type ctc_pool for pools")
        elif t == "ctc_pool" and n == 1:
            bad(ln, "sample_type is ctc_pool but pool_size is 1; use sample_type ctc for a single cell, "
                    "or give the number of pooled cells")
        pools.append(n)
    df["pool_size"] = np.asarray(pools, dtype=np.int64)

    # Genome Integrity Index
    if "gii" not in df:
        df["gii"] = ""
    gii = []
    for ln, v in zip(df._line, df.gii):
        if v == "" or v.upper() in ("NA", "NAN"):
            gii.append(np.nan)
            continue
        try:
            g = float(v.replace(",", "."))
        except ValueError:
            g = np.nan
            bad(ln, f"gii '{v}' is not a number; give the Genome Integrity Index (0-4) or leave it empty")
        else:
            if not 0 <= g <= 4:
                bad(ln, f"gii {v} is outside 0-4; the Genome Integrity Index counts 0 to 4 PCR bands")
        gii.append(g)
    df["gii"] = np.asarray(gii, dtype=float)

    # paths
    base = path.resolve().parent
    for col in _PATH_COLUMNS:
        if col not in df:
            continue
        out = []
        for ln, v in zip(df._line, df[col]):
            if v == "":
                if col == "bam" and require_bam:
                    bad(ln, "bam is empty; give the path of the sample's BAM file")
                out.append("")
                continue
            p = Path(os.path.expanduser(v))
            if not p.is_absolute():
                p = base / p
            if col == "bam" and require_bam:
                if not p.exists():
                    bad(ln, f"BAM file {v} does not exist (looked for {p}); fix the path (relative paths start "
                            "at the sheet's folder)")
                elif p.is_dir():
                    bad(ln, f"bam {v} is a folder; give the path of the .bam file")
            out.append(str(p))
        df[col] = out

    for col in ("patient", "phenotype", "isolation", "bam"):
        if col not in df:
            df[col] = ""

    if problems:
        head = problems[:_MAX_REPORTED]
        more = f" (and {len(problems) - _MAX_REPORTED} more)" if len(problems) > _MAX_REPORTED else ""
        if len(problems) == 1:
            raise InputError(f"sample sheet {name}, {head[0]}")
        raise InputError(f"sample sheet {name} has {len(problems)} problems{more}: " + "; ".join(head))

    first = ["sample_id", "patient", "sample_type", "pool_size", "phenotype", "isolation", "gii", "bam"]
    rest = [c for c in df.columns if c not in first and c != "_line"]
    out = df[first + rest].reset_index(drop=True)
    out.attrs["path"] = str(path)  # so a run given the parsed sheet still records (and checksums) the file
    return out
