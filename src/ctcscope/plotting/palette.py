"""One palette for the whole report and every PNG.

A patient, phenotype, sample type, drug or clone has ONE colour wherever it is drawn: the
QC scatter, the heatmap tracks, the phenotype charts, the driver figures and the resistance
pages all ask :func:`categorical`.  Two rules make that hold:

- values with a meaning (phenotypes, sample types, ALK inhibitors, WGD) have fixed colours
  by name;
- other values (patients, clones, pathways) take their kind's palette in natural order of
  the *whole cohort's* values (``universe``), so a figure of a subset (tumour cells only,
  analysable samples only) gives each value the colour it has everywhere else.

Each kind has its own palette, so adjacent heatmap tracks never share colours.  All palettes
are colour-blind safe: Okabe & Ito (2008) for phenotypes, Paul Tol's qualitative schemes
(muted, light, vibrant, dark, pale) and his YlOrBr sequential scheme
(https://personal.sron.nl/~pault/) for the rest; copy number is blue (loss) to red (gain).
"""
from __future__ import annotations

import re
from typing import Iterable

# ---------------------------------------------------------------- base palettes
#: Okabe & Ito, "Color Universal Design" (2008).
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7"}
#: Paul Tol's qualitative schemes (bad-data grey left out).
TOL_MUTED = ["#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499"]
TOL_LIGHT = ["#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33", "#AAAA00"]
TOL_VIBRANT = ["#0077BB", "#EE7733", "#33BBEE", "#CC3311", "#009988", "#EE3377"]
TOL_DARK = ["#222255", "#225555", "#225522", "#666633", "#663333", "#555555"]
TOL_PALE = ["#BBCCEE", "#CCEEFF", "#CCDDAA", "#EEEEBB", "#FFCCCC"]
#: Tol's YlOrBr sequential scheme (light to dark).
TOL_YLORBR = ["#FFFFE5", "#FFF7BC", "#FEE391", "#FEC44F", "#FB9A29", "#EC7014", "#CC4C02", "#993404", "#662506"]

MISSING = "#FFFFFF"      # no value for this sample
UNASSIGNED = "#DDDDDD"   # a clustered sample in no clone
NAN = "#D9D9D9"          # no data in a heatmap cell

# ---------------------------------------------------------------- fixed meanings
#: The study's Fig. 1 colours (ALK−/CK+ red, ALK+/CK+ orange, ALK+/CK− green), from Okabe–Ito.
PHENOTYPE = {"ALK+/CK-": OKABE_ITO["bluish_green"], "ALK-/CK+": OKABE_ITO["vermillion"],
             "ALK+/CK+": OKABE_ITO["orange"], "CD45+": OKABE_ITO["blue"], "outside": "#AAAAAA"}
#: Tumour samples dark red-brown/olive/green, normal controls dark blues and grey (Tol dark).
SAMPLE_TYPE = {"ctc": TOL_DARK[4], "ctc_pool": TOL_DARK[3], "biopsy": TOL_DARK[2], "wbc": TOL_DARK[0],
               "germline": TOL_DARK[1], "normal": TOL_DARK[5]}
#: ALK inhibitors (Tol light), in approval order.
DRUG = {"crizotinib": TOL_LIGHT[0], "ceritinib": TOL_LIGHT[5], "alectinib": TOL_LIGHT[3], "brigatinib": TOL_LIGHT[2],
        "ensartinib": TOL_LIGHT[4], "lorlatinib": TOL_LIGHT[1]}
WGD = {"yes": "#252525", "no": "#F0F0F0", "ambiguous": "#9E9E9E"}
QC = {"pass": OKABE_ITO["bluish_green"], "fail": OKABE_ITO["vermillion"]}
#: Copy-number states relative to ploidy: blue loss, red gain, darker for homozygous deletion
#: and amplification (blue and red stay apart for every common colour-vision deficiency).
#: ``report.js`` draws the profiles with the same gain/loss colours (tests/test_palette.py).
CN_STATE = {"homdel": "#0D1B4C", "loss": "#1565C0", "neutral": "#F5F5F5", "gain": "#C62828", "amp": "#7F0000"}
#: log2(CN/ploidy) from -2 to 2 (plotly colorscale stops; matplotlib via :func:`diverging_cmap`).
CN_DIVERGING = [(0.0, "#08306B"), (0.25, "#4393C3"), (0.5, "#F7F7F7"), (0.75, "#D6604D"), (1.0, "#67001F")]

