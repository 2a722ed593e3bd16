"""Events → CTC phenotypes, and the counts behind the study's Fig. 1c.

Each event of a file is labelled by the gating's phenotype map: ``ALK+/CK-``,
``ALK-/CK+``, ``ALK+/CK+`` (CTCs), ``CD45+`` (leukocyte control) or ``outside``.
:func:`phenotype_counts` tabulates labels per patient and file — over all events, over the
sorted wells, or over the sequenced cells — with percentages of the CTCs, as Fig. 1c of
Oulhen et al. (npj Precis Oncol 2021;5:71) shows them.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .fcs import FcsFile, read_fcs
from .gating import OUTSIDE, Gating, GatingResult, apply_gating, study_gating

#: The three CTC phenotypes of the study, in the order of its Fig. 1c.
CTC_PHENOTYPES = ("ALK+/CK-", "ALK-/CK+", "ALK+/CK+")
LEUKOCYTE = "CD45+"


def classify_events(fcs: FcsFile | str | os.PathLike, gating: Gating | None = None, *,
                    compensation=None, controls: dict[str, FcsFile] | None = None) -> GatingResult:
    """Read (if needed) and gate one file; ``gating`` defaults to the study's strategy.

    ``compensation``: ``None`` follows the gating file (``file``: the FCS spillover keyword;
    ``none``), or a matrix path / DataFrame that overrides it.
    """
    gating = gating or study_gating()
    if not isinstance(fcs, FcsFile):
        comp = compensation if compensation is not None else ("none" if gating.compensation == "none" else "file")
        fcs = read_fcs(fcs, compensation=comp)
    elif compensation is not None:
        from .fcs import _apply_compensation_option

        _apply_compensation_option(fcs, compensation)
    return apply_gating(fcs, gating, controls=controls)


def event_table(result: GatingResult) -> pd.DataFrame:
    """One row per event: ``file, event, phenotype`` and the marker intensities."""
    df = pd.concat([pd.DataFrame({"file": result.file, "event": np.arange(len(result.phenotype)),
                                  "phenotype": result.phenotype.to_numpy()}),
                    result.intensities.reset_index(drop=True)], axis=1)
    return df


def phenotype_counts(table: pd.DataFrame, *, by=("patient", "file"), level: str = "events",
                     labels=None) -> pd.DataFrame:
    """Counts and percentages of each phenotype per group (long format).

    Parameters
    ----------
    table: one row per event / well / cell with a ``phenotype`` column and the ``by`` columns.
    level: what the rows are (``events``, ``sorted``, ``sequenced``); copied to the output.
    labels: phenotypes to report (default: the three CTC phenotypes, ``CD45+`` and
        ``outside``, plus any other label present).

    Returns
    -------
    Columns ``*by, level, phenotype, count, pct_of_ctc`` (share of the group's CTCs; NaN
    for non-CTC labels), ``pct_of_all`` (share of the group's rows).
    """
    by = [b for b in by if b in table.columns]
    present = list(pd.unique(table["phenotype"])) if len(table) else []
    labels = list(labels) if labels is not None else list(CTC_PHENOTYPES) + [LEUKOCYTE, OUTSIDE]
    labels += [p for p in present if p not in labels]
    rows = []
    groups = table.groupby(by, sort=True, dropna=False) if by else [((), table)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        vc = g["phenotype"].value_counts()
        n_ctc = int(sum(vc.get(p, 0) for p in CTC_PHENOTYPES))
        for p in labels:
            c = int(vc.get(p, 0))
            rows.append({**dict(zip(by, key)), "level": level, "phenotype": p, "count": c,
                         "pct_of_ctc": (100.0 * c / n_ctc if n_ctc else np.nan) if p in CTC_PHENOTYPES else np.nan,
                         "pct_of_all": 100.0 * c / len(g) if len(g) else np.nan})
    return pd.DataFrame(rows, columns=[*by, "level", "phenotype", "count", "pct_of_ctc", "pct_of_all"])


def ctc_distribution(counts: pd.DataFrame, level: str = "sequenced") -> pd.DataFrame:
    """Patients × CTC phenotypes (counts) at one level, the table behind Fig. 1c."""
    c = counts[(counts["level"] == level) & counts["phenotype"].isin(CTC_PHENOTYPES)]
    if c.empty:
        return pd.DataFrame(columns=list(CTC_PHENOTYPES))
    wide = c.pivot_table(index="patient", columns="phenotype", values="count", aggfunc="sum", fill_value=0)
    return wide.reindex(columns=list(CTC_PHENOTYPES), fill_value=0).astype(int)
