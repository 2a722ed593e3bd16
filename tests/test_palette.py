"""One colour per patient, phenotype, sample type, drug and clone across the report and the
PNGs (read back from the figures' own data), distinct palettes on adjacent heatmap tracks,
colour-blind-safe sources."""
from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # noqa: E402

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from ctcscope.cohort.heatmap import DEFAULT_TRACKS
from ctcscope.drivers.plots import plot_driver_heatmap
from ctcscope.phenotype.plots import COLORS as PHENOTYPE_PNG
from ctcscope.plotting import palette
from ctcscope.report import figures as F
from ctcscope.report import summaries as S

SAFE = {c.upper() for c in [*palette.OKABE_ITO.values(), *palette.TOL_MUTED, *palette.TOL_LIGHT, *palette.TOL_VIBRANT,
                            *palette.TOL_DARK, *palette.TOL_PALE, *palette.TOL_YLORBR, palette.UNASSIGNED,
                            *palette.WGD.values(), palette.PHENOTYPE["outside"]]}


@pytest.fixture(scope="module")
def demo(demo_run):
    from ctcscope.report.collect import collect_outputs

    obs = collect_outputs(demo_run).obs               # the sample table as the report reads it
    heat = json.loads((demo_run / "figures" / "heatmap.json").read_text())
    return demo_run, obs, heat


def _driver_track_colours(fig, label: str) -> dict[str, str]:
    """Value → colour of a column track of the driver heatmap, read from its image."""
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.get_yticklabels()]
        if labels == [label] and ax.images:
            im = ax.images[0]
            texts = {t.get_position()[0]: t.get_text() for t in ax.texts}
            cols = [to_hex(im.cmap(im.norm(v))) for v in np.asarray(im.get_array())[0]]
            return {texts[x]: cols[int(round(x))].upper() for x in texts if float(x).is_integer()}
    raise AssertionError(f"no {label} track")


def test_a_patient_has_one_colour_in_every_figure(demo):
    out, obs, heat = demo
    qc = F.fig_qc_scatter(S.qc_table(obs))
    in_qc = {t["meta"]["patient"]: t["marker"]["color"].upper() for t in qc["data"]}
    inst = F.fig_instability(obs)
    in_fga = {t["meta"]["patient"]: t["marker"]["color"].upper() for t in inst["data"]}
    in_heat = {p: c.upper() for p, c in heat["colours"]["patient"].items()}
    mat = json.loads((out / "figures" / "drivers.json").read_text())
    in_drivers = _driver_track_colours(plot_driver_heatmap(mat, cohort_obs=obs), "Patient")
    assert len(in_qc) == 6 and len(set(in_qc.values())) == 6            # six patients, six colours
    for name, got in (("instability", in_fga), ("cohort heatmap", in_heat), ("driver heatmap", in_drivers)):
        assert got and {p: in_qc[p] for p in got} == got, name


def test_clones_get_distinct_colours_up_to_fifteen():
    got = palette.categorical("clone", [f"C{i}" for i in range(1, 16)] + ["unassigned"])
    assert len(set(got[f"C{i}"] for i in range(1, 16))) == 15 and got["unassigned"] == palette.UNASSIGNED
    assert list(got)[:3] == ["C1", "C2", "C3"] and got["C10"] == palette.TOL_MUTED[3]   # C10 after C9


def test_a_subset_keeps_the_cohort_colours():
    # patient P1 has no tumour sample: the tumour-only figure must not shift P2's colour onto P1's
    obs = pd.DataFrame({"patient": ["P1", "P2", "P3", "P10"], "sample_type": ["wbc", "ctc", "ctc", "ctc"],
                        "fga": [0.0, 0.2, 0.3, 0.4], "reads": [1e6] * 4, "mapd": [0.2] * 4, "qc_pass": [True] * 4},
                       index=pd.Index(["a", "b", "c", "d"], name="sample_id"))
    whole = {t["meta"]["patient"]: t["marker"]["color"] for t in F.fig_qc_scatter(S.qc_table(obs))["data"]}
    sub = {t["meta"]["patient"]: t["marker"]["color"] for t in F.fig_instability(obs)["data"]}
    assert list(whole) == ["P1", "P2", "P3", "P10"]                      # natural order: P10 last
    assert whole["P1"] == palette.TOL_MUTED[0] and whole["P10"] == palette.TOL_MUTED[3]
    assert sub == {p: whole[p] for p in ("P2", "P3", "P10")}


def test_phenotype_sample_type_drug_colours_are_the_same_everywhere(demo):
    out, obs, heat = demo
    ph = heat["colours"]["phenotype"]
    for k, c in ph.items():
        assert c.upper() == PHENOTYPE_PNG[k].upper() == palette.PHENOTYPE[k].upper(), k
    rep = F.fig_phenotypes(pd.DataFrame({"patient": ["P1"] * 3, "phenotype": ["ALK+/CK-", "ALK-/CK+", "ALK+/CK+"],
                                         "percent": [50.0, 30.0, 20.0], "n": [5, 3, 2], "level": ["sequenced"] * 3}))
    assert {t["name"]: t["marker"]["color"] for t in rep["data"]} == {k: PHENOTYPE_PNG[k] for k in
                                                                      ("ALK+/CK-", "ALK-/CK+", "ALK+/CK+")}
    # the study's hues: ALK-/CK+ red-orange, ALK+/CK- green
    assert PHENOTYPE_PNG["ALK-/CK+"] == palette.OKABE_ITO["vermillion"] and PHENOTYPE_PNG["ALK+/CK-"] == palette.OKABE_ITO["bluish_green"]
    for drug, c in heat["colours"].get("treatment_group", {}).items():
        assert c.upper() == palette.DRUG[drug].upper()
    from ctcscope.report.resistance_view import DRUG_COLOURS

    assert DRUG_COLOURS == palette.DRUG


def test_adjacent_heatmap_tracks_never_share_a_colour_and_all_are_colour_blind_safe(demo):
    _, _, heat = demo
    shown = [t for t in DEFAULT_TRACKS if t in heat["colours"]]
    assert shown == ["patient", "phenotype", "sample_type", "ploidy", "wgd", "treatment_group", "clone"]
    for a, b in zip(shown[:-1], shown[1:]):
        ca = {c.upper() for c in heat["colours"][a].values()}
        cb = {c.upper() for c in heat["colours"][b].values()}
        assert not ca & cb, (a, b, ca & cb)
    for t in shown:
        assert {c.upper() for c in heat["colours"][t].values()} <= SAFE, t


def test_report_script_draws_gain_and_loss_in_the_palette_colours():
    js = (Path(F.__file__).parent / "static" / "report.js").read_text()
    body = js[js.index("function colourFor"):js.index("function colourFor") + 300]
    found = {c.upper() for c in re.findall(r"#[0-9a-fA-F]{6}", body)}
    assert found == {palette.CN_STATE["gain"], palette.CN_STATE["loss"]}


def test_text_on_a_colour_is_black_or_white_by_contrast():
    assert palette.text_colour("#FFFFFF") == "#000000" and palette.text_colour("#000000") == "#FFFFFF"
    assert palette.text_colour("#DDCC77") == "#000000"      # Tol sand (P45 in the demo)
    assert palette.text_colour("#332288") == "#FFFFFF"      # Tol indigo
