"""Gating: the Gating-ML 2.0 reference set, the YAML engine against the same truth, rules.

The reference set (FlowKit's ``data/gate_ref``: ``data1.fcs``, 47 Gating-ML files, per-event
expected memberships ``truth/Results_<gate id>.txt``) is the Gating-ML 2.0 compliance
data.  Every gate with a truth file is checked, event by event.  Not checkable:

- ``gml_range_gate_attr_testing.xml`` is not a valid Gating-ML document (its gate sits in
  a non-standard ``<sample>`` wrapper): it must be refused in one sentence;
- ``gml_ellipse2_gate.xml`` (``myEllipse2``) has no truth file: it is only applied;
- the ``Quadrant1``/``Quadrant2`` gates are no population themselves (their quadrants are,
  and have truth files);
- ``Results_ParQuadRect.txt`` is the truth of gate ``ParRectangle1`` (a rectangle inside
  quadrant ``FL2P-FL4P``), named after the test rather than the gate.
"""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from ctcscope.errors import InputError
from ctcscope.phenotype.fcs import Scale, read_fcs
from ctcscope.phenotype.gating import apply_gating, load_gating, parse_gating, study_gating

GML = "fcs-flowkit/gate_ref/gml"
TRUTH_ALIAS = {"ParRectangle1": "ParQuadRect"}


def _truth(data_path, name):
    p = data_path(f"fcs-flowkit/gate_ref/truth/Results_{name}.txt.gz")
    with gzip.open(p, "rt") as fh:
        return np.array([line.strip() == "1" for line in fh if line.strip()], dtype=bool)


def _truth_names(data_path):
    d = data_path("fcs-flowkit/gate_ref/truth/Results_And1.txt.gz").parent
    return {p.name[len("Results_"):-len(".txt.gz")] for p in d.glob("Results_*.txt.gz")}


def _gml_files(data_path):
    d = data_path(f"{GML}/gml_all_gates.xml").parent
    return sorted(d.glob("*.xml"))


def test_gatingml_reference_set(data_path):
    data1 = read_fcs(data_path("fcs-flowkit/gate_ref/data1.fcs"))
    names = _truth_names(data_path)
    checked: set[str] = set()
    refused, no_truth = [], []
    for xml in _gml_files(data_path):
        if xml.name == "gml_range_gate_attr_testing.xml":
            with pytest.raises(InputError, match="not a Gating-ML 2.0 file") as e:
                load_gating(xml)
            assert "\n" not in str(e.value)
            refused.append(xml.name)
            continue
        g = load_gating(xml)
        res = apply_gating(data1, g)
        assert len(res.membership) == data1.n_events == 13367
        for pop in res.membership.columns:
            gid = pop.split("/")[-1]
            t = TRUTH_ALIAS.get(gid, gid)
            if t not in names:
                no_truth.append(gid)
                continue
            truth = _truth(data_path, t)
            got = res.membership[pop].to_numpy()
            assert got.shape == truth.shape
            n_bad = int((got != truth).sum())
            assert n_bad == 0, f"{xml.name}: gate {gid} differs from truth on {n_bad} events"
            checked.add(t)
    assert checked == names  # every truth file was used
    assert refused == ["gml_range_gate_attr_testing.xml"]
    assert set(no_truth) == {"myEllipse2"}


def _yaml_engine(doc):
    return parse_gating({"format": "ctcscope-gating/1", "compensation": "none", **doc})


