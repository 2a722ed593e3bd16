"""The driver catalogue: which genes are drivers, with their role and pathways.

The built-in catalogue (``data/catalogue.tsv``) is built by
``scripts/build_driver_catalogue.py`` from open lists — Sanchez-Vega et al. 2018 (Cell
173:321) oncogenic pathways with OG/TSG roles, Bailey et al. 2018 (Cell 173:371) and
IntOGen (Martinez-Jimenez et al. 2020, Nat Rev Cancer 20:555) drivers, the pirlygenes
DNA-repair and immune gene sets, CIViC copy-number evidence — plus a curated file for the
genes the study (Oulhen et al. 2021, npj Precis Oncol 5:71) and the ALK-resistance
literature name that the lists miss.  No COSMIC data are used.

Each gene has a ``role``:

- ``activating`` — an oncogene: a gain or amplification is a driver event;
- ``loss_of_function`` — a tumour suppressor: a loss or homozygous deletion is;
- ``ambiguous`` — lists disagree or give no direction: by default only high-level changes
  (amplification, homozygous deletion) count (see :func:`ctcscope.drivers.driver_events`).

and a ``tier``: ``driver`` for genes named by a driver list (Bailey, IntOGen), by CIViC
copy-number evidence, by the curated file or by pirlygenes' oncogene/tumour-suppressor sets;
``pathway_member`` for genes that are only members of a signalling pathway (Sanchez-Vega) or
of a DNA-repair/immune/receptor gene set — by default these count only on a high-level
change in their role's direction (the Cancer Genome Interpreter, which the study used,
likewise reports known or predicted drivers rather than every pathway member).

Users may extend or replace the catalogue with their own TSV/CSV file (columns ``gene``
and ``role``; optional ``pathways`` (``;``-separated), ``pathway``, ``source``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

ROLES = ("activating", "loss_of_function", "ambiguous")
MODES = ("builtin", "extend", "replace")
TIERS = ("driver", "pathway_member")
COLUMNS = ["gene", "aliases", "role", "role_source", "tier", "pathway", "pathways", "sources", "evidence",
           "study_gene", "resistance_gene", "note"]

#: Spellings accepted in user files for each role.
ROLE_SYNONYMS = {
    "activating": "activating", "act": "activating", "oncogene": "activating", "og": "activating",
    "gain_of_function": "activating", "gof": "activating", "amplification": "activating",
    "loss_of_function": "loss_of_function", "lof": "loss_of_function", "tsg": "loss_of_function",
    "tumour_suppressor": "loss_of_function", "tumor_suppressor": "loss_of_function",
    "deletion": "loss_of_function",
    "ambiguous": "ambiguous", "both": "ambiguous", "og_tsg": "ambiguous", "unknown": "ambiguous",
}


@dataclass
class Catalogue:
    """A driver catalogue: one row per gene (index = gene symbol)."""

    table: pd.DataFrame
    version: str = ""
    sources: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, symbol: str) -> bool:
        return str(symbol).upper() in self._names()

    @property
    def genes(self) -> list[str]:
        return list(self.table.index)

    def _names(self) -> dict[str, str]:
        """Every accepted spelling (upper case) → catalogue gene."""
        cached = getattr(self, "_name_cache", None)
        if cached is not None:
            return cached
        names: dict[str, str] = {}
        alias = builtin_aliases()
        # aliases first, so a gene's own symbol always wins over another gene's alias
        for g, al in zip(self.table.index, self.table["aliases"].fillna("")):
            for a in [*filter(None, str(al).split(";")), *alias.get(g.upper(), ())]:
                names.setdefault(a.upper(), g)
        for g in self.table.index:
            names[g.upper()] = g
        object.__setattr__(self, "_name_cache", names)
        return names

    def resolve(self, symbols) -> pd.Series:
        """Catalogue gene for each symbol (aliases such as SEPTIN9 → SEPT9); NaN if absent."""
        names = self._names()
        # look each distinct symbol up once (gene tables repeat every gene for every cell)
        codes, uniq = pd.factorize(pd.Series(symbols, dtype=object).astype(str), use_na_sentinel=False)
        hit = np.array([names.get(u.upper(), np.nan) for u in uniq], dtype=object)
        return pd.Series(hit[codes] if len(uniq) else np.array([], dtype=object), dtype=object)

    def lookup(self, symbol: str) -> pd.Series:
        """The catalogue row of one gene (by symbol or alias)."""
        g = self._names().get(str(symbol).upper())
        if g is None:
            raise KeyError(symbol)
        return self.table.loc[g]

    def select_genes(self, genes: pd.DataFrame) -> pd.DataFrame:
        """Rows of a genome gene table (``symbol`` column) that are catalogue genes, with a
        ``catalogue_gene`` column naming the catalogue entry each matches."""
        hit = self.resolve(genes["symbol"]).to_numpy()
        out = genes.loc[pd.notna(hit)].copy()
        out["catalogue_gene"] = hit[pd.notna(hit)]
        # one genome gene per catalogue entry (the exact symbol if the build has both names)
        exact = (out["symbol"].str.upper() == out["catalogue_gene"].str.upper()).to_numpy()
        out = out.iloc[np.argsort(~exact, kind="stable")]
        return out.drop_duplicates("catalogue_gene").sort_index()

    def to_frame(self) -> pd.DataFrame:
        return self.table.reset_index()


def _data_path(name: str):
    return resources.files("ctcscope.drivers").joinpath("data", name)


@lru_cache(maxsize=1)
def builtin_aliases() -> dict[str, tuple[str, ...]]:
    """hg19 ↔ hg38 symbol pairs (GENCODE v19 vs v36, same Ensembl gene), both directions,
    keys upper case."""
    with resources.as_file(_data_path("gene_aliases.tsv")) as p:
        t = pd.read_csv(p, sep="\t", dtype=str)
    out: dict[str, list[str]] = {}
    for a, b in zip(t.symbol_hg19, t.symbol_hg38):
        out.setdefault(a.upper(), []).append(b)
        out.setdefault(b.upper(), []).append(a)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=1)
def _builtin() -> Catalogue:
    with resources.as_file(_data_path("catalogue.tsv")) as p:
        t = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
    with resources.as_file(_data_path("catalogue.json")) as p:
        meta = json.loads(Path(p).read_text())
    for c in ("study_gene", "resistance_gene"):
        t[c] = t[c].str.lower().eq("true")
    return Catalogue(t.set_index("gene", drop=True)[COLUMNS[1:]], version=meta["version"], sources=meta["sources"])


def builtin_catalogue() -> Catalogue:
    """The catalogue shipped with ctcscope (a fresh copy, safe to modify)."""
    c = _builtin()
    return Catalogue(c.table.copy(), version=c.version, sources=dict(c.sources))


def read_catalogue_file(path: str | Path) -> pd.DataFrame:
    """Read and validate a user catalogue (TSV, or CSV by extension) into catalogue columns.

    Refuses, with one sentence, a file that is missing, empty, lacks ``gene``/``role``
    columns, has blank gene names, unknown roles, or one gene with two different roles.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"driver catalogue file {path} does not exist; give the path to a TSV with columns gene and role")
    sep = "," if path.suffix.lower() == ".csv" or path.name.lower().endswith(".csv.gz") else "\t"
    try:
        t = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, comment=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(f"driver catalogue {path.name} cannot be read as a {'CSV' if sep == ',' else 'TSV'} table "
                         f"({str(e).splitlines()[0]}); save it as tab-separated text with columns gene and role") from e
    t.columns = [str(c).strip().lower() for c in t.columns]
    missing = [c for c in ("gene", "role") if c not in t.columns]
    if missing:
        raise InputError(f"driver catalogue {path.name} has no {' or '.join(repr(m) for m in missing)} column "
                         f"(found: {', '.join(t.columns[:8]) or 'none'}); add columns gene and role "
                         "(activating, loss_of_function or ambiguous)")
    if t.empty:
        raise InputError(f"driver catalogue {path.name} has no rows; add one row per gene with its role")
    t["gene"] = t["gene"].str.strip()
    blank = np.flatnonzero(t["gene"].eq("").to_numpy())
    if len(blank):
        raise InputError(f"driver catalogue {path.name} has an empty gene name on line {blank[0] + 2}; "
                         "fill in the gene symbol or delete the row")
    role = t["role"].str.strip().str.lower().str.replace(r"[\s-]+", "_", regex=True).map(ROLE_SYNONYMS)
    bad = t.loc[role.isna(), ["gene", "role"]]
    if len(bad):
        ex = ", ".join(f"{g} ({r!r})" for g, r in bad.head(3).itertuples(index=False))
        raise InputError(f"driver catalogue {path.name} has {len(bad)} row(s) with an unknown role, e.g. {ex}; "
                         f"use one of {', '.join(ROLES)}")
    t["role"] = role
    key = t["gene"].str.upper()
    conflict = t.groupby(key)["role"].nunique()
    conflict = conflict[conflict > 1]
    if len(conflict):
        raise InputError(f"driver catalogue {path.name} gives gene {conflict.index[0]} two different roles; "
                         "keep one row per gene (use 'ambiguous' for genes acting both ways)")
    t = t.drop_duplicates("gene")
    if "pathways" not in t.columns:
        t["pathways"] = t["pathway"] if "pathway" in t.columns else ""
    t["pathways"] = (t["pathways"].str.replace(",", ";").str.split(";")
                     .map(lambda ps: ";".join(p.strip() for p in ps if p.strip())))
    t["pathways"] = t["pathways"].mask(t["pathways"].eq(""), "Other")
    if "pathway" not in t.columns or t["pathway"].eq("").any():
        t["pathway"] = t["pathways"].str.split(";").str[0]
    label = f"user:{path.name}"
    t["sources"] = t["source"].where(t["source"].ne(""), label) if "source" in t.columns else label
    t["evidence"] = t["evidence"] if "evidence" in t.columns else ""
    t["aliases"] = t["aliases"] if "aliases" in t.columns else ""
    t["role_source"] = label
    t["tier"] = t["tier"].str.strip().str.lower().replace("", "driver") if "tier" in t.columns else "driver"
    bad_tier = t.loc[~t["tier"].isin(TIERS), "gene"]
    if len(bad_tier):
        raise InputError(f"driver catalogue {path.name} gives gene {bad_tier.iloc[0]} an unknown tier; "
                         f"use {' or '.join(TIERS)} (or leave the column out)")
    t["note"] = t["note"] if "note" in t.columns else ""
    for c in ("study_gene", "resistance_gene"):
        t[c] = t[c].str.lower().isin(["true", "yes", "1"]) if c in t.columns else False
    return t[COLUMNS].set_index("gene")


