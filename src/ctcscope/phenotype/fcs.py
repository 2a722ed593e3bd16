"""Reading flow-cytometry files: FCS 2.0/3.0/3.1 → events, channels, compensation, scales.

Parsing is done by FlowIO (the maintained FCS reader behind FlowKit); this module adds
what the CTC workflow needs on top: finding a channel by marker (``ALK``), fluorochrome
(``AF488``) or detector (``FITC-A``), compensating with the file's own spillover keyword
(``$SPILLOVER``, ``SPILL``, ``$SPILL``) or a user matrix, and the logicle / asinh display
scales used to draw and place gates.  Vendor quirks FlowIO refuses by default (a data
segment offset that is off by one byte, as in some BD LSRII and MACSQuant exports) are
read with the documented FlowIO switch and reported in :attr:`FcsFile.notes`.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

#: Channels that are never compensated (scatter and time).
_NON_FLUORESCENT = re.compile(r"^(fsc|ssc|time|event|width|tof|doublet)", re.I)
#: Keywords that may hold the acquisition-defined spillover matrix (FCS 3.1 first).
SPILL_KEYWORDS = ("spillover", "spill", "$spill", "comp")


@dataclass
class FcsFile:
    """One FCS data set: raw events, channel table, keywords and (optional) compensation.

    Attributes
    ----------
    path: the file read.
    version: FCS version from the header (``"2.0"``, ``"3.0"``, ``"3.1"``).
    channels: one row per parameter: ``pnn`` (detector), ``pns`` (stain text),
        ``marker`` (first token of ``pns``, e.g. ``CD21`` from ``CD21;FITC;530/30``),
        ``range`` ($PnR), ``fluorescent`` (bool).
    raw: events × channels (``float64``), scaled as FlowIO does ($PnG, $PnE), uncompensated.
    metadata: TEXT keywords, lower-case keys without the leading ``$``.
    spill: spillover matrix (rows: emitting fluorochrome's primary detector, columns:
        detectors), or ``None`` when the data are used uncompensated.
    spill_source: where ``spill`` came from (``"$SPILLOVER"``, a file path, ``"user"``).
    notes: quirks found while reading, in plain words.
    """

    path: Path
    version: str
    channels: pd.DataFrame
    raw: np.ndarray
    metadata: dict
    spill: pd.DataFrame | None = None
    spill_source: str = ""
    notes: list[str] = field(default_factory=list)
    _comp: np.ndarray | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def n_events(self) -> int:
        return int(self.raw.shape[0])

    @property
    def pnn(self) -> list[str]:
        return list(self.channels["pnn"])

    def events(self, compensated: bool = True) -> pd.DataFrame:
        """Events × channels (``pnn`` names) as a DataFrame, compensated when a matrix is set."""
        return pd.DataFrame(self.values(compensated), columns=self.pnn)

    def values(self, compensated: bool = True) -> np.ndarray:
        if not compensated or self.spill is None:
            return self.raw
        if self._comp is None:
            self._comp = compensate(self.raw, self.pnn, self.spill)
        return self._comp

    def channel(self, name: str) -> str:
        """The ``pnn`` of the channel called ``name`` (see :func:`find_channel`)."""
        return find_channel(self.channels, name, where=self.name)

    def column(self, name: str, compensated: bool = True) -> np.ndarray:
        """Intensities of one channel, looked up by marker, fluorochrome or detector."""
        j = self.pnn.index(self.channel(name))
        return self.values(compensated)[:, j]

    def set_compensation(self, spill: pd.DataFrame | None, source: str = "user") -> None:
        """Use ``spill`` (detectors as index and columns) from now on; ``None`` switches it off."""
        if spill is not None:
            missing = [d for d in spill.columns if d not in self.pnn]
            if missing:
                raise InputError(
                    f"compensation matrix names detector(s) {', '.join(missing)} that {self.name} does not have "
                    f"(it has {', '.join(self.pnn)}); use a matrix made for this panel"
                )
        self.spill, self.spill_source, self._comp = spill, (source if spill is not None else ""), None

    def keyword(self, key: str, default=None):
        """A TEXT keyword, case-insensitive, with or without ``$``."""
        return self.metadata.get(key.lower().lstrip("$"), default)


def read_fcs(path: str | os.PathLike, *, compensation="file", null_channels=None) -> FcsFile:
    """Read one FCS file.

    Parameters
    ----------
    path: FCS 2.0, 3.0 or 3.1 file.
    compensation: ``"file"`` (default) uses the spillover keyword of the file when there is
        one (``$SPILLOVER``/``SPILL``/``$SPILL``); ``None`` or ``"none"`` leaves the data
        uncompensated; a path to a CSV/TSV matrix or a DataFrame (detector names as
        columns) applies that matrix.
    null_channels: detectors recorded but empty (passed to FlowIO).

    Raises
    ------
    InputError: the file is missing, is not an FCS file, or is damaged.
    """
    import flowio

    path = Path(path)
    if not path.exists():
        raise InputError(f"FCS file {path} does not exist; check the path in --fcs or the sheet's 'fcs' column")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an FCS file; give the path of a .fcs file")
    with open(path, "rb") as fh:
        head = fh.read(6)
    if not re.match(rb"FCS\d\.\d", head):
        raise InputError(
            f"{path.name} is not an FCS file (it does not start with an 'FCS2.0'/'FCS3.0'/'FCS3.1' header); "
            "export the data from the cytometer software as FCS"
        )
    notes: list[str] = []
    kw = dict(null_channel_list=list(null_channels) if null_channels else None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fd = flowio.FlowData(str(path), **kw)
            except Exception as e:  # FlowIO raises its own FCSParsingError
                if "off by 1" not in str(e):
                    raise
                # Known vendor quirk (BD LSRII exports, MACSQuant): the DATA offset points one
                # byte off.  FlowIO reads these with an explicit switch; we say so.
                fd = flowio.FlowData(str(path), ignore_offset_error=True, **kw)
                notes.append("data offset in the header is off by one byte (known vendor quirk); read with FlowIO's ignore_offset_error")
            raw = np.asarray(fd.as_array(preprocess=True), dtype=np.float64)
    except InputError:
        raise
    except Exception as e:
        raise InputError(
            f"{path.name} could not be read as FCS ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'damaged'}); "
            "re-export it from the cytometer software"
        ) from e
    if raw.ndim != 2 or raw.shape[0] != int(fd.event_count):
        raise InputError(f"{path.name} holds {raw.shape[0]} events but its $TOT says {fd.event_count}; re-export the file")
    rows = []
    for num in sorted(fd.channels):
        ch = fd.channels[num]
        pnn = str(ch.get("pnn", "")).strip()
        pns = str(ch.get("pns", "") or "").strip()
        rows.append({
            "pnn": pnn,
            "pns": pns,
            "marker": _marker_of(pns),
            "range": float(ch.get("pnr", np.nan) or np.nan),
            "fluorescent": not bool(_NON_FLUORESCENT.match(pnn)),
        })
    channels = pd.DataFrame(rows)
    dup = channels["pnn"][channels["pnn"].duplicated()]
    if len(dup):
        raise InputError(f"{path.name} has duplicate detector names ({', '.join(dup)}); fix the $PnN keywords")
    f = FcsFile(path=path, version=str(fd.version), channels=channels, raw=raw,
                metadata={str(k).lower().lstrip("$"): v for k, v in fd.text.items()}, notes=notes)
    _apply_compensation_option(f, compensation)
    return f


def _marker_of(pns: str) -> str:
    """``'CD21;FITC;530/30@488/B'`` → ``'CD21'``; ``'CD8 B PE'`` stays whole."""
    if not pns:
        return ""
    return re.split(r"[;|]", pns)[0].strip()


def _apply_compensation_option(f: FcsFile, compensation) -> None:
    if compensation is None or (isinstance(compensation, str) and compensation.lower() in ("none", "off", "")):
        return
    if isinstance(compensation, str) and compensation.lower() in ("file", "auto"):
        try:
            spill, key = spillover_from_keywords(f.metadata, f.pnn)
        except InputError as e:
            # a broken acquisition matrix must not make the data unreadable: keep the
            # events uncompensated and say so (a user matrix can be given instead)
            f.notes.append(f"{e}; events left uncompensated")
            return
        if spill is not None:
            f.set_compensation(spill, source=f"${key.upper().lstrip('$')}")
        return
    if isinstance(compensation, pd.DataFrame):
        f.set_compensation(_square(compensation, "the matrix given"), source="user")
        return
    f.set_compensation(read_compensation_matrix(compensation), source=str(compensation))


def spillover_from_keywords(metadata: dict, pnn: list[str] | None = None) -> tuple[pd.DataFrame | None, str]:
    """The acquisition spillover matrix from FCS keywords, as a DataFrame, and its keyword.

    The value is ``n, det_1, …, det_n, s_11, …, s_nn`` (row-major, rows = emitting
    fluorochrome, columns = detectors) per FCS 3.1.  Identity matrices (software that
    writes a placeholder) are returned too; they change nothing.
    """
    md = {str(k).lower().lstrip("$"): v for k, v in metadata.items()}
    for key in ("spillover", "spill", "comp"):
        text = md.get(key)
        if not text or not str(text).strip():
            continue
        try:
            return parse_spillover(str(text), pnn), key
        except InputError as e:
            raise InputError(f"the {key.upper()} keyword is malformed ({e}); pass a matrix with --compensation") from None
    return None, ""


def parse_spillover(text: str, pnn: list[str] | None = None) -> pd.DataFrame:
    """Parse the text of a ``$SPILLOVER`` keyword into a DataFrame."""
    parts = [p.strip() for p in text.replace("\n", ",").split(",") if p.strip() != ""]
    try:
        n = int(float(parts[0]))
    except (ValueError, IndexError):
        raise InputError("it does not start with the number of detectors") from None
    if n < 1 or len(parts) != 1 + n + n * n:
        raise InputError(f"{n} detectors need {1 + n + n * n} comma-separated items, found {len(parts)}")
    names = parts[1:1 + n]
    try:
        vals = np.array([float(x) for x in parts[1 + n:]]).reshape(n, n)
    except ValueError:
        raise InputError("it has non-numeric coefficients") from None
    if pnn is not None:
        # some software writes channel numbers instead of $PnN names
        if all(re.fullmatch(r"\d+", x) for x in names):
            names = [pnn[int(x) - 1] for x in names]
    return pd.DataFrame(vals, index=names, columns=names)


def read_compensation_matrix(path: str | os.PathLike) -> pd.DataFrame:
    """A square compensation (spillover) matrix from CSV/TSV: detector names as header.

    FlowJo/FlowKit style files (header row of detectors, optionally a first column
    repeating them) are accepted.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"compensation matrix {path} does not exist; check the path given to --compensation")
    try:
        df = pd.read_csv(path, sep=None, engine="python")
    except Exception as e:
        raise InputError(f"compensation matrix {path.name} is not a readable CSV/TSV table ({e})") from e
    first = df.columns[0]
    if df[first].dtype == object or str(first).startswith("Unnamed") or str(first) == "":
        df = df.set_index(first)
    else:
        df.index = list(df.columns[: len(df)])
    return _square(df, path.name)