def test_yaml_engine_reproduces_reference_truth(data_path):
    """Our own threshold / rectangle / polygon / quadrant code against the Gating-ML truth."""
    data1 = read_fcs(data_path("fcs-flowkit/gate_ref/data1.fcs"), compensation=None)
    g = _yaml_engine({
        "scales": {"default": "linear"},
        "gates": [
            {"id": "Range1", "type": "threshold", "channel": "FSC-H", "above": 100},
            {"id": "Rectangle1", "type": "rectangle", "dims": {"SSC-H": [20, 80], "FL1-H": [70, 200]}},
            {"id": "Polygon1", "type": "polygon", "x": "FL2-H", "y": "FL3-H",
             "vertices": [[5, 5], [500, 5], [500, 500]]},
            {"id": "Q", "type": "quadrant", "x": "FL2-H", "y": "FL4-H", "x_split": 12.14748, "y_split": 14.22417,
             "quadrants": {"FL2P-FL4P": ["+", "+"], "FL2N-FL4P": ["-", "+"], "FL2N-FL4N": ["-", "-"],
                           "FL2P-FL4N": ["+", "-"]}},
            {"id": "ParRectangle1", "parent": "Q/FL2P-FL4P", "type": "rectangle",
             "dims": {"FL2-H": [6, 14.5], "FL4-H": [7, 16]}},
        ],
        "phenotypes": {"range": "Range1"},
    })
    res = apply_gating(data1, g)
    for pop, truth in [("Range1", "Range1"), ("Rectangle1", "Rectangle1"), ("Polygon1", "Polygon1"),
                       ("Q/FL2P-FL4P", "FL2P-FL4P"), ("Q/FL2N-FL4P", "FL2N-FL4P"), ("Q/FL2N-FL4N", "FL2N-FL4N"),
                       ("Q/FL2P-FL4N", "FL2P-FL4N"), ("ParRectangle1", "ParQuadRect")]:
        t = _truth(data_path, truth)
        assert int((res.membership[pop].to_numpy() != t).sum()) == 0, pop
    # statistics are consistent with the memberships
    st = res.stats.set_index("population")
    assert st.loc["Range1", "events"] == int(_truth(data_path, "Range1").sum())
    assert st.loc["ParRectangle1", "parent_events"] == int(_truth(data_path, "FL2P-FL4P").sum())
    # phenotype labels follow the map; everything else is 'outside'
    assert (res.phenotype == "range").sum() == st.loc["Range1", "events"]
    assert set(res.phenotype) == {"range", "outside"}


def test_polygon_on_logicle_scale_differs_from_linear(data_path):
    """Polygon edges are straight on the display scale: the scale is part of the gate."""
    data1 = read_fcs(data_path("fcs-flowkit/gate_ref/data1.fcs"), compensation=None)
    # (the edge (5,5)–(500,100) is not y = x, so it bends under a non-linear scale)
    base = {"gates": [{"id": "P", "type": "polygon", "x": "FL2-H", "y": "FL3-H",
                       "vertices": [[5, 5], [500, 5], [500, 100]]}]}
    lin = apply_gating(data1, _yaml_engine({**base, "scales": {"default": "linear"}})).membership["P"]
    lg = apply_gating(data1, _yaml_engine({**base, "scales": {"default": {"type": "logicle", "T": 1024}}})).membership["P"]
    assert lin.sum() > 0 and lg.sum() > 0
    # same corners in data units, but a different set of events
    assert (lin != lg).sum() > 0
    # independent check of the logicle version with matplotlib's point-in-polygon
    from matplotlib.path import Path as MplPath

    sc = Scale("logicle", t=1024)
    v = np.array([[5, 5], [500, 5], [500, 100]], dtype=float)
    poly = MplPath(sc.forward(v))
    pts = sc.forward(np.column_stack([data1.column("FL2-H"), data1.column("FL3-H")]))
    np.testing.assert_array_equal(lg.to_numpy(), poly.contains_points(pts))


def test_study_gating_is_shipped_and_valid():
    g = study_gating()
    assert g.name == "oulhen2021-ctc"
    assert [x.id for x in g.gates] == ["hoechst_pos", "cd45_neg", "cd45_pos", "ctc", "wbc"]
    assert list(g.phenotypes) == ["ALK+/CK-", "ALK-/CK+", "ALK+/CK+", "CD45+"]
    assert "10.1038/s41698-021-00203-1" in g.reference
    assert g.gate("cd45_neg").parent == "hoechst_pos" and g.gate("ctc").parent == "cd45_neg"


