"""Index sort: which event went into which well, and which sequenced sample that well is.

BD FACSDiva writes the plate position of every sorted event into keywords
``INDEX SORTING LOCATIONS_1 … _k`` (``"row,col;row,col;…"``, 0-based, in event order),
with the plate shape in ``INDEX SORTING DEVICE_DIMENSION`` (``"8:12"``, ``"16:24"``) and
the barcode in ``INDEX SORTING PLATE BARCODE``.  The i-th location belongs to the i-th
event of the file.  A well may hold several events (the study's control well of 200
leukocytes); it then gets the majority phenotype and the fraction of its events that
agree.

:func:`join_samples` links wells to the sample sheet (columns ``fcs``, ``plate``,
``well``) or to a plate map (``plate, well, sample_id``), so each sequenced cell carries
its phenotype, its intensities, and whether it is inside the current gates.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .gating import OUTSIDE, GatingResult

_LOC_KEY = re.compile(r"^\$?index sorting locations_(\d+)$", re.I)


def _lower(metadata: dict) -> dict:
    return {str(k).lower().lstrip("$"): v for k, v in metadata.items()}


def plate_shape(metadata: dict, default=(8, 12)) -> tuple[int, int]:
    """Rows × columns of the sort plate from ``INDEX SORTING DEVICE_DIMENSION``."""
    v = _lower(metadata).get("index sorting device_dimension")
    if not v:
        return default
    m = re.match(r"\s*(\d+)\s*[:x,]\s*(\d+)", str(v))
    if not m:
        raise InputError(f"INDEX SORTING DEVICE_DIMENSION is '{v}'; expected 'rows:columns' such as 8:12")
    return int(m.group(1)), int(m.group(2))


def index_sort_locations(metadata: dict) -> pd.DataFrame:
    """Event → well from BD index-sort keywords.

    Returns one row per located event: ``event`` (0-based, file order), ``row``, ``col``
    (0-based), ``well`` (``A01`` style), ``plate`` (barcode, or ``""``).  Raises
    :class:`InputError` when the file carries no index-sort keywords or they are malformed.
    """
    md = _lower(metadata)
    parts = sorted(((int(m.group(1)), v) for k, v in md.items() if (m := _LOC_KEY.match(k))), key=lambda t: t[0])
    if not parts:
        raise InputError("the file has no 'INDEX SORTING LOCATIONS' keywords, so it is not an index-sort export; "
                         "export the sort with index sorting on, or give phenotypes without wells")
    nums = [n for n, _ in parts]
    if nums != list(range(1, len(nums) + 1)):
        raise InputError(f"INDEX SORTING LOCATIONS keywords are numbered {nums}; some are missing from the file")
    text = "".join(str(v) for _, v in parts).strip().strip(";")
    pairs = [p for p in text.split(";") if p.strip()]
    rows, cols = [], []
    for p in pairs:
        m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*", p)
        if not m:
            raise InputError(f"index-sort location '{p}' is not 'row,column'; the INDEX SORTING LOCATIONS keywords are damaged")
        rows.append(int(m.group(1)))
        cols.append(int(m.group(2)))
    nr, nc = plate_shape(md)
    rows_a, cols_a = np.array(rows), np.array(cols)
    if len(rows) and (rows_a.max() >= nr or cols_a.max() >= nc):
        raise InputError(f"index-sort locations go beyond the {nr}×{nc} plate named in INDEX SORTING DEVICE_DIMENSION")
    count = md.get("index sorting sorted location count")
    if count is not None and str(count).strip().isdigit() and int(count) != len(pairs):
        raise InputError(f"the file lists {len(pairs)} index-sort locations but INDEX SORTING SORTED LOCATION COUNT says {count}")
    return pd.DataFrame({
        "event": np.arange(len(pairs)), "row": rows_a, "col": cols_a,
        "well": [_well(r, c) for r, c in zip(rows, cols)],
        "plate": str(md.get("index sorting plate barcode", "") or "").strip(),
    })


def _well(r: int, c: int) -> str:
    letters = ""
    r += 1
    while r:
        r, rem = divmod(r - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return f"{letters}{c + 1:02d}"


def normalise_well(well, shape=None) -> str:
    """``'a1'``, ``'A1'``, ``'A01'``, ``'A-1'`` → ``'A01'``; refuses anything else."""
    s = str(well).strip().upper()
    m = re.fullmatch(r"([A-Z]{1,2})\s*[-_]?\s*0*(\d{1,3})", s)
    if not m:
        raise InputError(f"well '{well}' is not a plate position like A01 or H12")
    letters, col = m.group(1), int(m.group(2))
    row = 0
    for ch in letters:
        row = row * 26 + (ord(ch) - ord("A") + 1)
    row -= 1
    if col < 1 or (shape is not None and (row >= shape[0] or col > shape[1])):
        raise InputError(f"well '{well}' is outside a {shape[0]}×{shape[1]} plate" if shape else f"well '{well}' has column 0")
    return _well(row, col - 1)


def sorted_wells(metadata: dict, result: GatingResult | None = None, events: pd.DataFrame | None = None,
                 *, file: str = "", n_events: int | None = None) -> pd.DataFrame:
    """One row per sorted well: its events, intensities and (if gated) phenotype.

    Parameters
    ----------
    metadata: the FCS keywords (``FcsFile.metadata``).
    result: gates applied to the same file (:func:`~ctcscope.phenotype.gating.apply_gating`);
        gives ``phenotype``, ``in_gate`` and the marker intensities.
    events: events × channels to report instead of / besides the gated intensities (e.g.
        the raw table of an export without gating).
    n_events: events in the file (checked against the locations).

    Returns
    -------
    Columns ``file, plate, well, row, col, events`` (``;``-joined 0-based event indices),
    ``n_events``, then ``phenotype`` (majority over the well's events), ``phenotype_fraction``
    and ``in_gate`` (phenotype is not ``outside``) when ``result`` is given, and the median
    intensity of each channel over the well's events.
    """
    loc = index_sort_locations(metadata)
    total = n_events if n_events is not None else (len(result.phenotype) if result is not None else
                                                   (len(events) if events is not None else None))
    if total is not None and len(loc) > total:
        raise InputError(f"{file or 'the file'} lists {len(loc)} index-sort locations but holds only {total} events; "
                         "the export is incomplete")
    intens = None
    if result is not None:
        intens = result.intensities
    if events is not None:
        intens = events.reset_index(drop=True) if intens is None else pd.concat(
            [intens, events.reset_index(drop=True).drop(columns=[c for c in events.columns if c in intens.columns])], axis=1)
    df = loc.copy()
    if result is not None:
        df["phenotype"] = result.phenotype.to_numpy()[df["event"]]
    if intens is not None:
        df = pd.concat([df, intens.iloc[df["event"]].reset_index(drop=True)], axis=1)
    keys = ["plate", "well"]
    g = df.groupby(keys, sort=False)
    out = g.agg(row=("row", "first"), col=("col", "first"),
                events=("event", lambda e: ";".join(map(str, e))), n_events=("event", "size")).reset_index()
    if result is not None:
        maj = g["phenotype"].agg(lambda s: s.value_counts().index[0]).reset_index(drop=True)
        frac = g["phenotype"].agg(lambda s: s.value_counts().iloc[0] / len(s)).reset_index(drop=True)
        out["phenotype"] = maj.to_numpy()
        out["phenotype_fraction"] = frac.to_numpy()
        out["in_gate"] = out["phenotype"] != OUTSIDE
    if intens is not None:
        med = g[list(intens.columns)].median().reset_index(drop=True)
        out = pd.concat([out, med], axis=1)
    out.insert(0, "file", file)
    return out.sort_values(["row", "col"], kind="stable").reset_index(drop=True)


def read_plate_map(path: str | os.PathLike) -> pd.DataFrame:
    """A plate map (CSV/TSV): ``sample_id, well`` and optionally ``plate`` and/or ``fcs``."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"plate map {path} does not exist; check the path given to --plate-map")
    try:
        pm = pd.read_csv(path, sep=None, engine="python", dtype=str).fillna("")
    except Exception as e:
        raise InputError(f"plate map {path.name} is not a readable CSV/TSV table ({e})") from None
    pm.columns = [c.strip().lower() for c in pm.columns]
    miss = {"sample_id", "well"} - set(pm.columns)
    if miss:
        raise InputError(f"plate map {path.name} has no {' or '.join(sorted(miss))} column; it needs sample_id, well and plate or fcs")
    if "plate" not in pm.columns and "fcs" not in pm.columns:
        pm["plate"] = ""
    if "fcs" in pm.columns:
        pm["fcs"] = [str((path.parent / f).resolve()) if f and not Path(f).is_absolute() else f for f in pm["fcs"]]
    return pm


def join_samples(wells: pd.DataFrame, samples: pd.DataFrame, *, strict: bool = True) -> pd.DataFrame:
    """Attach ``sample_id`` (and sheet columns) to sorted wells.

    ``samples`` has ``sample_id`` and ``well`` plus ``fcs`` and/or ``plate`` to say which
    sort each well belongs to (both are used when present).  Every sample that names a
    well must find that well among the sorted ones: otherwise (``strict``) an
    :class:`InputError` says which sample and well are missing.

    Returns one row per sample with a well: the sample's columns first, then the well's
    (``file, plate, well, n_events, phenotype, in_gate``, intensities …).
    """
    s = samples.copy()
    if "well" not in s.columns:
        raise InputError("the sample sheet has no 'well' column, so sequenced cells cannot be linked to sorted wells; "
                         "add fcs/plate/well columns or give --plate-map")
    s = s[s["well"].fillna("").astype(str).str.strip() != ""].copy()
    if s.empty:
        return s
    s["well"] = [normalise_well(w) for w in s["well"]]
    w = wells.copy()
    keys = ["well"]
    if "fcs" in s.columns and s["fcs"].fillna("").astype(str).str.len().gt(0).all() and "fcs_path" in w.columns:
        s["_fcs"] = [str(Path(p).resolve()) for p in s["fcs"]]
        w["_fcs"] = [str(Path(p).resolve()) for p in w["fcs_path"]]
        keys.append("_fcs")
    if "_fcs" not in keys and "plate" in s.columns and s["plate"].fillna("").astype(str).str.len().gt(0).all():
        s["_plate"] = s["plate"].astype(str).str.strip()
        w["_plate"] = w["plate"].astype(str).str.strip()
        keys.append("_plate")
    if len(keys) == 1:
        if w["plate"].nunique() > 1 or ("file" in w.columns and w["file"].nunique() > 1):
            raise InputError("several sorts are loaded but the sample sheet does not say which one each well belongs to; "
                             "fill its 'fcs' or 'plate' column")
    dup = w.duplicated(keys)
    if dup.any():
        raise InputError(f"well {w.loc[dup, 'well'].iloc[0]} appears twice among the sorted wells; give 'fcs' or 'plate' per sample")
    wcols = [c for c in w.columns if c not in s.columns or c in keys]
    merged = s.merge(w[wcols], on=keys, how="left", indicator=True)
    missing = merged[merged["_merge"] == "left_only"]
    if strict and len(missing):
        r = missing.iloc[0]
        src = r.get("fcs", "") or r.get("plate", "") or "the sort"
        raise InputError(f"sample {r['sample_id']} is in well {r['well']}, but {Path(str(src)).name} has no sorted event in that well; "
                         "check the sheet's plate/well against the sort")
    merged = merged.drop(columns=[c for c in ("_merge", "_fcs", "_plate") if c in merged.columns])
    return merged