def _square(df: pd.DataFrame, what: str) -> pd.DataFrame:
    df = df.copy()
    # FlowJo exports may prefix the header with '#'
    df.columns = [str(c).strip().lstrip("#").strip() for c in df.columns]
    if df.shape[0] != df.shape[1]:
        raise InputError(f"compensation matrix {what} is {df.shape[0]}×{df.shape[1]}; it must be square with detector names as header")
    try:
        df = df.astype(float)
    except ValueError:
        raise InputError(f"compensation matrix {what} has non-numeric entries") from None
    df.index = list(df.columns)
    if not np.allclose(np.diag(df.values), 1.0, atol=0.05):
        raise InputError(f"compensation matrix {what} does not have 1 on its diagonal; give a spillover matrix (not its inverse)")
    return df


def compensate(raw: np.ndarray, pnn: list[str], spill: pd.DataFrame) -> np.ndarray:
    """Remove spillover: for the detectors of ``spill``, solve ``observed = true · S``."""
    idx = [pnn.index(d) for d in spill.columns]
    out = raw.copy()
    out[:, idx] = np.linalg.solve(spill.values.T, raw[:, idx].T).T
    return out


def find_channel(channels: pd.DataFrame, name: str, where: str = "the file") -> str:
    """The detector (``pnn``) of a channel named by detector, stain text, marker or fluorochrome.

    Matching is case-insensitive and ignores spaces, ``-`` and ``_``: exact ``pnn`` first,
    then the whole ``$PnS`` text, then the marker (first ``;``-field of ``$PnS``), then any
    ``;``/space-separated token of ``$PnS`` (e.g. the fluorochrome ``FITC``), then the
    detector without its ``-A``/``-H``/``-W`` suffix (``FSC`` → ``FSC-A``).  Area
    parameters (``-A``) win over height/width when a name matches several.
    """
    def norm(s: str) -> str:
        return re.sub(r"[\s_\-]+", "", str(s)).lower()

    key = norm(name)
    pnn = list(channels["pnn"])
    tiers = [
        [p for p in pnn if norm(p) == key],
        [p for p, s in zip(pnn, channels["pns"]) if s and norm(s) == key],
        [p for p, m in zip(pnn, channels["marker"]) if m and norm(m) == key],
        [p for p, s in zip(pnn, channels["pns"]) if s and key in {norm(t) for t in re.split(r"[;|/\s]+", s) if t}],
        # a detector named without its -A/-H/-W suffix ('FSC' → FSC-A)
        [p for p in pnn if norm(re.sub(r"-[AHW]$", "", p.strip(), flags=re.I)) == key],
    ]
    for hits in tiers:
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            area = [h for h in hits if h.upper().endswith("-A")]
            if len(area) == 1:
                return area[0]
            raise InputError(f"channel '{name}' is ambiguous in {where} (matches {', '.join(hits)}); name the detector instead")
    desc = ", ".join(f"{p} ({s})" if s else p for p, s in zip(pnn, channels["pns"]))
    raise InputError(f"{where} has no channel '{name}'; its channels are: {desc}")