def test_derived_thresholds_follow_their_rule(tmp_path):
    """CK/ALK splits = median + 6 MAD of the leukocytes on the logicle scale, recomputed here."""
    from ctcscope.phenotype.simulate_fcs import simulate_sort_file

    wells = pd.DataFrame({"well": ["A01", "A02", "B01"], "kind": ["ALK+/CK-", "ALK-/CK+", "CD45+"], "n_events": [1, 1, 200]})
    simulate_sort_file(tmp_path / "s.fcs", wells, seed=3)
    f = read_fcs(tmp_path / "s.fcs")
    g = study_gating()
    res = apply_gating(f, g)
    leuk = res.membership["cd45_pos"].to_numpy()
    assert leuk.sum() == 200
    import flowkit as fk

    xf = fk.transforms.LogicleTransform(262144, 0.5, 4.5, 0)
    for key, ch in (("ctc.x_split", "ALK"), ("ctc.y_split", "CK")):
        y = xf.apply(f.column(ch)[leuk].reshape(-1, 1)).ravel()
        med = np.median(y)
        mad = 1.4826 * np.median(np.abs(y - med))
        expect = xf.inverse(np.array([[med + 6 * mad]]))[0, 0]
        assert res.values[key]["value"] == pytest.approx(expect, rel=1e-9)
        assert "median + 6×MAD" in res.values[key]["rule"] and res.values[key]["n_control"] == 200
    assert res.values["wbc.ALK.max"]["value"] == res.values["ctc.x_split"]["value"]
    assert res.values["hoechst_pos.above"]["rule"] == "fixed"


def test_threshold_from_a_control_file(tmp_path):
    from ctcscope.phenotype.simulate_fcs import simulate_sort_file

    simulate_sort_file(tmp_path / "sort.fcs", pd.DataFrame({"well": ["A01"], "kind": ["ALK+/CK-"], "n_events": [1]}), seed=1)
    simulate_sort_file(tmp_path / "unstained.fcs", pd.DataFrame({"well": ["A01"], "kind": ["CD45+"], "n_events": [300]}), seed=2)
    g = parse_gating({
        "gates": [{"id": "alk", "type": "threshold", "channel": "ALK",
                   "above": {"control": "unstained", "quantile": 0.99, "times": 2}}],
        "phenotypes": {"ALK+": "alk"},
    })
    ctrl = read_fcs(tmp_path / "unstained.fcs")
    res = apply_gating(read_fcs(tmp_path / "sort.fcs"), g, controls={"unstained": ctrl})
    expect = 2 * np.quantile(ctrl.column("ALK"), 0.99)
    assert res.values["alk.above"]["value"] == pytest.approx(expect)
    assert "control 'unstained'" in res.values["alk.above"]["rule"]
    assert res.phenotype.tolist() == ["ALK+"]
    with pytest.raises(InputError, match="--control unstained=FILE.fcs"):
        apply_gating(read_fcs(tmp_path / "sort.fcs"), g)


def test_too_few_control_events_fall_back_or_explain(tmp_path):
    from ctcscope.phenotype.simulate_fcs import simulate_sort_file

    simulate_sort_file(tmp_path / "s.fcs", pd.DataFrame({"well": ["A01", "A02"], "kind": ["ALK+/CK-", "CD45+"],
                                                         "n_events": [1, 3]}), seed=1)
    f = read_fcs(tmp_path / "s.fcs")
    res = apply_gating(f, study_gating())  # rule has min_events 20 and fallback 1500
    assert res.values["ctc.x_split"]["value"] == 1500 and "fallback" in res.values["ctc.x_split"]["rule"]
    doc = {"gates": [{"id": "l", "type": "threshold", "channel": "CD45", "above": 2000},
                     {"id": "a", "type": "threshold", "channel": "ALK", "above": {"from": "l", "quantile": 0.9, "min_events": 20}}]}
    with pytest.raises(InputError, match="only 3 events"):
        apply_gating(f, parse_gating(doc))


BAD_YAML = [
    ("gates: [\n  {id: a, type: threshold\n", "not valid YAML"),
    ("- just\n- a list\n", "must be a YAML mapping"),
    ("gates:\n  - {id: a, type: circle, channel: X}\n", "has type 'circle'"),
    ("gates:\n  - {id: a, type: threshold, channel: X}\n", "exactly one of 'above' or 'below'"),
    ("gates:\n  - {id: a, type: threshold, channel: X, above: 1, parent: zz}\n", "parent 'zz', which is not defined"),
    ("gates:\n  - {id: a, type: polygon, x: X, y: Y, vertices: [[1, 2], [3, 4]]}\n", "at least 3 numeric"),
    ("gates:\n  - {id: a, type: quadrant, x: X, y: Y, x_split: 1, y_split: 1, quadrants: {q: [+, x]}}\n", "must be \\[x_sign, y_sign\\]"),
    ("gates:\n  - {id: a, type: threshold, channel: X, above: 1}\nphenotypes: {ALK+: b}\n", "population 'b', which no gate defines"),
    ("gates:\n  - {id: a, type: threshold, channel: X, above: {from: a, quantile: 2}}\n", "not defined above it"),
    ("gates:\n  - {id: a, type: threshold, channel: X, above: 1}\n  - {id: a, type: threshold, channel: X, above: 2}\n", "used twice"),
    ("format: other/2\ngates: []\n", "declares format"),
    ("gatez: []\n", "unknown section"),
]