def load_catalogue(path: str | Path | None = None, mode: str = "builtin") -> Catalogue:
    """The driver catalogue to use.

    Parameters
    ----------
    path : a user catalogue file (TSV/CSV with ``gene`` and ``role``); ``None`` for the
        built-in catalogue only.
    mode : ``"builtin"`` (ignore nothing: only valid without ``path``), ``"extend"`` (the
        built-in catalogue plus the user's genes; a user row replaces the built-in row of
        the same gene, aliases included) or ``"replace"`` (the user's genes only).
    """
    mode = str(mode).lower()
    if mode not in MODES:
        raise InputError(f"catalogue mode {mode!r} is not known; use one of {', '.join(MODES)}")
    if path is None:
        if mode == "replace":
            raise InputError("catalogue mode 'replace' needs a catalogue file; give one with --catalogue FILE")
        return builtin_catalogue()
    if mode == "builtin":
        raise InputError("a catalogue file was given with mode 'builtin'; use mode 'extend' to add it "
                         "to the built-in catalogue or 'replace' to use it alone")
    user = read_catalogue_file(path)
    label = f"user:{Path(path).name}"
    if mode == "replace":
        return Catalogue(user, version=f"user ({Path(path).name})", sources={label: {"file": str(path)}})
    base = builtin_catalogue()
    # a user gene given under an alias of a built-in gene replaces that gene
    hit = base.resolve(user.index).to_numpy()
    drop = [g for g in hit if isinstance(g, str)]
    table = pd.concat([base.table.drop(index=drop), user])
    sources = {**base.sources, label: {"file": str(path)}}
    return Catalogue(table, version=f"{base.version}+{Path(path).name}", sources=sources)
