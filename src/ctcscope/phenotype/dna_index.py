"""DNA index of each index-sorted cell: its DNA-dye intensity over the leukocytes' G1 peak.

The study stains every tube with Hoechst 33342 before sorting and sorts CTCs next to CD45+
leukocytes of the same blood (Oulhen et al., npj Precis Oncol 2021;5:71).  Leukocytes are
diploid and almost all in G1, so their modal Hoechst intensity is the 2n G1 reference of
that tube, and a sorted cell's intensity over it is its DNA index: ~1 for a 2n cell in G1,
~2 for a 4n cell in G1 or a 2n cell in G2/M, in between in S phase (the classical DNA
index of flow cytometry, e.g. Shankey et al., Cytometry 1993;14:472, PMID 8354117).
Read depth of an amplified single cell cannot tell k copies from 2k when nothing changed
after a doubling; this measure can (:mod:`ctcscope.cna.ploidy` joins the two).

Only dyes that bind DNA stoichiometrically in living cells measure DNA content: Hoechst
33342, DRAQ5, Vybrant DyeCycle (and DAPI / FxCycle in fixed cells).  PI, 7-AAD, DRAQ7,
SYTOX and TO-PRO are excluded from live cells — in a live sort they mark dead cells, not
DNA content — and SYTO dyes stain RNA as well; such channels are reported, not used,
unless the user names the channel.

Intensities are the file's linear values (FlowIO applies ``$PnE`` log amplification and
``$PnG`` gain, so area and height parameters recorded on a log scale come back linear);
the area parameter (``-A``) is preferred over height and width.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from .fcs import FcsFile

#: Dyes whose intensity in a living cell is proportional to its DNA content.
CONTENT_DYES = {"hoechst": "Hoechst", "dapi": "DAPI", "draq5": "DRAQ5", "dyecycle": "DyeCycle",
                "fxcycle": "FxCycle"}
#: DNA dyes that do not measure DNA content in a live sort (membrane-impermeant viability
#: dyes) or not only DNA (SYTO: RNA too).
OTHER_DNA_DYES = {"propidium": "PI", "pi": "PI", "7aad": "7-AAD", "draq7": "DRAQ7", "sytox": "SYTOX",
                  "topro": "TO-PRO", "syto": "SYTO"}

DNA_DEFAULTS = {
    "min_reference_events": 50,   # CD45+ events needed for a G1 peak
    "peak_window": 0.25,          # natural-log half-width around the mode used for the CV
    "max_reference_cv": 0.15,     # a G1 peak broader than this is not a usable reference
    "min_index": 0.25,            # below a quarter of the G1 peak an event holds no measurable nucleus
}


@dataclass
class DnaReference:
    """The 2n G1 reference of one file: where it came from and how sharp it is."""

    channel: str = ""
    dye: str = ""
    peak: float = float("nan")      # G1 intensity of the reference (linear units)
    cv: float = float("nan")        # robust CV of the G1 peak (single-cell measurement spread)
    n_events: int = 0               # reference events used
    source: str = ""                # 'CD45+ events of the file', 'leukocyte control well', 'user'
    notes: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return bool(np.isfinite(self.peak) and self.peak > 0 and np.isfinite(self.cv))

    def as_dict(self) -> dict:
        return {"channel": self.channel, "dye": self.dye, "peak": _num(self.peak), "cv": _num(self.cv),
                "n_events": int(self.n_events), "source": self.source, "notes": list(self.notes)}


def _num(x: float):
    return None if not np.isfinite(x) else round(float(x), 6)


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(s).lower())


def _dye_of(text: str, table: dict) -> str:
    t = _norm(text)
    for key, name in table.items():
        # 'pi' only as a whole token (not 'pIgG', 'APC-…'); the others as substrings
        if key == "pi":
            if re.search(r"(^|[^a-z0-9])pi($|[^a-z0-9])", str(text).lower()):
                return name
        elif key in t:
            return name
    return ""


def _area_first(pnn: str) -> int:
    p = pnn.strip().upper()
    return 0 if p.endswith("-A") else (1 if p.endswith("-H") else (3 if p.endswith("-W") else 2))


def find_dna_channel(fcs: FcsFile, channel: str | None = None) -> tuple[str, str, str]:
    """The DNA-content channel of a file: ``(pnn, dye, note)``.

    ``channel`` (a marker, fluorochrome or detector name) forces the choice.  Otherwise the
    stain text (``$PnS``) and detector name (``$PnN``) are searched for a DNA-content dye
    (:data:`CONTENT_DYES`); the area parameter wins over height and width.  When none is
    found, ``pnn`` is ``""`` and ``note`` says why in one sentence (naming a DNA dye that is
    present but unsuitable, such as a viability dye).
    """
    if channel:
        pnn = fcs.channel(channel)
        row = fcs.channels.set_index("pnn").loc[pnn]
        dye = (_dye_of(row["pns"], CONTENT_DYES) or _dye_of(row["pns"], OTHER_DNA_DYES)
               or _dye_of(pnn, CONTENT_DYES) or str(channel))
        return pnn, dye, ""
    hits, others = [], []
    for pnn, pns in zip(fcs.channels["pnn"], fcs.channels["pns"]):
        for text in (pns, pnn):
            d = _dye_of(text, CONTENT_DYES)
            if d:
                hits.append((_area_first(pnn), pnn, d))
                break
            o = _dye_of(text, OTHER_DNA_DYES)
            if o:
                others.append((pnn, o))
                break
    if hits:
        _, pnn, dye = sorted(hits)[0]
        return pnn, dye, ""
    if others:
        pnn, dye = others[0]
        why = ("stains RNA as well as DNA" if dye == "SYTO" else
               "is a viability dye that living cells exclude, so it does not measure their DNA content")
        return "", dye, (f"{fcs.name}: its DNA dye {dye} ({pnn}) {why}; no DNA index (name the channel with "
                         "dna_channel to use it anyway)")
    return "", "", (f"{fcs.name} has no DNA-content channel (Hoechst, DAPI, DRAQ5, DyeCycle); no DNA index, "
                    "copy number is called from read depth alone")


def channel_max(fcs: FcsFile, pnn: str) -> float:
    """Largest value the channel can record, in the linear units FlowIO returns (from
    ``$PnR``, ``$PnE`` and ``$PnG``): events at it are saturated."""
    j = fcs.pnn.index(pnn) + 1
    rng = float(fcs.keyword(f"p{j}r", "nan") or "nan")
    e = str(fcs.keyword(f"p{j}e", "0,0") or "0,0").split(",")
    try:
        f1, f2 = float(e[0]), float(e[1]) if len(e) > 1 else 0.0
    except ValueError:
        f1, f2 = 0.0, 0.0
    if f1 > 0:
        # log amplification: value = f2 * 10**(f1 * channel / range); f2 = 0 means 1 (FCS 3.1 §3.2.20)
        return (f2 if f2 > 0 else 1.0) * 10.0 ** f1
    g = float(fcs.keyword(f"p{j}g", "1") or 1.0)
    return rng / (g if g > 0 else 1.0)


def saturated(values: np.ndarray, vmax: float) -> np.ndarray:
    """Events at (or within 0.1 % of) the channel's top."""
    if not np.isfinite(vmax) or vmax <= 0:
        return np.zeros(values.shape, dtype=bool)
    return values >= 0.999 * vmax