@pytest.mark.parametrize("text,msg", BAD_YAML)
def test_malformed_gating_yaml_is_one_sentence(tmp_path, text, msg):
    p = tmp_path / "g.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match=msg) as e:
        load_gating(p)
    assert "\n" not in str(e.value)


def test_missing_channel_is_one_sentence(data_path):
    f = read_fcs(data_path("fcs-flowio/3FITC_4PE_004.fcs"))
    with pytest.raises(InputError, match="has no channel for 'Hoechst'") as e:
        apply_gating(f, study_gating())
    assert "\n" not in str(e.value) and "FL1-H" in str(e.value)


def test_documented_example_is_valid(tmp_path):
    """The example in docs/gating.md parses and runs (with an isotype control file)."""
    import re
    from pathlib import Path

    from ctcscope.phenotype.simulate_fcs import simulate_sort_file

    doc = (Path(__file__).parents[1] / "docs" / "gating.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", doc, re.S).group(1)
    (tmp_path / "g.yaml").write_text(block)
    g = load_gating(tmp_path / "g.yaml")
    assert [x.type for x in g.gates] == ["polygon", "threshold", "threshold", "rectangle", "quadrant"]
    wells = pd.DataFrame({"well": ["A01", "A02", "B01"], "kind": ["ALK+/CK-", "ALK-/CK+", "CD45+"], "n_events": [1, 1, 100]})
    simulate_sort_file(tmp_path / "s.fcs", wells, seed=5)
    simulate_sort_file(tmp_path / "iso.fcs", pd.DataFrame({"well": ["A01"], "kind": ["CD45+"], "n_events": [100]}), seed=6)
    res = apply_gating(read_fcs(tmp_path / "s.fcs"), g, controls={"isotype": read_fcs(tmp_path / "iso.fcs")})
    assert res.phenotype.tolist()[:2] == ["ALK+/CK-", "outside"]  # ALK-/CK+ is not mapped in the example
    assert (res.phenotype[2:] == "CD45+").all()


def test_yaml_wrapping_gatingml_adds_phenotypes(tmp_path, data_path):
    xml = data_path(f"{GML}/gml_quadrant1_gate.xml")
    (tmp_path / "g.yaml").write_text(f"gatingml: {xml}\nchannels: {{CD4: [FL1-H]}}\n"
                                     "phenotypes: {{double: FL2P-FL4P, none: FL2N-FL4N}}\n".replace("{{", "{").replace("}}", "}"))
    g = load_gating(tmp_path / "g.yaml")
    res = apply_gating(read_fcs(data_path("fcs-flowkit/gate_ref/data1.fcs")), g)
    assert (res.phenotype == "double").sum() == _truth(data_path, "FL2P-FL4P").sum()
    assert (res.phenotype == "none").sum() == _truth(data_path, "FL2N-FL4N").sum()
    assert list(res.intensities.columns) == ["CD4"]
    (tmp_path / "bad.yaml").write_text(f"gatingml: {xml}\nphenotypes: {{x: NoSuchGate}}\n")
    with pytest.raises(InputError, match="NoSuchGate"):
        load_gating(tmp_path / "bad.yaml")


@pytest.mark.parametrize("spec", ["logicle", {"type": "asinh", "cofactor": 150}, "linear"])
@pytest.mark.parametrize("n", [1, 2, 7, 200, 5001])
def test_median_mad_on_scale_equals_direct(spec, n):
    from ctcscope.phenotype.gating import median_mad_on_scale

    rng = np.random.default_rng(n)
    x = np.round(np.exp(rng.normal(5, 1.2, n)) - 60, 1)  # negatives, ties, a long tail
    sc = Scale.from_spec(spec)
    y = sc.forward(x)
    m, mad = median_mad_on_scale(x, sc)
    assert m == pytest.approx(np.median(y), rel=1e-12, abs=1e-12)
    assert mad == pytest.approx(np.median(np.abs(y - np.median(y))), rel=1e-9, abs=1e-12)
