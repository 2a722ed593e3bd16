"""A simulated 4-colour CTC index sort with known phenotypes, written as a real FCS 3.1 file.

It mimics the study's sort (Oulhen et al., npj Precis Oncol 2021;5:71, Methods): BD
FACSAria III with 405/488/561/640 nm lasers, Hoechst 33342, ALK-AF488, cytokeratins-PE
and CD45-APC, single CTCs sorted into a 96-well plate and 200 CD45+ leukocytes into one
control well.  Each event gets its true fluorochrome amounts (log-normal per population),
is mixed through a spillover matrix into detector signals (so compensation matters: a
bright AF488 cell shows up in the PE detector), gets electronic noise, and is written with
FlowIO.  The file carries ``$SPILLOVER`` and BD-style ``INDEX SORTING LOCATIONS_n``
keywords, so :mod:`ctcscope.phenotype.indexsort` reads it like a Diva export.

The per-event truth (phenotype, well) is returned, so tests and the demo know what the
file holds.  Same seed → byte-identical file.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .._atomic import atomic_path

#: Detector ($PnN) and stain ($PnS, "marker;fluorochrome") of the simulated panel.
PANEL = [
    ("FSC-A", ""), ("FSC-H", ""), ("SSC-A", ""),
    ("V 450/50-A", "Hoechst;Hoechst 33342"),
    ("B 530/30-A", "ALK;AF488"),
    ("YG 582/15-A", "CK;PE"),
    ("R 670/30-A", "CD45;APC"),
    ("Time", ""),
]
FLUORO = ["V 450/50-A", "B 530/30-A", "YG 582/15-A", "R 670/30-A"]

#: Spillover (rows: fluorochrome → its primary detector; columns: detectors).  Orders of
#: magnitude as on a 4-laser Aria with a 561 nm PE detector: AF488 spills into PE, PE a
#: little into AF488 and APC, Hoechst's broad emission a little into the 530/30 detector.
SPILLOVER = pd.DataFrame(
    [[1.0, 0.010, 0.002, 0.0],
     [0.0, 1.0, 0.150, 0.0],
     [0.0, 0.020, 1.0, 0.010],
     [0.0, 0.0, 0.002, 1.0]],
    index=FLUORO, columns=FLUORO,
)

#: Median true signal (arbitrary units, Aria-like 18-bit scale) per population and stain.
#: ``dim`` = autofluorescence / non-specific binding of an unstained epitope.
_POP = {
    #              Hoechst  ALK     CK      CD45   FSC      SSC
    "ALK+/CK-":   (30000, 15000,   180,    120, 120000, 40000),
    "ALK-/CK+":   (30000,   220, 12000,    120, 115000, 45000),
    "ALK+/CK+":   (30000, 12000, 10000,    120, 125000, 45000),
    "CD45+":      (25000,   160,   140,  25000,  70000, 25000),
    # sorted as putative CTCs but outside refined gates: CK+ events that are CD45-dim
    # (CTC–leukocyte doublets / non-specific staining) or Hoechst-dim debris
    "outside_cd45": (30000, 220, 9000, 4000, 140000, 60000),
    "outside_hoechst": (600, 200, 9000, 120, 40000, 20000),
}
_SIGMA = 0.30  # log-normal spread of each stain within a population
_NOISE = 40.0  # electronic noise (SD, detector units)
PHENOTYPES = ("ALK+/CK-", "ALK-/CK+", "ALK+/CK+")


def well_name(row: int, col: int) -> str:
    """0-based (row, col) → ``A01`` style."""
    return f"{chr(ord('A') + row)}{col + 1:02d}"


#: Hoechst of a 2n G1 nucleus (detector units) and the staining CV of leukocytes and of
#: tumour cells (live-cell Hoechst 33342: 3-8 %).
HOECHST_G1 = 25000.0
_CV_LEUKOCYTE, _CV_TUMOUR = 0.035, 0.045
#: Cycle phases of circulating leukocytes (almost all resting in G1).
_LEUKOCYTE_PHASES = {"G1": 0.95, "S": 0.03, "G2/M": 0.02}


def _leukocyte_dna(n: int, rng: np.random.Generator) -> np.ndarray:
    ph = rng.choice(3, size=n, p=list(_LEUKOCYTE_PHASES.values()))
    return np.where(ph == 0, 1.0, np.where(ph == 2, 2.0, 1.0 + rng.uniform(0.0, 1.0, n)))


def _simulate_events(kinds: list[str], rng: np.random.Generator, spill: pd.DataFrame,
                     dna: np.ndarray | None = None) -> np.ndarray:
    n = len(kinds)
    med = np.array([_POP[k] for k in kinds], dtype=float)  # n × 6
    true = med * np.exp(rng.normal(0.0, _SIGMA, size=med.shape))
    # Hoechst is stoichiometric: the DNA content of the cell (relative to 2n G1) times the
    # 2n G1 intensity, with a staining CV of a few per cent; leukocytes are 2n, mostly in G1
    kind = np.asarray(kinds, dtype=object)
    leuko = kind == "CD45+"
    d = np.full(n, 1.0) if dna is None else np.asarray(dna, dtype=float).copy()
    d[leuko] = _leukocyte_dna(int(leuko.sum()), rng)
    d = np.where(np.isfinite(d), d, 1.0)
    cv = np.where(leuko, _CV_LEUKOCYTE, _CV_TUMOUR)
    stained = kind != "outside_hoechst"
    true[stained, 0] = HOECHST_G1 * d[stained] * np.exp(rng.normal(0.0, cv[stained]))
    stains = true[:, :4]  # Hoechst, ALK, CK, CD45 in FLUORO order
    observed = stains @ spill.values + rng.normal(0.0, _NOISE, size=(n, 4))
    fsc, ssc = true[:, 4], true[:, 5]
    fsch = fsc * rng.normal(0.78, 0.02, n)
    time = np.sort(rng.uniform(0, 600, n)) * 100  # 0.01 s timestep, sort order
    out = np.column_stack([fsc, fsch, ssc, observed, time])
    return np.clip(out, -5000, 262143).astype(np.float32)


def simulate_sort_file(path: str | os.PathLike, wells: pd.DataFrame, *, seed: int = 0, plate: str = "PLATE1",
                       patient: str = "", spill: pd.DataFrame | None = None, plate_shape=(8, 12)) -> pd.DataFrame:
    """Write one index-sort FCS 3.1 file; return the per-event truth.

    Parameters
    ----------
    wells: one row per sorted well: ``well`` (``A01``), ``kind`` (``ALK+/CK-``,
        ``ALK-/CK+``, ``ALK+/CK+``, ``CD45+``, ``outside_cd45``, ``outside_hoechst``) and
        ``n_events`` (1 for a single cell; 200 for the leukocyte control) and optionally
        ``dna_index`` (the cell's Hoechst-stained DNA content over a 2n G1 nucleus; default 1).
    seed: random seed (same seed → same file).
    plate: plate barcode written to ``INDEX SORTING PLATE BARCODE``.

    Returns
    -------
    DataFrame with one row per event: ``event`` (0-based), ``well``, ``kind``, ``phenotype``
    (``outside`` for the ``outside_*`` kinds).
    """
    spill = SPILLOVER if spill is None else spill
    rng = np.random.default_rng(seed)
    kinds, wlist, dna = [], [], []
    for w in wells.itertuples(index=False):
        if w.kind not in _POP:
            raise InputError(f"cannot simulate a '{w.kind}' cell; use one of {', '.join(_POP)}")
        k = int(getattr(w, "n_events", 1))
        kinds += [w.kind] * k
        wlist += [_norm_well(w.well, plate_shape)] * k
        di = getattr(w, "dna_index", 1.0)
        dna += [float(di) if di is not None and di == di else 1.0] * k
    if not kinds:
        raise InputError("nothing to simulate: no sorted wells given")
    data = _simulate_events(kinds, rng, spill, np.asarray(dna))
    locs = [_rc(w) for w in wlist]
    meta = {
        "cyt": "FACSAria III (simulated by ctcscope)",
        "creator": "ctcscope simulate_fcs",
        "src": patient or "simulated",
        "spillover": _spill_text(spill),
        "index sorting device type": "0",
        "index sorting device_dimension": f"{plate_shape[0]}:{plate_shape[1]}",
        "index sorting plate barcode": plate,
        "index sorting sorted location count": str(len(locs)),
        "timestep": "0.01",
    }
    # Diva splits the location list over numbered keywords (a few dozen pairs each)
    chunk = 30
    for i in range(0, len(locs), chunk):
        meta[f"index sorting locations_{i // chunk + 1}"] = "".join(f"{r},{c};" for r, c in locs[i:i + chunk])
    for j in range(len(PANEL)):
        meta[f"p{j + 1}r"] = "262144"
    import flowio

    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            flowio.create_fcs(fh, data.ravel().tolist(), channel_names=[p for p, _ in PANEL],
                              opt_channel_names=[s for _, s in PANEL], metadata_dict=meta)
    return pd.DataFrame({
        "event": np.arange(len(kinds)), "well": wlist, "kind": kinds,
        "phenotype": [k if not k.startswith("outside") else "outside" for k in kinds],
    })


def _float(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return 1.0
    return v if np.isfinite(v) else 1.0


def _spill_text(spill: pd.DataFrame) -> str:
    n = spill.shape[0]
    return ",".join([str(n), *spill.columns, *(f"{v:.6g}" for v in spill.values.ravel())])


def _rc(well: str) -> tuple[int, int]:
    return ord(well[0]) - ord("A"), int(well[1:]) - 1


def _norm_well(w: str, plate_shape=(8, 12)) -> str:
    from .indexsort import normalise_well

    return normalise_well(w, plate_shape)


def simulate_sort(samples: pd.DataFrame, out_dir: str | os.PathLike, *, seed: int = 0, n_leukocytes: int = 200,
                  outside=(), plate_prefix: str = "") -> pd.DataFrame:
    """Write one simulated sort FCS per patient for a sample sheet; fill ``fcs``/``plate``/``well``.

    Parameters
    ----------
    samples: sample sheet with ``sample_id``, ``patient``, ``sample_type`` and, for CTCs,
        ``phenotype`` (``ALK+/CK-``, ``ALK-/CK+``, ``ALK+/CK+``).  ``ctc`` rows become single
        sorted cells; a ``wbc`` row becomes the control well of ``n_leukocytes`` CD45+ cells.
        Other sample types (pools, germline, biopsy) are not sorted and keep empty fields.
        An optional ``sim_dna_index`` column gives each CTC's stained DNA content over a 2n
        G1 nucleus (its true DNA index times any efflux dimming); 1 when absent.
        Existing ``plate``/``well`` values are kept; missing ones are assigned in plate
        order (A01, A02, …), the wbc control after the CTCs.  CTC rows whose phenotype is
        not one of the three (e.g. empty or ``unknown``) are not sorted and keep empty fields.
    out_dir: folder for ``<patient>_sort.fcs``.
    seed: base seed; each patient's file uses ``seed`` + its index, so files are stable.
    outside: sample ids sorted as putative CTCs whose events fall outside the refined gates
        (CD45-dim CK+ or Hoechst-dim), as the study discarded after re-gating.
    plate_prefix: prefix of the plate barcodes (``<prefix><patient>``).

    Returns
    -------
    A copy of ``samples`` with ``fcs`` (path), ``plate`` and ``well`` set for sorted rows
    and ``sim_phenotype`` (what the file's events truly are: the phenotype, ``CD45+`` or
    ``outside``).
    """
    need = {"sample_id", "patient"}
    miss = need - set(samples.columns)
    if miss:
        raise InputError(f"simulate_sort needs sample sheet column(s) {', '.join(sorted(miss))}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sheet = samples.copy()
    for c in ("fcs", "plate", "well"):
        if c not in sheet.columns:
            sheet[c] = ""
        sheet[c] = sheet[c].fillna("").astype(str)
    stype = sheet.get("sample_type", pd.Series("ctc", index=sheet.index)).fillna("ctc").astype(str).str.lower()
    pheno = sheet.get("phenotype", pd.Series("", index=sheet.index)).fillna("").astype(str)
    outside = set(outside)
    # the stained DNA content of each cell (truth of the simulation), when the sheet has it
    dna_of = sheet.get("sim_dna_index", pd.Series(np.nan, index=sheet.index))
    sheet["sim_phenotype"] = ""
    for i, (patient, rows) in enumerate(sheet.groupby(sheet["patient"].astype(str), sort=True)):
        sorted_rows = [ix for ix in rows.index if stype[ix] in ("ctc", "wbc")]
        if not sorted_rows:
            continue
        ctc = [ix for ix in sorted_rows if stype[ix] == "ctc"]
        wbc = [ix for ix in sorted_rows if stype[ix] == "wbc"]
        used = {_norm_well(w) for w in sheet.loc[sorted_rows, "well"] if w}
        free = (well_name(r, c) for r in range(8) for c in range(12))
        wells = []
        for k, ix in enumerate(ctc + wbc):
            if stype[ix] == "wbc":
                kind, n = "CD45+", n_leukocytes
            elif sheet.at[ix, "sample_id"] in outside:
                kind, n = ("outside_cd45" if k % 2 == 0 else "outside_hoechst"), 1
            else:
                kind, n = pheno[ix].replace("−", "-").strip(), 1
                if kind not in PHENOTYPES:
                    # phenotype not recorded (the study had such CTCs): not part of the sort
                    continue
            w = sheet.at[ix, "well"]
            if not w:
                w = next(x for x in free if x not in used)
                used.add(w)
            wells.append({"ix": ix, "well": _norm_well(w), "kind": kind, "n_events": n,
                          "dna_index": _float(dna_of[ix]) if kind in PHENOTYPES else 1.0})
        if not wells:
            continue
        wdf = pd.DataFrame(wells)
        if wdf["well"].duplicated().any():
            raise InputError(f"patient {patient} has two samples in well {wdf.loc[wdf['well'].duplicated(), 'well'].iloc[0]}")
        plate = f"{plate_prefix}{patient}"
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(patient))
        path = out_dir / f"{safe}_sort.fcs"
        simulate_sort_file(path, wdf, seed=seed + i, plate=plate, patient=str(patient))
        for w in wells:
            sheet.at[w["ix"], "fcs"] = str(path)
            sheet.at[w["ix"], "plate"] = plate
            sheet.at[w["ix"], "well"] = w["well"]
            sheet.at[w["ix"], "sim_phenotype"] = "outside" if w["kind"].startswith("outside") else w["kind"]
    return sheet


#: Event mix of an enriched-blood acquisition (CTCs are rare even after CD45 depletion).
ACQUISITION_MIX = {"CD45+": 0.90, "outside_hoechst": 0.0985, "ALK+/CK-": 0.0005, "ALK-/CK+": 0.0007,
                   "ALK+/CK+": 0.0001, "outside_cd45": 0.0002}


def simulate_acquisition(path: str | os.PathLike, n_events: int, *, seed: int = 0, mix: dict | None = None,
                         spill: pd.DataFrame | None = None) -> pd.DataFrame:
    """Write a whole-tube acquisition (no index sort) of ``n_events``; return per-event truth.

    ``mix`` gives the fraction of each population (default :data:`ACQUISITION_MIX`:
    leukocytes, Hoechst-dim debris and rare CTCs).  Used for benchmarks and density plots.
    """
    mix = ACQUISITION_MIX if mix is None else mix
    spill = SPILLOVER if spill is None else spill
    rng = np.random.default_rng(seed)
    names = list(mix)
    p = np.array([mix[k] for k in names], dtype=float)
    kinds = [names[i] for i in rng.choice(len(names), size=int(n_events), p=p / p.sum())]
    data = _simulate_events(kinds, rng, spill)
    import flowio

    meta = {"cyt": "FACSAria III (simulated by ctcscope)", "creator": "ctcscope simulate_fcs",
            "spillover": _spill_text(spill), "timestep": "0.01"}
    for j in range(len(PANEL)):
        meta[f"p{j + 1}r"] = "262144"
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            flowio.create_fcs(fh, data.ravel().tolist(), channel_names=[p for p, _ in PANEL],
                              opt_channel_names=[s for _, s in PANEL], metadata_dict=meta)
    return pd.DataFrame({"event": np.arange(len(kinds)), "kind": kinds,
                         "phenotype": [k if not k.startswith("outside") else "outside" for k in kinds]})