def g1_peak(values: np.ndarray, *, window: float = DNA_DEFAULTS["peak_window"]) -> tuple[float, float, int]:
    """Mode of a DNA histogram (the G1 peak) and its robust CV: ``(peak, cv, n_used)``.

    The mode is found on the log scale by a smoothed histogram (G2/M and doublets sit at
    twice the G1 intensity and are a minority of leukocytes); the CV is the MAD-based SD
    of log intensities within ``window`` of it.  Non-positive values are dropped.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return float("nan"), float("nan"), 0
    x = np.log(v)
    lo, hi = np.quantile(x, [0.001, 0.999])
    if hi - lo < 1e-9:
        return float(np.exp(np.median(x))), 0.0, int(v.size)
    nb = int(np.clip((hi - lo) / 0.01, 20, 2000))
    h, edges = np.histogram(x, bins=nb, range=(lo, hi))
    k = np.exp(-0.5 * (np.arange(-15, 16) * 0.01 / 0.04) ** 2)
    hs = np.convolve(h, k / k.sum(), mode="same")
    j = int(np.argmax(hs))
    mode = 0.5 * (edges[j] + edges[j + 1])
    near = x[np.abs(x - mode) <= window]
    if near.size < 3:
        return float(np.exp(mode)), float("nan"), int(near.size)
    centre = float(np.median(near))
    sd = 1.4826 * float(np.median(np.abs(near - centre)))
    return float(np.exp(centre)), sd, int(near.size)


def dna_reference(fcs: FcsFile, reference: np.ndarray, *, pnn: str, dye: str, source: str,
                  min_events: int = DNA_DEFAULTS["min_reference_events"],
                  max_cv: float = DNA_DEFAULTS["max_reference_cv"]) -> DnaReference:
    """The G1 reference of ``fcs`` from the events ``reference`` (boolean mask or indices)."""
    v = fcs.values()[:, fcs.pnn.index(pnn)]
    idx = np.flatnonzero(reference) if np.asarray(reference).dtype == bool else np.asarray(reference, dtype=np.int64)
    ref = v[idx]
    sat = saturated(ref, channel_max(fcs, pnn))
    out = DnaReference(channel=pnn, dye=dye, source=source)
    if sat.any():
        out.notes.append(f"{int(sat.sum())} of {ref.size} reference events are saturated in {pnn} and left out")
    ref = ref[~sat & (ref > 0)]
    if ref.size < min_events:
        out.notes.append(f"{fcs.name}: only {ref.size} usable {source} (at least {min_events} are needed for a G1 "
                         "peak); no DNA index")
        return out
    peak, cv, n = g1_peak(ref)
    out.peak, out.cv, out.n_events = peak, cv, n
    if not np.isfinite(cv) or cv > max_cv:
        out.notes.append(f"{fcs.name}: the G1 peak of the {source} is too broad (CV {cv:.0%}, at most {max_cv:.0%} "
                         "expected for a DNA stain); no DNA index")
        out.peak = float("nan")
    return out


def dna_index_of_events(fcs: FcsFile, events: list[np.ndarray], ref: DnaReference) -> pd.DataFrame:
    """DNA index of groups of events (one group per sorted well): ``dna_index``,
    ``dna_index_sd`` and ``dna_note`` (why there is none: saturated, no signal).

    A well's intensity is the median of its events.  ``dna_index_sd`` is the single-cell
    measurement spread (the reference's CV) with the uncertainty of the peak itself, on
    the index scale.
    """
    rows = []
    if not ref.usable:
        return pd.DataFrame({"dna_index": np.full(len(events), np.nan), "dna_index_sd": np.nan,
                             "dna_note": "; ".join(ref.notes) or "no DNA reference"})
    v = fcs.values()[:, fcs.pnn.index(ref.channel)]
    vmax = channel_max(fcs, ref.channel)
    rel_sd = float(np.hypot(ref.cv, ref.cv / np.sqrt(max(ref.n_events, 1))))
    for ev in events:
        ev = np.asarray(ev, dtype=np.int64)
        x = v[ev] if ev.size else np.array([])
        if x.size == 0:
            rows.append((np.nan, np.nan, "no event"))
        elif saturated(x, vmax).any():
            rows.append((np.nan, np.nan, f"{ref.dye} signal saturated (at the top of {ref.channel}); re-acquire "
                                         "with a lower detector voltage for a DNA index"))
        elif not np.median(x) > DNA_DEFAULTS["min_index"] * ref.peak:
            rows.append((np.nan, np.nan, f"{ref.dye}-dim (below {DNA_DEFAULTS['min_index']:g} x the G1 peak): "
                                         "debris or an unstained event, no DNA index"))
        else:
            di = float(np.median(x) / ref.peak)
            rows.append((di, di * rel_sd, ""))
    return pd.DataFrame(rows, columns=["dna_index", "dna_index_sd", "dna_note"])


def well_dna_index(fcs: FcsFile, wells: pd.DataFrame, *, reference_events: np.ndarray | None = None,
                   control_events: np.ndarray | None = None, reference_value: float | None = None,
                   channel: str | None = None) -> tuple[pd.DataFrame, DnaReference]:
    """DNA index of every sorted well of one file.

    Parameters
    ----------
    wells: :func:`~ctcscope.phenotype.indexsort.sorted_wells` of the file (``events`` column).
    reference_events: mask of the file's CD45+ events (the gating's leukocytes); the first
        choice of reference.
    control_events: events of the leukocyte control well(s), used when the CD45+ events are
        too few.
    reference_value: a user-given 2n G1 intensity (same units), used when neither is enough.
    channel: force this channel as the DNA channel.

    Returns
    -------
    ``(table, reference)``: ``table`` has ``well, dna_index, dna_index_sd, dna_note`` in the
    order of ``wells``.
    """
    pnn, dye, note = find_dna_channel(fcs, channel)
    ev = [np.array([int(e) for e in str(s).split(";") if e != ""], dtype=np.int64) for s in wells["events"]]
    if not pnn:
        ref = DnaReference(dye=dye, notes=[note])
        t = dna_index_of_events(fcs, ev, ref)
        t.insert(0, "well", wells["well"].to_numpy())
        return t, ref
    ref = DnaReference(channel=pnn, dye=dye)
    tried = []
    if reference_events is not None and np.asarray(reference_events).any():
        ref = dna_reference(fcs, reference_events, pnn=pnn, dye=dye, source="CD45+ events of the file")
        tried += ref.notes
    if not ref.usable and control_events is not None and len(control_events):
        ref = dna_reference(fcs, control_events, pnn=pnn, dye=dye, source="leukocyte control well")
        ref.notes = tried + ref.notes
        tried = ref.notes
    if not ref.usable and reference_value is not None and float(reference_value) > 0:
        ref = DnaReference(channel=pnn, dye=dye, peak=float(reference_value), cv=0.05, n_events=0, source="user",
                           notes=tried + ["G1 reference given by the user; its CV taken as 5 %"])
    if not ref.usable and not ref.notes:
        ref.notes.append(f"{fcs.name}: no CD45+ events, no leukocyte control well and no user reference for the "
                         f"{dye} G1 peak; no DNA index")
    t = dna_index_of_events(fcs, ev, ref)
    t.insert(0, "well", wells["well"].to_numpy())
    return t, ref


def check_reference_value(value) -> float | None:
    """A user-given G1 reference intensity, checked."""
    if value is None or value == "":
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"the DNA G1 reference '{value}' is not a number; give the 2n G1 intensity of the DNA "
                         "channel in the file's units") from None
    if not v > 0:
        raise InputError(f"the DNA G1 reference must be a positive intensity, not {value}")
    return v
