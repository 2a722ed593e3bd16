"""FCS reading: every real file in tests/data/fcs-* opens with the right channels and events.

The expected channel names and event counts are read independently of FlowIO by a few
lines of header/TEXT parsing below (FCS 3.1 spec §3.2), and the event counts are also
checked against the numbers in the shared data's PROVENANCE.md.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctcscope.errors import InputError
from ctcscope.phenotype.fcs import (Scale, find_channel, parse_spillover, read_compensation_matrix, read_fcs,
                                    spillover_from_keywords)

FCS_FILES = [
    "fcs-flowkit/index_sorted_example.fcs",
    "fcs-flowkit/test_comp_example.fcs",
    "fcs-flowkit/gate_ref/data1.fcs",
    "fcs-flowio/100715.fcs",
    "fcs-flowio/3FITC_4PE_004.fcs",
    "fcs-flowio/G11.fcs",
    "fcs-fcsparser/FACS_Diva__facs_diva_test.fcs",
    "fcs-fcsparser/Fortessa__FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs",
    "fcs-fcsparser/HTS_BD_LSR-II__Mixed_Specimen_001_D6_D06.fcs",
    "fcs-fcsparser/MiltenyiBiotec__FCS3.1__EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs",
    "fcs-fcsparser/cyflow_cube_8.fcs",
]

#: Event counts stated in the shared data's PROVENANCE.md (section 6).
PROVENANCE_EVENTS = {
    "index_sorted_example.fcs": 384,
    "test_comp_example.fcs": 10703,
    "data1.fcs": 13367,
    "100715.fcs": 65016,
    "FACS_Diva__facs_diva_test.fcs": 83411,
}
#: Files with the documented one-byte data-offset quirk (PROVENANCE.md).
OFFSET_QUIRK = {"test_comp_example.fcs", "MiltenyiBiotec__FCS3.1__EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs"}


def _text_keywords(path) -> tuple[str, dict]:
    """Minimal independent FCS TEXT parser: version and upper-case keywords."""
    raw = open(path, "rb").read()
    version = raw[:6].decode()
    start, end = int(raw[10:18]), int(raw[18:26])
    text = raw[start:end + 1].decode("latin-1")
    delim = text[0]
    # split on single delimiters; a doubled delimiter is an escaped character
    items, cur, i = [], "", 1
    while i < len(text):
        ch = text[i]
        if ch == delim:
            if i + 1 < len(text) and text[i + 1] == delim:
                cur += delim
                i += 2
                continue
            items.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    kw = {items[j].strip().upper(): items[j + 1] for j in range(0, len(items) - 1, 2)}
    return version, kw


@pytest.mark.parametrize("rel", FCS_FILES)
def test_real_fcs_opens_with_channels_and_events(data_path, rel):
    path = data_path(rel)
    version, kw = _text_keywords(path)
    npar, tot = int(kw["$PAR"]), int(kw["$TOT"].strip())
    pnn = [kw[f"$P{i}N"].strip() for i in range(1, npar + 1)]

    f = read_fcs(path)
    assert f.version == version[3:]
    assert f.n_events == tot
    assert f.raw.shape == (tot, npar)
    assert f.pnn == pnn
    if path.name in PROVENANCE_EVENTS:
        assert f.n_events == PROVENANCE_EVENTS[path.name]
    # the offset quirk is read, and said
    assert any("off by one" in n for n in f.notes) == (path.name in OFFSET_QUIRK)
    assert np.isfinite(f.raw).all()


def test_event_values_match_an_independent_decode(data_path):
    """index_sorted_example.fcs is float32 big-endian ($DATATYPE F, $BYTEORD 4,3,2,1), gain 1."""
    path = data_path("fcs-flowkit/index_sorted_example.fcs")
    _, kw = _text_keywords(path)
    assert kw["$DATATYPE"] == "F" and kw["$BYTEORD"] == "4,3,2,1"
    b, e = int(kw["$BEGINDATA"].strip()), int(kw["$ENDDATA"].strip())
    raw = open(path, "rb").read()[b:e + 1]
    npar = int(kw["$PAR"])
    mine = np.frombuffer(raw, dtype=">f4").reshape(-1, npar).astype(np.float64)
    # the Time channel is reported in seconds: counts × $TIMESTEP (FCS 3.1)
    t = [kw[f"$P{i}N"] for i in range(1, npar + 1)].index("Time")
    mine[:, t] *= float(kw.get("$TIMESTEP", kw.get("TIMESTEP")))
    f = read_fcs(path, compensation=None)
    np.testing.assert_allclose(f.raw, mine, rtol=1e-12, atol=0)


def test_spillover_keyword_and_compensation(data_path):
    f = read_fcs(data_path("fcs-flowkit/index_sorted_example.fcs"))
    assert f.spill_source == "$SPILL"
    assert list(f.spill.columns) == ["BL 530/30-A", "BL 695/40-A", "YG 586/15-A", "YG 780/60-A", "RL 780/60-A", "VL 525/50-A"]
    np.testing.assert_allclose(np.diag(f.spill.values), 1.0)
    # first off-diagonal coefficient from the keyword text itself
    assert f.spill.iloc[0, 1] == pytest.approx(0.05082635623959459)
    # compensation inverts the mixing: re-mixing the compensated data gives the raw data back
    idx = [f.pnn.index(d) for d in f.spill.columns]
    remixed = f.values(True)[:, idx] @ f.spill.values
    np.testing.assert_allclose(remixed, f.raw[:, idx], rtol=1e-9, atol=1e-6)
    # non-fluorescent channels untouched
    j = f.pnn.index("FSC-A")
    np.testing.assert_array_equal(f.values(True)[:, j], f.raw[:, j])


def test_user_matrix_matches_flowkit(data_path):
    """A user CSV matrix gives the same compensated events as FlowKit's reference code."""
    import warnings

    import flowkit as fk

    fcs = data_path("fcs-flowkit/test_comp_example.fcs")
    comp = data_path("fcs-flowkit/comp_complete_example.csv")
    f = read_fcs(fcs, compensation=comp)
    assert f.spill.shape == (14, 14) and f.spill_source == str(comp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = fk.Sample(str(fcs), compensation=str(comp), ignore_offset_error=True)
    np.testing.assert_allclose(f.values(True), s.get_events(source="comp"), rtol=1e-9, atol=1e-6)


def test_matrix_with_hash_header(data_path):
    m = read_compensation_matrix(data_path("fcs-flowkit/den_comp.csv"))
    assert m.shape == (8, 8)
    assert m.columns[0] == "TNFa FITC FLR-A"
    assert m.iloc[0, 1] == pytest.approx(0.014139)


def test_spillover_text_parsing_and_errors():
    s = parse_spillover("2,A-A,B-A,1,0.1,0.2,1")
    assert list(s.index) == ["A-A", "B-A"] and s.loc["A-A", "B-A"] == 0.1
    with pytest.raises(InputError, match="need"):
        parse_spillover("2,A-A,B-A,1,0.1,0.2")
    with pytest.raises(InputError, match="SPILLOVER keyword is malformed"):
        spillover_from_keywords({"$SPILLOVER": "2,A,B,1,x,0,1"})


def test_find_channel_by_marker_fluorochrome_detector(data_path):
    f = read_fcs(data_path("fcs-flowkit/index_sorted_example.fcs"))
    assert f.channel("CD21") == "BL 530/30-A"          # marker
    assert f.channel("fitc") == "BL 530/30-A"          # fluorochrome token of $PnS
    assert f.channel("YG 586/15-A") == "YG 586/15-A"   # detector
    assert f.channel("B220") == "VL 525/50-A"
    assert f.channel("FSC") == "FSC-A"                 # FSC-A/-H/-W: area wins
    with pytest.raises(InputError, match="has no channel 'ALK'"):
        f.channel("ALK")
    d = read_fcs(data_path("fcs-flowkit/gate_ref/data1.fcs"))
    assert d.channel("CD4 FITC") == "FL1-H"
    with pytest.raises(InputError, match="ambiguous"):
        find_channel(d.channels, "CD8")  # 'CD8 B PE' (FL2-H) and 'CD8 APC' (FL4-H)


def test_scales_round_trip():
    x = np.array([-200.0, 0.0, 50.0, 1e3, 1e5, 262144.0])
    for spec in ("logicle", {"type": "asinh", "cofactor": 150}, "linear"):
        sc = Scale.from_spec(spec)
        np.testing.assert_allclose(sc.inverse(sc.forward(x)), x, rtol=1e-6, atol=1e-6)
    lg = Scale.from_spec("logicle")
    assert lg.forward(np.array([262144.0]))[0] == pytest.approx(1.0)
    assert np.all(np.diff(lg.forward(x)) > 0)
    # asinh: by definition
    assert Scale.from_spec({"type": "asinh", "cofactor": 5}).forward(np.array([5.0]))[0] == pytest.approx(np.arcsinh(1))


def test_bad_files_are_refused_in_one_sentence(tmp_path, data_path):
    p = tmp_path / "notes.fcs"
    p.write_text("this is not flow data\n")
    with pytest.raises(InputError, match="is not an FCS file") as e:
        read_fcs(p)
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="does not exist"):
        read_fcs(tmp_path / "missing.fcs")
    # a truncated FCS: header and TEXT intact, DATA cut short
    good = data_path("fcs-flowkit/index_sorted_example.fcs").read_bytes()
    t = tmp_path / "truncated.fcs"
    t.write_bytes(good[:8000])
    with pytest.raises(InputError, match="could not be read as FCS"):
        read_fcs(t)
    # a matrix that is not square / wrong detectors
    m = tmp_path / "m.csv"
    pd.DataFrame([[1, 0.1], [0, 1]], columns=["X-A", "Y-A"]).to_csv(m, index=False)
    with pytest.raises(InputError, match="does not have"):
        read_fcs(data_path("fcs-flowkit/index_sorted_example.fcs"), compensation=m)