#: Kinds with fixed colours by name, and the palette for names they do not know.
_FIXED = {"phenotype": (PHENOTYPE, TOL_PALE),
          "sample_type": (SAMPLE_TYPE, TOL_DARK), "treatment_group": (DRUG, TOL_LIGHT), "drug": (DRUG, TOL_LIGHT),
          "wgd": (WGD, TOL_DARK), "qc": (QC, TOL_DARK)}
#: Kinds coloured by order of the cohort's values.
#: Clones outnumber Tol vibrant's six colours in most cohorts: muted follows (15 in all); the
#: patient track, the other user of muted, is never next to the clone track.
_ORDERED = {"patient": TOL_MUTED, "clone": TOL_VIBRANT + TOL_MUTED, "pathway": TOL_MUTED + TOL_LIGHT, "group": TOL_LIGHT}
_ALIASES = {"treatment": "treatment_group", "drug_group": "treatment_group"}
_EMPTY = ("", "nan", "None", "<NA>")


def natural_key(s) -> tuple:
    """Sort key with numbers compared as numbers: P2 before P10."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", str(s)) if t)


def categorical(kind: str, values: Iterable, universe: Iterable | None = None) -> dict[str, str]:
    """``{value: hex colour}`` for the distinct non-empty ``values`` of a track of ``kind``
    (``patient``, ``phenotype``, ``sample_type``, ``treatment_group``/``drug``, ``clone``,
    ``wgd``, ``qc``, ``pathway``, ``group``; another kind gets Tol muted by order).

    ``universe``: every value of the kind in the cohort (e.g. ``obs['patient']``); ordered
    kinds number their colours over it, so subsets keep the cohort's colours.  Values are
    compared as text.
    """
    kind = _ALIASES.get(kind, kind)
    vals = [v for v in dict.fromkeys(str(v) for v in values) if v not in _EMPTY]
    if kind in _FIXED:
        fixed, spare = _FIXED[kind]
        # names it does not know get the colours the known ones left free
        spare = [c for c in spare if c not in fixed.values()] or ["#777777"]
        lower = {k.lower(): c for k, c in fixed.items()}
        others = sorted({v for v in vals if v.lower() not in lower}, key=natural_key)
        out = {v: lower[v.lower()] for v in vals if v.lower() in lower}
        out.update({v: spare[i % len(spare)] for i, v in enumerate(others)})
        return {v: out[v] for v in vals}
    pal = _ORDERED.get(kind, TOL_MUTED)
    every = [str(v) for v in (universe if universe is not None else [])] + vals
    order = sorted({v for v in every if v not in _EMPTY}, key=natural_key)
    if kind == "clone":
        order = [v for v in order if v != "unassigned"]
    rank = {v: i for i, v in enumerate(order)}
    out = {v: pal[rank[v] % len(pal)] for v in vals if v in rank}
    if kind == "clone" and "unassigned" in vals:
        out["unassigned"] = UNASSIGNED
    return {v: out[v] for v in vals}


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (WCAG relative luminance)."""
    rgb = [int(background.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    # contrast with white (1.05 / (L + 0.05)) against contrast with black ((L + 0.05) / 0.05)
    return "#FFFFFF" if 1.05 / (lum + 0.05) > (lum + 0.05) / 0.05 else "#000000"


def ploidy_colour(ploidy: float) -> str:
    """Base ploidy on Tol's YlOrBr, one step per copy (1n palest, 2n light, doubled genomes
    dark, 8n and above the darkest); the scheme's near-white first colour is left out."""
    k = int(round(float(ploidy)))
    return TOL_YLORBR[min(max(k, 1), len(TOL_YLORBR) - 1)]


def copy_number_colour(state: str) -> str:
    """Colour of a copy-number state: ``homdel``, ``loss``, ``neutral``, ``gain``, ``amp``."""
    return CN_STATE[state]


def diverging_cmap(bad: str = NAN):
    """The log2(CN/ploidy) colour map for matplotlib (same stops as :data:`CN_DIVERGING`)."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("ctcscope_cn", CN_DIVERGING).with_extremes(bad=bad)


__all__ = ["categorical", "text_colour", "ploidy_colour", "copy_number_colour", "diverging_cmap", "natural_key", "PHENOTYPE",
           "SAMPLE_TYPE", "DRUG", "WGD", "QC", "CN_STATE", "CN_DIVERGING", "MISSING", "UNASSIGNED", "NAN"]