# --- display scales ---------------------------------------------------------------------

@dataclass(frozen=True)
class Scale:
    """A display scale for one axis: ``linear``, ``logicle`` (Parks/Moore) or ``asinh``.

    ``logicle`` uses the Gating-ML 2.0 definition (FlowUtils) with top of scale ``t``,
    linear-region width ``w`` (decades), ``m`` decades and ``a`` extra negative decades,
    mapping to [0, 1]; ``asinh`` is ``asinh(x / cofactor)``.
    """

    kind: str = "logicle"
    t: float = 262144.0
    w: float = 0.5
    m: float = 4.5
    a: float = 0.0
    cofactor: float = 150.0

    def forward(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "linear":
            return x
        if self.kind == "asinh":
            return np.arcsinh(x / self.cofactor)
        if self.kind == "logicle":
            from flowutils.transforms import logicle

            flat = np.ascontiguousarray(x.reshape(-1, 1))
            return logicle(flat, None, t=self.t, m=self.m, w=self.w, a=self.a).reshape(x.shape)
        raise InputError(f"unknown scale '{self.kind}'; use linear, logicle or asinh")

    def inverse(self, y) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if self.kind == "linear":
            return y
        if self.kind == "asinh":
            return np.sinh(y) * self.cofactor
        if self.kind == "logicle":
            from flowutils.transforms import logicle_inverse

            flat = np.ascontiguousarray(y.reshape(-1, 1))
            return logicle_inverse(flat, None, t=self.t, m=self.m, w=self.w, a=self.a).reshape(y.shape)
        raise InputError(f"unknown scale '{self.kind}'; use linear, logicle or asinh")

    @classmethod
    def from_spec(cls, spec) -> "Scale":
        """``"logicle"``, ``{"type": "asinh", "cofactor": 150}``, ``{"type": "logicle", "T": ...}``."""
        if spec is None:
            return cls()
        if isinstance(spec, Scale):
            return spec
        if isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, dict):
            raise InputError(f"scale {spec!r} is not understood; write e.g. 'logicle' or {{type: asinh, cofactor: 150}}")
        kind = str(spec.get("type", spec.get("kind", "logicle"))).lower()
        if kind not in ("linear", "logicle", "asinh"):
            raise InputError(f"unknown scale '{kind}'; use linear, logicle or asinh")
        kw = {k.lower(): float(v) for k, v in spec.items() if k.lower() in ("t", "w", "m", "a", "cofactor")}
        return cls(kind=kind, **kw)


def logicle(x, t: float = 262144.0, w: float = 0.5, m: float = 4.5, a: float = 0.0) -> np.ndarray:
    """Logicle display transform (Gating-ML 2.0), values mapped to about [0, 1]."""
    return Scale("logicle", t=t, w=w, m=m, a=a).forward(x)


def asinh(x, cofactor: float = 150.0) -> np.ndarray:
    """``asinh(x / cofactor)``, the usual arcsinh display transform."""
    return Scale("asinh", cofactor=cofactor).forward(x)
